"""Prepared utterances on disk (jaxvc.data.store) and crops read from them."""
import os

import numpy as np
import pytest

from jaxvc.data import crops
from jaxvc.data import store


def utterances(lengths, lead=(3,)):
  """Utterance u holds 1000 * u + step + 0.1 * row, so a slice shows where it came from."""
  rows = 0.1 * np.arange(np.prod(lead, dtype=int), dtype=np.float32).reshape(*lead, 1)
  return [1000.0 * u + np.arange(n, dtype=np.float32) + rows for u, n in enumerate(lengths)]


def test_round_trip_over_many_shards(tmp_path):
  arrays = utterances([5, 17, 1, 40, 9, 23])
  stored = store.write(tmp_path / "s", arrays, shard_bytes=3 * 4 * 20)  # ~20 steps a shard
  assert stored.num_shards == 3 and len(stored) == 6 and stored.lead == (3,)
  np.testing.assert_array_equal(stored.lengths, [5, 17, 1, 40, 9, 23])
  for u, array in enumerate(arrays):
    np.testing.assert_array_equal(stored[u], array)
  np.testing.assert_array_equal(stored.read(3, 30, 10), arrays[3][:, 30:40])
  np.testing.assert_array_equal(stored.read(1, 10, 10, fill=-1.0),
                                np.concatenate([arrays[1][:, 10:], np.full((3, 3), -1.0)], 1))
  with pytest.raises(IndexError, match="utterance 0 has 5 steps"):
    stored.read(0, 6, 1)


def test_names_and_the_preparations_record_are_kept(tmp_path):
  """Each utterance's name, and what the caller's `meta` says when a shard is
  written: a partial store has the record of its last shard, a complete one
  the record at `finish`."""
  record = {"files": 0}
  writer = store.Writer(tmp_path / "s", 4 * 20, meta=lambda: dict(record))
  for i, array in enumerate(utterances([10] * 3, lead=())):
    record["files"] = i + 1
    writer.add(array, name=f"u{i}.wav")
  partial = store.Writer(tmp_path / "s", 4 * 20)
  assert partial.names == ["u0.wav", "u1.wav"] and partial.saved_meta == {"files": 2}
  record["files"] = 4
  stored = writer.finish()
  assert stored.names == ["u0.wav", "u1.wav", "u2.wav"] and stored.meta == {"files": 4}
  assert store.write(tmp_path / "unnamed", utterances([3], lead=())).names == [""]


def test_interrupted_write_continues_where_it_stopped(tmp_path):
  arrays = utterances([10] * 8, lead=())
  given = []

  def failing():
    for i, array in enumerate(arrays):
      if i == 5:
        raise KeyboardInterrupt
      given.append(i)
      yield array

  with pytest.raises(KeyboardInterrupt):
    store.write(tmp_path / "s", failing(), shard_bytes=4 * 20)  # two utterances a shard
  assert not store.is_complete(tmp_path / "s")
  with pytest.raises(ValueError, match="incomplete store"):
    store.Store(tmp_path / "s")
  assert store.Writer(tmp_path / "s", 80).done == 4  # two shards written, the fifth lost

  given.clear()

  def counted():
    for i, array in enumerate(arrays):
      given.append(i)
      yield array

  resumed = store.write(tmp_path / "s", counted(), shard_bytes=4 * 20)
  assert given == list(range(8))  # the writer skipped the first 4 (read, not stored twice)
  assert len(resumed) == 8 and resumed.num_shards == 4
  for u, array in enumerate(arrays):
    np.testing.assert_array_equal(resumed[u], array)
  assert not list((tmp_path / "s").glob("*.tmp"))


def test_short_utterances_padded_or_skipped_by_the_cropper(tmp_path):
  stored = store.write(tmp_path / "s", utterances([4, 30], lead=(2,)))
  ds_pad = crops.global_batches({"x": crops.cropper(stored, 10, (0, 0), fill=-1.0)},
                                batch_size=4)
  seen = set()
  for batch in ds_pad.take(3).as_numpy_iterator():
    for crop in batch["x"]:
      assert crop.shape == (2, 10)
      if crop[0, 0] < 1000:  # the short utterance, padded
        np.testing.assert_array_equal(crop[0], [0, 1, 2, 3] + [-1] * 6)
      seen.add(int(crop[0, 0] // 1000))
  assert seen == {0, 1}
  skip = crops.global_batches({"x": crops.cropper(stored, 10, (0, 0))}, batch_size=4)
  for batch in skip.take(3).as_numpy_iterator():
    assert (batch["x"] >= 1000).all()
  with pytest.raises(ValueError, match="no utterance holds a crop of 31"):
    crops.cropper(stored, 31, (0, 0))


def _resident_mb() -> float:
  with open("/proc/self/statm") as f:
    return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_crops_from_a_domain_larger_than_the_memory_they_use(tmp_path):
  """A 120 MB domain in 28 shards: a full epoch of crops grows this process's
  resident memory by far less than the domain (the store is never loaded)."""
  rng = np.random.default_rng(0)
  mels = (rng.standard_normal((80, 500), np.float32) for _ in range(750))
  stored = store.write(tmp_path / "s", mels, shard_bytes=4 << 20)
  slots = int((stored.lengths // 72).sum())
  assert stored.num_shards == 28 and slots == 750 * 6
  before = _resident_mb()
  batches = crops.global_batches({"a": crops.cropper(stored, 72, (0, 0))},
                                 batch_size=64).as_numpy_iterator()
  for _ in range(slots // 64 + 2):
    next(batches)
  growth = _resident_mb() - before
  del batches  # its reader threads stop now, not at the interpreter's exit
  assert growth < 30, f"resident memory grew {growth:.0f} MB reading a 120 MB domain"
