"""The vocoder's input: random waveform segments of one domain, and held-out waves.

A segment is `data.segment_frames * hop` samples; the step computes its mel
itself (`step.segment_mel`), so the pairs are aligned by construction. Crops
are drawn statelessly (`jaxvc.data.crops`), so a resumed run and every process
of a multi-host run see exactly the batches of one uninterrupted run.
"""
import numpy as np

from jaxvc import audio
from jaxvc._tf import tf
from jaxvc.data import crops
from jaxvc.data import domains
from jaxvc.errors import ConfigError


def create_train_dataset(config, *, start_batch: int = 0, process_index: int = 0,
                         process_count: int = 1) -> tf.data.Dataset:
  """This process's part of the global batches start_batch, start_batch + 1, ...

  Yields {"wave": float32 (local_batch, segment_frames * hop)} forever.
  """
  cfg = audio.AudioConfig.from_config(config.audio)
  segment = config.data.segment_frames * cfg.hop_length
  waves = _loaded(config, config.data.train_split, domains.wave_store)
  try:
    wave_cropper = crops.cropper(waves, segment, (config.seed, 0))
  except ValueError as e:
    raise ConfigError(f"data.segment_frames: {config.data.segment_frames} frames "
                      f"({segment} samples): {e} of data.domain {config.data.domain!r}") from None
  return crops.global_batches(
      {"wave": wave_cropper}, batch_size=config.data.batch_size, start_batch=start_batch,
      process_index=process_index, process_count=process_count, prefetch=config.data.prefetch)


def domain_waves(config, split: str) -> list[np.ndarray]:
  """Silence-trimmed waves of `data.domain`; a problem is a ConfigError naming the key."""
  return _loaded(config, split, domains.load_waves)


def _loaded(config, split: str, load):
  """`load(data.domain, split, audio settings, config.data)`, its problems as
  ConfigErrors naming the key."""
  cfg = audio.AudioConfig.from_config(config.audio)
  try:
    return load(config.data.domain, split, cfg, config.data)
  except ValueError as e:
    raise ConfigError(f"data.domain (split {split!r}): {e}") from e
