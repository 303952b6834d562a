"""Utterances on disk, read a slice at a time: a prepared domain larger than memory.

A store is a folder of shard files and an index. Each shard holds whole
utterances, time-major (`(length, *lead)`: a wave's samples, a mel's frames of
n_mels values), concatenated along time in one `.npy` file of about
`shard_bytes`; the index (`index.npz`) gives each utterance's shard, start, length and
name (a folder's file, so a preparation knows where it stopped even when it
skipped files), and a record of the preparation (`meta`, JSON: what a
folder's preparation found, so an interrupted one still reports it whole). Time-major order makes a crop one contiguous read (`os.pread`, no
memory map), so a training process holds only the crops in flight, however
large the domain, and the page cache is the operating system's to manage.

Writing is resumable: each shard is written whole and atomically, then the
progress (`progress.npz`, the index so far); the index itself is written once,
after the last shard, so a store with an index is complete and never changes.
A writer that finds a partial store continues after the utterances it already
holds (`done`, `names`), so an interrupted preparation of a large folder
restarts where it stopped (the utterances come in a fixed order, so the result
is the same; two processes preparing the same store at once write the same
files).
"""
from collections.abc import Callable, Iterable
import itertools
import json
import os
from pathlib import Path
import threading

import numpy as np

from jaxvc import files

INDEX = "index.npz"
PROGRESS = "progress.npz"
_DTYPE = np.dtype("<f4")


def _shard_name(k: int) -> str:
  return f"shard_{k:05d}.npy"


class Store:
  """A complete store, opened for reading. Safe to read from many threads."""

  def __init__(self, path):
    self.path = Path(path)
    if not is_complete(self.path):
      raise ValueError(f"{self.path}: an incomplete store (its preparation was interrupted)")
    with np.load(self.path / INDEX) as index:
      self.lead = tuple(int(n) for n in index["lead"])
      self.lengths = index["length"]
      self.names = index["name"].tolist()
      self.meta = json.loads(str(index["meta"]))
      self._shard = index["shard"]
      self._start = index["start"]
    self._row = int(np.prod(self.lead, dtype=np.int64))  # values per time step
    self._data_offsets = {}  # shard -> (file descriptor, byte offset of its data)
    self._opening = threading.Lock()

  def __len__(self) -> int:
    return len(self.lengths)

  @property
  def num_shards(self) -> int:
    return int(self._shard.max()) + 1 if len(self) else 0

  def read(self, utterance: int, begin: int, size: int, fill: float = 0.0) -> np.ndarray:
    """float32 (*lead, size): time steps begin .. begin + size of `utterance`,
    `fill` past its end."""
    length = int(self.lengths[utterance])
    if not 0 <= begin <= length:
      raise IndexError(f"{self.path}: utterance {utterance} has {length} steps, not {begin}")
    count = min(size, length - begin)
    fd, offset = self._shard_file(int(self._shard[utterance]))
    item = _DTYPE.itemsize * self._row
    buffer = os.pread(fd, count * item, offset + (int(self._start[utterance]) + begin) * item)
    values = np.frombuffer(buffer, _DTYPE).reshape(count, *self.lead)
    if count < size:
      values = np.concatenate(
          [values, np.full((size - count, *self.lead), fill, np.float32)])
    return np.moveaxis(values, 0, -1).astype(np.float32)  # a copy, time last

  def __getitem__(self, utterance: int) -> np.ndarray:
    """The whole utterance, float32 (*lead, length)."""
    return self.read(utterance, 0, int(self.lengths[utterance]))

  def _shard_file(self, k: int) -> tuple[int, int]:
    if k not in self._data_offsets:
      with self._opening:
        if k not in self._data_offsets:
          self._data_offsets[k] = self._open_shard(k)
    return self._data_offsets[k]

  def _open_shard(self, k: int) -> tuple[int, int]:
    path = self.path / _shard_name(k)
    with open(path, "rb") as f:
      major, _ = np.lib.format.read_magic(f)
      read_header = (np.lib.format.read_array_header_1_0 if major == 1
                     else np.lib.format.read_array_header_2_0)
      shape, fortran_order, dtype = read_header(f)
      offset = f.tell()
    if fortran_order or dtype != _DTYPE or shape[1:] != self.lead:
      raise ValueError(f"{path}: not a shard of this store (shape {shape}, dtype {dtype})")
    return os.open(path, os.O_RDONLY), offset

  def __del__(self):
    for fd, _ in getattr(self, "_data_offsets", {}).values():
      os.close(fd)


def is_complete(path) -> bool:
  """Whether `path` holds a store whose preparation finished."""
  return (Path(path) / INDEX).is_file()


class Writer:
  """Appends utterances to a store at `path`, continuing a partial one.

  `done` is how many utterances the folder already holds and `names` theirs:
  the caller continues its (fixed-order) input after them and `add`s the
  rest, then `finish`es. `meta`, if given, is called whenever a shard or the
  index is written, and its JSON-able value is kept with them (`saved_meta`
  is what a partial store kept): the caller's record of the preparation.
  """

  def __init__(self, path, shard_bytes: int, meta: Callable[[], object] | None = None):
    self.path = Path(path)
    self.shard_bytes = max(1, int(shard_bytes))
    self._meta = meta or (lambda: None)
    self._lengths, self._shards, self._starts, self.names = [], [], [], []
    self._lead = None
    self.saved_meta = None
    if (self.path / PROGRESS).is_file():
      with np.load(self.path / PROGRESS) as index:
        self._lead = tuple(int(n) for n in index["lead"])
        self._lengths = index["length"].tolist()
        self._shards = index["shard"].tolist()
        self._starts = index["start"].tolist()
        self.names = index["name"].tolist()
        self.saved_meta = json.loads(str(index["meta"]))
    self._next_shard = self._shards[-1] + 1 if self._shards else 0
    self._pending: list[np.ndarray] = []
    self._pending_names: list[str] = []
    self._pending_bytes = 0

  @property
  def done(self) -> int:
    """Utterances already stored (in complete shards)."""
    return len(self._lengths)

  @property
  def steps(self) -> int:
    """Time steps already stored (samples or frames)."""
    return int(sum(self._lengths))

  def add(self, array: np.ndarray, name: str = "") -> int | None:
    """Queues one utterance (*lead, length) named `name`; returns the number
    of a shard it completed and wrote, else None."""
    lead = tuple(array.shape[:-1])
    if self._lead is None:
      self._lead = lead
    elif lead != self._lead:
      raise ValueError(f"{self.path}: an utterance of shape {array.shape}, "
                       f"the store holds (*{self._lead}, length)")
    # C order: concatenating transposed views would otherwise give a Fortran-order
    # file, whose time steps are not contiguous.
    self._pending.append(np.ascontiguousarray(np.moveaxis(np.asarray(array, _DTYPE), -1, 0)))
    self._pending_names.append(name)
    self._pending_bytes += array.size * _DTYPE.itemsize
    if self._pending_bytes >= self.shard_bytes:
      return self._flush()
    return None

  def finish(self) -> Store:
    """Writes the last shard and the complete index; the store, opened."""
    if self._pending or not self._lengths:
      self._flush()
    self._write_index(INDEX)
    (self.path / PROGRESS).unlink(missing_ok=True)
    return Store(self.path)

  def _flush(self) -> int:
    k = self._next_shard
    start = 0
    for values in self._pending:
      self._lengths.append(values.shape[0])
      self._shards.append(k)
      self._starts.append(start)
      start += values.shape[0]
    self.names += self._pending_names
    with files.atomic_path(self.path / _shard_name(k)) as tmp:
      with open(tmp, "wb") as f:
        np.save(f, np.concatenate(self._pending) if self._pending
                else np.zeros((0, *(self._lead or ())), _DTYPE))
    self._pending, self._pending_names, self._pending_bytes = [], [], 0
    self._next_shard += 1
    self._write_index(PROGRESS)
    return k

  def _write_index(self, name: str) -> None:
    with files.atomic_path(self.path / name) as tmp:
      with open(tmp, "wb") as f:
        np.savez(f, lead=np.array(self._lead or (), np.int64),
                 length=np.array(self._lengths, np.int64),
                 shard=np.array(self._shards, np.int64),
                 start=np.array(self._starts, np.int64),
                 name=np.array(self.names, dtype=str),
                 meta=np.array(json.dumps(self._meta())))


def write(path, arrays: Iterable[np.ndarray], shard_bytes: int = 64 << 20) -> Store:
  """A store of `arrays` at `path` (a fresh folder, or one a Writer left partial)."""
  writer = Writer(path, shard_bytes)
  for array in itertools.islice(arrays, writer.done, None):
    writer.add(array)
  return writer.finish()
