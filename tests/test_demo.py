"""The offline demo corpus: espeak-ng rendering, sentences, layout and caching."""
import fcntl
import json
import os
from pathlib import Path
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf

from jaxvc import caches
from jaxvc.data import demo


def median_f0(voice: str) -> tuple[float, float, float]:
  """10th, 50th and 90th percentile F0 (Hz) of `voice` over three sentences."""
  wave = np.concatenate([demo.render(text, voice)[0] for text in demo.sentences(3)])
  f0 = librosa.yin(wave, fmin=60, fmax=400, sr=22050, frame_length=2048, hop_length=512)
  rms = librosa.feature.rms(y=wave, frame_length=2048, hop_length=512)[0]
  return tuple(np.percentile(f0[rms > 0.1 * rms.max()], [10, 50, 90]))


def start_ensure(cache_dir: Path) -> subprocess.Popen:
  """A separate process calling `ensure_demo_corpus(cache_dir)` for a 4-sentence corpus."""
  script = ("import sys; from jaxvc.data import demo; demo.DEFAULT_SENTENCES = 4; "
            "print(demo.ensure_demo_corpus(sys.argv[1]))")
  repo = str(Path(demo.__file__).resolve().parents[2])
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
  return subprocess.Popen([sys.executable, "-c", script, str(cache_dir)], env=env,
                          stdout=subprocess.PIPE, text=True)


def test_render_is_deterministic_whatever_came_before():
  text = "Did you see the clever fox behind the station?"
  first, sample_rate = demo.render(text, "speaker_a")
  demo.render("Something else entirely, said by another voice.", "speaker_b")
  second, _ = demo.render(text, "speaker_a")
  assert sample_rate == 22050
  assert first.dtype == np.float32 and first.ndim == 1
  assert 1.5 < len(first) / sample_rate < 5
  assert 0.1 < np.abs(first).max() <= 1
  np.testing.assert_array_equal(first, second)


def test_voices_differ_clearly_in_pitch():
  low_a, median_a, high_a = median_f0("speaker_a")
  low_b, median_b, high_b = median_f0("speaker_b")
  assert 85 <= median_a <= 115, median_a
  assert 190 <= median_b <= 250, median_b
  assert median_b >= 1.6 * median_a
  assert high_a < low_b, (high_a, low_b)  # the two ranges do not overlap


def test_render_rejects_bad_input():
  with pytest.raises(ValueError, match="unknown demo voice 'speaker_c'"):
    demo.render("Hello there.", "speaker_c")
  with pytest.raises(ValueError, match="nothing to say"):
    demo.render("  ", "speaker_a")


def test_sentences_are_deterministic_unique_and_short():
  texts = demo.sentences(300)
  assert texts == demo.sentences(300)
  assert texts != demo.sentences(300, seed=1)
  assert len(texts) == 300 and len(set(texts)) == 300
  assert demo.sentences(7) == texts[:7]
  assert all(5 <= len(text.split()) <= 15 for text in texts)
  assert all(text[0].isupper() and text[-1] in ".?" for text in texts)
  with pytest.raises(ValueError, match="n=0"):
    demo.sentences(0)


def test_build_writes_a_parallel_corpus(demo_corpus):
  metadata = json.loads((demo_corpus / "metadata.json").read_text())
  assert metadata["version"] == demo.VERSION
  assert metadata["voices"] == demo.VOICES
  assert metadata["sample_rate"] == 22050
  assert metadata["counts"] == dict(train=9, test=3)
  texts = demo.sentences(12)
  ids = {}
  for voice in demo.VOICES:
    for split in ("train", "test"):
      wavs = sorted((demo_corpus / voice / split).glob("*.wav"))
      ids[voice, split] = [w.stem for w in wavs]
      for wav in wavs:
        assert wav.with_suffix(".txt").read_text() == texts[int(wav.stem)] + "\n"
        info = sf.info(wav)
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
        assert 1 < info.duration < 6, (wav, info.duration)
  assert ids["speaker_a", "train"] == ids["speaker_b", "train"] == [f"{i:04d}" for i in range(9)]
  assert ids["speaker_a", "test"] == ids["speaker_b", "test"] == ["0009", "0010", "0011"]
  written, _ = sf.read(demo_corpus / "speaker_b" / "test" / "0010.wav", dtype="float32")
  np.testing.assert_array_equal(written, demo.render(texts[10], "speaker_b")[0])


def test_build_refuses_to_replace_a_foreign_folder(tmp_path):
  (tmp_path / "notes.txt").write_text("keep me")
  with pytest.raises(ValueError, match="not a demo corpus"):
    demo.build(tmp_path, n_sentences=2)
  assert (tmp_path / "notes.txt").read_text() == "keep me"
  assert os.listdir(tmp_path) == ["notes.txt"]


def test_cli_builds_a_corpus(tmp_path, capsys):
  demo.main(["--out", str(tmp_path / "corpus"), "--sentences", "3"])
  assert "speaker_b: 3 utterances" in capsys.readouterr().out
  assert len(list((tmp_path / "corpus").rglob("*.wav"))) == 6
  with pytest.raises(SystemExit) as exit_info:
    demo.main(["--out", str(tmp_path / "other"), "--sentences", "1"])
  assert exit_info.value.code == 2
  assert not (tmp_path / "other").exists()


def test_cache_root_follows_the_config_rule(monkeypatch, tmp_path):
  assert caches.cache_root(str(tmp_path)) == tmp_path
  monkeypatch.setenv("JAXVC_CACHE", str(tmp_path / "env"))
  assert caches.cache_root("") == caches.cache_root(None) == tmp_path / "env"
  monkeypatch.delenv("JAXVC_CACHE")
  assert caches.cache_root(None) == Path.home() / ".cache" / "jaxvc"


def test_compilation_cache_folder_follows_its_variable(monkeypatch, tmp_path):
  monkeypatch.setenv("JAXVC_CACHE", str(tmp_path))
  monkeypatch.delenv("JAXVC_COMPILATION_CACHE", raising=False)
  assert caches.compilation_cache_dir() == str(tmp_path / "xla")
  monkeypatch.setenv("JAXVC_COMPILATION_CACHE", str(tmp_path / "mine"))
  assert caches.compilation_cache_dir() == str(tmp_path / "mine")
  monkeypatch.setenv("JAXVC_COMPILATION_CACHE", "off")
  assert caches.compilation_cache_dir() is None


def test_ensure_reuses_a_corpus_and_rebuilds_a_partial_one(monkeypatch, tmp_path):
  monkeypatch.setattr(demo, "DEFAULT_SENTENCES", 4)
  root = demo.ensure_demo_corpus(str(tmp_path))
  assert root == tmp_path / "demo"
  marker = root / "metadata.json"
  wav = root / "speaker_a" / "train" / "0000.wav"
  stamps = marker.stat().st_mtime_ns, wav.stat().st_ino
  assert demo.ensure_demo_corpus(str(tmp_path)) == root
  assert (marker.stat().st_mtime_ns, wav.stat().st_ino) == stamps  # not rebuilt
  marker.unlink()
  assert demo.ensure_demo_corpus(str(tmp_path)) == root
  assert marker.exists() and wav.stat().st_ino != stamps[1]  # rebuilt
  assert json.loads(marker.read_text())["sentences"] == 4
  assert sorted(os.listdir(tmp_path)) == [".demo.lock", "demo"]  # no temporary left


def test_ensure_from_two_processes_builds_one_corpus(monkeypatch, tmp_path):
  processes = [start_ensure(tmp_path) for _ in range(2)]
  outputs = [p.communicate(timeout=60)[0] for p in processes]
  assert [p.returncode for p in processes] == [0, 0]
  assert [out.splitlines()[-1] for out in outputs] == [str(tmp_path / "demo")] * 2
  assert sum("rendering" in out for out in outputs) == 1  # the other one waited
  monkeypatch.setattr(demo, "DEFAULT_SENTENCES", 4)
  assert demo._is_current(tmp_path / "demo")
  assert len(list((tmp_path / "demo").rglob("*.wav"))) == 8
  assert sorted(os.listdir(tmp_path)) == [".demo.lock", "demo"]


def test_ensure_waits_for_a_build_in_progress(monkeypatch, tmp_path):
  monkeypatch.setattr(demo, "DEFAULT_SENTENCES", 4)
  with open(tmp_path / ".demo.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # as if this process were building
    waiter = start_ensure(tmp_path)
    with pytest.raises(subprocess.TimeoutExpired):
      waiter.wait(timeout=3)
    demo.build(tmp_path / "demo", n_sentences=4)
  output = waiter.communicate(timeout=60)[0]
  assert waiter.returncode == 0
  assert "rendering" not in output  # it reused this process's corpus
  assert output.splitlines()[-1] == str(tmp_path / "demo")


def test_speech_fixture(speech):
  wave, sample_rate = speech
  assert sample_rate == 16000 and wave.dtype == np.float32
  assert 3 < len(wave) / sample_rate < 4
  assert 0.1 < np.abs(wave).max() <= 1
