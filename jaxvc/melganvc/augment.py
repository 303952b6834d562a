"""Augmentation in the normalised mel domain: of the critic's inputs
(DiffAugment, Zhao et al. 2020), and of the generator's (band-limited sources).

A critic trained on a small domain memorises its crops and wins outright
(hinge ~0 within a few dozen steps), after which its gradient tells the
generator little. Augmenting what the critic sees, real and translated alike
and with the generator's gradient flowing through, makes memorising harder
without changing what "real" looks like, because the augmentations are of
kinds that both domains share: a shift in time, a masked span of frames, a
change of loudness. Nothing moves along the mel axis: pitch and formants are
what tells the speakers apart.

The generator's inputs are degraded in one way only, by `band_limit`: real
recordings come at 8 to 48 kHz, and a source recorded at 8 kHz holds nothing
above 4 kHz. A generator never shown one copies the hole into its output;
shown band-limited sources (and target crops, which the identity term then
asks it to restore whole), it learns to give the output the target's
bandwidth.

Pure functions of (key, crops); each example of a batch draws its own.
"""
import jax
import jax.numpy as jnp
import ml_collections

from jaxvc import audio
from jaxvc.audio.mel import SILENCE


def enabled(cfg: ml_collections.ConfigDict) -> bool:
  return cfg.time_shift > 0 or cfg.mask_frames > 0 or cfg.gain > 0


def augment(key: jax.Array, x: jax.Array, cfg: ml_collections.ConfigDict) -> jax.Array:
  """Augments crops (B, n_mels, frames) in the normalised mel domain.

  `cfg.time_shift`: each crop shifts by up to this many frames either way,
  the frames shifted in are silence (the normalised floor);
  `cfg.mask_frames`: a span of this many frames at a random place is set to
  silence; `cfg.gain`: each crop gets a random offset in [-gain, gain]
  (a loudness change in the normalised log domain), clipped to [-1, 1].
  """
  batch, _, frames = x.shape
  k_shift, k_mask, k_gain = jax.random.split(key, 3)
  t = jnp.arange(frames)
  if cfg.time_shift > 0:
    shift = jax.random.randint(k_shift, (batch, 1, 1), -cfg.time_shift, cfg.time_shift + 1)
    source = t[None, None, :] - shift
    inside = (source >= 0) & (source < frames)
    shifted = jnp.take_along_axis(
        x, jnp.broadcast_to(jnp.clip(source, 0, frames - 1), x.shape), axis=-1)
    x = jnp.where(inside, shifted, SILENCE)
  if cfg.mask_frames > 0:
    start = jax.random.randint(k_mask, (batch, 1, 1), 0, frames - cfg.mask_frames + 1)
    masked = (t[None, None, :] >= start) & (t[None, None, :] < start + cfg.mask_frames)
    x = jnp.where(masked, SILENCE, x)
  if cfg.gain > 0:
    offset = jax.random.uniform(k_gain, (batch, 1, 1), minval=-cfg.gain, maxval=cfg.gain)
    x = jnp.clip(x + offset, SILENCE, 1.0)
  return x


def band_limiting(cfg: ml_collections.ConfigDict) -> bool:
  return cfg.probability > 0


def band_limit(key: jax.Array, x: jax.Array, cfg: ml_collections.ConfigDict,
               audio_cfg: audio.AudioConfig) -> jax.Array:
  """Crops (..., n_mels, frames), each band-limited (`audio.band_limit`) with
  probability `cfg.probability` at a cutoff drawn uniformly from
  [cfg.min_hz, cfg.max_hz]; the others unchanged."""
  k_apply, k_cutoff = jax.random.split(key)
  lead = x.shape[:-2]
  cutoff = jax.random.uniform(k_cutoff, lead, minval=cfg.min_hz, maxval=cfg.max_hz)
  limited = jax.random.bernoulli(k_apply, cfg.probability, lead)
  return jnp.where(limited[..., None, None], audio.band_limit(x, cutoff, audio_cfg), x)
