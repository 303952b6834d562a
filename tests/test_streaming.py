"""Live conversion (`Converter.stream`, `infer stream`): the streamed output is
the offline one delayed by the stated latency, for any block size; bad
blocks are one-line errors that keep what was converted."""
import subprocess
import sys

from flax import nnx
import numpy as np
import pytest
import soundfile as sf

import jaxvc
from jaxvc import infer
from jaxvc.audio import pitch
from jaxvc.melganvc import streaming
from jaxvc.melganvc.windows import WindowPlan
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import inference as vocoder_inference
from test_converter import workdir  # noqa: F401  (the fixture: a tiny untrained run)
from test_pitch_conversion import HIGH
from test_pitch_conversion import LOW
from test_vocoder import tiny_config as tiny_vocoder_config

# Block sizes that do not divide a chunk (24 frames x 192 = 4608 samples).
BLOCKS = (160, 999, 4000)


def vocoder(pitch_input: bool = False, noise_source: bool = False):
  c = tiny_vocoder_config()
  c.model.pitch = pitch_input
  c.model.noise_source = noise_source
  return vocoder_inference.Vocoder(c, nnx.split(generator_lib.create(c))[1])


@pytest.fixture(scope="module")
def clip(speech):
  wave, rate = speech
  return np.asarray(wave[:int(3.3 * rate)], np.float32)


def streamed(converter, wave: np.ndarray, block: int) -> tuple[np.ndarray, int]:
  stream = converter.stream()
  out, _ = stream.push_all(wave, block)
  starts = range(0, wave.size, block)
  assert [o.size for o in out[:-1]] == [min(block, wave.size - i) for i in starts]
  assert out[-1].size == stream.latency
  return np.concatenate(out), stream.latency


def offline(converter, wave: np.ndarray) -> np.ndarray:
  return np.concatenate([w.wave for w in converter.convert_stream([wave])])


@pytest.mark.parametrize("block", BLOCKS)
def test_stream_through_a_vocoder_is_the_offline_conversion_delayed(workdir, clip, block):
  converter = jaxvc.Converter.from_workdir(workdir, vocoder=vocoder())
  out, latency = streamed(converter, clip, block)
  assert out.size == clip.size + latency
  assert not out[:latency].any()
  want = offline(converter, clip)
  np.testing.assert_allclose(out[latency:], want, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_a_narrower_generator_chunk_streams_sooner_and_as_offline(workdir, clip):
  wide = jaxvc.Converter.from_workdir(workdir, vocoder=vocoder())
  narrow = jaxvc.Converter.from_workdir(workdir, vocoder=vocoder(), chunk_frames=12)
  out, latency = streamed(narrow, clip, 999)
  assert latency == wide.stream().latency - 12 * 192
  want = offline(narrow, clip)
  np.testing.assert_allclose(out[latency:], want, atol=1e-4 * max(1.0, np.abs(want).max()))
  with pytest.raises(ValueError, match="multiple of 4"):
    jaxvc.Converter.from_workdir(workdir, chunk_frames=10)


@pytest.mark.parametrize("noise_source", [False, True], ids=["pulse", "pulse+noise"])
def test_stream_with_the_automatic_key_through_an_f0_vocoder_is_offline_delayed(
    workdir, clip, noise_source):
  """The noise source draws each frame's noise from its number in the
  stream, so the stream renders the offline noise too."""
  converter = jaxvc.Converter.from_workdir(
      workdir, vocoder=vocoder(pitch_input=True, noise_source=noise_source), pitch="auto",
      pitch_shift=2,
      pitch_statistics=dict(a=LOW, b=HIGH))
  out, latency = streamed(converter, clip, 999)
  want = offline(converter, clip)
  np.testing.assert_allclose(out[latency:], want, atol=1e-4 * max(1.0, np.abs(want).max()))
  hz, voiced = pitch.track(clip, converter.audio)
  assert voiced.mean() > 0.3   # the source is speech: the F0 path was taken


def test_griffin_lim_stream_does_not_depend_on_the_block_size(workdir, clip):
  """Iterative inversion joins by fades, so a stream equals the same windows
  rendered at once (not the offline plan's longer windows), whatever the blocks."""
  converter = jaxvc.Converter.from_workdir(workdir, n_iter=4)
  outs = [streamed(converter, clip, block) for block in BLOCKS]
  latency = outs[0][1]
  windows = streaming.Windows(converter, WindowPlan.live(converter.audio, 24, None))
  at_once = np.concatenate([w.wave for w in windows.push(clip) + windows.close()])
  for out, _ in outs:
    np.testing.assert_allclose(out[latency:], at_once, atol=1e-5)
  assert np.abs(at_once).max() > 0


@pytest.mark.parametrize("renderer", ["griffinlim", "vocoder"])
def test_windows_come_out_once_their_samples_are_in(workdir, renderer):
  """The latency is what the stream waits for, not more: one sample short of
  a window's need nothing is rendered, with it the window is; through a
  vocoder a window's first sample has waited exactly the latency: its chunk,
  the vocoder's lookahead and the analysis half-window."""
  options = dict(n_iter=2) if renderer == "griffinlim" else dict(vocoder=vocoder())
  converter = jaxvc.Converter.from_workdir(workdir, **options)
  stream = converter.stream()
  plan = stream._windows.plan
  windows = streaming.Windows(converter, plan)
  noise = 0.01 * np.random.RandomState(0).randn(4 * plan.latency).astype(np.float32)
  pushed = 0
  for k in range(3):
    needed = plan.samples_needed(k)
    assert windows.push(noise[pushed:needed - 1]) == [] and windows._next == k
    windows.push(noise[needed - 1:needed])
    assert windows._next == k + 1   # rendered (a window owning no frames yet gives none)
    pushed = needed
  if plan.exact:
    assert plan.latency == plan.samples_needed(1) - plan.own_start(1) * plan.hop
    lookahead = converter.inversion.lookahead
    assert plan.latency == (24 + lookahead) * 192 + 576


def test_short_and_empty_streams(workdir, clip):
  """Shorter than a chunk, or nothing at all: the same as offline, float32
  (what a sound card takes), and the latency's silence for nothing."""
  converter = jaxvc.Converter.from_workdir(workdir, n_iter=2)
  for size in (0, 1000):
    stream = converter.stream()
    out = np.concatenate([stream.push(clip[:size]), stream.close()])
    assert out.dtype == np.float32 and out.size == size + stream.latency
    if size:
      np.testing.assert_allclose(out[stream.latency:], offline(converter, clip[:size]), atol=1e-5)
  long, _ = streamed(converter, clip, 999)
  assert long.dtype == np.float32


def test_bad_blocks_are_errors_that_keep_the_stream(workdir, clip):
  converter = jaxvc.Converter.from_workdir(workdir, vocoder=vocoder())
  stream = converter.stream()
  first = stream.push(clip[:8000])
  with pytest.raises(ValueError, match="mono"):
    stream.push(np.zeros((100, 2), np.float32))
  with pytest.raises(ValueError, match="44100 Hz"):
    stream.push(np.zeros(100, np.float32), sample_rate=44100)
  with pytest.raises(ValueError, match="NaN"):
    stream.push(np.full(100, np.nan, np.float32))
  rest = [stream.push(clip[8000:]), stream.close()]
  out = np.concatenate([first, *rest])
  want = offline(converter, clip)
  np.testing.assert_allclose(out[stream.latency:], want, atol=1e-4 * max(1.0, np.abs(want).max()))
  with pytest.raises(ValueError, match="closed"):
    stream.push(clip[:10])


# ----------------------------------------------------------------------------
# The command line.


@pytest.mark.parametrize("pace", [["--fast"], []], ids=["fast", "real-time, warmed up"])
def test_cli_file_to_file_is_the_conversion(workdir, clip, tmp_path, capsys, pace):
  """A file through `infer stream` is the live windows' conversion, aligned;
  at real-time pace after a warm-up stream on silence, which changes nothing."""
  source = tmp_path / "in.wav"
  sf.write(source, clip, 16000)
  target = tmp_path / "out.wav"
  status = infer.main(["stream", "--workdir", str(workdir), "--iters", "2", *pace,
                       "--gain", "0", "--input", str(source), "--output", str(target)])
  err = capsys.readouterr().err
  assert status == 0, err
  assert "algorithmic latency" in err and "worst window" in err
  got, rate = sf.read(target, dtype="float32")
  converter = jaxvc.Converter.from_workdir(workdir, n_iter=2)
  windows = streaming.Windows(converter, WindowPlan.live(converter.audio, 24, None))
  written, _ = sf.read(source, dtype="float32")   # the input as 16-bit PCM stored it
  want = np.concatenate([w.wave for w in windows.push(written) + windows.close()])
  assert rate == 16000 and got.shape == clip.shape
  np.testing.assert_allclose(got, want, atol=2 / 32768)


def test_cli_pipes_raw_pcm(workdir, clip):
  """stdin to stdout as `arecord | ... | aplay` would: as many samples out as
  in plus the latency, stereo mixed to mono, and a reader that goes away is
  one line, not a traceback."""
  stereo = (np.stack([clip, clip], axis=1) * 20000).astype("<i2").tobytes()
  command = [sys.executable, "-m", "jaxvc.infer", "stream", "--workdir", str(workdir),
             "--iters", "2", "--input", "-", "--output", "-", "--channels", "2"]
  done = subprocess.run(command, input=stereo, capture_output=True, timeout=300)
  assert done.returncode == 0, done.stderr.decode()
  out = np.frombuffer(done.stdout, "<i2")
  latency_ms = float(done.stderr.decode().split("algorithmic latency ")[1].split(" ms")[0])
  assert out.size == pytest.approx(clip.size + latency_ms * 16, abs=16)
  assert np.abs(out).max() > 100
  broken = subprocess.run(f"{' '.join(command)} | head -c 1000 > /dev/null", shell=True,
                          input=stereo, capture_output=True, timeout=300)
  message = broken.stderr.decode()
  assert "broken pipe" in message and "Traceback" not in message


def test_cli_bad_input_is_one_line(workdir, tmp_path, capsys):
  def run(*extra):
    status = infer.main(["stream", "--workdir", str(workdir), *extra])
    return status, capsys.readouterr().err.strip()

  status, err = run("--input", str(tmp_path / "missing.wav"), "--output", "-")
  assert status == 2 and err.startswith("error:") and "missing.wav" in err
  assert len(err.splitlines()) == 1
  status, err = run("--input", "-", "--output", "-", "--fast")
  assert status == 2 and "--fast" in err
  status, err = run("--input", "-", "--output", "-", "--block-ms", "0")
  assert status == 2 and "--block-ms" in err
  status, err = run("--input", "-", "--output", "-", "--chunk-frames", "4")
  assert status == 2 and "--chunk-frames" in err and len(err.splitlines()) == 1
  status, err = run("--input", "-", "--output", str(tmp_path / "out.xyz"))
  assert status == 2 and "out.xyz" in err
  status, err = run("--input", "-", "--output", "-", "--pitch", "match")
  assert status == 2 and "--pitch match" in err and "--pitch auto" in err
  try:
    import sounddevice   # noqa: F401  (there, a machine without PortAudio devices still errs)
  except (ImportError, OSError):
    status, err = run("--input", "device", "--output", "-")
    assert status == 2 and "sound" in err and len(err.splitlines()) == 1


def test_stream_at_the_converted_mels_own_f0_is_offline_delayed(workdir, clip):
  """--pitch model through an F0-conditioned vocoder: the converted mel's F0
  is read chunk by chunk, whatever the windows, so the stream is the offline
  conversion too."""
  converter = jaxvc.Converter.from_workdir(workdir, vocoder=vocoder(pitch_input=True))
  want = offline(converter, clip)
  for block in (160, 4000):
    out, latency = streamed(converter, clip, block)
    np.testing.assert_allclose(out[latency:], want, atol=1e-4 * max(1.0, np.abs(want).max()))
