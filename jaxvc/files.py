"""Writing files so that none is ever left half-written."""
import contextlib
import json
import math
import os
import uuid
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(path) -> Iterator[str]:
  """Yields a temporary path beside `path` for the caller to write.

  When the block finishes the file is renamed to `path` in one step; if it
  raises, the temporary file is removed and `path` is untouched. The caller
  creates the file itself, so it gets the usual permissions (the umask's), and
  since the temporary name ends in ".tmp", writers must be told the format.
  """
  path = os.fspath(path)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_text(path, text: str) -> None:
  """Writes `text` (UTF-8) to `path` atomically."""
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
