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

Every kind goes through TFDS (a catalog dataset's selection and decoding:
`jaxvc.data.catalog`). Mels (and, for the vocoder, trimmed waves) are
prepared once per (spec, split, audio settings, top_db) into a store on disk
(`jaxvc.data.store`), so restarting a run costs no STFTs and training reads
crops from disk: a domain need not fit in memory.
"""
import dataclasses
import functools
import hashlib
import itertools
import json
import logging as std_logging

import numpy as np

from jaxvc import audio
from jaxvc import caches
from jaxvc._tf import tf  # noqa: F401  (imported before TFDS, see jaxvc._tf)
from jaxvc.errors import ConfigError
from jaxvc.data import audio_folder
from jaxvc.data import catalog
from jaxvc.data import demo
from jaxvc.data import store
from jaxvc.data.specs import Domain
from jaxvc.data.specs import parse
import tensorflow_datasets as tfds

_CACHE_VERSION = 2   # bump when the cached mels or waves change meaning
_BLOCK_SAMPLES = 2**24   # samples of waves whose mels are computed at once (17 min at 16 kHz)


class _QuietTfds(std_logging.Filter):
  """Drops TFDS's own warnings and notes (custom data configurations, variant
  folders, its internal deprecations): nothing a jaxvc user can act on.
  Errors, and jaxvc's own warnings (a skipped file), still show."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    return record.levelno >= std_logging.ERROR or "tensorflow_datasets" not in record.pathname


@functools.cache
def _quiet_tfds() -> None:
  """TFDS without its progress bars and notes, from the first domain loaded on:
  set when TFDS is first used rather than at import, so importing jaxvc changes
  no logging of the importing program's."""
  std_logging.getLogger("absl").addFilter(_QuietTfds())
  tfds.display_progress_bar(False)


def load_waves(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg,
               limit: int | None = None) -> list[np.ndarray]:
  """Float32 mono waves at audio_cfg.sample_rate through the front-end
  (`audio.front_end`: silence trimmed by data_cfg.top_db, loudness brought to
  audio_cfg.loudness_lufs); only the first `limit` if given (the rest are not read)."""
  domain = parse(spec)
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  waves = list(_front_end_waves(spec, domain, builder, split, audio_cfg, data_cfg.top_db,
                                limit))
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
  waves = {ex["path"].decode(): _front_end(ex["audio"], audio_cfg, data_cfg.top_db)
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
    waves = _front_end_waves(spec, domain, builder, split, audio_cfg, data_cfg.top_db,
                             skip=skip)
    for block in _blocks(waves, _BLOCK_SAMPLES):
      yield from audio.waves_to_mels(block, audio_cfg)

  return _cached_store("mels", key, mels, spec, split, data_cfg,
                       audio_cfg.sample_rate / audio_cfg.hop_length)


def wave_store(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> store.Store:
  """The split's waves through the front-end on disk (`jaxvc.data.store`), for
  training crops of a domain of any size; cached like `mel_store`."""
  domain = parse(spec)
  builder = _prepared_builder(domain, audio_cfg.sample_rate, data_cfg.cache_dir)
  key = [_CACHE_VERSION, spec, split, builder.info.full_name, audio_cfg.sample_rate,
         data_cfg.top_db, audio_cfg.loudness_lufs]

  def waves(skip):
    return _front_end_waves(spec, domain, builder, split, audio_cfg, data_cfg.top_db,
                            skip=skip)

  return _cached_store("waves", key, waves, spec, split, data_cfg, audio_cfg.sample_rate)


def load_mels(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> list[np.ndarray]:
  """The split's mels in memory (`mel_store`'s): for held-out splits, which are
  converted whole (MelGAN-VC fits them to its crop: `melganvc.input_pipeline`)."""
  mels = mel_store(spec, split, audio_cfg, data_cfg)
  return [mels[i] for i in range(len(mels))]


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


def _prepared_builder(domain: Domain, sample_rate: int, cache_dir: str):
  """The TFDS builder holding the domain's audio, prepared."""
  _quiet_tfds()
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
    return catalog.find_builder(domain.name)
  return audio_folder.prepare(root, sample_rate, caches.cache_root(cache_dir))


# Waves are read once (and their mels cached by jaxvc), so TFDS's in-memory
# cache of small datasets only costs memory, and warns whenever a reader stops
# after the first `limit` examples.
_READ_ONCE = tfds.ReadConfig(try_autocache=False)


def _front_end(wave: np.ndarray, audio_cfg: audio.AudioConfig, top_db: float) -> np.ndarray:
  return audio.front_end(wave, audio_cfg.sample_rate, top_db=top_db,
                         loudness_lufs=audio_cfg.loudness_lufs)


def _front_end_waves(spec: str, domain: Domain, builder, split: str,
                     audio_cfg: audio.AudioConfig, top_db: float, limit: int | None = None,
                     skip: int = 0):
  """Yields the split's waves through the front-end, from the `skip`-th (the
  ones before it are read, not processed), the first `limit` if given."""
  if domain.kind == "tfds":
    waves = catalog.waves(spec, domain, builder, split, audio_cfg.sample_rate, _READ_ONCE)
  else:
    waves = (ex["audio"] for ex in _folder_examples(builder, split))
  stop = None if limit is None else skip + limit
  return (_front_end(w, audio_cfg, top_db) for w in itertools.islice(waves, skip, stop))


def _folder_examples(builder, split: str):
  """The examples of a `demo:` or `folder:` domain's split (jaxvc.data.audio_folder)."""
  return tfds.as_numpy(builder.as_dataset(split=split, read_config=_READ_ONCE))
