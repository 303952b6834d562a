"""The front-end settings every model and inversion shares (the mel, the
loudness every wave is brought to), as one frozen value."""
import dataclasses
import functools

import librosa
import numpy as np

from jaxvc.audio import stft
from jaxvc.errors import ConfigError


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
  # Integrated loudness (LUFS, BS.1770) every wave is brought to before its
  # mel, at preparation and conversion alike (jaxvc.audio.loudness); 0 keeps
  # levels as recorded (and is what runs saved before the setting load with).
  loudness_lufs: float = 0.0

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
    if not -70 < self.loudness_lufs <= 0:
      raise ConfigError(f"audio.loudness_lufs: {self.loudness_lufs} LUFS is outside "
                        "(-70, 0] (0: off); speech is usually brought to -23 (EBU R128) to -16")
    if self.min_level_db >= 0:
      raise ConfigError(f"audio.min_level_db: must be negative, got {self.min_level_db}")

  def n_frames(self, n_samples: int) -> int:
    """Frames of a centred STFT of `n_samples` samples."""
    return stft.frame_count(n_samples, self.n_fft, self.hop_length)

  @functools.cached_property
  def mel_basis(self) -> np.ndarray:
    """Slaney mel filterbank (n_mels, n_fft // 2 + 1), librosa's default."""
    basis = librosa.filters.mel(
        sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels,
        fmin=self.fmin, fmax=self.fmax)
    basis.setflags(write=False)
    return basis
