"""A domain spec (config.data.domain_a, domain_b) -> that domain's utterances.

A domain is one voice, speaker, genre or instrument family:

  demo:NAME                  a voice of the offline demo corpus (jaxvc.data.demo)
  folder:PATH                a folder of audio files, local or a URL such as
                             gs://BUCKET/PATH (jaxvc.data.audio_folder)
  tfds:NAME[:FEATURE=VALUE]  a prepared TFDS catalog dataset with one audio
                             feature, optionally the examples where FEATURE
                             (nested names joined by "_") equals VALUE, e.g.
                             tfds:vctk:speaker=p225, tfds:gtzan:label=jazz,
                             tfds:nsynth:instrument_family=guitar

Every kind goes through TFDS. Mels (and, for the vocoder, trimmed waves) are
prepared once per (spec, split, audio settings, top_db) into a store on disk
(`jaxvc.data.store`), so restarting a run costs no STFTs and training reads
crops from disk: a domain need not fit in memory.
"""
import collections
import dataclasses
import hashlib
import itertools
import json
import logging as std_logging
import os

from absl import logging
import numpy as np

from jaxvc import audio
from jaxvc import caches
from jaxvc import buckets
from jaxvc._tf import tf
from jaxvc.errors import ConfigError
from jaxvc.data import audio_folder
from jaxvc.data import demo
from jaxvc.data import store
from jaxvc.data.specs import Domain
from jaxvc.data.specs import SHORT_UTTERANCES
from jaxvc.data.specs import parse
import tensorflow_datasets as tfds

_CACHE_VERSION = 2   # bump when the cached mels or waves change meaning
_BATCH_SAMPLES = 2**21   # samples per wave_to_mel call, bounding its memory
_MIN_BUCKET = 2**12      # the shortest padded length, in samples
_BLOCK_SAMPLES = 2**24   # samples of waves whose mels are computed at once (17 min at 16 kHz)


class _QuietTfds(std_logging.Filter):
  """Drops TFDS's own warnings and notes (custom data configurations, variant
  folders, its internal deprecations): nothing a jaxvc user can act on.
  Errors, and jaxvc's own warnings (a skipped file), still show."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.ERROR or "tensorflow_datasets" not in record.pathname


std_logging.getLogger("absl").addFilter(_QuietTfds())
tfds.display_progress_bar(False)


def load_waves(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg,
               limit: int | None = None) -> list[np.ndarray]:
  """Float32 mono waves at audio_cfg.sample_rate, silence-trimmed by
  data_cfg.top_db; only the first `limit` if given (the rest are not read)."""
  domain = parse(spec)
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  waves = list(_trimmed_waves(spec, domain, builder, split, audio_cfg.sample_rate,
                              data_cfg.top_db, limit))
  _report(spec, split, len(waves), sum(w.size for w in waves) / audio_cfg.sample_rate, "waves")
  return waves


def load_named_waves(spec: str, split: str, audio_cfg: audio.AudioConfig,
                     data_cfg) -> dict[str, np.ndarray] | None:
  """`load_waves` keyed by each file's path in its folder (`test/0270.wav`), so
  that two domains' parallel utterances, files of the same name, can be paired;
  None for a TFDS catalog dataset, whose examples share no names across domains."""
  domain = parse(spec)
  if domain.kind == "tfds":
    return None
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  waves = {ex["path"].decode(): audio.trim_silence(ex["audio"], data_cfg.top_db)
           for ex in _folder_examples(builder, split)}
  _report(spec, split, len(waves), sum(w.size for w in waves.values()) / audio_cfg.sample_rate,
          "waves")
  return waves


def _report(spec: str, split: str, count: int, seconds: float, what: str) -> None:
  """The one console line of a loaded domain split."""
  print(f"data: {spec} {split}: {count} utterances, {seconds / 60:.1f} min ({what})",
        flush=True)


def mel_store(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> store.Store:
  """The split's normalised mels (n_mels, frames) on disk (`jaxvc.data.store`),
  computed on first use and cached per (spec, split, audio settings, top_db)."""
  domain = parse(spec)
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  key = [_CACHE_VERSION, spec, split, builder.info.full_name,
         dataclasses.asdict(audio_cfg), data_cfg.top_db]

  def mels(skip):
    waves = _trimmed_waves(spec, domain, builder, split, audio_cfg.sample_rate,
                           data_cfg.top_db, skip=skip)
    for block in _blocks(waves, _BLOCK_SAMPLES):
      yield from compute_mels(block, audio_cfg)

  return _cached_store("mels", key, mels, spec, split, data_cfg,
                       audio_cfg.sample_rate / audio_cfg.hop_length)


def wave_store(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> store.Store:
  """The split's silence-trimmed waves on disk (`jaxvc.data.store`), for
  training crops of a domain of any size; cached like `mel_store`."""
  domain = parse(spec)
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  key = [_CACHE_VERSION, spec, split, builder.info.full_name, audio_cfg.sample_rate,
         data_cfg.top_db]

  def waves(skip):
    return _trimmed_waves(spec, domain, builder, split, audio_cfg.sample_rate,
                          data_cfg.top_db, skip=skip)

  return _cached_store("waves", key, waves, spec, split, data_cfg, audio_cfg.sample_rate)


def load_mels(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> list[np.ndarray]:
  """The split's mels in memory (`mel_store`'s), each at least one crop long:
  for held-out splits, which are converted whole.

  A crop is data_cfg.chunk_frames * chunks_per_crop frames; shorter
  utterances are padded with silence (-1) or skipped, per
  data_cfg.short_utterances.
  """
  mels = mel_store(spec, split, audio_cfg, data_cfg)
  return _fit_to_crop([mels[i] for i in range(len(mels))], data_cfg, spec)


def _cached_store(kind: str, key: list, arrays, spec: str, split: str, data_cfg,
                  steps_per_second: float) -> store.Store:
  """The store under the cache's `kind/<hash of key>/`, written from
  `arrays(skip)` (the split's utterances after the first `skip`) if it is not
  complete, continuing an interrupted preparation. One console line a shard."""
  digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]
  path = caches.cache_root(data_cfg.cache_dir) / kind / digest
  cached = store.is_complete(path)
  if cached:
    prepared = store.Store(path)
  else:
    writer = store.Writer(path, data_cfg.shard_mb * 2**20)
    if writer.done:
      print(f"data: {spec} {split}: continuing an interrupted preparation after "
            f"{writer.done} utterances", flush=True)
    for array in arrays(writer.done):
      if writer.add(array) is not None:
        print(f"data: {spec} {split}: {writer.done} utterances, "
              f"{writer.steps / steps_per_second / 60:.1f} min of {kind} prepared so far",
              flush=True)
    prepared = writer.finish()
  _report(spec, split, len(prepared), prepared.lengths.sum() / steps_per_second,
          f"{kind} from the cache" if cached else f"{kind} computed and cached")
  return prepared


def _blocks(waves, max_samples: int):
  """Lists of consecutive waves of at most `max_samples` in all (or one longer wave)."""
  block, samples = [], 0
  for wave in waves:
    if block and samples + wave.size > max_samples:
      yield block
      block, samples = [], 0
    block.append(wave)
    samples += wave.size
  if block:
    yield block


def compute_mels(waves: list[np.ndarray], cfg: audio.AudioConfig) -> list[np.ndarray]:
  """Mels of waves of any lengths, compiling once per length bucket (jaxvc.buckets).

  Each wave is zero-padded to its bucket and the extra frames cut off; the STFT
  pads with zeros too, so the frames kept equal those of the unpadded wave.
  """
  by_length = collections.defaultdict(list)
  for i, wave in enumerate(waves):
    by_length[buckets.bucket(wave.size, _MIN_BUCKET)].append(i)
  mels = [None] * len(waves)
  for length, indices in by_length.items():
    rows = max(1, _BATCH_SAMPLES // length)  # a fixed batch shape per bucket
    for start in range(0, len(indices), rows):
      group = indices[start:start + rows]
      batch = np.zeros((rows, length), np.float32)
      for row, i in enumerate(group):
        batch[row, :waves[i].size] = waves[i]
      out = np.asarray(audio.wave_to_mel(batch, cfg))
      for row, i in enumerate(group):
        mels[i] = out[row, :, :cfg.n_frames(waves[i].size)]
  return mels


def _prepared_builder(domain: Domain, sample_rate: int, cache_dir: str):
  """The TFDS builder holding the domain's audio, prepared."""
  if domain.kind == "demo":
    corpus = demo.ensure_demo_corpus(cache_dir)
    voices = sorted(p.name for p in corpus.iterdir() if p.is_dir())
    if domain.name not in voices:
      raise ConfigError(f"domain 'demo:{domain.name}': no such demo voice; "
                        f"the demo voices are {', '.join(voices)}")
    root = corpus / domain.name
  elif domain.kind == "folder":
    root = domain.name   # a local folder or a URL (gs://...): audio_folder reads both
  else:
    try:
      return tfds.builder(domain.name)
    except tfds.core.registered.DatasetNotFoundError:
      raise ConfigError(f"domain 'tfds:{domain.name}': no TFDS dataset of that name") from None
  return audio_folder.prepare(root, sample_rate, caches.cache_root(cache_dir))


# Waves are read once (and their mels cached by jaxvc), so TFDS's in-memory
# cache of small datasets only costs memory, and warns whenever a reader stops
# after the first `limit` examples.
_READ_ONCE = tfds.ReadConfig(try_autocache=False)


def _trimmed_waves(spec: str, domain: Domain, builder, split: str, sample_rate: int,
                   top_db: float, limit: int | None = None, skip: int = 0):
  """Yields the split's waves, silence-trimmed, from the `skip`-th (the ones
  before it are read, not trimmed), the first `limit` if given."""
  if domain.kind == "tfds":
    waves = _catalog_waves(spec, domain, builder, split, sample_rate)
  else:
    waves = (ex["audio"] for ex in _folder_examples(builder, split))
  stop = None if limit is None else skip + limit
  return (audio.trim_silence(w, top_db) for w in itertools.islice(waves, skip, stop))


def _folder_examples(builder, split: str):
  """The examples of a `demo:` or `folder:` domain's split (jaxvc.data.audio_folder)."""
  return tfds.as_numpy(builder.as_dataset(split=split, read_config=_READ_ONCE))


def _leaf_features(features, prefix=()) -> dict[str, tuple[tuple[str, ...], object]]:
  """Name ("_"-joined path) -> (path, feature) for every non-dict feature."""
  leaves = {}
  for key, feature in features.items():
    path = (*prefix, key)
    if isinstance(feature, tfds.features.FeaturesDict):
      leaves.update(_leaf_features(feature, path))
    else:
      leaves["_".join(path)] = (path, feature)
  return leaves


def _catalog_waves(spec: str, domain: Domain, builder, split: str, sample_rate: int):
  """Yields the selected examples' audio as float32 mono at `sample_rate`."""
  leaves = _leaf_features(builder.info.features)
  audio_names = [n for n, (_, f) in leaves.items() if isinstance(f, tfds.features.Audio)]
  if len(audio_names) != 1:
    raise ConfigError(f"domain {spec!r}: needs exactly one audio feature, "
                      f"the dataset has {audio_names or 'none'}")
  audio_path, audio_feature = leaves[audio_names[0]]
  if not audio_feature.sample_rate:
    raise ConfigError(f"domain {spec!r}: the dataset records no sample rate")
  try:
    examples = builder.as_dataset(split=split, read_config=_READ_ONCE)
  except AssertionError:  # TFDS's way of saying that the data is not there.
    raise ConfigError(
        f"domain {spec!r}: {builder.info.full_name} is not prepared in "
        f"{builder.data_dir_root}; jaxvc never downloads: run `tfds build "
        f"{domain.name}` first") from None
  if domain.feature:
    examples = examples.filter(_selector(spec, domain, leaves, audio_names[0]))
  count = 0
  for example in tfds.as_numpy(examples):
    count += 1
    yield _to_float_mono(_get(example, audio_path), audio_feature.sample_rate, sample_rate)
  if not count:
    raise ConfigError(f"domain {spec!r}: no examples in split {split!r}")


def _selector(spec: str, domain: Domain, leaves: dict, audio_name: str):
  """A tf.data predicate keeping the examples where domain.feature == domain.value."""
  choices = sorted(set(leaves) - {audio_name})
  if domain.feature not in leaves or domain.feature == audio_name:
    raise ConfigError(f"domain {spec!r}: no feature {domain.feature!r} to select on; "
                      f"the features are {', '.join(choices)}")
  path, feature = leaves[domain.feature]
  if feature.shape:
    raise ConfigError(f"domain {spec!r}: cannot select on {domain.feature}, "
                      f"a feature of shape {feature.shape}")
  if isinstance(feature, tfds.features.ClassLabel):
    names = feature.names
    if domain.value in names:
      wanted = names.index(domain.value)
    elif domain.value.isdigit() and int(domain.value) < feature.num_classes:
      wanted = int(domain.value)
    else:
      raise ConfigError(f"domain {spec!r}: {domain.feature} has no class {domain.value!r}; "
                        f"the classes are {', '.join(names)}")
  elif feature.np_dtype.kind in "iu":
    if not domain.value.lstrip("-").isdigit():
      raise ConfigError(f"domain {spec!r}: {domain.feature} is an integer, "
                        f"not {domain.value!r}")
    wanted = int(domain.value)
  elif feature.np_dtype.kind in "OSU":
    wanted = domain.value
  else:
    raise ConfigError(f"domain {spec!r}: cannot select on {domain.feature} "
                      f"({type(feature).__name__} of {feature.np_dtype})")
  return lambda example: tf.equal(_get(example, path), wanted)


def _get(example, path):
  for key in path:
    example = example[key]
  return example


def _to_float_mono(wave: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
  """TFDS audio -> float32 mono; integer samples are 16-bit PCM (TFDS's decoding)."""
  scale = 1 / 32768 if np.issubdtype(wave.dtype, np.integer) else 1.0
  wave = wave.astype(np.float32) * np.float32(scale)
  if wave.ndim == 2:  # (length, channels)
    wave = wave.mean(axis=1)
  return audio.resample(wave, rate, sample_rate)


def _fit_to_crop(mels: list[np.ndarray], data_cfg, spec: str) -> list[np.ndarray]:
  """Pads with silence (-1) or drops the mels shorter than one crop."""
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
