"""A folder of audio files (local, or a URL such as gs://) as a prepared TFDS dataset.

So that the demo corpus and a user's own recordings take the same path as TFDS
catalog datasets: decoded once (mono, resampled) into TFDS records under the
cache, then read with `as_dataset`, split slicing such as `train[:95%]`
included. Files that cannot be used are skipped with their reason at
preparation time, so training never meets them. Decoding a large folder takes
long, so it is done in batches kept on disk until TFDS has written the
dataset: a preparation that is interrupted resumes after its last whole batch.
"""
import collections
import contextlib
import dataclasses
import hashlib
import io
from pathlib import Path
import shutil
import sys
import time

from absl import logging
from etils import epath
import numpy as np

from jaxvc import audio
from jaxvc import files
from jaxvc._tf import tf  # noqa: F401  (imported before TFDS, see jaxvc._tf)
import tensorflow_datasets as tfds

SPLIT_FOLDERS = ("train", "validation", "test")
# Shorter files hold no utterance worth converting (a crop is 0.86 s).
MIN_SECONDS = 0.5
# Seconds between progress lines while a folder is decoded: a small folder
# prints none, a large one shows it is moving.
PROGRESS_SECONDS = 30.0
# Files decoded between the checkpoints of a preparation: an interrupted one
# resumes after the last whole batch instead of from the first file.
RESUME_BATCH = 64
# What a saved batch holds; batches of another format (an older jaxvc's
# interrupted preparation) are decoded again, not read.
DECODED_FORMAT = 2


class AudioFolderError(ValueError):
  """A folder that gives no dataset; the message is '<path>: <reason>'."""


@dataclasses.dataclass(eq=False)
class AudioFolderConfig(tfds.core.BuilderConfig):
  """One folder at one sample rate; `name` is the folder's content fingerprint."""
  root: str = ""
  sample_rate: int = 16000


class AudioFolder(tfds.core.GeneratorBasedBuilder):
  """Audio files found recursively under a folder, with optional transcripts.

  Split subfolders `train`, `validation`, `test` each become a split;
  without any, every file is in `train`. A transcript is the `.txt` file next
  to the audio file with the same stem.
  """
  VERSION = tfds.core.Version("1.0.0")
  # No checksums or metadata files live beside this code. Saying so also keeps
  # TFDS from probing `importlib_resources`, which it uses but does not
  # declare as a dependency on Python >= 3.9.
  code_path = None

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        description=f"Audio files under {self.builder_config.root}.",
        features=tfds.features.FeaturesDict({
            "audio": tfds.features.Audio(
                shape=(None,), dtype=np.float32,
                sample_rate=self.builder_config.sample_rate),
            "path": tfds.features.Text(),        # relative to the folder
            "transcript": tfds.features.Text(),  # "" without a .txt file
        }),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    root = files.location(self.builder_config.root)
    return {split: self._generate_examples(root, split, paths)
            for split, paths in _split_files(root).items()}

  # Where progress lines go: `prepare` sets its caller's console, since TFDS's
  # own output is swallowed around the preparation.
  console = None
  # Where `prepare` keeps the decoded batches until TFDS has written them all.
  decoded_dir = None

  def _generate_examples(self, root: epath.Path, split: str, paths: list[epath.Path]):
    summary = Summary()
    batches = [(start, Path(self.decoded_dir) / split / f"{start:08d}.npz")
               for start in range(0, len(paths), RESUME_BATCH)]
    resumed = sum(len(paths[start:start + RESUME_BATCH])
                  for start, batch_file in batches if batch_file.exists())
    if resumed:
      print(f"audio folder {root}: {split}: resuming, {resumed} of {len(paths)} files "
            "decoded before", file=self.console, flush=True)
    shown = time.monotonic()
    for start, batch_file in batches:
      if batch_file.exists():
        examples, reasons = _read_batch(batch_file)
      else:
        examples, reasons = [], []
        for done, file in enumerate(paths[start:start + RESUME_BATCH], start):
          if time.monotonic() - shown >= PROGRESS_SECONDS:
            shown = time.monotonic()
            print(f"audio folder {root}: {split}: decoded {done} of {len(paths)} files",
                  file=self.console, flush=True)
          try:
            wave, source = audio.read_source(file, min_seconds=MIN_SECONDS)
          except audio.AudioError as e:
            reasons.append(str(e))
            continue
          transcript = file.with_suffix(".txt")
          examples.append(Decoded(
              file.relative_to(root).as_posix(),
              audio.resample(wave, source.sample_rate, self.builder_config.sample_rate),
              transcript.read_text().strip() if transcript.is_file() else "", source))
        _write_batch(batch_file, examples, reasons)
      for reason in reasons:
        logging.warning("Skipping %s", reason)
      summary.add(examples, reasons)
      for example in examples:
        yield example.path, {"audio": example.wave, "path": example.path,
                             "transcript": example.transcript}
    print(f"audio folder {root}: {split}: {summary.line()}", file=self.console, flush=True)
    if summary.skipped:
      logging.warning("%s split %s: skipped %d of %d files (reasons above).",
                      root, split, len(summary.skipped), len(summary.skipped) + summary.kept)
    if not summary.kept:
      raise AudioFolderError(
          f"{root}: no usable audio in split {split!r} "
          f"(all {len(summary.skipped)} files skipped, reasons logged above)")


@dataclasses.dataclass(frozen=True)
class Decoded:
  """A decoded file: its path relative to the folder, float32 mono at the
  folder's rate, its transcript ("" without one) and what the file was."""
  path: str
  wave: np.ndarray
  transcript: str
  source: audio.Source


@dataclasses.dataclass
class Summary:
  """What a split's preparation reports: real recordings come at several rates,
  clipped, and with files that cannot be used, and a user should see that
  before training on them rather than hear it after."""
  kept: int = 0
  seconds: float = 0.0
  rates: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  clipped: list = dataclasses.field(default_factory=list)
  skipped: list = dataclasses.field(default_factory=list)

  def add(self, examples: list[Decoded], reasons: list[str]) -> None:
    self.kept += len(examples)
    self.seconds += sum(e.source.seconds for e in examples)
    self.rates.update(e.source.sample_rate for e in examples)
    self.clipped += [e.path for e in examples if e.source.clipped_runs]
    self.skipped += reasons

  def line(self) -> str:
    """One line: files and minutes kept, rates found, clipped and skipped files by why."""
    rates = ", ".join(f"{r} Hz x {n}" for r, n in sorted(self.rates.items()))
    parts = [f"{self.kept} files, {self.seconds / 60:.1f} min", f"rates {rates or 'none'}",
             f"{len(self.clipped)} clipped"]
    if self.clipped:
      parts[-1] += f" (e.g. {self.clipped[0]})"
    if self.skipped:
      why = collections.Counter(_why(r) for r in self.skipped)
      parts.append(f"{len(self.skipped)} skipped: "
                   + ", ".join(f"{w} x {n}" for w, n in sorted(why.items(),
                                                               key=lambda x: (-x[1], x[0]))))
    return "; ".join(parts)


def _why(reason: str) -> str:
  """The kind of an AudioError's '<path>: <reason> (<detail>)' message."""
  return reason.rpartition(": ")[2].split(" (")[0]


def _write_batch(path: Path, examples: list[Decoded], reasons: list[str]) -> None:
  """Saves a batch of decoded files and the reasons its other files were
  skipped, atomically."""
  waves = [e.wave for e in examples]
  sources = [dataclasses.astuple(e.source) for e in examples]
  with files.atomic_path(path) as tmp, open(tmp, "wb") as f:
    np.savez(f, paths=np.array([e.path for e in examples], dtype=str),
             transcripts=np.array([e.transcript for e in examples], dtype=str),
             lengths=np.array([len(w) for w in waves], dtype=np.int64),
             waves=np.concatenate(waves) if waves else np.zeros(0, np.float32),
             sources=np.array(sources, dtype=np.float64).reshape(len(sources), 4),
             skipped=np.array(reasons, dtype=str))


def _read_batch(path: Path) -> tuple[list[Decoded], list[str]]:
  """What `_write_batch` saved at `path`."""
  with np.load(path) as saved:
    waves = np.split(saved["waves"], np.cumsum(saved["lengths"])[:-1])
    sources = [audio.Source(int(rate), int(channels), float(seconds), int(clipped))
               for rate, channels, seconds, clipped in saved["sources"]]
    return ([Decoded(*fields) for fields in zip(saved["paths"].tolist(), waves,
                                                saved["transcripts"].tolist(), sources)],
            saved["skipped"].tolist())


def _split_files(root: epath.Path) -> dict[str, list[epath.Path]]:
  """Split name -> sorted audio files; raises AudioFolderError if any is empty."""
  folders = {s: root / s for s in SPLIT_FOLDERS if (root / s).is_dir()} or {"train": root}
  splits = {}
  for split, folder in folders.items():
    found = audio.list_audio_files(folder)
    if not found:
      raise AudioFolderError(
          f"{folder}: no audio files ({', '.join(audio.AUDIO_EXTENSIONS)})")
    splits[split] = found
  return splits


def _fingerprint(root: epath.Path) -> str:
  """Hash of every file's relative path, size and mtime: changes with the content."""
  digest = hashlib.sha256()
  found = sorted(parent / name for parent, _, names in files.walk(root) for name in names)
  for path in found:
    size, mtime = files.size_and_mtime(path)
    digest.update(f"{path.relative_to(root).as_posix()}\0{size}\0{mtime}\n".encode())
  return digest.hexdigest()[:16]


def prepare(root, sample_rate: int, cache_dir) -> AudioFolder:
  """The prepared dataset of `root` at `sample_rate`, built on first use.

  Lives under `cache_dir/audio_folder/<hash of absolute path and rate>/` and
  is rebuilt (replacing the stale build) when the folder's content changes.
  """
  root = files.location(root)
  if not root.is_dir():
    raise AudioFolderError(f"{root}: audio folder not found")
  key = hashlib.sha256(f"{root}\0{sample_rate}".encode()).hexdigest()[:16]
  data_dir = Path(cache_dir) / "audio_folder" / key
  config = AudioFolderConfig(
      name=f"content_{_fingerprint(root)}", root=str(root), sample_rate=sample_rate)
  builder = AudioFolder(config=config, data_dir=data_dir)
  builder.console = sys.stdout
  builder.decoded_dir = data_dir / "decoding" / f"{config.name}-{DECODED_FORMAT}"
  if not builder.is_prepared():
    # TFDS prints its own progress and paths on stdout; the one line below
    # says what a user needs.
    with contextlib.redirect_stdout(io.StringIO()):
      builder.download_and_prepare(
          download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    counts = ", ".join(f"{name} {split.num_examples}"
                       for name, split in sorted(builder.info.splits.items()))
    print(f"audio folder {root}: prepared ({counts} files)", flush=True)
    shutil.rmtree(data_dir / "decoding", ignore_errors=True)   # this build's and stale ones
    builds = Path(builder.data_dir).parent.parent  # data_dir/audio_folder/
    for stale in builds.iterdir():
      if stale.is_dir() and stale.name != config.name:
        shutil.rmtree(stale, ignore_errors=True)
  return builder
