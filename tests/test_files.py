"""Atomic writes: all or nothing, with ordinary permissions."""
import os
import stat

import pytest

from jaxvc import files


def test_the_file_appears_whole_with_the_umask_permissions(tmp_path):
  target = tmp_path / "sub" / "out.txt"
  old_umask = os.umask(0o022)
  try:
    with files.atomic_path(target) as tmp:
      with open(tmp, "w") as f:
        f.write("done")
      assert not target.exists()
  finally:
    os.umask(old_umask)
  assert target.read_text() == "done"
  assert stat.S_IMODE(target.stat().st_mode) == 0o644
  assert os.listdir(target.parent) == ["out.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
  target = tmp_path / "out.txt"
  target.write_text("old")
  with pytest.raises(RuntimeError):
    with files.atomic_path(target) as tmp:
      with open(tmp, "w") as f:
        f.write("half")
      raise RuntimeError("interrupted")
  assert target.read_text() == "old"
  assert os.listdir(tmp_path) == ["out.txt"]


def test_write_text_replaces_the_file_whole(tmp_path):
  target = tmp_path / "out.json"
  target.write_text("old, longer content")
  files.write_text(target, "ünïcode\n")
  assert target.read_text(encoding="utf-8") == "ünïcode\n"
  assert os.listdir(tmp_path) == ["out.json"]
