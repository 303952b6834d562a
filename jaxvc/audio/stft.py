"""STFT, inverse STFT, Griffin-Lim and the multi-resolution STFT distance in
JAX, as librosa defines them.

Computed in "block space": a centred signal cut into hop-sized blocks, so that
framing is k shifted slices and overlap-add k in-place shifted sums (k = frame
length in hops), with no gathers or scatters. Pure functions, jit-compiled with
the sizes static, batched over leading axes.
"""
import functools

import jax
import jax.numpy as jnp
import librosa
import numpy as np


def frame_count(n_samples: int, n_fft: int, hop_length: int) -> int:
  return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def hann_window(n_fft: int, win_length: int) -> np.ndarray:
  """Periodic Hann of `win_length`, zero-padded to `n_fft` centred (librosa)."""
  return librosa.util.pad_center(
      librosa.filters.get_window("hann", win_length, fftbins=True), size=n_fft
  ).astype(np.float32)


def _hops_per_frame(n_fft: int, hop_length: int) -> int:
  """k: frames are zero-padded up to whole blocks."""
  return -(-n_fft // hop_length)


def to_blocks(wave: jax.Array, n_fft: int, hop_length: int, n_frames: int) -> jax.Array:
  """(..., samples) -> centred, zero-padded (..., n_frames + k - 1, hop)."""
  n_blocks = n_frames + _hops_per_frame(n_fft, hop_length) - 1
  left = n_fft // 2
  right = n_blocks * hop_length - left - wave.shape[-1]
  pad = [(0, 0)] * (wave.ndim - 1)
  if right < 0:
    wave, right = wave[..., :wave.shape[-1] + right], 0
  padded = jnp.pad(wave, [*pad, (left, right)])
  return padded.reshape(*wave.shape[:-1], n_blocks, hop_length)


def _frames(blocks: jax.Array, n_fft: int) -> jax.Array:
  """(..., n_blocks, hop) -> (..., n_frames, n_fft): overlapping frames."""
  k = _hops_per_frame(n_fft, blocks.shape[-1])
  n_frames = blocks.shape[-2] - k + 1
  frames = jnp.stack([blocks[..., i:i + n_frames, :] for i in range(k)], axis=-2)
  return frames.reshape(*frames.shape[:-2], -1)[..., :n_fft]


def _overlap_add(frames: jax.Array, hop_length: int) -> jax.Array:
  """(..., n_frames, n_fft) -> (..., n_blocks, hop): the adjoint of `_frames`."""
  *lead, n_frames, n_fft = frames.shape
  k = _hops_per_frame(n_fft, hop_length)
  frames = jnp.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, k * hop_length - n_fft)])
  parts = frames.reshape(*lead, n_frames, k, hop_length)
  blocks = jnp.zeros((*lead, n_frames + k - 1, hop_length), frames.dtype)
  for i in range(k):  # in-place slice updates: cheaper than padded sums on CPU
    blocks = blocks.at[..., i:i + n_frames, :].add(parts[..., i, :])
  return blocks


def analyse_blocks(blocks: jax.Array, window: np.ndarray) -> jax.Array:
  """Block-space signal -> complex spectrum, frames first (..., frames, bins)."""
  return jnp.fft.rfft(_frames(blocks, window.size) * window, axis=-1)


def window_sum_inverse(n_fft, hop_length, win_length, n_frames, length) -> jax.Array:
  """1 / (overlap-added squared window) in block space, zero outside the signal.

  Dividing by it makes the overlap-add a left inverse of the STFT (librosa's
  istft); zeroing the padding makes a re-analysis see the centred signal.
  Computed in JAX by the same overlap-add as the signal (librosa's
  window_sumsquare), so `n_frames` and `length` may be symbolic: an exported
  vocoder (`jaxvc.export`) takes any number of frames.
  """
  squared = jnp.broadcast_to(hann_window(n_fft, win_length) ** 2, (n_frames, n_fft))
  window_sum = _overlap_add(squared, hop_length)
  position = (jnp.arange(window_sum.shape[0])[:, None] * hop_length
              + jnp.arange(hop_length)[None, :])
  inside = ((position >= n_fft // 2) & (position < n_fft // 2 + length)
            & (window_sum > np.finfo(np.float32).tiny))
  return jnp.where(inside, 1 / jnp.where(inside, window_sum, 1), 0)


def synthesise_blocks(spec: jax.Array, window: np.ndarray,
                      inverse_window_sum: np.ndarray) -> jax.Array:
  """Frames-first complex spectrum -> block-space signal (istft before trimming)."""
  frames = jnp.fft.irfft(spec, n=window.size, axis=-1) * window
  return _overlap_add(frames, inverse_window_sum.shape[-1]) * inverse_window_sum


def from_blocks(blocks: jax.Array, n_fft: int, length: int) -> jax.Array:
  """Block-space signal -> (..., length), dropping the centring pad."""
  wave = blocks.reshape(*blocks.shape[:-2], -1)[..., n_fft // 2:n_fft // 2 + length]
  return jnp.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(0, length - wave.shape[-1])])


@functools.partial(jax.jit, static_argnames=("n_fft", "hop_length", "win_length"))
def stft(wave: jax.Array, *, n_fft: int, hop_length: int, win_length: int) -> jax.Array:
  """Centred (zero-padded) Hann STFT as librosa's: (..., samples) -> (..., bins, frames)."""
  wave = jnp.asarray(wave, jnp.float32)
  blocks = to_blocks(wave, n_fft, hop_length, frame_count(wave.shape[-1], n_fft, hop_length))
  return jnp.swapaxes(analyse_blocks(blocks, hann_window(n_fft, win_length)), -1, -2)


@functools.partial(jax.jit, static_argnames=("n_fft", "hop_length", "win_length", "length"))
def istft(spec: jax.Array, *, n_fft: int, hop_length: int, win_length: int,
          length: int) -> jax.Array:
  """The inverse of `stft` (librosa's istft): (..., bins, frames) -> (..., length)."""
  inverse_window_sum = window_sum_inverse(
      n_fft, hop_length, win_length, spec.shape[-1], length)
  blocks = synthesise_blocks(jnp.swapaxes(spec, -1, -2), hann_window(n_fft, win_length),
                             inverse_window_sum)
  return from_blocks(blocks, n_fft, length)


@functools.partial(
    jax.jit, static_argnames=("n_fft", "hop_length", "win_length", "length"))
def griffin_lim(magnitude: jax.Array, *, n_fft: int, hop_length: int, win_length: int,
                length: int, n_iter: int = 32, momentum: float = 0.99,
                seed: int = 0) -> jax.Array:
  """Fast Griffin-Lim (Perraudin et al. 2013), as librosa.griffinlim.

  (..., bins, frames) magnitude -> (..., length) wave. Each iteration stays in
  block space: synthesise, re-analyse, extrapolate the phase with momentum.
  """
  magnitude = jnp.swapaxes(jnp.asarray(magnitude, jnp.float32), -1, -2)
  window = hann_window(n_fft, win_length)
  inverse_window_sum = window_sum_inverse(
      n_fft, hop_length, win_length, magnitude.shape[-2], length)
  # One draw for every item: an item's rendering does not depend on where
  # in a batch it sits, or on the batch's size.
  phase = jax.random.uniform(jax.random.key(seed), magnitude.shape[-2:], jnp.float32)
  spec = magnitude * jnp.exp(2j * np.pi * phase)
  tiny = np.finfo(np.float32).tiny

  def iteration(state):
    spec, previous = state
    rebuilt = analyse_blocks(synthesise_blocks(spec, window, inverse_window_sum), window)
    angles = rebuilt - (momentum / (1 + momentum)) * previous
    return angles * (magnitude / (jnp.abs(angles) + tiny)), rebuilt

  # Two iterations a step let XLA swap the carry's buffers instead of copying
  # both spectrograms every iteration (a quarter of the time on CPU).
  state = jax.lax.fori_loop(
      0, n_iter // 2, lambda _, state: iteration(iteration(state)),
      (spec, jnp.zeros_like(spec)))
  spec, _ = jax.lax.fori_loop(0, n_iter % 2, lambda _, state: iteration(state), state)
  return from_blocks(synthesise_blocks(spec, window, inverse_window_sum), n_fft, length)


MAGNITUDE_FLOOR = 1e-5   # magnitudes below this count as equal in log distances


def _floored_magnitude(wave: jax.Array, n_fft: int, hop: int) -> jax.Array:
  """|STFT| (window n_fft) floored at MAGNITUDE_FLOOR inside the root, where
  sqrt's gradient at an exact zero would be infinite."""
  spec = stft(wave, n_fft=n_fft, hop_length=hop, win_length=n_fft)
  return jnp.sqrt(jnp.maximum(spec.real ** 2 + spec.imag ** 2, MAGNITUDE_FLOOR ** 2))


def multi_resolution_stft_distance(wave: jax.Array, reference: jax.Array,
                                   resolutions: tuple) -> jax.Array:
  """Parallel WaveGAN's multi-resolution STFT distance (Yamamoto et al. 2020):
  spectral convergence plus mean |ln magnitude| difference, averaged over
  (n_fft, hop) `resolutions`; waves (..., samples) aligned sample for sample,
  the convergence averaged over the leading axes.

  One function for the vocoder's training term and the evaluation's
  copy-synthesis score, so that what is trained is what is reported.
  """
  total = 0.0
  for n_fft, hop in resolutions:
    x = _floored_magnitude(wave, n_fft, hop)
    y = _floored_magnitude(reference, n_fft, hop)
    convergence = (jnp.sqrt(jnp.sum((y - x) ** 2, axis=(-2, -1)))
                   / jnp.sqrt(jnp.sum(y ** 2, axis=(-2, -1))))
    total += jnp.mean(convergence) + jnp.mean(jnp.abs(jnp.log(x) - jnp.log(y)))
  return total / len(resolutions)
