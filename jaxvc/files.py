"""Paths that may be URLs, and writing files so that none is ever left half-written.

A workdir or an audio folder may live on a filesystem that `etils.epath`
reaches (a `gs://` bucket on a TPU pod, for one) as well as on a local disk;
code that reads or writes them goes through `location`, not `os.path`.
"""
import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator

from etils import epath

# The URL schemes that epath (and orbax, which uses it) reads and writes.
URL_SCHEMES = ("gs://", "s3://", "az://", "hf://")


def is_url(path) -> bool:
  """Whether `path` names an object on a remote store rather than a local file."""
  return os.fspath(path).startswith(URL_SCHEMES)


def location(path) -> epath.Path:
  """`path` as an `epath.Path`: a URL as it is, a local path made absolute
  (with `~` expanded), so that it names the same place from any working folder."""
  if is_url(path):
    # epath reaches a URL through TensorFlow's filesystems when it can: TF is
    # imported jaxvc's way first (quiet, no GPU), not by epath on its own.
    from jaxvc import _tf  # noqa: F401, PLC0415
    return epath.Path(path)
  return epath.Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def walk(root: epath.Path) -> Iterator[tuple[epath.Path, list[str], list[str]]]:
  """`root.walk()` (top down: prune the folder names in place), each folder as
  a full path: epath's fsspec backend yields a URL's folders without the
  scheme (`bucket/...` for `gs://bucket/...`)."""
  scheme = os.fspath(root).partition("://")[0] + "://" if is_url(root) else ""
  for parent, folders, names in root.walk():
    if scheme and not is_url(parent):
      parent = epath.Path(scheme + os.fspath(parent))
    yield parent, folders, names


def size_and_mtime(path) -> tuple[int, int]:
  """(bytes, modification time in ns) of the file at `path`, local or remote
  (a remote store's time is known to the second only, as epath reports it)."""
  if is_url(path):
    stat = location(path).stat()
    return stat.length, int(stat.mtime * 1e9)
  stat = os.stat(path)
  return stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
  """Yields a temporary path beside `path` for the caller to write.

  When the block finishes the file is renamed to `path` in one step; if it
  raises, the temporary file is removed and `path` is untouched. The caller
  creates the file itself, so it gets the usual permissions (the umask's), and
  since the temporary name ends in ".tmp", writers must be told the format.
  """
  with _replaced_whole(path, make=lambda tmp: None, remove=os.remove) as tmp:
    yield tmp


@contextlib.contextmanager
def atomic_folder(path) -> Iterator[str]:
  """Yields a temporary folder beside `path` (local) for the caller to fill.

  When the block finishes the folder is renamed to `path` in one step, which
  must not exist or be empty; if it raises, the temporary folder is removed
  and `path` is untouched. A reader sees no folder or a complete one.
  """
  with _replaced_whole(path, make=os.mkdir, remove=shutil.rmtree) as tmp:
    yield tmp


@contextlib.contextmanager
def _replaced_whole(path, *, make, remove) -> Iterator[str]:
  """A temporary path beside `path` (made by `make`), renamed to `path` when
  the block finishes, or removed (by `remove`) if it raises."""
  path = os.path.abspath(os.fspath(path))
  folder = os.path.dirname(path)
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
  make(tmp)
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      remove(tmp)


def write_text(path, text: str) -> None:
  """Writes `text` (UTF-8) to `path` atomically: a local file by a rename, an
  object on a remote store by the store itself (an object appears only when
  its upload completes)."""
  if is_url(path):
    location(path).write_text(text, encoding="utf-8")
    return
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)


def _json_safe(value):
  """`value` with NaNs and infinities replaced by None, recursively, for strict JSON."""
  if isinstance(value, dict):
    return {k: _json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_json_safe(v) for v in value]
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def write_json(path, value) -> None:
  """Writes `value` as indented strict JSON (NaN as null) to `path` atomically."""
  write_text(path, json.dumps(_json_safe(value), indent=2, allow_nan=False) + "\n")
