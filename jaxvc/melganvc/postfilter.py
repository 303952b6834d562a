"""The level postfilter: each band of a converted mel brought to the target voice's levels.

On real speech MelGAN-VC's conversions span a narrower range of levels in
each mel band than the target's own recordings: their quiet frames sit
higher and their loud ones lower (docs/results/tuning.md, "The level
postfilter"). Statistical voice conversion met the same over-smoothing and
answered it with a global-variance postfilter; this one is its
distribution-wide form, histogram equalisation: in each band, a level at
the q-th quantile of the conversions becomes the target's q-th quantile,
piecewise linearly between the QUANTILES. A per-frame map, so windows and
live streams render what one-shot conversion does.

WORKDIR/postfilter.json keeps them (`workdirs.kept`), beside the data and
settings they came from: the target's quantiles over its train split once,
and by checkpoint step the quantiles of the generator's conversions of the
source's train split, which depend on its weights (the first
`postfilter.utterances` of each split), each computed the first time a
conversion asks for it, where the run's data is.
"""
import dataclasses
from collections.abc import Callable

import numpy as np

from jaxvc import audio
from jaxvc import workdirs

FILE = "postfilter.json"
QUANTILES = np.linspace(0.0, 1.0, 21)


@dataclasses.dataclass(frozen=True)
class LevelMap:
  """Per band (n_mels, len(QUANTILES)): the conversions' level quantiles and
  the target's. Calling it maps a normalised mel (n_mels, frames)."""
  converted: np.ndarray
  target: np.ndarray

  @classmethod
  def between(cls, converted: list[np.ndarray], target: list[np.ndarray]) -> "LevelMap":
    """From mels (n_mels, frames) of conversions and of the target's recordings."""
    return cls(_quantiles(converted), _quantiles(target))

  def __call__(self, mel, xp=np):
    """A normalised mel (..., n_mels, frames), NumPy's or (xp=jax.numpy, inside
    a jit or an exported program) JAX's, mapped band by band: as np.interp
    through the points (converted, target), each end held, written as the
    target's first level plus the sum of each segment's slope times the part
    of it the level has climbed (elementwise ops only, so that TFLite takes
    it too)."""
    if mel.shape[-2] != self.converted.shape[0]:
      raise ValueError(f"postfilter: a mel of {mel.shape[-2]} bands, the map has "
                       f"{self.converted.shape[0]}")
    # A band whose conversions sit at one level (the floor) has repeated
    # quantiles, which a tiny ramp separates.
    points = self.converted + np.arange(len(QUANTILES), dtype=np.float32) * 1e-6
    widths = np.diff(points, axis=1)
    slopes = np.diff(self.target, axis=1) / widths
    mapped = xp.broadcast_to(xp.asarray(self.target[:, :1]), mel.shape)
    for k in range(widths.shape[1]):
      climbed = xp.clip(mel - points[:, k:k + 1], 0.0, widths[:, k:k + 1])
      mapped = mapped + slopes[:, k:k + 1] * climbed
    return mapped.astype(xp.float32)


def _quantiles(mels: list[np.ndarray]) -> np.ndarray:
  """Per band, the QUANTILES of the levels of `mels` (n_mels, frames)."""
  return np.quantile(np.concatenate(mels, axis=1), QUANTILES, axis=1).T.astype(np.float32)


def _provenance(config) -> dict:
  """What the statistics depend on, besides the step."""
  d = config.data
  return dict(domain_a=d.domain_a, domain_b=d.domain_b, split=d.train_split,
              utterances=config.postfilter.utterances, audio=config.audio.to_dict(),
              quantiles=QUANTILES.tolist())


def _mels(config, name: str) -> list[np.ndarray]:
  """Normalised mels of the first `postfilter.utterances` of domain `name`'s
  train split; a ConfigError names a domain that cannot be read."""
  from jaxvc.melganvc import input_pipeline  # noqa: PLC0415  (reads data: TensorFlow)
  cfg = audio.AudioConfig.from_config(config.audio)
  return [np.asarray(audio.wave_to_mel(w, cfg)) for w in input_pipeline.domain_waves(
      config, name, config.data.train_split, limit=config.postfilter.utterances)]


def load_or_compute(workdir: str, config, step: int,
                    convert_mel: Callable[[np.ndarray], np.ndarray]) -> LevelMap:
  """The map of the run in `workdir` at `step`, whose generator `convert_mel`
  runs (a normalised mel of any length to its conversion), kept in its FILE;
  a ConfigError says why it cannot be had."""
  def kept(key, mels):
    # Rounded as saved, so that the first conversion maps as every later one does.
    return np.asarray(workdirs.kept(
        workdir, FILE, _provenance(config), key, lambda: np.round(_quantiles(mels()), 5).tolist(),
        what=f"postfilter {key}", advice=", or turn the postfilter off"), np.float32)
  return LevelMap(
      converted=kept(f"converted at step {step}",
                     lambda: [convert_mel(m) for m in _mels(config, "a")]),
      target=kept("target", lambda: _mels(config, "b")))
