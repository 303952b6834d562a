"""Pitch shifting inside a normalised log-mel, keeping its spectral envelope.

For renderers that take only a mel (Griffin-Lim, a vocoder trained without
F0 conditioning), the F0 must be written into the mel itself: its harmonics
moved, its formants kept. Per frame:

  mel power -> linear power (the NNLS of `mel.py`, refined to fit the quiet
  bands too) -> log power, split by cepstral liftering into an envelope (the
  low quefrencies: formants, tilt) and a fine structure (the rest: the
  harmonics' peaks and valleys) -> fine'(f) = fine(f / ratio) (mean power
  over the interval each output bin reads) -> envelope + fine', its local
  level brought back to the unwarped one's -> mel power.

The change is applied as a delta in dB, log M(warped) - log M(unwarped),
added to the input mel: the mel -> linear -> mel round trip is not exact,
and the difference of two passes through it leaves only the warp's effect,
so a ratio of 1 gives back the input mel (to the bit) and the round trip's
error is not added to every shifted frame.

Callers set the ratio to 1 on unvoiced and silent frames: those frames then
come out as they went in (their fine structure is noise; warping it would
only smear it). A frame may instead have its fine structure dropped
(`flatten`: rendered unvoiced) or redrawn as the harmonics of a given F0
(`harmonics_hz`: a comb of the analysis window's main lobes at each multiple
of it, HARMONIC_FLOOR_DB over a noise floor), for a caller that knows the
contour the output must have and meets a mel whose own harmonics are weak
(a converter's). The ratio is free per frame, so a contour (a speaker's F0
mapped onto another's) is as easy as a constant shift. Pure JAX, jit-compiled
with the settings static, batched over leading axes. docs/results/pitch.md
("Pitch shift in the mel") measures it: the F0 that `pitch.f0` reads on the
Griffin-Lim rendering, the level, the cost.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxvc.audio import mel as mel_lib
from jaxvc.audio.settings import AudioConfig

# The supported F0 factors: an octave each way. The warp reads each output
# bin from at most 1 / MIN_RATIO input bins (`_warp`); within the range the
# rendered F0 follows the ratio except where the target F0 is below what a
# 72 ms window resolves (docs/results/pitch.md, "Pitch shift in the mel").
MIN_RATIO = 0.5
MAX_RATIO = 2.0
# The highest F0 whose harmonics the envelope must not follow: the lifter
# keeps quefrencies below the period at this F0 (a high female voice), so the
# envelope of every voice below it is free of its harmonics.
_MAX_F0_HZ = 500.0
# Linear-power floor below each frame's loudest bin: the NNLS leaves exact
# zeros between harmonics, whose log would be -inf. Deeper floors (-95 and
# -110 dB, and one fixed at the mel's own floor) gave more octave errors on
# a male voice shifted down; this one fails a steady tone whose harmonics sit
# exactly on bins (docs/results/pitch.md).
_FLOOR_DB = -80.0
# The width over which the local level is kept (`_shift`): wider than the
# harmonic spacing after an octave up at a high voice's F0. It corrects only
# the fine structure's change of level, so the envelope is not blurred by it.
_LEVEL_HZ = 1500.0
# Multiplicative KL updates after the NNLS (`_linear_power`).
_KL_STEPS = 30
# How far a redrawn harmonic (`harmonics_hz`) peaks over the floor between
# harmonics, in dB. Chosen on the real pair's train carve-out against 20 dB
# (docs/results/pitch.md, "Pitch at conversion").
HARMONIC_FLOOR_DB = 30.0


@functools.cache
def _smoothing(cfg: AudioConfig) -> np.ndarray:
  """(bins, bins): each bin's neighbours within _LEVEL_HZ / 2, Hann-weighted,
  each row summing to 1."""
  bins = cfg.n_fft // 2 + 1
  hz = np.arange(bins) * cfg.sample_rate / cfg.n_fft
  distance = np.abs(hz[:, None] - hz[None, :]) / (_LEVEL_HZ / 2)
  weights = np.where(distance < 1, 0.5 + 0.5 * np.cos(np.pi * distance), 0.0)
  return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _linear_power(mel_power: jax.Array, cfg: AudioConfig) -> jax.Array:
  """Mel power (..., n_mels, frames) -> linear power (..., bins, frames) > 0
  whose mel matches in dB, not only in power.

  The NNLS of `mel.py` fits the loud bands and leaves the quiet ones (between
  harmonics, where a harmonic is moved to) far off in dB; the shift's delta
  is a difference of logs, so those bands would take its error. From the
  NNLS, floored so that no bin is stuck at 0, multiplicative updates that
  lower the KL divergence (Lee and Seung), which weighs each band's error
  relative to its own level.
  """
  basis = jnp.asarray(cfg.mel_basis)
  power = mel_lib._mel_to_linear(mel_power, cfg)
  floor = jnp.maximum(jnp.max(power, axis=-2, keepdims=True) * 10 ** (_FLOOR_DB / 10),
                      mel_lib._MEL_FLOOR)
  power = jnp.maximum(power, floor)
  weight = basis.sum(axis=0)[:, None]
  seen = weight > 0            # no filter reaches DC and Nyquist: left at the floor
  weight = jnp.where(seen, weight, 1.0)

  def update(_, power):
    fitted = jnp.einsum("mf,...ft->...mt", basis, power)
    gain = jnp.einsum("mf,...mt->...ft", basis, mel_power / jnp.maximum(fitted, 1e-30))
    return jnp.where(seen, power * gain / weight, power)

  # Floored again: a bin the updates keep lowering underflows to 0.
  return jnp.maximum(jax.lax.fori_loop(0, _KL_STEPS, update, power), floor)


def _envelope(log_power: jax.Array, lifter: int, n_fft: int) -> jax.Array:
  """The cepstrally smoothed log power (..., bins, frames): quefrencies below
  `lifter` samples kept, the rest (the harmonics' period and above) dropped."""
  cepstrum = jnp.fft.irfft(log_power, n_fft, axis=-2)
  q = np.arange(n_fft)
  keep = (np.minimum(q, n_fft - q) < lifter).astype(np.float32)[:, None]
  return jnp.fft.rfft(cepstrum * keep, n_fft, axis=-2).real


def _warp(fine: jax.Array, ratio: jax.Array) -> jax.Array:
  """fine'(k) = fine(k / ratio) along bins (axis -2), each bin k of the
  output the mean power of the input over [k - 1/2, k + 1/2] / ratio.

  Averaging power over the interval, not sampling the log at its centre: a
  harmonic peak a bin or two wide between valleys tens of dB deep would
  otherwise come out at a level set by where the sample falls (and vanish on
  a downward shift, which skips bins), making the harmonics uneven and the
  F0 ambiguous. Positions past the last bin are mirrored back, so a downward
  shift keeps a fine structure up to Nyquist, not a flat top. A ratio of 1
  gives `fine` exactly.
  """
  bins = fine.shape[-2]
  power = jnp.exp(fine)
  k = jnp.arange(bins, dtype=jnp.float32)[:, None]
  ratio = ratio[..., None, :]
  lo, hi = (k - 0.5) / ratio, (k + 0.5) / ratio
  first = jnp.floor(lo + 0.5)
  total = jnp.zeros_like(fine)
  for step in range(3):  # an interval of at most 1 / MIN_RATIO = 2 bins meets 3 cells
    cell = first + step
    overlap = jnp.maximum(jnp.minimum(hi, cell + 0.5) - jnp.maximum(lo, cell - 0.5), 0.0)
    index = jnp.abs(cell).astype(jnp.int32)
    index = jnp.clip(jnp.where(index > bins - 1, 2 * (bins - 1) - index, index), 0, bins - 1)
    total = total + overlap * jnp.take_along_axis(power, index, axis=-2)
  return jnp.where(ratio == 1, fine, jnp.log(total * ratio))


def _harmonics(f0_hz: jax.Array, cfg: AudioConfig) -> jax.Array:
  """The log power fine structure (..., bins, frames) of harmonics at
  `f0_hz` (..., frames): at each bin, the analysis window's main lobe
  (a Gaussian as wide as a Hann window's: a quarter of the power a bin off
  the peak) around the nearest multiple of F0, over a floor
  HARMONIC_FLOOR_DB below; nothing but the floor under F0 / 2."""
  bin_hz = cfg.sample_rate / cfg.n_fft
  hz = jnp.arange(cfg.n_fft // 2 + 1, dtype=jnp.float32)[:, None] * bin_hz
  f0 = jnp.maximum(f0_hz, 1.0)[..., None, :]
  harmonic = hz / f0
  distance = (harmonic - jnp.round(harmonic)) * f0 / bin_hz
  width = 0.6 * cfg.n_fft / cfg.win_length
  peak = jnp.where(harmonic < 0.5, 0.0, jnp.exp(-0.5 * (distance / width) ** 2))
  return jnp.log(peak + 10 ** (-HARMONIC_FLOOR_DB / 10))


@functools.partial(jax.jit, static_argnames="cfg")
def _shift(mel: jax.Array, ratio: jax.Array, flatten: jax.Array, harmonics_hz: jax.Array,
           cfg: AudioConfig) -> jax.Array:
  log_power = jnp.log(_linear_power(mel_lib.denormalise_mel(mel, cfg), cfg))
  envelope = _envelope(log_power, int(cfg.sample_rate / _MAX_F0_HZ), cfg.n_fft)
  frames = mel.shape[:-2] + mel.shape[-1:]
  ratio = jnp.broadcast_to(ratio, frames)
  harmonics_hz = jnp.broadcast_to(harmonics_hz, frames)
  fine = log_power - envelope
  moved = jnp.where((harmonics_hz > 0)[..., None, :], _harmonics(harmonics_hz, cfg),
                    _warp(fine, ratio))
  moved = jnp.where(jnp.broadcast_to(flatten, frames)[..., None, :], 0.0, moved)
  # Both sides of the delta through the same sums, so that at ratio 1 (where
  # `_warp` gives `fine` back) they are equal to the bit and the delta is 0.
  unwarped, warped = envelope + fine, envelope + moved
  # The local level kept: the envelope is a mean of the log, and the power
  # over it (a mean of exp) is larger where the mel resolved the harmonics
  # (low frequencies) than where its bands merge them, so the fine structure
  # moved alone would raise the highs on an upward shift and lower them on a
  # downward one (by several dB an octave away).
  smooth = jnp.asarray(_smoothing(cfg))
  local = lambda log: jnp.log(jnp.einsum("gf,...ft->...gt", smooth, jnp.exp(log)))
  warped = warped + local(unwarped) - local(warped)
  basis = jnp.asarray(cfg.mel_basis)
  to_db = lambda log: 10 * jnp.log10(jnp.maximum(
      jnp.einsum("mf,...ft->...mt", basis, jnp.exp(log)), mel_lib._MEL_FLOOR))
  delta_db = to_db(warped) - to_db(unwarped)
  return jnp.clip(mel + 2 * delta_db / -cfg.min_level_db, -1.0, 1.0)


def shift_mel_pitch(mel: jax.Array, ratio, cfg: AudioConfig, flatten=False,
                    harmonics_hz=0.0) -> jax.Array:
  """Normalised log-mel (..., n_mels, frames) with its F0 multiplied by `ratio`.

  Args:
    mel: as `wave_to_mel` gives it.
    ratio: the F0 factor per frame (..., frames), or one for all (a scalar):
      2.0 an octave up, 2 ** (-5 / 12) five semitones down; 1 leaves a frame
      as it is (give it to unvoiced and silent frames). Within
      [MIN_RATIO, MAX_RATIO]; a traced ratio (inside another jit) cannot be
      checked and is clipped to that range.
    cfg: the mel's settings.
    flatten: per frame (..., frames), or one for all: frames whose fine
      structure is dropped instead of moved, their local level kept, so that
      no harmonics are left in them (a frame to be rendered unvoiced).
    harmonics_hz: per frame (..., frames), or one for all: where above 0, the
      F0 whose harmonics replace the frame's fine structure (its ratio then
      unused), their local level kept: a frame to be rendered voiced at
      that F0 whatever harmonics it had. `flatten` wins over it.

  Returns:
    The shifted mel, same shape, float32 in [-1, 1].

  Raises:
    ValueError: a ratio outside [MIN_RATIO, MAX_RATIO] or not finite.
  """
  try:
    concrete = np.asarray(ratio, np.float32)
  except jax.errors.TracerArrayConversionError:
    concrete = None
  outside = None if concrete is None else ~((concrete >= MIN_RATIO) & (concrete <= MAX_RATIO))
  if outside is not None and outside.any():   # NaN is outside too
    bad = concrete[outside].flat[0]
    raise ValueError(f"pitch ratio {bad} is outside the supported range "
                     f"[{MIN_RATIO}, {MAX_RATIO}] (one octave each way)")
  ratio = jnp.clip(jnp.asarray(ratio, jnp.float32), MIN_RATIO, MAX_RATIO)
  return _shift(jnp.asarray(mel, jnp.float32), ratio, jnp.asarray(flatten, bool),
                jnp.asarray(harmonics_hz, jnp.float32), cfg)
