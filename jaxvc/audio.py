"""Audio front-end: loading, saving, mel spectrograms and their inversion.

File I/O is NumPy at the edges (soundfile, soxr, librosa); the transforms are
pure JAX, jit-compiled with the settings static, batched over leading axes, so
they run on any device and inside training steps. Mels outside the models are
float32 (..., n_mels, frames) normalised to [-1, 1], as in MelGAN-VC.
"""
import contextlib
import dataclasses
import functools
import os
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import optax
import soundfile as sf
import soxr

from jaxvc import files
from jaxvc.config import ConfigError

_SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter is an empty recording.
_MEL_FLOOR = 1e-10    # power floor before the log, as librosa.power_to_db.
_NNLS_STEPS = 4       # projected-gradient refinements of the mel pseudo-inverse


class AudioError(ValueError):
  """An audio file that cannot be used; the message is '<path>: <reason>'."""


@dataclasses.dataclass(frozen=True)
class AudioConfig:
  """Mel settings; frozen and hashable so jit can take it as a static argument."""
  sample_rate: int = 16000
  n_fft: int = 1152
  win_length: int = 1152
  hop_length: int = 192
  n_mels: int = 192
  fmin: float = 0.0
  fmax: float = 8000.0
  power: float = 2.0
  ref_level_db: float = 20.0
  min_level_db: float = -100.0

  @classmethod
  def from_config(cls, cfg) -> "AudioConfig":
    """From the ConfigDict `config.audio`; raises ConfigError naming a bad key."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(cfg.keys()) - names)
    if unknown:
      raise ConfigError(f"audio.{unknown[0]}: unknown audio setting")
    audio = cls(**cfg)
    audio.validate()
    return audio

  def validate(self) -> None:
    """Raises ConfigError naming the first setting that cannot work."""
    for name in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
      if getattr(self, name) <= 0:
        raise ConfigError(f"audio.{name}: must be positive, got {getattr(self, name)}")
    if self.power <= 0:
      raise ConfigError(f"audio.power: must be positive, got {self.power}")
    if self.win_length > self.n_fft:
      raise ConfigError(
          f"audio.win_length: {self.win_length} exceeds n_fft={self.n_fft}")
    if not 0 <= self.fmin < self.fmax:
      raise ConfigError(f"audio.fmin: need 0 <= fmin < fmax, got {self.fmin}, {self.fmax}")
    if self.fmax > self.sample_rate / 2:
      raise ConfigError(
          f"audio.fmax: {self.fmax} Hz exceeds the Nyquist frequency "
          f"{self.sample_rate / 2} Hz of sample_rate={self.sample_rate}")
    if self.min_level_db >= 0:
      raise ConfigError(f"audio.min_level_db: must be negative, got {self.min_level_db}")

  def n_frames(self, n_samples: int) -> int:
    """Frames of a centred STFT of `n_samples` samples."""
    return _n_frames(n_samples, self.n_fft, self.hop_length)

  @functools.cached_property
  def mel_basis(self) -> np.ndarray:
    """Slaney mel filterbank (n_mels, n_fft // 2 + 1), librosa's default."""
    basis = librosa.filters.mel(
        sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels,
        fmin=self.fmin, fmax=self.fmax)
    basis.setflags(write=False)
    return basis


# ----------------------------------------------------------------------------
# Files.


def load_audio(path, sample_rate: int, *, min_seconds: float = 0.0) -> np.ndarray:
  """Float32 mono at `sample_rate` from any file soundfile reads.

  Raises AudioError for files a dataset should skip with a reason: unreadable,
  empty, non-finite, silent, or shorter than `min_seconds`.
  """
  if not os.path.isfile(path):
    raise AudioError(f"{path}: no such file")
  try:
    wave, file_rate = sf.read(path, dtype="float32", always_2d=True)
  except (sf.SoundFileError, OSError) as e:
    reason = getattr(e, "error_string", "") or str(e) or type(e).__name__
    raise AudioError(f"{path}: unreadable audio ({reason.splitlines()[0]})") from None
  wave = wave.mean(axis=1)
  if wave.size == 0:
    raise AudioError(f"{path}: empty (0 samples)")
  require_finite(path, wave)
  require_audible(path, float(np.abs(wave).max()))
  seconds = wave.size / file_rate
  if seconds < min_seconds:
    raise AudioError(f"{path}: too short ({seconds:.3g} s < min_seconds={min_seconds:.3g} s)")
  return resample(wave, file_rate, sample_rate)


def require_finite(path, samples: np.ndarray) -> None:
  """AudioError unless every sample is a number."""
  if not np.isfinite(samples).all():
    raise AudioError(f"{path}: contains NaN or Inf samples")


def require_audible(path, peak: float) -> None:
  """AudioError for a recording whose peak is below -80 dBFS: nothing in it."""
  if peak < _SILENCE_PEAK:
    raise AudioError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
  """Resamples the last axis with soxr (high quality); float32 out."""
  wave = np.asarray(wave, np.float32)
  if orig_sr == target_sr:
    return wave
  flat = wave.reshape(-1, wave.shape[-1]).T  # soxr wants (samples, channels)
  out = soxr.resample(flat, orig_sr, target_sr).T
  return np.ascontiguousarray(out.reshape(*wave.shape[:-1], out.shape[-1]), np.float32)


def trim_silence(wave: np.ndarray, top_db: float) -> np.ndarray:
  """Cuts leading and trailing parts quieter than `top_db` below the peak."""
  if top_db <= 0:
    return wave
  trimmed, _ = librosa.effects.trim(wave, top_db=top_db)
  return trimmed


@contextlib.contextmanager
def audio_writer(path, sample_rate: int) -> Iterator[sf.SoundFile]:
  """A mono sound file open for writing, atomically: it appears at `path` only
  when the block succeeds. 16-bit PCM for .wav, soundfile's default else."""
  path = os.fspath(path)
  extension = os.path.splitext(path)[1].lstrip(".").upper()
  if extension not in sf.available_formats():
    raise AudioError(f"{path}: unknown audio format {extension!r}")
  subtype = "PCM_16" if extension == "WAV" else None
  with files.atomic_path(path) as tmp:
    with sf.SoundFile(tmp, "w", sample_rate, 1, subtype, format=extension) as f:
      yield f


def save_audio(path, wave: np.ndarray, sample_rate: int) -> None:
  """Writes mono `wave`, clipped to [-1, 1], atomically (see `audio_writer`)."""
  with audio_writer(path, sample_rate) as f:
    f.write(np.clip(np.asarray(wave, np.float32), -1.0, 1.0))


# ----------------------------------------------------------------------------
# STFT, in "block space": a centred signal cut into hop-sized blocks, so that
# framing is k shifted slices and overlap-add k in-place shifted sums (k =
# frame length in hops), with no gathers or scatters.


def _n_frames(n_samples: int, n_fft: int, hop_length: int) -> int:
  return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def _window(n_fft: int, win_length: int) -> np.ndarray:
  """Periodic Hann of `win_length`, zero-padded to `n_fft` centred (librosa)."""
  return librosa.util.pad_center(
      librosa.filters.get_window("hann", win_length, fftbins=True), size=n_fft
  ).astype(np.float32)


def _hops_per_frame(n_fft: int, hop_length: int) -> int:
  """k: frames are zero-padded up to whole blocks."""
  return -(-n_fft // hop_length)


def _to_blocks(wave: jax.Array, n_fft: int, hop_length: int, n_frames: int) -> jax.Array:
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


def _stft_frames(blocks: jax.Array, window: np.ndarray) -> jax.Array:
  """Block-space signal -> complex spectrum, frames first (..., frames, bins)."""
  return jnp.fft.rfft(_frames(blocks, window.size) * window, axis=-1)


def _inverse_window_sum(n_fft, hop_length, win_length, n_frames, length) -> np.ndarray:
  """1 / (overlap-added squared window) in block space, zero outside the signal.

  Dividing by it makes the overlap-add a left inverse of the STFT (librosa's
  istft); zeroing the padding makes a re-analysis see the centred signal.
  """
  k = _hops_per_frame(n_fft, hop_length)
  size = (n_frames + k - 1) * hop_length
  window_sum = librosa.util.fix_length(librosa.filters.window_sumsquare(
      window="hann", n_frames=n_frames, hop_length=hop_length, win_length=win_length,
      n_fft=n_fft, dtype=np.float32), size=size)
  inverse = np.zeros(size, np.float32)
  start, stop = n_fft // 2, min(n_fft // 2 + length, size)
  inside = window_sum[start:stop]
  np.divide(1, inside, out=inverse[start:stop], where=inside > np.finfo(np.float32).tiny)
  return inverse.reshape(-1, hop_length)


def _synthesise(spec: jax.Array, window: np.ndarray, inverse_window_sum: np.ndarray) -> jax.Array:
  """Frames-first complex spectrum -> block-space signal (istft before trimming)."""
  frames = jnp.fft.irfft(spec, n=window.size, axis=-1) * window
  return _overlap_add(frames, inverse_window_sum.shape[-1]) * inverse_window_sum


def _from_blocks(blocks: jax.Array, n_fft: int, length: int) -> jax.Array:
  """Block-space signal -> (..., length), dropping the centring pad."""
  wave = blocks.reshape(*blocks.shape[:-2], -1)[..., n_fft // 2:n_fft // 2 + length]
  return jnp.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(0, length - wave.shape[-1])])


@functools.partial(jax.jit, static_argnames=("n_fft", "hop_length", "win_length"))
def stft(wave: jax.Array, *, n_fft: int, hop_length: int, win_length: int) -> jax.Array:
  """Centred (zero-padded) Hann STFT as librosa's: (..., samples) -> (..., bins, frames)."""
  wave = jnp.asarray(wave, jnp.float32)
  blocks = _to_blocks(wave, n_fft, hop_length, _n_frames(wave.shape[-1], n_fft, hop_length))
  return jnp.swapaxes(_stft_frames(blocks, _window(n_fft, win_length)), -1, -2)


@functools.partial(jax.jit, static_argnames=("n_fft", "hop_length", "win_length", "length"))
def istft(spec: jax.Array, *, n_fft: int, hop_length: int, win_length: int,
          length: int) -> jax.Array:
  """The inverse of `stft` (librosa's istft): (..., bins, frames) -> (..., length)."""
  inverse_window_sum = _inverse_window_sum(
      n_fft, hop_length, win_length, spec.shape[-1], length)
  blocks = _synthesise(jnp.swapaxes(spec, -1, -2), _window(n_fft, win_length), inverse_window_sum)
  return _from_blocks(blocks, n_fft, length)


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
  window = _window(n_fft, win_length)
  inverse_window_sum = _inverse_window_sum(
      n_fft, hop_length, win_length, magnitude.shape[-2], length)
  phase = jax.random.uniform(jax.random.key(seed), magnitude.shape, jnp.float32)
  spec = magnitude * jnp.exp(2j * np.pi * phase)
  tiny = np.finfo(np.float32).tiny

  def iteration(state):
    spec, previous = state
    rebuilt = _stft_frames(_synthesise(spec, window, inverse_window_sum), window)
    angles = rebuilt - (momentum / (1 + momentum)) * previous
    return angles * (magnitude / (jnp.abs(angles) + tiny)), rebuilt

  # Two iterations a step let XLA swap the carry's buffers instead of copying
  # both spectrograms every iteration (a quarter of the time on CPU).
  state = jax.lax.fori_loop(
      0, n_iter // 2, lambda _, state: iteration(iteration(state)),
      (spec, jnp.zeros_like(spec)))
  spec, _ = jax.lax.fori_loop(0, n_iter % 2, lambda _, state: iteration(state), state)
  return _from_blocks(_synthesise(spec, window, inverse_window_sum), n_fft, length)


# ----------------------------------------------------------------------------
# Mel spectrograms.


def normalise_mel(mel_power: jax.Array, cfg: AudioConfig) -> jax.Array:
  """Mel power -> dB below ref_level_db -> [-1, 1] over [min_level_db, 0] dB."""
  db = 10.0 * jnp.log10(jnp.maximum(mel_power, _MEL_FLOOR)) - cfg.ref_level_db
  return jnp.clip(2.0 * (db - cfg.min_level_db) / -cfg.min_level_db - 1.0, -1.0, 1.0)


def denormalise_mel(mel: jax.Array, cfg: AudioConfig) -> jax.Array:
  """The inverse of `normalise_mel` (exact where the mel was not clipped)."""
  db = (jnp.asarray(mel, jnp.float32) + 1.0) * -cfg.min_level_db / 2.0 + cfg.min_level_db
  return 10.0 ** ((db + cfg.ref_level_db) / 10.0)


def _mel_power(wave: jax.Array, cfg: AudioConfig, n_frames: int) -> jax.Array:
  """(..., samples) -> mel power (..., n_mels, n_frames) of the centred STFT."""
  blocks = _to_blocks(jnp.asarray(wave, jnp.float32), cfg.n_fft, cfg.hop_length, n_frames)
  spec = _stft_frames(blocks, _window(cfg.n_fft, cfg.win_length))
  return jnp.einsum("mf,...tf->...mt", cfg.mel_basis, jnp.abs(spec) ** cfg.power)


@functools.partial(jax.jit, static_argnames="cfg")
def wave_to_mel(wave: jax.Array, cfg: AudioConfig) -> jax.Array:
  """(..., samples) -> normalised log-mel (..., n_mels, frames), float32."""
  return normalise_mel(_mel_power(wave, cfg, cfg.n_frames(wave.shape[-1])), cfg)


# ----------------------------------------------------------------------------
# Mel inversion.


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
  return griffin_lim(
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
    return jnp.abs(_mel_power(wave, cfg, n_frames) - target).mean(axis=(-2, -1)).sum()

  def step(_, state):
    wave, opt_state = state
    updates, opt_state = optimizer.update(jax.grad(loss)(wave), opt_state)
    return optax.apply_updates(wave, updates), opt_state

  wave, _ = jax.lax.fori_loop(0, n_iter, step, (wave, optimizer.init(wave)))
  return wave
