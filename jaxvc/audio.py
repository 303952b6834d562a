"""Audio front-end: loading, saving, mel spectrograms and their inversion.

File I/O is NumPy at the edges (soundfile, soxr, librosa); the transforms are
pure JAX, jit-compiled with the settings static, batched over leading axes, so
they run on any device and inside training steps. Mels outside the models are
float32 (..., n_mels, frames) normalised to [-1, 1], as in MelGAN-VC.
"""
import dataclasses
import functools
import os
import tempfile

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import soundfile as sf
import soxr

from jaxvc.config import ConfigError

_SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter is an empty recording.
_MEL_FLOOR = 1e-10    # power floor before the log, as librosa.power_to_db.


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
    return 1 + (n_samples + 2 * (self.n_fft // 2) - self.n_fft) // self.hop_length

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
  try:
    wave, file_rate = sf.read(path, dtype="float32", always_2d=True)
  except (sf.SoundFileError, OSError) as e:
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise AudioError(f"{path}: unreadable audio ({reason})") from None
  wave = wave.mean(axis=1)
  if wave.size == 0:
    raise AudioError(f"{path}: empty (0 samples)")
  if not np.isfinite(wave).all():
    raise AudioError(f"{path}: contains NaN or Inf samples")
  peak = float(np.abs(wave).max())
  if peak < _SILENCE_PEAK:
    raise AudioError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
  seconds = wave.size / file_rate
  if seconds < min_seconds:
    raise AudioError(f"{path}: too short ({seconds:.3g} s < min_seconds={min_seconds:.3g} s)")
  return resample(wave, file_rate, sample_rate)


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


def save_audio(path, wave: np.ndarray, sample_rate: int) -> None:
  """Writes mono `wave` atomically: 16-bit PCM for .wav, soundfile's default else."""
  path = os.fspath(path)
  folder = os.path.dirname(path) or "."
  os.makedirs(folder, exist_ok=True)
  extension = os.path.splitext(path)[1].lstrip(".").upper()
  if extension not in sf.available_formats():
    raise AudioError(f"{path}: unknown audio format {extension!r}")
  subtype = "PCM_16" if extension == "WAV" else None
  data = np.clip(np.asarray(wave, np.float32), -1.0, 1.0)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
  os.close(fd)
  try:
    sf.write(tmp, data, sample_rate, subtype=subtype, format=extension)
    os.replace(tmp, path)
  except BaseException:
    os.remove(tmp)
    raise


# ----------------------------------------------------------------------------
# STFT, in "block space": a centred signal cut into hop-sized blocks, so that
# framing is k shifted slices and overlap-add is k shifted sums (k = frame
# length in hops), with no gathers or scatters.


def _window(n_fft: int, win_length: int) -> np.ndarray:
  """Periodic Hann of `win_length`, zero-padded to `n_fft` centred (librosa)."""
  return librosa.util.pad_center(
      librosa.filters.get_window("hann", win_length, fftbins=True), size=n_fft
  ).astype(np.float32)


def _hops_per_frame(n_fft: int, hop_length: int) -> int:
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
  frames = jnp.concatenate([blocks[..., i:i + n_frames, :] for i in range(k)], axis=-1)
  return frames[..., :n_fft]


def _overlap_add(frames: jax.Array, hop_length: int) -> jax.Array:
  """(..., n_frames, n_fft) -> (..., n_blocks, hop): the inverse of `_frames`."""
  n_fft = frames.shape[-1]
  k = _hops_per_frame(n_fft, hop_length)
  lead = frames.shape[:-2]
  frames = jnp.pad(frames, [(0, 0)] * (frames.ndim - 1) + [(0, k * hop_length - n_fft)])
  parts = frames.reshape(*lead, frames.shape[-2], k, hop_length)
  pad = [(0, 0)] * len(lead)
  return sum(jnp.pad(parts[..., i, :], [*pad, (i, k - 1 - i), (0, 0)]) for i in range(k))


def _stft_frames(blocks: jax.Array, window: np.ndarray) -> jax.Array:
  """Block-space signal -> complex spectrum, frames first (..., frames, bins)."""
  return jnp.fft.rfft(_frames(blocks, window.size) * window, axis=-1)


@functools.partial(jax.jit, static_argnames=("n_fft", "hop_length", "win_length"))
def stft(wave: jax.Array, *, n_fft: int, hop_length: int, win_length: int) -> jax.Array:
  """Centred (zero-padded) Hann STFT as librosa's: (..., samples) -> (..., bins, frames)."""
  wave = jnp.asarray(wave, jnp.float32)
  n_frames = 1 + (wave.shape[-1] + 2 * (n_fft // 2) - n_fft) // hop_length
  blocks = _to_blocks(wave, n_fft, hop_length, n_frames)
  return jnp.swapaxes(_stft_frames(blocks, _window(n_fft, win_length)), -1, -2)


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


def _mel_power(wave: jax.Array, cfg: AudioConfig) -> jax.Array:
  """(..., samples) -> mel power (..., n_mels, frames)."""
  spec = stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length)
  return jnp.einsum("mf,...ft->...mt", cfg.mel_basis, jnp.abs(spec) ** cfg.power)


@functools.partial(jax.jit, static_argnames="cfg")
def wave_to_mel(wave: jax.Array, cfg: AudioConfig) -> jax.Array:
  """(..., samples) -> normalised log-mel (..., n_mels, frames), float32."""
  return normalise_mel(_mel_power(wave, cfg), cfg)
