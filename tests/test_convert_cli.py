"""`python -m jaxvc.infer convert`: folders, bad files, resuming, exit statuses."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from jaxvc import audio
from jaxvc import workdirs
from jaxvc import infer
from test_converter import tiny_config, write_workdir


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return write_workdir(tmp_path_factory.mktemp("run"), tiny_config())


@pytest.fixture(scope="module")
def clip(speech):
  wave, rate = speech
  return wave[:2 * rate].astype(np.float32), rate


def convert(workdir, source, target, *extra):
  return infer.main(["convert", "--workdir", workdir, "--input", str(source),
                     "--output", str(target), "--iters", "2", *extra])


def files_under(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, names in os.walk(root) for f in names)


def test_folder_with_bad_files_converts_the_rest_and_exits_1(workdir, clip, tmp_path, capsys):
  wave, rate = clip
  src = tmp_path / "in"
  (src / "sub" / "deeper").mkdir(parents=True)
  good = {
      "a.wav": (wave, rate),
      "sub/b.flac": (audio.resample(np.stack([wave, 0.5 * wave]), rate, 44100).T, 44100),
      "sub/deeper/c.wav": (audio.resample(np.tile(wave, (5, 1)), rate, 8000).T, 8000),
  }
  for name, (data, file_rate) in good.items():
    sf.write(src / name, data, file_rate)
  (src / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(64))
  (src / "notes.wav").write_text("not audio at all\n")
  (src / "readme.txt").write_text("ignored: not an audio extension\n")
  sf.write(src / "empty.wav", np.zeros(0), rate)
  sf.write(src / "sub" / "silent.flac", np.zeros(rate), rate)
  sf.write(src / "short.wav", wave[:int(0.05 * rate)], rate)
  nan = wave.copy()
  nan[100] = np.nan
  sf.write(src / "nan.wav", nan, rate, subtype="FLOAT")

  assert convert(workdir, src, tmp_path / "out") == 1
  out = capsys.readouterr()
  assert files_under(tmp_path / "out") == sorted(good)
  for name, (data, file_rate) in good.items():
    assert sf.info(tmp_path / "out" / name).frames == round(len(data) * 16000 / file_rate)
  errors = out.err.strip().splitlines()
  assert len(errors) == 6 and all(e.startswith("error: ") for e in errors)
  for name, reason in [("corrupt.wav", "unreadable"), ("notes.wav", "unreadable"),
                       ("empty.wav", "empty"), ("silent.flac", "silent"),
                       ("short.wav", "too short"), ("nan.wav", "contains NaN")]:
    assert any(f"{name}: {reason}" in e for e in errors), (name, errors)
  assert "3 converted, 0 skipped (output exists), 6 failed" in out.out
  assert "[9/9]" in out.out and "s/s" in out.out


def test_a_resumed_run_skips_finished_files(workdir, clip, tmp_path, capsys, monkeypatch):
  wave, rate = clip
  (tmp_path / "in").mkdir()
  for name in ("a.wav", "b.wav"):
    sf.write(tmp_path / "in" / name, wave, rate)
  out = tmp_path / "in" / "converted"   # inside the input: not taken as input
  assert convert(workdir, tmp_path / "in", out) == 0
  finished = os.stat(out / "a.wav").st_mtime_ns
  os.remove(out / "b.wav")
  capsys.readouterr()
  monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
  assert convert(workdir, tmp_path / "in", out) == 0
  assert "1/1 [" in capsys.readouterr().out   # a tqdm bar on a terminal
  assert files_under(out) == ["a.wav", "b.wav"]
  assert os.stat(out / "a.wav").st_mtime_ns == finished
  assert convert(workdir, tmp_path / "in", out) == 0
  assert "nothing to do" in capsys.readouterr().out
  assert convert(workdir, tmp_path / "in", out, "--overwrite") == 0
  assert "2 converted" in capsys.readouterr().out
  assert os.stat(out / "a.wav").st_mtime_ns != finished


def test_one_file_into_a_folder_at_another_rate_with_a_plot(workdir, clip, tmp_path):
  wave, rate = clip
  sf.write(tmp_path / "talk.ogg", audio.resample(wave, rate, 22050), 22050)
  (tmp_path / "out").mkdir()
  assert convert(workdir, tmp_path / "talk.ogg", f"{tmp_path / 'out'}{os.sep}",
                 "--sample-rate", "22050", "--plot", "--tail", "overlap") == 0
  info = sf.info(tmp_path / "out" / "talk.ogg")
  assert (info.samplerate, info.frames) == (22050, sf.info(tmp_path / "talk.ogg").frames)
  assert files_under(tmp_path / "out") == ["talk.ogg", "talk.png"]


def test_gradient_inversion_from_one_checkpoint(workdir, clip, tmp_path):
  wave, rate = clip
  sf.write(tmp_path / "in.wav", wave, rate)
  assert infer.main(["convert", "--checkpoint", os.path.join(workdir, "checkpoints", "0"),
                     "--input", str(tmp_path / "in.wav"), "--output", str(tmp_path / "out.wav"),
                     "--inversion", "gradient", "--iters", "2"]) == 0
  assert sf.info(tmp_path / "out.wav").frames == wave.size


def test_unusable_models_and_arguments_exit_2(workdir, clip, tmp_path, capsys):
  wave, rate = clip
  sf.write(tmp_path / "in.wav", wave, rate)
  mismatched = write_workdir(tmp_path / "mismatched", tiny_config())
  other = tiny_config()
  other.model.generator_channels = 16
  workdirs.save_config(mismatched, other)
  cases = [
      (["--workdir", str(tmp_path / "nothing")], "nothing/config.json: no saved config"),
      (["--workdir", mismatched], "does not match the config"),
      (["--workdir", workdir, "--step", "5"], "no checkpoint at step 5"),
      (["--workdir", workdir, "--config.seed=3"], "takes no config overrides"),
      (["--workdir", workdir, "--sample-rate", "0"], "--sample-rate: must be positive"),
      (["--workdir", workdir, "--pitch-shift", "-13"], "--pitch-shift -13: at most 12 semitones"),
  ]
  for extra, message in cases:
    argv = ["convert", *extra, "--input", str(tmp_path / "in.wav"),
            "--output", str(tmp_path / "out.wav")]
    assert infer.main(argv) == 2, extra
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], (extra, err)
  assert infer.main(["convert", "--workdir", workdir, "--input", str(tmp_path / "missing"),
                     "--output", str(tmp_path / "o")]) == 2
  assert "missing: no such file or folder" in capsys.readouterr().err
  assert not os.path.exists(tmp_path / "out.wav")


def test_the_next_process_reads_compiled_programs_from_the_cache(workdir, clip, tmp_path):
  """The second conversion reads the generator and the inversion, the programs
  that take seconds to compile, from the cache the first one filled."""
  wave, rate = clip
  sf.write(tmp_path / "talk.wav", wave, rate)
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  # JAX_LOG_COMPILES: JAX logs each persistent cache hit as a warning. Every
  # program is kept: the tests' compiler flags make some compile faster than
  # the least time for which jaxvc keeps one.
  env = dict(os.environ, JAXVC_COMPILATION_CACHE=str(tmp_path / "xla"), JAX_LOG_COMPILES="1",
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  logs = []
  for name in ("first.wav", "second.wav"):
    logs.append(subprocess.run(
        [sys.executable, "-m", "jaxvc.infer", "convert", "--workdir", workdir, "--input",
         str(tmp_path / "talk.wav"), "--output", str(tmp_path / name), "--iters", "2"],
        cwd=repo, env=env, check=True, capture_output=True, text=True).stderr)
  for program in ("jit__generate", "jit_mel_to_wave"):
    hit = f"Persistent compilation cache hit for '{program}'"
    assert hit not in logs[0] and hit in logs[1], logs[1][-2000:]
  first, second = (sf.read(tmp_path / name)[0] for name in ("first.wav", "second.wav"))
  np.testing.assert_array_equal(first, second)


@pytest.mark.slow
def test_an_hour_converts_in_bounded_memory(workdir, clip, tmp_path):
  """An hour of audio is read, converted and written in blocks: the converting
  process peaks within 150 MB of what one minute takes (an hour of float32
  samples alone would be 230 MB)."""
  wave, rate = clip
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  peak_rss = ("import resource, sys; from jaxvc import infer; status = infer.main(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(status)")
  peaks = []
  for minutes in (1, 60):
    source, target = tmp_path / f"{minutes}.wav", tmp_path / f"{minutes}_out.wav"
    with sf.SoundFile(source, "w", rate, 1, "PCM_16") as f:
      for _ in range(-(-minutes * 60 * rate // wave.size)):
        f.write(wave)
    child = subprocess.run(
        [sys.executable, "-c", peak_rss, "convert", "--workdir", workdir, "--input", str(source),
         "--output", str(target), "--iters", "1"],
        cwd=repo, check=True, capture_output=True, text=True)
    assert sf.info(target).frames == sf.info(source).frames
    peaks.append(int(child.stdout.split()[-1]))  # KiB
  assert peaks[1] - peaks[0] < 150 * 1024
