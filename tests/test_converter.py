"""jaxvc.Converter on a tiny freshly initialised model: lengths, windowing, files."""
import os

import jax
import matplotlib.image
import numpy as np
import pytest
import soundfile as sf

import jaxvc
from jaxvc.melganvc import config as melganvc_config
from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import workdirs
from jaxvc.melganvc import chunking
from jaxvc import config as config_lib
from jaxvc.melganvc import file_conversion
from jaxvc.melganvc import step as melganvc_step
from jaxvc.melganvc import windows as windows_lib


def tiny_config():
  config = melganvc_config.defaults()
  config.model.update(generator_channels=8, critic_channels=8, siamese_channels=8, siamese_dim=4)
  return config


write_workdir = workdirs.write_untrained   # a trained-looking workdir without training


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return write_workdir(tmp_path_factory.mktemp("run"), tiny_config())


@pytest.fixture(scope="module")
def fast(workdir):
  """Two Griffin-Lim iterations: for tests of lengths and plumbing."""
  return jaxvc.Converter.from_workdir(workdir, n_iter=2)


@pytest.fixture(scope="module")
def clip(speech):
  wave, rate = speech
  return wave.astype(np.float32), rate


def spectral_convergence(wave, target_mel, cfg, frames=slice(None)):
  """||mel magnitude of wave - target|| / ||target|| over `frames`."""
  def magnitude(mel):
    return np.sqrt(np.asarray(audio.denormalise_mel(mel, cfg)))[:, frames]
  got, want = magnitude(audio.wave_to_mel(wave, cfg)), magnitude(target_mel)
  return np.linalg.norm(got - want) / np.linalg.norm(want)


# ----------------------------------------------------------------------------
# Arrays.


def test_short_odd_and_resampled_inputs_keep_their_duration(fast, clip):
  wave, rate = clip
  short = wave[:int(0.3 * rate)]
  assert fast.convert(short, rate).shape == (short.size,)
  odd = wave[:12347]
  assert fast.convert(odd, rate).shape == (12347,)
  at_22k = audio.resample(odd, rate, 22050)
  out = fast.convert(at_22k, 22050)
  assert out.shape == (round(at_22k.size * 16000 / 22050),)
  assert out.dtype == np.float32 and np.isfinite(out).all() and np.abs(out).max() > 0


def test_long_input_streams_in_bounded_windows(fast, clip):
  """Four minutes of speech: the output has every sample, and the first window
  comes out after reading about one window, not the whole input."""
  wave, rate = clip
  block = rate  # one second per block
  long = np.tile(wave, int(np.ceil(240 * rate / wave.size)))[:240 * rate + 123]
  pulled = []

  def blocks():
    for i in range(0, long.size, block):
      pulled.append(min(i + block, long.size))
      yield long[i:i + block]

  windows = fast.convert_stream(blocks())
  first = next(windows)
  window_samples = first.source_mel.shape[1] * fast.audio.hop_length
  assert pulled[-1] < 1.2 * window_samples + 2 * block
  rest = list(windows)
  assert sum(w.wave.size for w in [first, *rest]) == long.size
  assert len(rest) >= 6
  assert sum(w.source_mel.shape[1] for w in [first, *rest]) == fast.audio.n_frames(long.size)


@pytest.mark.parametrize("tail", chunking.TAIL_MODES)
def test_chunks_cover_every_frame_and_join_back(tail):
  """Chunks of 8 frames for mels of 1 to 20: every frame in a chunk once
  (`pad`: silence after the last) and the joined chunks the mel again; the
  whole-chunk split is the same on a batched JAX array (the export's)."""
  rng = np.random.default_rng(0)
  for frames in (1, 7, 8, 9, 16, 20):
    mel = rng.uniform(-1, 1, (5, frames)).astype(np.float32)
    chunks = chunking.to_chunks(mel, 8, tail)
    assert chunks.shape[1:] == (5, 8)
    assert len(chunks) == -(-frames // 8)
    np.testing.assert_array_equal(chunking.from_chunks(chunks, frames, tail), mel)
    if tail == "pad":
      np.testing.assert_array_equal(chunks[-1][:, frames - 8 * (len(chunks) - 1):], audio.SILENCE)
  batch = rng.uniform(-1, 1, (3, 5, 24)).astype(np.float32)
  split = chunking.split_whole(jax.numpy.asarray(batch), 8)
  assert split.shape == (3, 3, 5, 8)
  np.testing.assert_array_equal(np.asarray(split[1]), chunking.to_chunks(batch[1], 8))
  np.testing.assert_array_equal(np.asarray(chunking.join_whole(split)), batch)


@pytest.mark.parametrize("tail", chunking.TAIL_MODES)
def test_windowed_mels_equal_the_one_shot_conversion(workdir, clip, tail):
  """Windows of ~3 s over 14 s: the source and converted mels, joined, are the
  whole input's mel and its one-shot conversion."""
  wave, rate = clip
  medium = np.tile(wave, 4)[:14 * rate + 77]
  conv = jaxvc.Converter.from_workdir(workdir, n_iter=2, tail=tail, window_seconds=3.0)
  windows = list(conv.convert_stream([medium]))
  assert len(windows) >= 4
  mel = np.asarray(audio.wave_to_mel(medium, conv.audio))
  source = np.concatenate([w.source_mel for w in windows], axis=1)
  converted = np.concatenate([w.converted_mel for w in windows], axis=1)
  np.testing.assert_allclose(source, mel, atol=2e-5)
  np.testing.assert_allclose(converted, conv.convert_mel(mel), atol=2e-5)
  assert np.abs(converted - mel).mean() > 0.05  # the generator did change it


def test_joins_leave_no_seam(clip):
  """Near the joins the output's mel is about as close to the target as a
  one-shot Griffin-Lim of the whole target is: within 15% in spectral
  convergence over all joins, and 50% at each (one Griffin-Lim run differs
  from another by up to 40% over half a second). A fade at the window boundary
  instead of a quiet point fails this. The generator is the identity here, so
  the target is speech, pauses and all."""
  wave, rate = clip
  medium = np.tile(wave, 9)[:30 * rate]
  conv = jaxvc.Converter(tiny_config(), lambda chunks: chunks, window_seconds=3.0)
  windows = list(conv.convert_stream([medium]))
  out = np.concatenate([w.wave for w in windows])
  target = np.concatenate([w.converted_mel for w in windows], axis=1)
  one_shot = np.asarray(audio.mel_to_wave(target, conv.audio, length=medium.size))
  context = int(windows_lib.CONTEXT_SECONDS * rate / conv.audio.hop_length)
  boundaries = np.cumsum([w.converted_mel.shape[1] for w in windows])[:-1]
  assert len(boundaries) >= 8

  def ratio(frames):
    return (spectral_convergence(out, target, conv.audio, frames)
            / spectral_convergence(one_shot, target, conv.audio, frames))

  for b in boundaries:
    assert ratio(slice(b - context, b + context)) < 1.5, b
  assert ratio(np.concatenate([np.arange(b - context, b + context) for b in boundaries])) < 1.15
  assert ratio(slice(None)) < 1.05


def test_gradient_inversion(workdir, clip):
  wave, rate = clip
  conv = jaxvc.Converter.from_workdir(workdir, inversion="gradient", n_iter=3)
  out = conv.convert(wave[:rate], rate)
  assert out.shape == (rate,) and np.isfinite(out).all()


def test_bad_arrays_and_options_are_rejected(fast, workdir):
  with pytest.raises(ValueError, match="mono"):
    fast.convert(np.zeros((2, 1600), np.float32), 16000)
  with pytest.raises(ValueError, match="NaN"):
    fast.convert(np.full(1600, np.nan, np.float32), 16000)
  with pytest.raises(ValueError, match="inversion"):
    jaxvc.Converter.from_workdir(workdir, inversion="wavenet")
  with pytest.raises(ValueError, match="n_iter"):
    jaxvc.Converter.from_workdir(workdir, n_iter=0)


# ----------------------------------------------------------------------------
# Checkpoints.


def test_missing_and_incompatible_checkpoints(tmp_path, workdir):
  with pytest.raises(checkpoints.CheckpointError, match="no saved config"):
    jaxvc.Converter.from_workdir(str(tmp_path))
  with pytest.raises(checkpoints.CheckpointError, match="no checkpoint at step 7"):
    jaxvc.Converter.from_workdir(workdir, step=7)
  other = tiny_config()
  other.model.generator_channels = 16
  mismatched = write_workdir(tmp_path / "mismatched", tiny_config())
  workdirs.save_config(mismatched, other)
  # Found from the checkpoint's metadata, before orbax reads (and races on) any array.
  with pytest.raises(checkpoints.CheckpointError,
                     match=r"does not match the config \(params\.generator\..* is stored as "
                           r"\(8,\), the config makes \(16,\)\)"):
    jaxvc.Converter.from_checkpoint(os.path.join(mismatched, "checkpoints", "0"))


def test_checkpoints_store_jaxvcs_own_layout_and_the_old_one_still_loads(tmp_path, workdir):
  import orbax.checkpoint as ocp
  stored = checkpoints._stored_arrays(os.path.join(workdir, "checkpoints", "0", "default"))
  assert "format" in stored and "state.params.generator.out_bias" in stored
  assert not any(name.endswith(".value") for name in stored)   # flax's own level
  # Format 0: the train state as orbax stored it, before the format key.
  config = tiny_config()
  state = melganvc_step.init_state(config)
  old = str(tmp_path / "old")
  workdirs.save_config(old, config)
  with ocp.CheckpointManager(os.path.join(old, "checkpoints")) as mngr:
    mngr.save(0, args=ocp.args.StandardSave(state))
  assert "format" not in checkpoints._stored_arrays(
      os.path.join(old, "checkpoints", "0", "default"))
  for loaded in (workdirs.load_state(old)[1], workdirs.load_state(workdir)[1]):
    for got, want in zip(jax.tree.leaves(loaded), jax.tree.leaves(state)):
      np.testing.assert_array_equal(got, want)
  assert np.array_equal(jaxvc.Converter.from_workdir(old, n_iter=2).convert_mel(
      np.zeros((192, 40), np.float32)), jaxvc.Converter.from_workdir(workdir, n_iter=2)
      .convert_mel(np.zeros((192, 40), np.float32)))


def test_inference_reads_only_the_generator(tmp_path):
  """A critic that no longer fits the config stops a resume but not a conversion:
  the critic's arrays are never read for inference."""
  trained = tiny_config()
  workdir = write_workdir(tmp_path / "w", trained)
  other = tiny_config()
  other.model.critic_channels = 16
  workdirs.save_config(workdir, other)
  with pytest.raises(checkpoints.CheckpointError, match=r"params\.critic\."):
    workdirs.load_state(workdir)
  config, generator, step = workdirs.load_inference(workdir, method="melganvc")
  assert step == 0 and sorted(generator) == ["params", "stats"]
  _, state = workdirs.load_state(write_workdir(tmp_path / "same", trained))
  for got, want in zip(jax.tree.leaves(generator),
                       jax.tree.leaves(melganvc_step.generator_state(state))):
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------
# Files.


def test_convert_file_at_the_input_rate_with_a_plot(fast, clip, tmp_path):
  wave, rate = clip
  stereo = audio.resample(np.stack([wave, 0.5 * wave]), rate, 44100).T
  sf.write(tmp_path / "in.flac", stereo, 44100)
  out = tmp_path / "deep" / "out.wav"
  seconds = fast.convert_file(str(tmp_path / "in.flac"), str(out), sample_rate=44100, plot=True)
  assert seconds == pytest.approx(len(stereo) / 44100)
  info = sf.info(out)
  assert (info.samplerate, info.channels, info.frames, info.subtype) == (
      44100, 1, len(stereo), "PCM_16")
  image = matplotlib.image.imread(tmp_path / "deep" / "out.png")
  n_frames = fast.audio.n_frames(round(len(stereo) * 16000 / 44100))
  assert image.shape[:2] == (2 * fast.audio.n_mels + 4, n_frames) and image.std() > 0
  assert sorted(os.listdir(tmp_path / "deep")) == ["out.png", "out.wav"]


def test_huge_files_are_read_in_blocks_with_the_same_result(fast, clip, tmp_path, monkeypatch):
  wave, rate = clip
  sf.write(tmp_path / "in.wav", np.stack([wave, wave], axis=1), rate, subtype="FLOAT")
  whole = tmp_path / "whole.wav"
  fast.convert_file(str(tmp_path / "in.wav"), str(whole))
  monkeypatch.setattr(file_conversion, "STREAM_ABOVE_SAMPLES", 0)
  monkeypatch.setattr(file_conversion, "READ_BLOCK_FRAMES", 4096)
  blocks = tmp_path / "blocks.wav"
  fast.convert_file(str(tmp_path / "in.wav"), str(blocks))
  np.testing.assert_array_equal(sf.read(blocks)[0], sf.read(whole)[0])

  broken = np.tile(wave, 3)
  broken[2 * rate] = np.nan
  sf.write(tmp_path / "nan.wav", broken, rate, subtype="FLOAT")
  with pytest.raises(audio.AudioError, match="nan.wav: contains NaN"):
    fast.convert_file(str(tmp_path / "nan.wav"), str(tmp_path / "out.wav"))
  sf.write(tmp_path / "silent.wav", np.zeros(rate), rate)
  with pytest.raises(audio.AudioError, match="silent.wav: silent"):
    fast.convert_file(str(tmp_path / "silent.wav"), str(tmp_path / "out.wav"))
  assert not os.path.exists(tmp_path / "out.wav")


def test_inputs_are_brought_to_the_front_ends_loudness(fast, clip, tmp_path, monkeypatch):
  """With audio.loudness_lufs set, a quiet and a loud take of one recording
  convert alike, by the array API and from files read whole or in blocks."""
  wave, rate = clip
  config = tiny_config()
  config.audio.loudness_lufs = -23.0
  levelled = jaxvc.Converter.from_workdir(write_workdir(tmp_path / "run", config), n_iter=2)
  quiet, loud = levelled.convert(wave * 0.05, rate), levelled.convert(wave * 1.5, rate)
  np.testing.assert_allclose(quiet, loud, atol=1e-4)
  assert not np.allclose(fast.convert(wave * 0.05, rate), fast.convert(wave * 1.5, rate),
                         atol=1e-4)
  sf.write(tmp_path / "quiet.wav", wave * 0.05, rate, subtype="FLOAT")
  levelled.convert_file(str(tmp_path / "quiet.wav"), str(tmp_path / "whole.wav"))
  np.testing.assert_allclose(sf.read(tmp_path / "whole.wav")[0], loud, atol=1e-3)
  monkeypatch.setattr(file_conversion, "STREAM_ABOVE_SAMPLES", 0)
  monkeypatch.setattr(file_conversion, "READ_BLOCK_FRAMES", 8192)
  levelled.convert_file(str(tmp_path / "quiet.wav"), str(tmp_path / "blocks.wav"))
  np.testing.assert_allclose(sf.read(tmp_path / "blocks.wav")[0], loud, atol=0.02)


def test_an_interrupted_write_leaves_no_file(workdir, clip, tmp_path, monkeypatch):
  wave, rate = clip
  sf.write(tmp_path / "in.wav", np.tile(wave, 4), rate)
  (tmp_path / "out").mkdir()
  sf.write(tmp_path / "out" / "kept.wav", wave, rate)
  before = (tmp_path / "out" / "kept.wav").read_bytes()
  write = sf.SoundFile.write
  calls = []

  def failing_write(self, data):
    calls.append(len(data))
    if len(calls) == 2:
      raise OSError(28, "No space left on device")
    return write(self, data)

  monkeypatch.setattr(sf.SoundFile, "write", failing_write)
  conv = jaxvc.Converter.from_workdir(workdir, n_iter=2, window_seconds=3.0)
  for name in ("new.wav", "kept.wav"):
    calls.clear()
    with pytest.raises(OSError, match="No space"):
      conv.convert_file(str(tmp_path / "in.wav"), str(tmp_path / "out" / name))
    assert calls[0] > 0
  assert os.listdir(tmp_path / "out") == ["kept.wav"]
  assert (tmp_path / "out" / "kept.wav").read_bytes() == before

