"""Normalised log-mel spectrograms and their inversion back to audio.

Mels outside the models are float32 (..., n_mels, frames) normalised to
[-1, 1], as in MelGAN-VC. Pure JAX, jit-compiled with the settings static,
batched over leading axes, so they run on any device and inside train steps.
`waves_to_mels` is the host-side batching of a list of waves of any lengths.
"""
import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvc import buckets
from jaxvc.audio import stft
from jaxvc.audio.settings import AudioConfig

SILENCE = -1.0        # the normalised floor: what padding and silence are
_BATCH_SAMPLES = 2**21   # samples per wave_to_mel call in waves_to_mels, bounding its memory
_MIN_BUCKET = 2**12      # the shortest padded length, in samples
_MEL_FLOOR = 1e-10    # power floor before the log, as librosa.power_to_db.
_NNLS_STEPS = 4       # projected-gradient refinements of the mel pseudo-inverse


def normalise_mel(mel_power: jax.Array, cfg: AudioConfig) -> jax.Array:
  """Mel power -> dB below ref_level_db -> [-1, 1] over [min_level_db, 0] dB."""
  db = 10.0 * jnp.log10(jnp.maximum(mel_power, _MEL_FLOOR)) - cfg.ref_level_db
  return jnp.clip(2.0 * (db - cfg.min_level_db) / -cfg.min_level_db - 1.0, -1.0, 1.0)


def denormalise_mel(mel: jax.Array, cfg: AudioConfig) -> jax.Array:
  """The inverse of `normalise_mel` (exact where the mel was not clipped)."""
  db = (jnp.asarray(mel, jnp.float32) + 1.0) * -cfg.min_level_db / 2.0 + cfg.min_level_db
  return 10.0 ** ((db + cfg.ref_level_db) / 10.0)


def mel_power(wave: jax.Array, cfg: AudioConfig, n_frames: int) -> jax.Array:
  """(..., samples) -> mel power (..., n_mels, n_frames) of the centred STFT."""
  blocks = stft.to_blocks(jnp.asarray(wave, jnp.float32), cfg.n_fft, cfg.hop_length, n_frames)
  spec = stft.analyse_blocks(blocks, stft.hann_window(cfg.n_fft, cfg.win_length))
  return jnp.einsum("mf,...tf->...mt", cfg.mel_basis, jnp.abs(spec) ** cfg.power)


@functools.partial(jax.jit, static_argnames="cfg")
def wave_to_mel(wave: jax.Array, cfg: AudioConfig) -> jax.Array:
  """(..., samples) -> normalised log-mel (..., n_mels, frames), float32."""
  return normalise_mel(mel_power(wave, cfg, cfg.n_frames(wave.shape[-1])), cfg)


def waves_to_mels(waves: list[np.ndarray], cfg: AudioConfig) -> list[np.ndarray]:
  """Mels of waves of any lengths, compiling once per length bucket (jaxvc.buckets).

  Each wave is zero-padded to its bucket and the extra frames cut off; the STFT
  pads with zeros too, so the frames kept equal those of the unpadded wave.
  """
  by_length = collections.defaultdict(list)
  for i, wave in enumerate(waves):
    by_length[buckets.bucket(wave.size, _MIN_BUCKET)].append(i)
  mels = [None] * len(waves)
  for length, indices in by_length.items():
    rows = max(1, _BATCH_SAMPLES // length)  # a fixed batch shape per bucket
    for start in range(0, len(indices), rows):
      group = indices[start:start + rows]
      batch = np.zeros((rows, length), np.float32)
      for row, i in enumerate(group):
        batch[row, :waves[i].size] = waves[i]
      out = np.asarray(wave_to_mel(batch, cfg))
      for row, i in enumerate(group):
        mels[i] = out[row, :, :cfg.n_frames(waves[i].size)]
  return mels


@functools.cache
def _share_below(cfg: AudioConfig) -> np.ndarray:
  """(n_fft // 2 + 1, n_mels): the share of each mel filter's weight at or
  below each STFT bin."""
  cumulative = np.cumsum(cfg.mel_basis.astype(np.float64), axis=1)
  return (cumulative / np.maximum(cumulative[:, -1:], 1e-30)).T.astype(np.float32)


def band_limit(mel: jax.Array, cutoff_hz: jax.Array, cfg: AudioConfig) -> jax.Array:
  """Normalised mels (..., n_mels, frames) as the same sound would give with
  nothing above `cutoff_hz` (shape (...), one cutoff per mel): what a source
  recorded at twice that rate looks like once resampled to cfg.sample_rate.

  Each band keeps the share of its filter's weight below the cutoff (the
  spectrum taken as flat within a band), in dB; a band wholly above it falls
  to SILENCE. A cutoff at or above cfg.fmax changes nothing.
  """
  share = _share_below(cfg)
  bin_hz = cfg.sample_rate / cfg.n_fft
  index = jnp.clip(jnp.floor(jnp.asarray(cutoff_hz) / bin_hz).astype(jnp.int32),
                   0, share.shape[0] - 1)
  kept = jnp.asarray(share)[index]                                   # (..., n_mels)
  offset = 20.0 * jnp.log10(jnp.maximum(kept, 1e-12)) / -cfg.min_level_db
  limited = jnp.where(kept[..., None] > 0, mel + offset[..., None], SILENCE)
  return jnp.maximum(limited, SILENCE)


@functools.cache
def _mel_pseudo_inverse(cfg: AudioConfig) -> tuple[np.ndarray, float]:
  """The basis' pseudo-inverse and the projected-gradient step 1 / ||basis||^2."""
  basis = cfg.mel_basis.astype(np.float64)
  return np.linalg.pinv(basis).astype(np.float32), float(1 / np.linalg.norm(basis, 2) ** 2)


def _mel_to_linear(mel_power: jax.Array, cfg: AudioConfig) -> jax.Array:
  """Mel power (..., n_mels, frames) -> linear power (..., bins, frames) >= 0.

  Non-negative least squares, as librosa.feature.inverse.mel_to_stft: the
  clipped pseudo-inverse (where librosa's L-BFGS-B stops on speech-scale
  values) refined by a few projected-gradient steps, all plain matmuls.
  """
  pseudo_inverse, step = _mel_pseudo_inverse(cfg)
  basis = cfg.mel_basis

  def refine(_, power):
    residual = jnp.einsum("mf,...ft->...mt", basis, power) - mel_power
    return jnp.maximum(power - step * jnp.einsum("mf,...mt->...ft", basis, residual), 0.0)

  power = jnp.maximum(jnp.einsum("fm,...mt->...ft", pseudo_inverse, mel_power), 0.0)
  return jax.lax.fori_loop(0, _NNLS_STEPS, refine, power)


def _default_length(mel: jax.Array, cfg: AudioConfig, length: int | None) -> int:
  """Samples whose centred STFT has exactly the mel's frames."""
  return (mel.shape[-1] - 1) * cfg.hop_length if length is None else length


@functools.partial(jax.jit, static_argnames=("cfg", "length"))
def mel_to_wave(mel: jax.Array, cfg: AudioConfig, *, n_iter: int = 32,
                length: int | None = None) -> jax.Array:
  """Normalised log-mel (..., n_mels, frames) -> wave (..., samples) by Griffin-Lim."""
  power = _mel_to_linear(denormalise_mel(mel, cfg), cfg)
  return stft.griffin_lim(
      power ** (1 / cfg.power), n_fft=cfg.n_fft, hop_length=cfg.hop_length,
      win_length=cfg.win_length, length=_default_length(mel, cfg, length), n_iter=n_iter)


@functools.partial(jax.jit, static_argnames=("cfg", "length"))
def invert_mel_gradient(mel: jax.Array, cfg: AudioConfig, *, n_iter: int = 2000,
                        learning_rate: float = 3e-3, length: int | None = None,
                        seed: int = 0) -> jax.Array:
  """Normalised log-mel -> wave by gradient descent, as the original MelGAN-VC.

  Adam moves a near-silent waveform until its mel power matches the target's
  in L1, for the original's 2000 steps at 3e-3. Slower than Griffin-Lim but
  needs no linear spectrogram; the loss is summed over leading axes so every
  item follows its own gradient.
  """
  target = denormalise_mel(mel, cfg)
  n_frames = mel.shape[-1]
  shape = (*mel.shape[:-2], _default_length(mel, cfg, length))
  wave = 1e-6 * jax.random.normal(jax.random.key(seed), shape, jnp.float32)
  optimizer = optax.adam(learning_rate)

  def loss(wave):
    return jnp.abs(mel_power(wave, cfg, n_frames) - target).mean(axis=(-2, -1)).sum()

  def step(_, state):
    wave, opt_state = state
    updates, opt_state = optimizer.update(jax.grad(loss)(wave), opt_state)
    return optax.apply_updates(wave, updates), opt_state

  wave, _ = jax.lax.fori_loop(0, n_iter, step, (wave, optimizer.init(wave)))
  return wave
