"""The critic's input augmentation: what each part does, and that gradients pass."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxvc.audio import SILENCE
from jaxvc.melganvc import augment


def _cfg(time_shift=0, mask_frames=0, gain=0.0):
  return ml_collections.ConfigDict(dict(time_shift=time_shift, mask_frames=mask_frames, gain=gain))


def _crops(batch=8, mels=4, frames=30):
  return jnp.asarray(np.random.default_rng(0).uniform(-0.5, 0.5, (batch, mels, frames)),
                     jnp.float32)


def test_off_by_default():
  assert not augment.enabled(_cfg())
  assert augment.enabled(_cfg(gain=0.1))


def test_time_shift_moves_whole_frames_and_fills_with_silence():
  x = _crops()
  y = np.asarray(augment.augment(jax.random.key(1), x, _cfg(time_shift=5)))
  shifts = set()
  for xi, yi in zip(np.asarray(x), y):
    found = [s for s in range(-5, 6)
             if np.array_equal(yi[:, max(s, 0):30 + min(s, 0)], xi[:, max(-s, 0):30 - max(s, 0)])]
    assert len(found) == 1
    s = found[0]
    shifts.add(s)
    filled = yi[:, :s] if s > 0 else yi[:, 30 + s:]
    assert np.all(filled == SILENCE)
  assert len(shifts) > 1   # each crop draws its own


def test_mask_silences_one_span_of_the_given_length():
  x = _crops()
  y = np.asarray(augment.augment(jax.random.key(2), x, _cfg(mask_frames=7)))
  for xi, yi in zip(np.asarray(x), y):
    changed = np.flatnonzero(np.any(yi != xi, axis=0))
    assert len(changed) == 7 and changed[-1] - changed[0] == 6
    assert np.all(yi[:, changed] == SILENCE)


def test_gain_is_one_offset_per_crop_within_bounds():
  x = _crops()
  y = np.asarray(augment.augment(jax.random.key(3), x, _cfg(gain=0.2)))
  offsets = (y - np.asarray(x)).reshape(len(y), -1)
  np.testing.assert_allclose(offsets, offsets[:, :1].repeat(offsets.shape[1], 1), atol=1e-6)
  assert np.all(np.abs(offsets) <= 0.2 + 1e-6) and np.ptp(offsets[:, 0]) > 0


def test_same_key_same_draw_and_gradients_flow():
  x, cfg = _crops(), _cfg(time_shift=3, mask_frames=5, gain=0.1)
  key = jax.random.key(4)
  np.testing.assert_array_equal(augment.augment(key, x, cfg), augment.augment(key, x, cfg))
  grad = jax.grad(lambda v: jnp.sum(augment.augment(key, v, cfg)))(x)
  # Every frame that survives the shift and the mask passes its gradient through.
  assert 0 < float(jnp.mean(grad)) < 1 and set(np.unique(np.asarray(grad))) <= {0.0, 1.0}


def _band_cfg(probability=1.0, min_hz=3400.0, max_hz=6000.0):
  return ml_collections.ConfigDict(dict(probability=probability, min_hz=min_hz, max_hz=max_hz))


def test_band_limit_matches_a_resampled_recording():
  """The mel-domain band limit against the real thing: a wave low-passed by
  resampling to 8 kHz and back, outside the resampler's transition band."""
  from jaxvc import audio
  cfg = audio.AudioConfig()
  rng = np.random.default_rng(0)
  t = np.arange(16000 * 2) / 16000
  wave = (0.1 * rng.standard_normal(t.size)
          + sum(0.05 * np.sin(2 * np.pi * f * t) for f in (220, 1500, 3000, 5000, 7000)))
  # at a speech level (-40 dBFS): the resampler's stopband then lies below the mel's floor
  wave = (0.03 * wave).astype(np.float32)
  limited = audio.resample(audio.resample(wave, 16000, 8000), 8000, 16000)[:wave.size]
  mel, true = audio.wave_to_mel(wave, cfg), audio.wave_to_mel(limited, cfg)
  approx = audio.band_limit(mel, jnp.float32(4000.0), cfg)
  # the resampler rings where the wave starts and stops abruptly: inner frames only
  approx, true = np.asarray(approx)[:, 3:-3], np.asarray(true)[:, 3:-3]
  centres = __import__("librosa").mel_frequencies(cfg.n_mels + 2, fmax=cfg.fmax)[1:-1]
  below, above = centres < 3600, centres > 4400
  np.testing.assert_allclose(approx[below], true[below], atol=0.02)
  np.testing.assert_allclose(approx[above], true[above], atol=0.02)
  assert np.all(approx[above] == SILENCE)
  # and at the Nyquist frequency, nothing changes
  np.testing.assert_array_equal(audio.band_limit(mel, jnp.float32(8000.0), cfg), mel)


def test_band_limit_draws_per_crop_with_the_probability():
  from jaxvc import audio
  cfg = audio.AudioConfig(n_mels=32, n_fft=256, win_length=256, hop_length=64)
  x = jnp.zeros((400, 32, 10))   # mid-level everywhere: a band limit shows
  y = np.asarray(augment.band_limit(jax.random.key(0), x, _band_cfg(0.3), cfg))
  limited = np.any(y != 0, axis=(1, 2))
  assert 0.22 < limited.mean() < 0.38
  # every limited crop is silent in its top band and untouched in its lowest
  assert np.all(y[limited][:, -1] == SILENCE) and np.all(y[:, 0] == 0)
  # cutoffs differ from crop to crop
  assert len({int(np.sum(row[:, 0] == SILENCE)) for row in y[limited]}) > 3
  assert not augment.band_limiting(_band_cfg(0.0)) and augment.band_limiting(_band_cfg(0.3))
