"""The F0-conditioned vocoder's source: the pulse train's harmonics, its phases
summed in pieces as in one run, and rendering in windows equal to one shot."""
import math

from flax import nnx
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvc import audio
from jaxvc.audio import pitch
from jaxvc.vocoder import excitation
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import inference as vocoder_inference
from test_vocoder import tiny_config

CFG = audio.AudioConfig()


def test_held_f0_keeps_the_last_voiced_value():
  f0 = np.array([0, 0, 100, 0, 0, 120, 0], np.float64)
  held = excitation.held_f0(f0, f0 > 0, xp=np)
  np.testing.assert_array_equal(held, [0, 0, 100, 100, 100, 120, 120])
  np.testing.assert_array_equal(np.asarray(excitation.held_f0(f0, f0 > 0)), held)


def test_pulse_train_has_the_harmonics_of_its_f0_and_the_analysis_reads_it():
  frames = 200
  f0 = np.full(frames, 220.0)
  rows = excitation.pitch_rows(f0, f0 > 0, CFG.hop_length, CFG.sample_rate, xp=np)
  wave = np.asarray(excitation.excitation(rows, CFG.hop_length, CFG.sample_rate))
  assert wave.shape == (frames * CFG.hop_length,)
  spectrum = np.abs(np.fft.rfft(wave * np.hanning(wave.size)))
  hz = np.fft.rfftfreq(wave.size, 1 / CFG.sample_rate)
  peaks = hz[np.argsort(spectrum)[-5:]]
  # The five strongest bins are harmonics of 220 Hz, all at equal amplitude.
  np.testing.assert_allclose(peaks / 220, np.round(peaks / 220), atol=0.01)
  # Equal harmonics up to Nyquist, none above (nothing folds back).
  below = math.floor(CFG.sample_rate / 2 / 220)
  at_harmonics = spectrum[np.searchsorted(hz, 220 * np.arange(1, below + 1))]
  np.testing.assert_allclose(at_harmonics, at_harmonics[0], rtol=0.02)
  folded = spectrum[np.searchsorted(hz, CFG.sample_rate - 220 * np.arange(below + 1, below + 4))]
  assert folded.max() < 1e-3 * at_harmonics[0]
  hz_read, voiced = pitch.f0(wave * 0.05, CFG)
  np.testing.assert_allclose(np.median(np.asarray(hz_read)[np.asarray(voiced)]), 220, rtol=0.01)


def test_phases_summed_in_pieces_give_the_samples_of_one_run():
  rng = np.random.RandomState(0)
  f0 = 100 + 150 * rng.rand(60)
  f0[20:25] = 0
  rows = excitation.pitch_rows(f0, f0 > 0, CFG.hop_length, CFG.sample_rate, xp=np)
  whole = np.asarray(excitation.excitation(rows, CFG.hop_length, CFG.sample_rate))
  # A piece of rows (one more frame for the F0 after its last) gives the samples
  # of the one run: the phase row carries the oscillator across the cut.
  piece = np.asarray(excitation.excitation(rows[:, 30:46], CFG.hop_length, CFG.sample_rate))
  hop = CFG.hop_length
  np.testing.assert_allclose(piece[:15 * hop], whole[30 * hop:45 * hop], atol=2e-3)
  # Float32 in the step gives the float64 phases of inference.
  np.testing.assert_allclose(
      np.asarray(excitation.pitch_rows(f0, f0 > 0, hop, CFG.sample_rate))[2], rows[2],
      atol=1e-3)


def test_frames_are_numbered_on_through_windows_and_padding_and_seed_the_noise():
  hop, rate = CFG.hop_length, CFG.sample_rate
  f0 = np.full((2, 10), 150.0)
  rows = excitation.pitch_rows(f0, f0 > 0, hop, rate, xp=np, first_frame=5)
  np.testing.assert_array_equal(rows[:, 3], np.tile(np.arange(5, 15), (2, 1)))
  padded = excitation.pad_rows(rows, 3, 2)
  np.testing.assert_array_equal(padded[0, 3], np.arange(2, 17))
  # In the step each segment is numbered from its own frame.
  stepped = excitation.pitch_rows(f0, f0 > 0, hop, rate, first_frame=jnp.array([0, 100]))
  np.testing.assert_array_equal(np.asarray(stepped)[:, 3], [np.arange(10), np.arange(100, 110)])
  # A stream's windows are numbered from where they start in it.
  oscillator = excitation.Oscillator(hop, rate)
  np.testing.assert_array_equal(oscillator.rows(f0[0], f0[0] > 0, 0, 0)[3], np.arange(10))
  np.testing.assert_array_equal(oscillator.rows(f0[0], f0[0] > 0, 6, 8)[3], np.arange(6, 16))
  # A frame's noise is its number's, whatever the window: uniform phases, new each frame.
  noise = np.asarray(excitation.noise_phases(jnp.asarray(padded), 385))
  assert noise.shape == (2, 15, 385) and 0 <= noise.min() and noise.max() < 2 * math.pi
  np.testing.assert_array_equal(noise[1, 3:13], np.asarray(excitation.noise_phases(rows, 385))[0])
  assert abs(noise.mean() - math.pi) < 0.05
  assert not np.isclose(noise[0, :-1], noise[0, 1:]).all(axis=-1).any()


@pytest.fixture(scope="module", params=[False, True], ids=["pulse", "pulse+noise"])
def pitch_vocoder(request):
  c = tiny_config()
  c.model.pitch = True
  c.model.noise_source = request.param
  params = nnx.split(generator_lib.create(c))[1]
  return vocoder_inference.Vocoder(c, params, window_frames=16)


def test_windows_at_a_given_f0_equal_one_shot(pitch_vocoder):
  rng = np.random.RandomState(1)
  mel = rng.uniform(-1, 0, (CFG.n_mels, 53)).astype(np.float32)
  f0 = np.where(rng.rand(53) > 0.2, 120 + 100 * rng.rand(53), 0.0)
  one_shot = vocoder_inference.Vocoder(pitch_vocoder.config, pitch_vocoder._params,
                                       window_frames=1000)(mel, f0)
  streamed = pitch_vocoder(mel, f0)
  np.testing.assert_allclose(streamed, one_shot, atol=1e-4 * np.abs(one_shot).max())
  # The receptive field in the F0 is what context_frames says.
  c, hop = pitch_vocoder.context, CFG.hop_length
  for offset, changes in ((c + 1, False), (c - 1, True)):
    other = f0.copy()
    other[offset] = 400.0
    moved = not np.allclose(pitch_vocoder(mel, other)[:hop // 2], streamed[:hop // 2],
                            atol=1e-6)
    assert moved == changes, offset
  # Without an F0 it renders at the mel's own (pitch.mel_f0).
  assert pitch_vocoder(mel).shape == streamed.shape


def test_f0_that_a_vocoder_cannot_take_is_a_value_error(pitch_vocoder):
  mel = np.zeros((CFG.n_mels, 10), np.float32)
  with pytest.raises(ValueError, match="f0_hz has 9 frames, the mel 10"):
    pitch_vocoder(mel, np.zeros(9))
  with pytest.raises(ValueError, match="finite"):
    pitch_vocoder(mel, np.full(10, np.nan))
  c = tiny_config()
  mel_only = vocoder_inference.Vocoder(c, nnx.split(generator_lib.create(c))[1])
  with pytest.raises(ValueError, match="takes no F0"):
    mel_only(mel, np.zeros(10))
