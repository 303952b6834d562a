"""Stateless random crops for training: every example a pure function of its index.

Every example is a pure function of (seed, source, global example index):
epoch e of a source visits each of its crop slots (an utterance of L frames
or samples holds L // crop of them) once, in an order that `index_shuffle`
draws from (seed, source, e), at an offset in the slot's utterance drawn by a
stateless RNG from (seed, source, index). So resuming at batch k needs no
iterator state, and P processes, each taking its contiguous slice of every
global batch, together yield exactly the single-process batches.

The utterances stay on disk (`jaxvc.data.store`); each crop is one read, so
a process holds only the crops in flight and the graph only the slot table
(16 bytes a slot: about 50 MB for a thousand hours of mels), never the audio.
"""
from collections.abc import Callable
import dataclasses

import numpy as np

from jaxvc._tf import tf
from jaxvc.data import store as store_lib
from jaxvc.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Cropper:
  """Where each example's crop lies, computed in the graph, and how to read a
  batch of them: one call into Python a batch, not one a crop."""
  locate: Callable[[tf.Tensor], tf.Tensor]  # global example index -> int64 [utterance, offset]
  read: Callable[[np.ndarray], np.ndarray]  # int64 (n, 2) -> float32 (n, *lead, crop)
  shape: tuple[int, ...]                    # of one crop: (*lead, crop)


def cropper(store: store_lib.Store, crop: int, seed: tuple[int, int],
            fill: float | None = None) -> Cropper:
  """Crops of `crop` steps of the store's utterances, each a pure function of
  its global example index and `seed`.

  Utterances shorter than `crop` hold no slot, or, given `fill`, one slot
  read padded with `fill`.
  """
  lengths = store.lengths
  slots = lengths // crop
  if fill is not None:
    slots = np.maximum(slots, 1)
  if not slots.any():
    raise ValueError(f"no utterance holds a crop of {crop}")
  slot_utterance = np.repeat(np.arange(len(lengths)), slots)
  n_slots = slot_utterance.size
  utterance_of = tf.constant(slot_utterance, tf.int64)
  room_of = tf.constant(np.maximum(lengths[slot_utterance] - crop, 0))  # the largest offset
  seed = tf.constant(seed, tf.int64)
  order_seed = tf.random.experimental.stateless_fold_in(seed, 0)
  offset_seed = tf.random.experimental.stateless_fold_in(seed, 1)
  padding = 0.0 if fill is None else float(fill)

  def locate(index):
    epoch, position = index // n_slots, index % n_slots
    slot = tf.random.experimental.index_shuffle(
        position, tf.random.experimental.stateless_fold_in(order_seed, epoch),
        tf.constant(n_slots - 1, tf.int64))
    offset = tf.random.stateless_uniform(
        [], tf.random.experimental.stateless_fold_in(offset_seed, index),
        minval=0, maxval=room_of[slot] + 1, dtype=tf.int64)
    return tf.stack([utterance_of[slot], offset])

  def read(where):
    return np.stack([store.read(int(u), int(o), crop, padding) for u, o in where])

  return Cropper(locate, read, (*store.lead, crop))


def global_batches(croppers: dict[str, Cropper], *, batch_size: int, start_batch: int = 0,
                   process_index: int = 0, process_count: int = 1,
                   prefetch: int = 4) -> tf.data.Dataset:
  """This process's part of the global batches start_batch, start_batch + 1, ...

  Yields {name: float32 (batch_size // process_count, ..., crop)} forever:
  rows `process_index * local : (process_index + 1) * local` of each global
  batch, whose example i is the crop at index `batch * batch_size + i`.
  """
  if batch_size % process_count:
    raise ConfigError(f"config.data.batch_size: {batch_size} does not divide "
                      f"over {process_count} processes")
  local = batch_size // process_count

  def example(n):
    """Where the n-th example of this process lies, from its slice of a global batch."""
    batch, row = n // local, n % local
    index = (start_batch + batch) * batch_size + process_index * local + row
    return {name: c.locate(index) for name, c in croppers.items()}

  def read(where):
    crops = {}
    for name, c in croppers.items():
      crops[name] = tf.numpy_function(c.read, [where[name]], tf.float32, stateful=False)
      crops[name].set_shape((local, *c.shape))
    return crops

  ds = tf.data.Dataset.counter()  # Endless: every epoch is drawn from the index.
  ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local, drop_remainder=True)
  ds = ds.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.prefetch(prefetch)
