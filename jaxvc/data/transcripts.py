"""What was said in a folder's audio files: a `.txt` beside a file, or a line of a `transcripts.tsv`.

Recordings come with their texts in one of two ways: a `.txt` file with the
audio file's stem beside it (the demo corpus), or one table for many files,
`transcripts.tsv`, in the folder or in a split folder, with lines
`name<TAB>text` where the name is a file's path relative to the table's folder
or its bare stem, with or without its extension (the realspeech corpus's
`keys__rand-0-5-2<TAB>...`). The data layer reads them for a domain
(`domains.load_transcripts`) and the evaluation for scoring (`read_tsv`), so
the format is parsed in one place.
"""
import os
from pathlib import PurePosixPath

from jaxvc import audio

TSV_NAME = "transcripts.tsv"


def without_audio_extension(name: str) -> str:
  """`name` less its extension if that is an audio file's (a stem may hold dots)."""
  stem, extension = os.path.splitext(name)
  return stem if extension.lower() in audio.AUDIO_EXTENSIONS else name


def read_tsv(path) -> dict[str, str]:
  """Texts keyed by name less audio extension, from `name<TAB>text` lines; a
  ValueError naming the file and line for anything else."""
  transcripts = {}
  try:
    lines = path.read_text(encoding="utf-8").splitlines()
  except UnicodeDecodeError:
    raise ValueError(f"{path}: not UTF-8 text") from None
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    name, tab, text = line.partition("\t")
    if not tab or not name.strip() or not text.strip():
      raise ValueError(f"{path}:{number}: expected 'relative_path<TAB>text', got {line!r}")
    transcripts[without_audio_extension(PurePosixPath(name.strip()).as_posix())] = text.strip()
  return transcripts


def sidecar(path) -> str | None:
  """The text of the `.txt` file beside the audio file at `path`, if there is one."""
  text_file = path.with_suffix(".txt")
  return text_file.read_text(encoding="utf-8").strip() if text_file.is_file() else None


def find(root, paths: list[str]) -> dict[str, str]:
  """Relative path -> text for those of the audio files `paths` (relative to
  the folder `root`, an epath or pathlib path) that have one: the `.txt`
  beside the file first, then the `transcripts.tsv` of its first folder (a
  split folder), then the folder's own; in a table, by relative path before
  stem."""
  tables = {}

  def table(folder: str) -> dict[str, str]:
    if folder not in tables:
      path = root / folder / TSV_NAME if folder else root / TSV_NAME
      tables[folder] = read_tsv(path) if path.is_file() else {}
    return tables[folder]

  found = {}
  for relative in paths:
    path = PurePosixPath(relative)
    # (table's folder, the file's path from there): its split folder's, the root's.
    places = [(path.parts[0], PurePosixPath(*path.parts[1:]))] if len(path.parts) > 1 else []
    text = sidecar(root / relative)
    for folder, within in [*places, ("", path)]:
      if text is None:
        texts = table(folder)
        text = texts.get(without_audio_extension(within.as_posix()),
                         texts.get(without_audio_extension(within.name)))
    if text is not None:
      found[relative] = text
  return found
