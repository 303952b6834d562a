"""Turning a normalised mel back into audio, behind one small interface.

A conversion or a stylization ends with an Inversion: Griffin-Lim (fast,
no training), the original MelGAN-VC's gradient descent, or a trained neural
vocoder (`jaxvc.vocoder.Vocoder`). Streaming code needs to know one thing
about it: `context`, the frames on each side of a stretch of mel after which
rendering a window gives the same samples as rendering the whole mel. A
vocoder has a finite receptive field, so its windows join exactly; the
iterative inversions are global in the mel (`context` None), so their windows
are joined by a cross-fade.
"""
import dataclasses
from typing import Protocol

import numpy as np

from jaxvc.audio import mel as mel_lib
from jaxvc.audio.settings import AudioConfig
from jaxvc.errors import ConfigError


class Inversion(Protocol):
  """Normalised mel (..., n_mels, frames) -> wave (..., frames * hop); frame t is
  centred on sample t * hop. Each length compiles once: callers that see many
  lengths pad them to a few (`jaxvc.buckets`), with silence (`mel.SILENCE`)."""
  cfg: AudioConfig
  context: int | None
  # Optional `lookahead`: of `context`, the frames after a sample that it
  # depends on, where fewer than before (a causal vocoder); a live stream
  # waits for these.

  def __call__(self, mel: np.ndarray) -> np.ndarray:
    ...


def _render(invert, mel: np.ndarray, cfg: AudioConfig, **options) -> np.ndarray:
  return np.asarray(invert(mel, cfg, length=mel.shape[-1] * cfg.hop_length, **options))


@dataclasses.dataclass(frozen=True)
class GriffinLim:
  """Fast Griffin-Lim from the mel's least-squares linear spectrogram."""
  cfg: AudioConfig
  n_iter: int = 32
  context = None

  def __call__(self, mel: np.ndarray) -> np.ndarray:
    return _render(mel_lib.mel_to_wave, mel, self.cfg, n_iter=self.n_iter)


@dataclasses.dataclass(frozen=True)
class GradientDescent:
  """The original MelGAN-VC's inversion: Adam on the waveform against the mel."""
  cfg: AudioConfig
  n_iter: int = 500
  context = None

  def __call__(self, mel: np.ndarray) -> np.ndarray:
    return _render(mel_lib.invert_mel_gradient, mel, self.cfg, n_iter=self.n_iter)


# --inversion NAME -> the class (its default iterations are its n_iter's default).
ITERATIVE = {"griffinlim": GriffinLim, "gradient": GradientDescent}


def iterative(name: str, cfg: AudioConfig,
              n_iter: int | None = None) -> GriffinLim | GradientDescent:
  """The iterative inversion `name` ("griffinlim" or "gradient")."""
  if name not in ITERATIVE:
    raise ValueError(f"inversion must be one of {tuple(ITERATIVE)}, got {name!r}")
  if n_iter is not None and n_iter < 1:
    raise ValueError(f"n_iter must be at least 1, got {n_iter}")
  kind = ITERATIVE[name]
  return kind(cfg) if n_iter is None else kind(cfg, n_iter)


def check_matches(inversion: Inversion, cfg: AudioConfig, user: str) -> None:
  """Raises ConfigError unless `inversion` renders mels made with `cfg`: a
  vocoder trained on other audio settings would turn `user`'s mels into noise."""
  if inversion.cfg != cfg:
    changed = ", ".join(f"{f.name} {getattr(inversion.cfg, f.name)} vs {getattr(cfg, f.name)}"
                        for f in dataclasses.fields(cfg)
                        if getattr(inversion.cfg, f.name) != getattr(cfg, f.name))
    raise ConfigError(f"the vocoder was trained on other audio settings than {user} "
                      f"({changed}): train both on the same config.audio")
