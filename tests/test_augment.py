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
