"""Domain specs (`demo:NAME`, `folder:PATH`, `tfds:NAME[:FEATURE=VALUE]`) parsed, no I/O.

Apart from `jaxvc.data.domains`, which loads a domain, so that checking a
config (every `jaxvc.infer` run does) imports neither TensorFlow nor TFDS.
"""
import dataclasses
import os

from jaxvc.errors import ConfigError

KINDS = ("demo", "folder", "tfds")
SHORT_UTTERANCES = ("pad", "skip")   # data.short_utterances: what to do with one under a crop
_USAGE = "expected demo:NAME, folder:PATH or tfds:NAME[:FEATURE=VALUE]"


@dataclasses.dataclass(frozen=True)
class Domain:
  """A parsed domain spec; `feature` and `value` select within a TFDS dataset."""
  kind: str
  name: str
  feature: str = ""
  value: str = ""


def same(a: str, b: str) -> bool:
  """Whether two domain specs name the same data: equal, or `folder:` specs
  whose paths are one folder (a relative one taken from the working
  directory, as a run given it was)."""
  if a == b:
    return True
  x, y = parse(a), parse(b)
  return (x.kind == y.kind == "folder"
          and os.path.normpath(os.path.abspath(x.name)) == os.path.normpath(os.path.abspath(y.name)))


def parse(spec: str) -> Domain:
  """Parses a domain spec; raises ConfigError saying what is wrong with it."""
  kind, _, rest = spec.partition(":")
  if kind not in KINDS or not rest:
    raise ConfigError(f"domain {spec!r}: {_USAGE}")
  if kind != "tfds":
    return Domain(kind, rest)
  name, _, selection = rest.partition(":")
  if not selection:
    return Domain(kind, name)
  feature, equals, value = selection.partition("=")
  if not (name and feature and equals and value):
    raise ConfigError(f"domain {spec!r}: the selection must be FEATURE=VALUE; {_USAGE}")
  return Domain(kind, name, feature, value)
