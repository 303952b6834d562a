"""Scores converted speech against parallel targets: MCD, speaker similarity, WER, F0.

  python tools/evaluate.py --converted DIR --target DIR [--source DIR]
      [--transcripts FILE] [--json OUT]

A converted file is matched to the target (and source) file with the same
relative path less its extension, or else to the only file there with the
same name stem; one with no parallel target is reported and skipped. Speaker
similarity compares each converted file with the mean embedding of all of
--target's files (and of --source's). The reference text comes from
--transcripts (TSV lines `relative_path<TAB>text`, matched the same way) or
else from a .txt file beside the target or source wave. All audio is analysed
at 16 kHz. Averages are means over the files that have the figure. Needs the
evaluation extra: pip install -e ".[eval]".
"""
import argparse
import dataclasses
import json
import math
import os
from pathlib import Path, PurePosixPath
import sys

import numpy as np
import soundfile as sf

from jaxvc import audio
from jaxvc import evaluation
from jaxvc import files

SAMPLE_RATE = evaluation.MODEL_RATE
AUDIO_SUFFIXES = frozenset("." + name.lower() for name in sf.available_formats())
# Console table: (heading, figure, format); F0s are shown in Hz.
COLUMNS = [
    ("MCD dB", "mcd_db", "{:.2f}"),
    ("sim tgt", "target_similarity", "{:.3f}"),
    ("sim src", "source_similarity", "{:.3f}"),
    ("WER", "wer", "{:.3f}"),
    ("CER", "cer", "{:.3f}"),
    ("F0 conv", "converted_log_f0_mean", "{:.0f}"),
    ("F0 tgt", "target_log_f0_mean", "{:.0f}"),
    ("F0 src", "source_log_f0_mean", "{:.0f}"),
]


def audio_files(folder: Path) -> dict[str, Path]:
  """The audio files under `folder`, keyed by relative path less extension."""
  paths = sorted(p for p in folder.rglob("*")
                 if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
  return {p.relative_to(folder).with_suffix("").as_posix(): p for p in paths}


def match(key: str, keys) -> str | None:
  """`key` if in `keys`, else the only key with the same stem, else None."""
  if key in keys:
    return key
  stem = PurePosixPath(key).name
  same_stem = [k for k in keys if PurePosixPath(k).name == stem]
  return same_stem[0] if len(same_stem) == 1 else None


def read_transcripts(path: Path) -> dict[str, str]:
  """Texts keyed by relative path less extension, from `relative_path<TAB>text` lines."""
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
    transcripts[PurePosixPath(name.strip()).with_suffix("").as_posix()] = text.strip()
  return transcripts


def sidecar_text(*waves: Path | None) -> str | None:
  """The text of the first .txt file beside one of `waves`, if any."""
  for wave in waves:
    if wave is not None and wave.with_suffix(".txt").is_file():
      return wave.with_suffix(".txt").read_text(encoding="utf-8").strip()
  return None


def skip(skipped: list[str], reason: str) -> None:
  """Records and prints why a file is left out."""
  skipped.append(reason)
  print(f"skipped {reason}")


@dataclasses.dataclass(frozen=True)
class Speaker:
  """A folder of one speaker's utterances, as far as they load."""
  folder: Path
  files: dict[str, Path]         # every audio file, by key (see audio_files)
  waves: dict[str, np.ndarray]   # those that load, at SAMPLE_RATE
  embedding: np.ndarray          # evaluation.speaker_embedding of all the waves


def load_speaker(folder: Path, skipped: list[str]) -> Speaker:
  """Loads every audio file under `folder`; unreadable ones are skipped."""
  files = audio_files(folder)
  waves = {}
  for key, path in files.items():
    try:
      waves[key] = audio.load_audio(path, SAMPLE_RATE)
    except audio.AudioError as e:
      skip(skipped, str(e))
  if not waves:
    raise ValueError(f"{folder}: no readable audio files")
  return Speaker(folder, files, waves,
                 evaluation.speaker_embedding(list(waves.values()), SAMPLE_RATE))


def score_file(path: Path, key: str, target: Speaker, source: Speaker | None,
               transcripts: dict[str, str] | None) -> dict:
  """The figures for one converted file; a ValueError naming it if it has none."""
  target_key = match(key, target.files)
  if target_key is None:
    raise ValueError(f"{path}: no parallel target in {target.folder}")
  if target_key not in target.waves:
    raise ValueError(f"{path}: its target {target.files[target_key]} is unreadable")
  source_key = match(key, source.waves) if source else None
  source_path = source.files[source_key] if source_key else None
  if transcripts is None:
    text = sidecar_text(target.files[target_key], source_path)
  else:
    text = transcripts.get(match(key, transcripts))
  converted = audio.load_audio(path, SAMPLE_RATE)
  try:
    scores = evaluation.utterance_scores(
        converted, target.waves[target_key], SAMPLE_RATE, target_speaker=target.embedding,
        source=source.waves[source_key] if source_key else None,
        source_speaker=source.embedding if source else None, transcript=text)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from None
  return dict(target=target.files[target_key].relative_to(target.folder).as_posix(),
              source=source_path.relative_to(source.folder).as_posix() if source_key else None,
              **scores)


def averages(rows: dict[str, dict]) -> dict[str, float]:
  """Mean of each numeric figure over the rows that have a finite value of it."""
  names = dict.fromkeys(k for row in rows.values() for k, v in row.items()
                        if isinstance(v, float))
  means = {}
  for name in names:
    values = [row[name] for row in rows.values() if math.isfinite(row.get(name, math.nan))]
    if values:
      means[name] = float(np.mean(values))
  return means


def table_line(name: str, scores: dict) -> str:
  """One console table row: `name` and the COLUMNS figures ('-' if absent)."""
  cells = []
  for _, figure, fmt in COLUMNS:
    value = scores.get(figure, math.nan)
    if figure.endswith("log_f0_mean"):
      value = math.exp(value)
    cells.append(fmt.format(value) if math.isfinite(value) else "-")
  return f"{name[:28]:<28}" + "".join(f"{cell:>9}" for cell in cells)


def _json_safe(value):
  """`value` with NaNs replaced by None, recursively, for strict JSON."""
  if isinstance(value, dict):
    return {k: _json_safe(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_json_safe(v) for v in value]
  if isinstance(value, float) and not math.isfinite(value):
    return None
  return value


def write_json(path: Path, report: dict) -> None:
  """Writes `report` to `path` atomically."""
  files.write_text(path, json.dumps(_json_safe(report), indent=2, allow_nan=False) + "\n")


def _folder(value: str) -> Path:
  path = Path(value)
  if not path.is_dir():
    raise argparse.ArgumentTypeError(f"{value}: not a folder")
  return path


def _file(value: str) -> Path:
  path = Path(value)
  if not path.is_file():
    raise argparse.ArgumentTypeError(f"{value}: no such file")
  return path


def evaluate(converted_dir: Path, target_dir: Path, source_dir: Path | None,
             transcripts_file: Path | None) -> dict:
  """The report: per-file figures, skipped files with reasons, averages."""
  converted_files = audio_files(converted_dir)
  if not converted_files:
    raise ValueError(f"{converted_dir}: no audio files")
  transcripts = read_transcripts(transcripts_file) if transcripts_file else None
  skipped = []
  target = load_speaker(target_dir, skipped)
  source = load_speaker(source_dir, skipped) if source_dir else None
  print(f"{'file':<28}" + "".join(f"{heading:>9}" for heading, _, _ in COLUMNS))
  rows = {}
  for key, path in converted_files.items():
    try:
      row = score_file(path, key, target, source, transcripts)
    except ValueError as e:  # the message names the file
      skip(skipped, str(e))
      continue
    name = path.relative_to(converted_dir).as_posix()
    rows[name] = row
    print(table_line(name, row))
  means = averages(rows)
  print(table_line(f"average of {len(rows)}", means))
  return dict(converted=str(converted_dir), target=str(target_dir),
              source=str(source_dir) if source_dir else None,
              transcripts=str(transcripts_file) if transcripts_file else None,
              sample_rate=SAMPLE_RATE, files=rows, skipped=skipped, averages=means)


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--converted", type=_folder, required=True, help="converted audio folder")
  parser.add_argument("--target", type=_folder, required=True,
                      help="parallel target utterances; all of them are the target speaker's references")
  parser.add_argument("--source", type=_folder, help="the source utterances (optional)")
  parser.add_argument("--transcripts", type=_file,
                      help="TSV of relative_path<TAB>text (default: .txt files beside the waves)")
  parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
  args = parser.parse_args(argv)
  try:
    report = evaluate(args.converted, args.target, args.source, args.transcripts)
  except ValueError as e:
    parser.exit(2, f"error: {e}\n")
  if args.json:
    write_json(args.json, report)
  if not report["files"]:
    print("error: no converted file could be evaluated", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
