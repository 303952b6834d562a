"""MelGAN-VC's input: random mel crops of domains a and b, and held-out mels.

Crops are `data.chunk_frames * data.chunks_per_crop` frames wide (what the
critic judges), drawn statelessly (`jaxvc.data.crops`), so a resumed run and
every process of a multi-host run see exactly the batches of one uninterrupted
single-process run. Held-out utterances shorter than one crop are padded
with silence or skipped (`fit_to_crop`, per data.short_utterances).
"""
from absl import logging
import numpy as np

from jaxvc import audio
from jaxvc._tf import tf
from jaxvc.data import crops
from jaxvc.data import domains
from jaxvc.data.specs import SHORT_UTTERANCES
from jaxvc.errors import ConfigError

DOMAINS = ("a", "b")


def create_train_dataset(config, *, start_batch: int = 0, process_index: int = 0,
                         process_count: int = 1) -> tf.data.Dataset:
  """This process's part of the global batches start_batch, start_batch + 1, ...

  Yields {"a": float32 (local_batch, n_mels, crop), "b": ...} forever, with
  local_batch = data.batch_size // process_count.
  """
  data = config.data
  crop = data.chunk_frames * data.chunks_per_crop
  fill = audio.SILENCE if data.short_utterances == "pad" else None
  croppers = {}
  for i, name in enumerate(DOMAINS):
    mels = _loaded(config, name, data.train_split, domains.mel_store)
    try:
      croppers[name] = crops.cropper(mels, crop, (config.seed, i), fill)
    except ValueError:
      raise ConfigError(f"data.domain_{name}: every utterance of split {data.train_split!r} "
                        f"is shorter than one crop ({crop} frames); use "
                        f"data.short_utterances='pad'") from None
  return crops.global_batches(
      croppers, batch_size=data.batch_size, start_batch=start_batch,
      process_index=process_index, process_count=process_count, prefetch=data.prefetch)


def create_eval_mels(config) -> dict[str, list[np.ndarray]]:
  """Held-out utterance mels (data.eval_split) of each domain, whole."""
  return {name: domain_mels(config, name, config.data.eval_split) for name in DOMAINS}


def domain_waves(config, name: str, split: str, limit: int | None = None) -> list[np.ndarray]:
  """Silence-trimmed waves of domain `name` (the first `limit`, if given); a
  problem is a ConfigError naming its key."""
  return _loaded(config, name, split,
                 lambda *args: domains.load_waves(*args, limit=limit))


def domain_named_waves(config, name: str, split: str) -> dict[str, np.ndarray] | None:
  """`domain_waves` by file name (`domains.load_named_waves`); None for TFDS catalogs."""
  return _loaded(config, name, split, domains.load_named_waves)


def domain_transcripts(config, name: str, split: str) -> dict[str, str]:
  """What the files of domain `name` say, keyed like `domain_named_waves`
  (`domains.load_transcripts`); only the files that have a transcript."""
  return _loaded(config, name, split,
                 lambda spec, split, _, data: domains.load_transcripts(spec, split, data))


def domain_mels(config, name: str, split: str) -> list[np.ndarray]:
  """Mels of domain `name`, each at least one crop long (`fit_to_crop`); any
  problem with it is a ConfigError naming its key."""
  return _loaded(config, name, split, _crop_fitted_mels)


def _crop_fitted_mels(spec: str, split: str, audio_cfg: audio.AudioConfig,
                      data_cfg) -> list[np.ndarray]:
  return fit_to_crop(domains.load_mels(spec, split, audio_cfg, data_cfg), data_cfg, spec)


def fit_to_crop(mels: list[np.ndarray], data_cfg, spec: str) -> list[np.ndarray]:
  """Pads with silence (-1) or drops the mels shorter than one crop
  (data_cfg.chunk_frames * chunks_per_crop frames), per data_cfg.short_utterances."""
  crop = data_cfg.chunk_frames * data_cfg.chunks_per_crop
  policy = data_cfg.short_utterances
  if policy not in SHORT_UTTERANCES:
    raise ConfigError(f"data.short_utterances: must be "
                      f"{' or '.join(map(repr, SHORT_UTTERANCES))}, got {policy!r}")
  n_short = sum(m.shape[1] < crop for m in mels)
  if not n_short:
    return mels
  logging.info("%s: %s %d of %d utterances shorter than one crop (%d frames).",
               spec, "padded" if policy == "pad" else "skipped", n_short, len(mels), crop)
  if policy == "skip":
    mels = [m for m in mels if m.shape[1] >= crop]
    if not mels:
      raise ConfigError(f"domain {spec!r}: every utterance is shorter than one crop "
                        f"({crop} frames); use data.short_utterances='pad'")
    return mels
  return [np.pad(m, ((0, 0), (0, crop - m.shape[1])), constant_values=audio.SILENCE)
          if m.shape[1] < crop else m for m in mels]


def _loaded(config, name: str, split: str, load):
  """`load(spec, split, audio settings, config.data)` for domain `name`, its
  problems as ConfigErrors naming the key."""
  audio_cfg = audio.AudioConfig.from_config(config.audio)
  key = f"domain_{name}"
  try:
    return load(config.data[key], split, audio_cfg, config.data)
  except ValueError as e:
    raise ConfigError(f"data.{key} (split {split!r}): {e}") from e
