"""jaxvc.audio.shift_mel_pitch: the F0 moves, the envelope and level stay."""
import librosa
import numpy as np
import pytest

from jaxvc import audio
from jaxvc.audio import pitch
from jaxvc.audio import pitch_shift

CFG = audio.AudioConfig()
SECONDS = 1.0


def harmonic_tone(f0: float, formants: bool = False) -> np.ndarray:
  """One second of a steady harmonic tone at f0 Hz up to 7.8 kHz; with
  `formants`, its harmonics shaped by two resonances (700 Hz, 2.2 kHz) over a
  falling tilt, else equal."""
  t = np.arange(int(SECONDS * CFG.sample_rate)) / CFG.sample_rate
  wave = np.zeros_like(t)
  for k in range(1, int(7800 // f0) + 1):
    f = k * f0
    gain = ((1 + 8 * np.exp(-((f - 700) / 150) ** 2) + 4 * np.exp(-((f - 2200) / 250) ** 2))
            / (1 + f / 1000)) if formants else 1.0
    wave += gain * np.sin(2 * np.pi * f * t + 0.3 * k * k)
  return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def rendered_f0(mel: np.ndarray) -> float:
  """Median F0 of the mel's Griffin-Lim rendering over its voiced frames,
  the edges left out."""
  frames = mel.shape[-1]
  wave = audio.mel_to_wave(mel, CFG, length=frames * CFG.hop_length)
  hz, voiced = pitch.f0(wave, CFG)
  hz, voiced = np.asarray(hz)[10:-10], np.asarray(voiced)[10:-10]
  assert voiced.mean() > 0.9
  return float(np.median(hz[voiced]))


@pytest.fixture(scope="module")
def speech_mel(speech):
  wave, _ = speech
  return np.asarray(audio.wave_to_mel(wave, CFG))


def test_ratio_one_gives_the_mel_back(speech_mel):
  np.testing.assert_allclose(audio.shift_mel_pitch(speech_mel, 1.0, CFG), speech_mel, atol=1e-6)
  # Frames at ratio 1 are left alone beside shifted ones (the caller's unvoiced frames).
  ratio = np.ones(speech_mel.shape[-1], np.float32)
  ratio[::2] = 1.5
  shifted = np.asarray(audio.shift_mel_pitch(speech_mel, ratio, CFG))
  np.testing.assert_allclose(shifted[:, 1::2], speech_mel[:, 1::2], atol=1e-6)
  assert np.abs(shifted[:, ::2] - speech_mel[:, ::2]).max() > 0.1


def test_a_tone_is_read_at_the_shifted_f0():
  mel = np.asarray(audio.wave_to_mel(harmonic_tone(200.0), CFG))
  assert rendered_f0(mel) == pytest.approx(200.0, rel=0.03)
  assert rendered_f0(np.asarray(audio.shift_mel_pitch(mel, 1.5, CFG))) == pytest.approx(
      300.0, rel=0.03)


def band_levels(mel: np.ndarray, bands: int = 24) -> np.ndarray:
  """The mel's level in dB over groups of `bands` bands, frames averaged in
  power (the edges left out): its envelope at a resolution coarser than
  the harmonics."""
  power = np.asarray(audio.denormalise_mel(mel, CFG))[:, 10:-10].mean(axis=1)
  return 10 * np.log10(power.reshape(-1, bands).mean(axis=1))


def test_the_envelope_stays_where_scaling_the_mel_would_move_it():
  mel = np.asarray(audio.wave_to_mel(harmonic_tone(120.0, formants=True), CFG))
  ratio = 1.5
  shifted = np.asarray(audio.shift_mel_pitch(mel, ratio, CFG))
  # The same mel stretched along frequency: harmonics and formants both move.
  centres = librosa.mel_frequencies(CFG.n_mels + 2, fmin=CFG.fmin, fmax=CFG.fmax)[1:-1]
  scaled = np.stack([np.interp(centres / ratio, centres, frame) for frame in mel.T], axis=1)
  # The lowest group is left out: below the new F0 there is no harmonic to carry it.
  error = lambda other: np.abs(band_levels(other) - band_levels(mel))[1:].mean()
  assert np.abs(shifted - mel).max() > 0.2   # the harmonics did move
  assert error(shifted) < 3.0
  assert error(scaled) > 2 * error(shifted)


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_the_level_stays(ratio):
  mel = np.asarray(audio.wave_to_mel(harmonic_tone(200.0, formants=True), CFG))
  shifted = np.asarray(audio.shift_mel_pitch(mel, ratio, CFG))
  power = lambda m: np.asarray(audio.denormalise_mel(m, CFG))[:, 10:-10].sum()
  assert abs(10 * np.log10(power(shifted) / power(mel))) < 1.5


def test_batches_and_scalars_broadcast(speech_mel):
  frames = speech_mel.shape[-1]
  ratio = np.stack([np.full(frames, 0.8), np.linspace(0.6, 1.8, frames)]).astype(np.float32)
  batch = np.asarray(audio.shift_mel_pitch(np.stack([speech_mel, speech_mel]), ratio, CFG))
  assert batch.shape == (2, *speech_mel.shape) and batch.dtype == np.float32
  for item, row in zip(batch, ratio):
    np.testing.assert_allclose(item, audio.shift_mel_pitch(speech_mel, row, CFG), atol=1e-5)
  np.testing.assert_allclose(batch[0], audio.shift_mel_pitch(speech_mel, 0.8, CFG), atol=1e-5)
  assert np.all(np.abs(batch) <= 1)


@pytest.mark.parametrize("ratio", [0.49, 2.01, float("nan"), 0.0, -1.0])
def test_a_ratio_outside_the_range_is_refused(speech_mel, ratio):
  with pytest.raises(ValueError, match=r"\[0\.5, 2\.0\]"):
    audio.shift_mel_pitch(speech_mel, ratio, CFG)
  per_frame = np.ones(speech_mel.shape[-1], np.float32)
  per_frame[3] = ratio
  with pytest.raises(ValueError, match="outside the supported range"):
    audio.shift_mel_pitch(speech_mel, per_frame, CFG)


def test_the_range_is_the_modules():
  assert (pitch_shift.MIN_RATIO, pitch_shift.MAX_RATIO) == (0.5, 2.0)


def test_flattened_frames_lose_their_harmonics_and_keep_envelope_and_level():
  mel = np.asarray(audio.wave_to_mel(harmonic_tone(200.0, formants=True), CFG))
  flatten = np.zeros(mel.shape[-1], bool)
  flatten[: mel.shape[-1] // 2] = True
  flat = np.asarray(audio.shift_mel_pitch(mel, 1.0, CFG, flatten=flatten))
  # The other frames are left as they were, to the bit's tolerance.
  np.testing.assert_allclose(flat[:, ~flatten], mel[:, ~flatten], atol=1e-6)
  whole = np.asarray(audio.shift_mel_pitch(mel, 1.0, CFG, flatten=True))
  # The tone's rendering is read as voiced throughout, the flattened one's not at all...
  voiced = lambda m: np.asarray(pitch.f0(audio.mel_to_wave(
      m, CFG, length=m.shape[-1] * CFG.hop_length), CFG)[1])[10:-10].mean()
  assert voiced(mel) > 0.9 and voiced(whole) < 0.1
  # while the envelope and the level stay.
  assert np.abs(band_levels(whole) - band_levels(mel)).mean() < 3.0
  power = lambda m: np.asarray(audio.denormalise_mel(m, CFG))[:, 10:-10].sum()
  assert abs(10 * np.log10(power(whole) / power(mel))) < 1.5


def test_redrawn_harmonics_voice_a_frame_at_the_f0_given():
  """White noise (no harmonics) redrawn at 220 Hz on its second
  half: that half renders voiced at 220 Hz, its envelope and level kept; the
  first half is left as it was; flatten wins where both are asked."""
  rng = np.random.default_rng(0)
  noise = np.asarray(audio.wave_to_mel(
      (0.05 * rng.standard_normal(CFG.sample_rate)).astype(np.float32), CFG))
  frames = noise.shape[-1]
  hz = np.where(np.arange(frames) >= frames // 2, 220.0, 0.0)
  drawn = np.asarray(audio.shift_mel_pitch(noise, 1.0, CFG, harmonics_hz=hz))
  np.testing.assert_allclose(drawn[:, hz == 0], noise[:, hz == 0], atol=1e-6)
  half = drawn[:, frames // 2:]
  f0, voiced = (np.asarray(x)[10:-10] for x in pitch.f0(audio.mel_to_wave(
      half, CFG, length=half.shape[-1] * CFG.hop_length), CFG))
  assert voiced.mean() > 0.9 and np.median(f0[voiced]) == pytest.approx(220.0, rel=0.02)
  assert np.abs(band_levels(half) - band_levels(noise[:, frames // 2:])).mean() < 3.0
  both = np.asarray(audio.shift_mel_pitch(noise, 1.0, CFG, flatten=True, harmonics_hz=220.0))
  np.testing.assert_allclose(
      both, np.asarray(audio.shift_mel_pitch(noise, 1.0, CFG, flatten=True)), atol=1e-6)
