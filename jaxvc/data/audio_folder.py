"""A folder of audio files (local, or a URL such as gs://): its splits, their files, decoded one at a time.

What a `folder:` or `demo:` domain is before its store (`jaxvc.data.domains`
writes the decoded files straight into it, one at a time, so a folder larger
than memory is fine). Split subfolders `train`, `validation`, `test` each
become a split; without any, every file is in `train`.

A split's files are in a fixed pseudo-random order, by a hash of each file's
relative path: a slice such as the eval carve-out `train[90%:]` is then spread
over the whole folder instead of being one block of similar recordings (the
last names in alphabetical order), it stays the same when files are added
elsewhere, and two parallel folders (the same names) are sliced alike. Slices
are TFDS's syntax and rounding (`train[:90%]`, `train[:10]`, `train+test`),
counted in files, usable or not, so a slice is known before anything is
decoded.

Files that cannot be used are skipped with their reason, and a split's
preparation reports what it found in one line (`Summary`).
"""
import collections
import dataclasses
import hashlib
import time
from typing import NamedTuple

from absl import logging
import numpy as np

from jaxvc import audio
from jaxvc import files
from jaxvc._tf import tf  # noqa: F401  (imported before TFDS, see jaxvc._tf)
import tensorflow_datasets as tfds

SPLIT_FOLDERS = ("train", "validation", "test")
# Shorter files hold no utterance worth converting (a crop is 0.86 s).
MIN_SECONDS = 0.5
# Seconds between progress lines while a split is decoded: a small folder
# prints none, a large one shows it is moving.
PROGRESS_SECONDS = 30.0


class AudioFolderError(ValueError):
  """A folder that gives no domain; the message is '<path>: <reason>'."""


def hash_order(paths) -> list[str]:
  """`paths` (relative, POSIX) in the order of their SHA-256: fixed, and
  unrelated to their names' alphabetical order."""
  return sorted(paths, key=lambda p: (hashlib.sha256(p.encode()).digest(), p))


def list_splits(root) -> dict[str, list[str]]:
  """Split name -> its audio files' paths relative to `root`, in `hash_order`;
  an AudioFolderError for a missing folder or a split without audio files."""
  root = files.location(root)
  if not root.is_dir():
    raise AudioFolderError(f"{root}: audio folder not found")
  folders = {s: root / s for s in SPLIT_FOLDERS if (root / s).is_dir()} or {"train": root}
  splits = {}
  for split, folder in folders.items():
    found = audio.list_audio_files(folder)
    if not found:
      raise AudioFolderError(
          f"{folder}: no audio files ({', '.join(audio.AUDIO_EXTENSIONS)})")
    splits[split] = hash_order(p.relative_to(root).as_posix() for p in found)
  return splits


class _Count(NamedTuple):
  num_examples: int   # all that TFDS's slicing reads of a split's info


def select(root, splits: dict[str, list[str]], spec: str) -> list[str]:
  """The files of `splits` that the split spec `spec` names (`train`,
  `train[90%:]`, `test[:10]`, `train+test`), by TFDS's own parser and rounding;
  an AudioFolderError naming the folder and its splits for any other."""
  try:
    parts = tfds.core.ReadInstruction.from_spec(spec).to_absolute(
        {name: _Count(len(paths)) for name, paths in splits.items()})
  except ValueError as e:
    reason = str(e).splitlines()[-1].split(". See format")[0].rstrip(".")
    if reason.startswith("Unknown split"):
      reason = "no such split"
    have = ", ".join(f"{name} ({len(paths)} files)" for name, paths in splits.items())
    raise AudioFolderError(f"{root}: split {spec!r}: {reason}; the folder's splits are {have}")
  return [path for part in parts for path in splits[part.splitname][part.from_:part.to]]


def fingerprint(root) -> str:
  """Hash of every file's relative path, size and mtime: changes with the content."""
  root = files.location(root)
  digest = hashlib.sha256()
  found = sorted(parent / name for parent, _, names in files.walk(root) for name in names)
  for path in found:
    size, mtime = files.size_and_mtime(path)
    digest.update(f"{path.relative_to(root).as_posix()}\0{size}\0{mtime}\n".encode())
  return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Decoded:
  """A decoded file: its path relative to the folder, float32 mono at the
  rate asked for."""
  path: str
  wave: np.ndarray


@dataclasses.dataclass
class Summary:
  """What a split's preparation reports: real recordings come at several rates,
  clipped, and with files that cannot be used, and a user should see that
  before training on them rather than hear it after.

  `files` holds each file's outcome in the split's order, (path, Source) kept
  or (path, reason) skipped, so that the record of an interrupted preparation
  (`to_json`, kept in its store) can be cut back to the files before the one
  it continues from.
  """
  files: list = dataclasses.field(default_factory=list)

  def kept(self) -> list[tuple[str, audio.Source]]:
    return [(p, o) for p, o in self.files if isinstance(o, audio.Source)]

  def skipped(self) -> list[str]:
    return [o for _, o in self.files if isinstance(o, str)]

  def line(self) -> str:
    """One line: files and minutes kept, rates found, clipped and skipped files by why."""
    kept, skipped = self.kept(), self.skipped()
    rates = collections.Counter(s.sample_rate for _, s in kept)
    clipped = [p for p, s in kept if s.clipped_runs]
    parts = [f"{len(kept)} files, {sum(s.seconds for _, s in kept) / 60:.1f} min",
             f"rates {', '.join(f'{r} Hz x {n}' for r, n in sorted(rates.items())) or 'none'}",
             f"{len(clipped)} clipped"]
    if clipped:
      parts[-1] += f" (e.g. {clipped[0]})"
    if skipped:
      why = collections.Counter(_why(r) for r in skipped)
      parts.append(f"{len(skipped)} skipped: "
                   + ", ".join(f"{w} x {n}" for w, n in sorted(why.items(),
                                                               key=lambda x: (-x[1], x[0]))))
    return "; ".join(parts)

  def to_json(self) -> list:
    return [[p, o] if isinstance(o, str) else [p, *dataclasses.astuple(o)]
            for p, o in self.files]

  @classmethod
  def from_json(cls, saved: list) -> "Summary":
    return cls([(p, o[0]) if len(o) == 1 else (p, audio.Source(*o)) for p, *o in saved])


def _why(reason: str) -> str:
  """The kind of an AudioError's '<path>: <reason> (<detail>)' message."""
  return reason.rpartition(": ")[2].split(" (")[0]


def decode(root, paths: list[str], sample_rate: int, summary: Summary, *, start: int = 0,
           label: str = ""):
  """Yields `Decoded` files of `paths[start:]` at `sample_rate` (resampled
  with soxr), one at a time, skipping those that cannot be used (their
  reasons logged); records every file's outcome in `summary`. A progress line
  (`label: decoded N of M files`) every PROGRESS_SECONDS; an AudioFolderError
  if, at the end, `summary` holds no usable file."""
  root = files.location(root)
  shown = time.monotonic()
  for done in range(start, len(paths)):
    if time.monotonic() - shown >= PROGRESS_SECONDS:
      shown = time.monotonic()
      print(f"{label}: decoded {done} of {len(paths)} files", flush=True)
    try:
      wave, source = audio.read_source(root / paths[done], min_seconds=MIN_SECONDS)
    except audio.AudioError as e:
      logging.warning("Skipping %s", e)
      summary.files.append((paths[done], str(e)))
      continue
    summary.files.append((paths[done], source))
    yield Decoded(paths[done], audio.resample(wave, source.sample_rate, sample_rate))
  if not summary.kept():
    raise AudioFolderError(f"{root}: no usable audio in {label or 'these files'} "
                           f"(all {len(summary.files)} files skipped, reasons logged above)")
