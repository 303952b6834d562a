"""Stateless random crops for training: every example a pure function of its index.

Every example is a pure function of (seed, source, global example index):
epoch e of a source visits each of its crop slots (an utterance of L frames
or samples holds L // crop of them) once, in an order that `index_shuffle`
draws from (seed, source, e), at an offset in the slot's utterance drawn by a
stateless RNG from (seed, source, index). So resuming at batch k needs no
iterator state, and P processes, each taking its contiguous slice of every
global batch, together yield exactly the single-process batches.

The arrays are held in host memory, concatenated, so a crop is a slice: at
the default audio settings a mel takes 64 kB per second (230 MB per hour of
silence-trimmed audio), a 16 kHz wave the same. A speaker or a genre fits; a
whole corpus of hundreds of hours may not.
"""
from collections.abc import Callable

import numpy as np

from jaxvc._tf import tf
from jaxvc.errors import ConfigError

Cropper = Callable[[tf.Tensor], tf.Tensor]


def cropper(arrays: list[np.ndarray], crop: int, seed: tuple[int, int]) -> Cropper:
  """Global example index -> float32 (..., crop) slice of one of `arrays` along
  their last axis, a pure function of the index and `seed`."""
  lengths = np.array([a.shape[-1] for a in arrays], np.int64)
  if not (lengths >= crop).any():
    raise ValueError(f"no utterance holds a crop of {crop}")
  starts = np.cumsum(lengths) - lengths
  slot_utterance = np.repeat(np.arange(len(arrays)), lengths // crop)
  n_slots = slot_utterance.size
  slot_start = tf.constant(starts[slot_utterance])
  slot_room = tf.constant(lengths[slot_utterance] - crop)  # the largest offset
  values = tf.constant(np.concatenate(arrays, axis=-1), tf.float32)
  lead = [int(d) for d in values.shape[:-1]]
  seed = tf.constant(seed, tf.int64)
  order_seed = tf.random.experimental.stateless_fold_in(seed, 0)
  offset_seed = tf.random.experimental.stateless_fold_in(seed, 1)

  def crop_at(index):
    epoch, position = index // n_slots, index % n_slots
    slot = tf.random.experimental.index_shuffle(
        position, tf.random.experimental.stateless_fold_in(order_seed, epoch),
        tf.constant(n_slots - 1, tf.int64))
    offset = tf.random.stateless_uniform(
        [], tf.random.experimental.stateless_fold_in(offset_seed, index),
        minval=0, maxval=slot_room[slot] + 1, dtype=tf.int64)
    begin = tf.concat([tf.zeros([len(lead)], tf.int64), [slot_start[slot] + offset]], 0)
    return tf.slice(values, begin, [*lead, crop])

  return crop_at


def global_batches(croppers: dict[str, Cropper], *, batch_size: int, start_batch: int = 0,
                   process_index: int = 0, process_count: int = 1,
                   prefetch: int = 4) -> tf.data.Dataset:
  """This process's part of the global batches start_batch, start_batch + 1, ...

  Yields {name: float32 (batch_size // process_count, ..., crop)} forever:
  rows `process_index * local : (process_index + 1) * local` of each global
  batch, whose example i is `crop_at(batch * batch_size + i)`.
  """
  if batch_size % process_count:
    raise ConfigError(f"config.data.batch_size: {batch_size} does not divide "
                      f"over {process_count} processes")
  local = batch_size // process_count

  def example(n):
    """The n-th example of this process, from its slice of a global batch."""
    batch, row = n // local, n % local
    index = (start_batch + batch) * batch_size + process_index * local + row
    return {name: crop_at(index) for name, crop_at in croppers.items()}

  ds = tf.data.Dataset.counter()  # Endless: every epoch is drawn from the index.
  ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local, drop_remainder=True)
  return ds.prefetch(prefetch)
