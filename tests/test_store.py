"""Prepared utterances on disk (jaxvc.data.store) and crops read from them."""
import subprocess
import sys
import textwrap

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


def test_crops_from_a_domain_larger_than_the_memory_they_use(tmp_path):
  """A 200 MB domain in 47 shards: a full epoch of crops grows the reader's
  resident memory by far less than the domain (the store is never loaded)."""
  script = textwrap.dedent(f"""
      import numpy as np
      from jaxvc.data import crops, store

      def rss_mb():
        with open("/proc/self/statm") as f:
          return int(f.read().split()[1]) * 4096 / 2**20

      rng = np.random.default_rng(0)
      mels = (rng.standard_normal((80, 500), np.float32) for _ in range(1250))  # 200 MB
      stored = store.write({str(tmp_path / 's')!r}, mels, shard_bytes=4 << 20)
      ds = crops.global_batches({{"a": crops.cropper(stored, 72, (0, 0))}}, batch_size=64)
      batches = ds.as_numpy_iterator()
      next(batches)
      before = rss_mb()
      slots = int((stored.lengths // 72).sum())
      for _ in range(slots // 64 + 1):
        next(batches)
      print(stored.num_shards, slots, round(rss_mb() - before, 1))
      del batches  # its reader threads stop before the interpreter exits
      """)
  out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                       text=True).stdout.split()
  shards, slots, growth = int(out[0]), int(out[1]), float(out[2])
  assert shards == 47 and slots == 1250 * 6
  assert growth < 40, f"resident memory grew {growth} MB reading a 200 MB domain"
