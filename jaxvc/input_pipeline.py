"""tf.data input pipeline: batches of random mel crops from domains a and b.

Every example is a pure function of (seed, domain, global example index):
epoch e of a domain visits each of its crop slots (an utterance of L frames
holds L // crop of them) once, in an order that `index_shuffle` draws from
(seed, domain, e), at an offset in the slot's utterance drawn by a stateless
RNG from (seed, domain, index). So resuming at batch k needs no iterator
state, and P processes, each taking its contiguous slice of every global
batch, together yield exactly the single-process batches.

A domain's mels are held in host memory, concatenated, so a crop is a slice:
at the default audio settings that is 16000 / 192 frames/s * 192 mels *
4 bytes = 64 kB per second, 230 MB per hour of (silence-trimmed) audio. A
speaker or a genre fits; a whole corpus of hundreds of hours may not.
"""
import numpy as np

from jaxvc import audio
from jaxvc._tf import tf
from jaxvc.config import ConfigError
from jaxvc.data import domains

DOMAINS = ("a", "b")


def create_train_dataset(config, *, start_batch: int = 0, process_index: int = 0,
                         process_count: int = 1) -> tf.data.Dataset:
  """This process's part of the global batches start_batch, start_batch + 1, ...

  Yields {"a": float32 (local_batch, n_mels, crop), "b": ...} forever, with
  local_batch = data.batch_size // process_count and crop = data.chunk_frames
  * data.chunks_per_crop.
  """
  data = config.data
  if data.batch_size % process_count:
    raise ConfigError(f"data.batch_size: {data.batch_size} does not divide "
                      f"over {process_count} processes")
  local_batch = data.batch_size // process_count
  crop = data.chunk_frames * data.chunks_per_crop
  croppers = {
      name: _cropper(_domain_mels(config, name, data.train_split), crop, (config.seed, i))
      for i, name in enumerate(DOMAINS)}

  def example(n):
    """The n-th example of this process, from its slice of a global batch."""
    batch, row = n // local_batch, n % local_batch
    index = (start_batch + batch) * data.batch_size + process_index * local_batch + row
    return {name: crop_at(index) for name, crop_at in croppers.items()}

  ds = tf.data.Dataset.counter()  # Endless: every epoch is drawn from the index.
  ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.batch(local_batch, drop_remainder=True)
  return ds.prefetch(data.prefetch)


def create_eval_mels(config) -> dict[str, list[np.ndarray]]:
  """Held-out utterance mels (data.eval_split) of each domain, whole."""
  return {name: _domain_mels(config, name, config.data.eval_split) for name in DOMAINS}


def _domain_mels(config, name: str, split: str) -> list[np.ndarray]:
  """Mels of domain `name`; any problem with it is a ConfigError naming its key."""
  audio_cfg = audio.AudioConfig.from_config(config.audio)
  key = f"domain_{name}"
  try:
    return domains.load_mels(config.data[key], split, audio_cfg, config.data)
  except ValueError as e:
    raise ConfigError(f"data.{key} (split {split!r}): {e}") from e


def _cropper(mels: list[np.ndarray], crop: int, seed: tuple[int, int]):
  """Global example index -> float32 (n_mels, crop) crop, a pure function of both."""
  lengths = np.array([m.shape[1] for m in mels], np.int64)
  starts = np.cumsum(lengths) - lengths
  slot_utterance = np.repeat(np.arange(len(mels)), lengths // crop)
  n_slots = slot_utterance.size
  slot_start = tf.constant(starts[slot_utterance])
  slot_room = tf.constant(lengths[slot_utterance] - crop)  # the largest offset
  frames = tf.constant(np.concatenate(mels, axis=1), tf.float32)
  n_mels = int(frames.shape[0])
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
    return tf.slice(frames, tf.stack([0, slot_start[slot] + offset]), [n_mels, crop])

  return crop_at
