"""The audio front-end against librosa's definitions, on real files and signals."""
import os

import jax.numpy as jnp
import librosa
import numpy as np
import pytest
import soundfile as sf

from jaxvc import audio
from jaxvc.audio import loudness
from jaxvc.audio import mel as mel_lib
from jaxvc import config
from jaxvc.errors import ConfigError

CFG = audio.AudioConfig()


@pytest.fixture(scope="module")
def clip(speech):
  """About 3.5 s of espeak speech at 16 kHz (tests/conftest.py)."""
  wave, rate = speech
  assert rate == CFG.sample_rate
  return wave


# ----------------------------------------------------------------------------
# AudioConfig.


def test_config_defaults_match_the_shared_config():
  assert audio.AudioConfig.from_config(config.audio()) == CFG
  assert CFG.mel_basis.shape == (192, 577)
  assert CFG.n_frames(16000) == 1 + 16000 // 192


@pytest.mark.parametrize("key, value, reason", [
    ("fmax", 9000.0, "Nyquist"),
    ("win_length", 2048, "exceeds n_fft"),
    ("hop_length", 0, "positive"),
    ("n_mels", -4, "positive"),
    ("loudness_lufs", 3.0, "outside"),
    ("loudness_lufs", -80.0, "outside"),
])
def test_config_rejects_bad_settings(key, value, reason):
  cfg = config.audio()
  cfg[key] = value
  with pytest.raises(ConfigError, match=f"audio.{key}: .*{reason}"):
    audio.AudioConfig.from_config(cfg)


# ----------------------------------------------------------------------------
# Files.


def _sine(seconds, rate, freq=440.0, amplitude=0.5):
  t = np.arange(int(seconds * rate)) / rate
  return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _peak_hz(wave, rate):
  return np.argmax(np.abs(np.fft.rfft(wave))) * rate / wave.size


def test_load_stereo_float_48k_is_mixed_down_and_resampled(tmp_path):
  path = tmp_path / "stereo.wav"
  sine = _sine(1.0, 48000)
  sf.write(path, np.stack([1.2 * sine, 0.4 * sine], axis=1), 48000, subtype="FLOAT")
  wave = audio.load_audio(path, 16000)
  assert wave.dtype == np.float32 and wave.shape == (16000,)
  assert _peak_hz(wave, 16000) == pytest.approx(440, abs=1)
  np.testing.assert_allclose(np.abs(wave[1000:-1000]).max(), 0.4, rtol=0.01)


def test_load_8bit_pcm_and_flac(tmp_path):
  sine = _sine(0.5, 16000)
  sf.write(tmp_path / "u8.wav", sine, 16000, subtype="PCM_U8")
  np.testing.assert_allclose(audio.load_audio(tmp_path / "u8.wav", 16000), sine, atol=1 / 64)
  sf.write(tmp_path / "a.flac", _sine(0.5, 22050), 22050)
  wave = audio.load_audio(tmp_path / "a.flac", 16000)
  assert wave.shape == (8000,)
  assert _peak_hz(wave, 16000) == pytest.approx(440, abs=2)


def _bad_files(folder):
  """name -> (writer, reason the error must give)."""
  good = folder / "good.wav"
  sf.write(good, _sine(0.5, 16000), 16000)
  header = good.read_bytes()
  return {
      "corrupt.wav": (header[:12] + b"\x00" * 32 + header[44:], "unreadable"),
      "truncated.wav": (header[:20], "unreadable"),
      "text.wav": (b"this is not audio\n" * 20, "unreadable"),
      "missing.wav": (None, "no such file"),
  }


def test_load_rejects_unreadable_files(tmp_path):
  for name, (data, reason) in _bad_files(tmp_path).items():
    path = tmp_path / name
    if data is not None:
      path.write_bytes(data)
    with pytest.raises(audio.AudioError) as e:
      audio.load_audio(path, 16000)
    message = str(e.value)
    assert message.startswith(f"{path}: {reason}") and "\n" not in message, message


@pytest.mark.parametrize("name, wave, subtype, reason", [
    ("empty.wav", np.zeros(0, np.float32), "PCM_16", "empty"),
    ("silent.wav", np.zeros(8000, np.float32), "PCM_16", "silent"),
    ("nan.wav", np.where(np.arange(8000) == 4000, np.nan, _sine(0.5, 16000)), "FLOAT", "NaN"),
    ("short.wav", _sine(0.1, 16000), "PCM_16", r"too short \(0.1 s < min_seconds=0.25 s\)"),
])
def test_load_rejects_unusable_audio(tmp_path, name, wave, subtype, reason):
  path = tmp_path / name
  sf.write(path, wave, 16000, subtype=subtype)
  with pytest.raises(audio.AudioError, match=f"^{path}: .*{reason}"):
    audio.load_audio(path, 16000, min_seconds=0.25)


def test_save_audio_is_atomic_and_replaces_whole(tmp_path):
  path = tmp_path / "out" / "x.wav"
  audio.save_audio(path, _sine(1.0, 16000), 16000)
  audio.save_audio(path, 2 * _sine(0.25, 16000), 16000)  # clipped, shorter
  wave, rate = sf.read(path, dtype="float32")
  assert rate == 16000 and wave.shape == (4000,) and sf.info(path).subtype == "PCM_16"
  assert np.abs(wave).max() == pytest.approx(1.0, abs=1e-4)
  with pytest.raises(Exception):
    audio.save_audio(path, np.zeros((2, 2, 2)), 16000)  # fails mid-write
  assert os.listdir(path.parent) == ["x.wav"]
  assert sf.read(path)[0].shape == (4000,)


def test_trim_silence_cuts_quiet_ends():
  tone = _sine(0.5, 16000)
  wave = np.concatenate([np.zeros(8000, np.float32), tone, np.zeros(8000, np.float32)])
  trimmed = audio.trim_silence(wave, top_db=40)
  assert tone.size <= trimmed.size < tone.size + 4096  # librosa's frames are 2048 long
  assert audio.trim_silence(wave, top_db=0) is wave


def test_loudness_normalisation_reaches_its_target_whatever_the_level_and_pauses(clip):
  rate = CFG.sample_rate
  for gain in (0.01, 0.3, 2.0):
    out = loudness.normalise_loudness(clip * gain, rate, -23.0)
    assert loudness.integrated_loudness(out, rate) == pytest.approx(-23.0, abs=0.01)
  # Gating: long pauses do not turn a take up, as they would an RMS.
  paused = np.concatenate([clip, np.zeros(4 * clip.size, np.float32)])
  assert loudness.integrated_loudness(paused, rate) == pytest.approx(
      loudness.integrated_loudness(clip, rate), abs=0.5)
  # 0 is off; silence is left as it is; a clip shorter than a gating block is measured.
  assert loudness.normalise_loudness(clip, rate, 0.0) is not None
  np.testing.assert_array_equal(loudness.normalise_loudness(clip, rate, 0.0), clip)
  np.testing.assert_array_equal(loudness.normalise_loudness(np.zeros(rate), rate, -23.0), 0)
  short = loudness.normalise_loudness(clip[20000:21000] * 0.1, rate, -23.0)
  assert loudness.integrated_loudness(short, rate) == pytest.approx(-23.0, abs=0.01)


def test_loudness_of_parts_combines_like_the_whole(clip):
  rate = CFG.sample_rate
  loud, quiet = clip, clip * 0.1
  whole = loudness.integrated_loudness(np.concatenate([loud, quiet]), rate)
  parts = loudness.combined_loudness([(loudness.integrated_loudness(w, rate), w.size)
                                      for w in (loud, quiet)])
  assert parts == pytest.approx(whole, abs=1.0)
  assert loudness.combined_loudness([(-np.inf, 100)]) == -np.inf


def test_front_end_trims_then_brings_to_the_loudness(clip):
  rate = CFG.sample_rate
  padded = np.concatenate([np.zeros(rate, np.float32), clip * 0.05, np.zeros(rate, np.float32)])
  out = audio.front_end(padded, rate, top_db=40, loudness_lufs=-20.0)
  assert out.size < clip.size + 4096
  assert loudness.integrated_loudness(out, rate) == pytest.approx(-20.0, abs=0.01)
  np.testing.assert_array_equal(audio.front_end(padded, rate, top_db=0, loudness_lufs=0.0),
                                padded)


# ----------------------------------------------------------------------------
# Mel spectrogram.


def test_wave_to_mel_matches_librosa(clip):
  ours = np.asarray(audio.wave_to_mel(clip, CFG))
  power = librosa.feature.melspectrogram(
      y=clip, sr=CFG.sample_rate, n_fft=CFG.n_fft, hop_length=CFG.hop_length,
      win_length=CFG.win_length, n_mels=CFG.n_mels, fmin=CFG.fmin, fmax=CFG.fmax,
      power=CFG.power)
  db = 10 * np.log10(np.maximum(power, 1e-10)) - CFG.ref_level_db
  theirs = np.clip(2 * (db - CFG.min_level_db) / -CFG.min_level_db - 1, -1, 1)
  assert ours.dtype == np.float32 and ours.shape == (CFG.n_mels, CFG.n_frames(clip.size))
  assert (np.abs(theirs) < 1).mean() > 0.5  # mostly unclipped, so the check bites
  # float32 FFT rounding: 2e-4 at most (0.01 dB), in the quietest bins.
  np.testing.assert_allclose(ours, theirs, atol=5e-4)
  assert np.abs(ours - theirs).mean() < 1e-5


def test_wave_to_mel_batches_over_leading_axes(clip):
  batch = np.stack([clip[:16000], clip[16000:32000], 0.1 * clip[32000:48000]]).reshape(3, 1, 16000)
  mels = np.asarray(audio.wave_to_mel(batch, CFG))
  assert mels.shape == (3, 1, CFG.n_mels, CFG.n_frames(16000))
  for i in range(3):
    np.testing.assert_allclose(mels[i, 0], audio.wave_to_mel(batch[i, 0], CFG), atol=1e-6)


def test_waves_to_mels_matches_unpadded_mels():
  small = audio.AudioConfig(n_fft=256, win_length=256, hop_length=64, n_mels=32)
  # The first two share the 6144-sample bucket, the third is in the 12288 one.
  waves = [_sine(s, 16000, freq=f) for s, f in [(0.3, 200), (0.35, 300), (0.61, 500)]]
  mels = audio.waves_to_mels(waves, small)
  for wave, mel in zip(waves, mels):
    np.testing.assert_allclose(mel, audio.wave_to_mel(wave, small), atol=2e-5)


@pytest.mark.parametrize("n_fft, hop, win", [(1152, 192, 1152), (2048, 512, 2048), (1000, 300, 800)])
def test_stft_matches_librosa(clip, n_fft, hop, win):
  ours = np.asarray(audio.stft(clip, n_fft=n_fft, hop_length=hop, win_length=win))
  theirs = librosa.stft(clip, n_fft=n_fft, hop_length=hop, win_length=win)
  assert ours.shape == theirs.shape
  np.testing.assert_allclose(ours, theirs, atol=1e-4 * np.abs(theirs).max())


def test_normalisation_round_trips():
  mel = jnp.linspace(-1, 1, 101)
  np.testing.assert_allclose(audio.normalise_mel(audio.denormalise_mel(mel, CFG), CFG), mel, atol=1e-5)


# ----------------------------------------------------------------------------
# Inversion.


def spectral_convergence(wave, reference):
  """||S - S_hat||_F / ||S||_F of librosa magnitude spectrograms."""
  def magnitude(w):
    return np.abs(librosa.stft(np.asarray(w), n_fft=CFG.n_fft, hop_length=CFG.hop_length))
  return np.linalg.norm(magnitude(reference) - magnitude(wave)) / np.linalg.norm(magnitude(reference))


@pytest.mark.parametrize("n_fft, hop, win", [(1152, 192, 1152), (2048, 512, 2048), (1000, 300, 800)])
def test_istft_inverts_stft(clip, n_fft, hop, win):
  spec = audio.stft(clip, n_fft=n_fft, hop_length=hop, win_length=win)
  for length in (clip.size, clip.size - 100, clip.size + 500):
    wave = np.asarray(audio.istft(spec, n_fft=n_fft, hop_length=hop, win_length=win, length=length))
    n = min(length, clip.size)
    np.testing.assert_allclose(wave[:n], clip[:n], atol=1e-6)
    # Past the clip, frames' edges divide rounding noise by a vanishing window sum, as librosa's.
    theirs = librosa.istft(np.asarray(spec), n_fft=n_fft, hop_length=hop, win_length=win, length=length)
    np.testing.assert_allclose(wave, theirs, atol=1e-6)


def test_griffin_lim_recovers_phase(clip):
  magnitude = jnp.abs(audio.stft(clip, n_fft=CFG.n_fft, hop_length=CFG.hop_length, win_length=CFG.win_length))
  def invert(n_iter):
    return audio.griffin_lim(magnitude, n_fft=CFG.n_fft, hop_length=CFG.hop_length,
                             win_length=CFG.win_length, length=clip.size, n_iter=n_iter)
  random_phase, one, converged = (spectral_convergence(invert(n), clip) for n in (0, 1, 32))
  assert random_phase > 0.5 and converged < 0.08  # measured 0.68 and 0.044
  assert converged < one < random_phase  # an odd count runs its last iteration alone


def test_mel_to_wave_gives_back_the_speech(clip):
  mel = audio.wave_to_mel(clip, CFG)
  waves = audio.mel_to_wave(jnp.stack([mel, mel]), CFG, length=clip.size)
  assert waves.shape == (2, clip.size) and waves.dtype == jnp.float32
  for wave in waves:  # measured 0.14 (librosa.feature.inverse.mel_to_audio: 0.16)
    assert spectral_convergence(wave, clip) < 0.2


def test_mel_nnls_fits_better_than_librosa(clip):
  mel_power = audio.denormalise_mel(audio.wave_to_mel(clip, CFG), CFG)
  ours = np.asarray(mel_lib._mel_to_linear(mel_power, CFG))
  theirs = librosa.feature.inverse.mel_to_stft(
      np.asarray(mel_power), sr=CFG.sample_rate, n_fft=CFG.n_fft, fmin=CFG.fmin, fmax=CFG.fmax,
      power=1.0)
  assert ours.shape == theirs.shape and ours.min() >= 0
  def residual(power):
    return np.linalg.norm(CFG.mel_basis @ power - mel_power) / np.linalg.norm(mel_power)
  assert residual(ours) < 0.8 * residual(theirs)


def test_invert_mel_gradient_gives_back_the_speech(clip):
  mel = audio.wave_to_mel(clip, CFG)
  wave = audio.invert_mel_gradient(mel, CFG, n_iter=300, learning_rate=5e-3, length=clip.size)
  assert wave.shape == clip.shape
  assert spectral_convergence(wave, clip) < 0.25  # measured 0.18 (0.15 after 2000 steps)
  batch = audio.invert_mel_gradient(jnp.stack([mel, mel]), CFG, n_iter=3, length=clip.size)
  single = audio.invert_mel_gradient(mel, CFG, n_iter=3, length=clip.size)
  np.testing.assert_allclose(batch[0], single, atol=1e-6)


def test_read_source_reports_the_file_and_its_clipping(tmp_path):
  t = np.arange(1600) / 16000
  sine = np.sin(2 * np.pi * 200 * t)                               # 20 periods
  wave = np.clip(3 * sine, -1, 1).astype(np.float32)                # 40 flat peaks
  sf.write(tmp_path / "clipped.wav", np.stack([wave, 0.5 * wave], axis=1), 16000)
  mono, source = audio.read_source(tmp_path / "clipped.wav")
  assert source == audio.Source(sample_rate=16000, channels=2, seconds=0.1, clipped_runs=40)
  assert mono.shape == (1600,)
  sf.write(tmp_path / "touching.wav", sine.astype(np.float32), 16000)
  assert audio.read_source(tmp_path / "touching.wav")[1].clipped_runs == 0   # peaks, not cut
