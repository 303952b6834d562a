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

The conversions' quantiles depend on the generator's weights, so they are
kept by checkpoint step: WORKDIR/postfilter.json holds, beside the data and
settings they came from, the target's quantiles over its train split and
each step's over the generator's conversions of the source's train split
(the first `postfilter.utterances` of each), computed the first time a
conversion of that step asks for them, where the run's data is.
"""
import dataclasses
import json
from collections.abc import Callable

import numpy as np

from jaxvc import audio
from jaxvc import files
from jaxvc import workdirs
from jaxvc.errors import ConfigError

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
    quantiles = lambda mels: np.quantile(np.concatenate(mels, axis=1), QUANTILES, axis=1).T
    return cls(quantiles(converted).astype(np.float32), quantiles(target).astype(np.float32))

  def __call__(self, mel: np.ndarray) -> np.ndarray:
    if mel.shape[0] != self.converted.shape[0]:
      raise ValueError(f"postfilter: a mel of {mel.shape[0]} bands, the map has "
                       f"{self.converted.shape[0]}")
    # np.interp needs increasing points: a band whose conversions sit at one
    # level (the floor) has repeated quantiles, which a tiny ramp separates.
    ramp = np.arange(len(QUANTILES), dtype=np.float32) * 1e-6
    return np.stack([np.interp(row, c + ramp, t) for row, c, t in
                     zip(mel, self.converted, self.target)]).astype(np.float32)


def _provenance(config) -> dict:
  """What the statistics depend on, besides the step."""
  d = config.data
  return dict(domain_a=d.domain_a, domain_b=d.domain_b, split=d.train_split,
              utterances=config.postfilter.utterances, audio=config.audio.to_dict(),
              quantiles=QUANTILES.tolist())


def compute(config, convert_mel: Callable[[np.ndarray], np.ndarray]) -> LevelMap:
  """The map for the generator behind `convert_mel` (a normalised mel of any
  length to its conversion); a ConfigError names a domain that cannot be read."""
  from jaxvc.melganvc import input_pipeline  # noqa: PLC0415  (reads data: TensorFlow)
  cfg = audio.AudioConfig.from_config(config.audio)
  mels = {name: [np.asarray(audio.wave_to_mel(w, cfg)) for w in input_pipeline.domain_waves(
      config, name, config.data.train_split, limit=config.postfilter.utterances)]
          for name in ("a", "b")}
  return LevelMap.between([convert_mel(m) for m in mels["a"]], mels["b"])


def load_or_compute(workdir: str, config, step: int,
                    convert_mel: Callable[[np.ndarray], np.ndarray]) -> LevelMap:
  """The saved map of the run in `workdir` at `step`, computed and saved
  first if there is none or it came from other data; a ConfigError says why
  it cannot be had."""
  path = workdirs.root(workdir) / FILE
  provenance = json.loads(json.dumps(_provenance(config)))
  saved = dict(provenance=provenance, steps={})
  try:
    read = json.loads(path.read_text())
    if read.get("provenance") == provenance:
      saved = read
      return LevelMap(*(np.asarray(saved["steps"][str(step)][k], np.float32)
                        for k in ("converted", "target")))
  except (OSError, ValueError, KeyError, TypeError):
    pass   # none yet, another step, or unreadable: computed below
  try:
    computed = compute(config, convert_mel)
  except ConfigError as e:
    raise ConfigError(f"{path} has no postfilter for step {step} and the run's voices "
                      f"cannot be read for it ({e}); run once where the training data is, "
                      "or turn the postfilter off") from None
  # As saved, so that the first conversion maps as every later one does.
  level_map = LevelMap(*(np.round(a, 5) for a in (computed.converted, computed.target)))
  saved["steps"][str(step)] = dict(converted=level_map.converted.tolist(),
                                   target=level_map.target.tolist())
  files.write_json(path, saved)
  return level_map
