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

A `demo:` or `folder:` domain is its files, decoded one at a time; a `tfds:`
one is read through TFDS (a catalog dataset's selection and decoding:
`jaxvc.data.catalog`). Mels (and, for the vocoder, trimmed waves) are
prepared once per (spec, split, the folder's content or the dataset's
version, audio settings, top_db) straight from them into a store on disk
(`jaxvc.data.store`), so restarting a run costs no decoding and no STFTs, and
training reads crops from disk: a domain need not fit in memory. Each
utterance is stored under its file's relative path, so an interrupted
preparation continues after the last file it stored, even where files were
skipped, and gives the same store.
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
from jaxvc import files
from jaxvc._tf import tf  # noqa: F401  (imported before TFDS, see jaxvc._tf)
from jaxvc.errors import ConfigError
from jaxvc.data import audio_folder
from jaxvc.data import catalog
from jaxvc.data import demo
from jaxvc.data import store
from jaxvc.data import transcripts
from jaxvc.data.specs import Domain
from jaxvc.data.specs import parse
import tensorflow_datasets as tfds

_CACHE_VERSION = 3   # bump when the cached mels or waves change meaning
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
  utterances = _Source.of(spec, data_cfg.cache_dir).utterances(split, audio_cfg, data_cfg.top_db)
  waves = [wave for _, wave in itertools.islice(utterances, limit)]
  _report(spec, split, len(waves), sum(w.size for w in waves) / audio_cfg.sample_rate, "waves")
  return waves


def load_named_waves(spec: str, split: str, audio_cfg: audio.AudioConfig,
                     data_cfg) -> dict[str, np.ndarray] | None:
  """`load_waves` keyed by each file's path in its folder (`test/0270.wav`), so
  that two domains' parallel utterances, files of the same name, can be paired;
  None for a TFDS catalog dataset, whose examples share no names across domains."""
  source = _Source.of(spec, data_cfg.cache_dir)
  if source.root is None:
    return None
  waves = dict(source.utterances(split, audio_cfg, data_cfg.top_db))
  _report(spec, split, len(waves), sum(w.size for w in waves.values()) / audio_cfg.sample_rate,
          "waves")
  return waves


def load_transcripts(spec: str, split: str, data_cfg) -> dict[str, str]:
  """The split's transcripts keyed like `load_named_waves` (`jaxvc.data.transcripts`:
  a `.txt` beside a file, or a line of a `transcripts.tsv`); only the files
  that have one, and none for a TFDS catalog dataset."""
  source = _Source.of(spec, data_cfg.cache_dir)
  if source.root is None:
    return {}
  return transcripts.find(source.root, source.files(split))


def _report(spec: str, split: str, count: int, seconds: float, what: str) -> None:
  """The one console line of a loaded domain split."""
  print(f"data: {spec} {split}: {count} utterances, {seconds / 60:.1f} min ({what})",
        flush=True)


def mel_store(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> store.Store:
  """The split's normalised mels (n_mels, frames) on disk (`jaxvc.data.store`),
  computed on first use and cached per (spec, split, content, audio settings, top_db)."""
  source = _Source.of(spec, data_cfg.cache_dir)
  key = [_CACHE_VERSION, spec, split, source.version(), dataclasses.asdict(audio_cfg),
         data_cfg.top_db]

  def mels(utterances):
    for block in _blocks(utterances, _BLOCK_SAMPLES):
      names, waves = zip(*block)
      yield from zip(names, audio.waves_to_mels(list(waves), audio_cfg))

  return _cached_store("mels", key, mels, source, split, audio_cfg, data_cfg,
                       audio_cfg.sample_rate / audio_cfg.hop_length)


def wave_store(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> store.Store:
  """The split's waves through the front-end on disk (`jaxvc.data.store`), for
  training crops of a domain of any size; cached like `mel_store`."""
  source = _Source.of(spec, data_cfg.cache_dir)
  key = [_CACHE_VERSION, spec, split, source.version(), audio_cfg.sample_rate,
         data_cfg.top_db, audio_cfg.loudness_lufs]
  return _cached_store("waves", key, lambda utterances: utterances, source, split, audio_cfg,
                       data_cfg, audio_cfg.sample_rate)


def load_mels(spec: str, split: str, audio_cfg: audio.AudioConfig, data_cfg) -> list[np.ndarray]:
  """The split's mels in memory (`mel_store`'s): for held-out splits, which are
  converted whole (MelGAN-VC fits them to its crop: `melganvc.input_pipeline`)."""
  mels = mel_store(spec, split, audio_cfg, data_cfg)
  return [mels[i] for i in range(len(mels))]


def _cached_store(kind: str, key: list, to_arrays, source: "_Source", split: str,
                  audio_cfg: audio.AudioConfig, data_cfg, steps_per_second: float) -> store.Store:
  """The store under the cache's `kind/<hash of key>/`, written from
  `to_arrays` of the split's (name, wave) utterances if it is not complete,
  continuing an interrupted preparation. One console line a shard, and for a
  folder the split's `audio_folder.Summary` once prepared."""
  spec = source.spec
  digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]
  path = caches.cache_root(data_cfg.cache_dir) / kind / digest
  cached = store.is_complete(path)
  if cached:
    prepared = store.Store(path)
  else:
    summary = audio_folder.Summary()
    writer = store.Writer(path, data_cfg.shard_mb * 2**20, meta=summary.to_json)
    if writer.done:
      print(f"data: {spec} {split}: continuing an interrupted preparation after "
            f"{writer.done} utterances", flush=True)
    utterances = source.utterances(split, audio_cfg, data_cfg.top_db, stored=writer.names,
                                   summary=summary, saved=writer.saved_meta)
    for name, array in to_arrays(utterances):
      if writer.add(array, name) is not None:
        print(f"data: {spec} {split}: {writer.done} utterances, "
              f"{writer.steps / steps_per_second / 60:.1f} min of {kind} prepared so far",
              flush=True)
    prepared = writer.finish()
    if source.root is not None:
      print(f"data: {spec} {split}: {summary.line()}", flush=True)
  _report(spec, split, len(prepared), prepared.lengths.sum() / steps_per_second,
          f"{kind} from the cache" if cached else f"{kind} computed and cached")
  return prepared


def _blocks(utterances, max_samples: int):
  """Lists of consecutive (name, wave) of at most `max_samples` in all (or one longer wave)."""
  block, samples = [], 0
  for name, wave in utterances:
    if block and samples + wave.size > max_samples:
      yield block
      block, samples = [], 0
    block.append((name, wave))
    samples += wave.size
  if block:
    yield block


# Waves are read once (and their mels cached by jaxvc), so TFDS's in-memory
# cache of small datasets only costs memory, and warns whenever a reader stops
# after the first `limit` examples.
_READ_ONCE = tfds.ReadConfig(try_autocache=False)


def _front_end(wave: np.ndarray, audio_cfg: audio.AudioConfig, top_db: float) -> np.ndarray:
  return audio.front_end(wave, audio_cfg.sample_rate, top_db=top_db,
                         loudness_lufs=audio_cfg.loudness_lufs)


@dataclasses.dataclass(frozen=True)
class _Source:
  """Where a domain's audio comes from: a folder (`demo:`, `folder:`; `root`)
  or a TFDS catalog dataset (`tfds:`; `builder`)."""
  spec: str
  domain: Domain
  root: object = None      # an epath.Path
  builder: object = None   # a tfds.core.DatasetBuilder

  @classmethod
  def of(cls, spec: str, cache_dir: str) -> "_Source":
    domain = parse(spec)
    if domain.kind == "tfds":
      _quiet_tfds()
      return cls(spec, domain, builder=catalog.find_builder(domain.name))
    if domain.kind == "demo":
      corpus = demo.ensure_demo_corpus(cache_dir)
      voices = sorted(p.name for p in corpus.iterdir() if p.is_dir())
      if domain.name not in voices:
        raise ConfigError(f"domain 'demo:{domain.name}': no such demo voice; "
                          f"the demo voices are {', '.join(voices)}")
      return cls(spec, domain, root=files.location(corpus / domain.name))
    return cls(spec, domain, root=files.location(domain.name))   # local, or a URL (gs://...)

  def version(self) -> str:
    """What changes when the audio does: the folder's content fingerprint, the
    dataset's name and version."""
    if self.root is None:
      return self.builder.info.full_name
    return audio_folder.fingerprint(self.root)

  def files(self, split: str) -> list[str]:
    """A folder's files in `split` (a spec such as `train[90%:]`), relative, in order."""
    return audio_folder.select(self.root, audio_folder.list_splits(self.root), split)

  def utterances(self, split: str, audio_cfg: audio.AudioConfig, top_db: float, *,
                 stored: list[str] = (), summary: audio_folder.Summary | None = None,
                 saved: list | None = None):
    """Yields the split's (name, wave through the front-end) after the `stored`
    ones (a partial store's names), one at a time: a folder's file decoded (its
    outcome added to `summary`, which starts as the `saved` record of the
    files before the first one decoded), a catalog example ("" for its name)."""
    if self.root is None:
      waves = catalog.waves(self.spec, self.domain, self.builder, split,
                            audio_cfg.sample_rate, _READ_ONCE)
      named = (("", wave) for wave in itertools.islice(waves, len(stored), None))
    else:
      paths = self.files(split)
      start = paths.index(stored[-1]) + 1 if stored else 0
      summary = summary if summary is not None else audio_folder.Summary()
      summary.files[:] = audio_folder.Summary.from_json(saved or []).files[:start]
      named = ((d.path, d.wave) for d in audio_folder.decode(
          self.root, paths, audio_cfg.sample_rate, summary, start=start,
          label=f"data: {self.spec} {split}"))
    return ((name, _front_end(wave, audio_cfg, top_db)) for name, wave in named)
