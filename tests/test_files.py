"""Atomic writes: all or nothing, with ordinary permissions; paths that may be URLs."""
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


def test_a_url_stays_a_url_and_a_local_path_becomes_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert files.is_url("gs://bucket/runs/a") and not files.is_url("runs/gs://a")
  assert str(files.location("gs://bucket/runs/a") / "checkpoints") == "gs://bucket/runs/a/checkpoints"
  assert str(files.location("runs/a")) == str(tmp_path / "runs" / "a")
  assert str(files.location("~/x")) == os.path.join(os.path.expanduser("~"), "x")


def test_files_on_a_gcs_bucket(gcs_bucket):
  root = files.location(f"{gcs_bucket}/tree")
  files.write_text(root / "a.txt", "one")
  files.write_text(root / "sub" / "b.txt", "two")
  files.write_text(root / "sub" / "b.txt", "three")   # replaced whole
  walked = {str(parent.relative_to(root)): sorted(names) for parent, _, names in files.walk(root)}
  assert walked == {".": ["a.txt"], "sub": ["b.txt"]}
  assert (root / "sub" / "b.txt").read_text() == "three"
  assert files.size_and_mtime(root / "sub" / "b.txt")[0] == 5
