"""The F0 statistics of a MelGAN-VC run's two voices, kept in its workdir:
what `--pitch auto` maps a source's F0 onto (`pitch.map_log_f0`).

They are the log-F0 centre and spread (`pitch.LogF0Statistics`: median and
scaled median absolute deviation) over every voiced frame of each domain's
train split, by the one F0 analysis (`jaxvc.audio.pitch`). They are
computed the first time a conversion asks for them, where the run's data
is, and kept in WORKDIR/pitch_statistics.json (`workdirs.kept`) with the
domains and settings they came from, so that a workdir copied elsewhere
keeps them and a changed config is noticed rather than silently used.
"""
from jaxvc import audio
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


def compute(config, name: str) -> pitch.LogF0Statistics:
  """Domain `name`'s statistics over its train split; ConfigError naming the
  domain if it cannot be read or has no voiced frame."""
  from jaxvc.melganvc import input_pipeline  # noqa: PLC0415  (reads data: TensorFlow)
  waves = input_pipeline.domain_waves(config, name, config.data.train_split)
  try:
    return pitch.LogF0Statistics.of_waves(waves, audio.AudioConfig.from_config(config.audio))
  except ValueError as e:
    raise ConfigError(f"config.data.domain_{name}: {e}") from None


def load_or_compute(workdir: str, config) -> dict[str, pitch.LogF0Statistics]:
  """The statistics of the run in `workdir` (or of the run a checkpoint
  directory belongs to) by domain, kept in its FILE (`workdirs.kept`); a
  ConfigError says why they cannot be had."""
  return {name: pitch.LogF0Statistics(**workdirs.kept(
      workdir, FILE, _provenance(config), name, lambda name=name: vars(compute(config, name)),
      what=f"F0 statistics of domain {name}")) for name in DOMAINS}
