"""Statistics a run keeps in its workdir (`workdirs.kept`)."""
import json

import pytest

from jaxvc import workdirs
from jaxvc.errors import ConfigError


def test_an_entry_is_computed_once_and_kept_beside_others_of_its_provenance(tmp_path):
  calls = []

  def compute(value):
    calls.append(value)
    return (value, 0.5)

  keep = lambda workdir, key, provenance=dict(data="a"): workdirs.kept(
      workdir, "stats.json", provenance, key, lambda: compute(key), what=f"{key} statistics")
  assert keep(str(tmp_path), "x") == ["x", 0.5]   # as JSON reads it back, the first time too
  # A checkpoint directory of the run finds the run's file; nothing is recomputed.
  assert keep(str(tmp_path / "checkpoints" / "7"), "x") == ["x", 0.5] and calls == ["x"]
  assert keep(str(tmp_path), "y") == ["y", 0.5]
  saved = json.loads((tmp_path / "stats.json").read_text())
  assert saved == dict(provenance=dict(data="a"), x=["x", 0.5], y=["y", 0.5])
  # Other data: the file starts again.
  keep(str(tmp_path), "x", dict(data="b"))
  assert sorted(json.loads((tmp_path / "stats.json").read_text())) == ["provenance", "x"]
  assert calls == ["x", "y", "x"]
  # A file that is not what it should be is made again, not a crash.
  for broken in ("not json", "[1, 2]", '{"x": 1}'):
    (tmp_path / "stats.json").write_text(broken)
    assert keep(str(tmp_path), "x") == ["x", 0.5]


def test_what_cannot_be_computed_is_one_line_naming_the_file_and_nothing_is_written(tmp_path):
  def unreadable():
    raise ConfigError("config.data.domain_b: no such folder")

  with pytest.raises(ConfigError, match=r"stats.json has no level statistics and the run's voices "
                                        r"cannot be read for it \(config.data.domain_b: no such "
                                        r"folder\); run once where the training data is, or not"):
    workdirs.kept(str(tmp_path), "stats.json", {}, "x", unreadable, what="level statistics",
                  advice=", or not")
  assert not (tmp_path / "stats.json").exists()
