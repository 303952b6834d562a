"""The F0 statistics of a MelGAN-VC run's two voices, kept in its workdir:
what `--pitch auto` maps a source's F0 onto (`pitch.map_log_f0`).

They are the log-F0 centre and spread (`pitch.LogF0Statistics`: median and
scaled median absolute deviation) over every voiced frame of each domain's
train split, by the one F0 analysis (`jaxvc.audio.pitch`). They
are computed the first time a conversion asks for them, where the run's
data is, and saved as WORKDIR/pitch_statistics.json with the domains and
settings they came from, so that a workdir copied elsewhere keeps them and a
changed config is noticed rather than silently used.
"""
import json

from jaxvc import audio
from jaxvc import files
from jaxvc import workdirs
from jaxvc.audio import pitch
from jaxvc.errors import ConfigError

FILE = "pitch_statistics.json"
DOMAINS = ("a", "b")


def _provenance(config) -> dict:
  """What the statistics depend on: the domains, their split, the front-end."""
  d = config.data
  return dict(domain_a=d.domain_a, domain_b=d.domain_b, split=d.train_split,
              audio=config.audio.to_dict())


def compute(config) -> dict[str, pitch.LogF0Statistics]:
  """Each domain's statistics over its train split; ConfigError naming the
  domain if it cannot be read or has no voiced frame."""
  from jaxvc.melganvc import input_pipeline  # noqa: PLC0415  (reads data: TensorFlow)
  cfg = audio.AudioConfig.from_config(config.audio)
  statistics = {}
  for name in DOMAINS:
    waves = input_pipeline.domain_waves(config, name, config.data.train_split)
    try:
      statistics[name] = pitch.LogF0Statistics.of_waves(waves, cfg)
    except ValueError as e:
      raise ConfigError(f"config.data.domain_{name}: {e}") from None
  return statistics


def load_or_compute(workdir: str, config) -> dict[str, pitch.LogF0Statistics]:
  """The saved statistics of the run in `workdir` (or of the run a checkpoint
  directory belongs to), computed and saved first if there are none or they
  came from other data; a ConfigError says why they cannot be had."""
  path = workdirs.root(workdir) / FILE
  try:
    saved = json.loads(path.read_text())
    if saved.get("provenance") == json.loads(json.dumps(_provenance(config))):
      return {name: pitch.LogF0Statistics(**saved[name]) for name in DOMAINS}
  except (OSError, ValueError, KeyError, TypeError):
    pass   # none yet, or unreadable: computed again below
  try:
    statistics = compute(config)
  except ConfigError as e:
    raise ConfigError(f"{path} is missing and the run's voices cannot be analysed "
                      f"for it ({e}); run once where the training data is") from None
  files.write_json(path, dict(provenance=_provenance(config),
                              **{name: vars(s) for name, s in statistics.items()}))
  return statistics
