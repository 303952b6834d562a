"""Scores converted speech against parallel targets: MCD, F0, speaker similarity, WER, DNSMOS.

  python tools/evaluate.py --converted DIR --target DIR [--source DIR]
      [--transcripts FILE] [--json OUT]

A converted file is matched to the target (and source) file with the same
relative path less its extension, or else to the only file there with the
same name stem; one with no parallel target is reported and skipped. Speaker
similarity compares each converted file with the mean embedding of all of
--target's files (and of --source's). The reference text comes from
--transcripts (TSV lines `relative_path<TAB>text`, matched the same way) or
else from a .txt file beside the target or source wave. F0 is jaxvc.audio.pitch
(the analysis training and conversion use): against the target, the RMS
error in cents over DTW-aligned frames voiced in both, the correlation of log
F0 over them and the share of aligned frames voiced in one only; and each
wave's mean and median F0. All audio is analysed at 16 kHz. Averages are
means over the files that have the figure. The scoring itself is
`jaxvc.evaluation.scoring`. Needs the evaluation extra: pip install -e ".[eval]".
"""
import argparse
from pathlib import Path
import sys

from jaxvc import files
from jaxvc.data import transcripts as transcript_files
from jaxvc.evaluation import scoring

COLUMNS = ["mcd_db", "f0_rmse_cents", "f0_correlation", "voicing_error", "target_similarity",
           "source_similarity", "wer", "cer", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl",
           "dnsmos_p808", "converted_log_f0_mean", "target_log_f0_mean", "source_log_f0_mean",
           "converted_log_f0_median", "target_log_f0_median"]


def header() -> str:
  return f"{'file':<28}" + "".join(f"{scoring.FIGURES[n].short:>9}" for n in COLUMNS)


def table_line(name: str, scores: dict) -> str:
  """One console table row: `name` and the COLUMNS figures ('–' if absent)."""
  cells = [scoring.FIGURES[n].format(scores.get(n)) for n in COLUMNS]
  return f"{name[:28]:<28}" + "".join(f"{cell:>9}" for cell in cells)


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
  transcripts = transcript_files.read_tsv(transcripts_file) if transcripts_file else None
  skipped = []
  target = scoring.load_speaker(target_dir, skipped)
  source = scoring.load_speaker(source_dir, skipped) if source_dir else None
  print(header())
  scores = scoring.score_folder(converted_dir, target, source, transcripts,
                                on_row=lambda name, row: print(table_line(name, row)))
  for reason in skipped + scores["skipped"]:
    print(f"skipped {reason}")
  print(table_line(f"average of {len(scores['files'])}", scores["averages"]))
  return dict(converted=str(converted_dir), target=str(target_dir),
              source=str(source_dir) if source_dir else None,
              transcripts=str(transcripts_file) if transcripts_file else None,
              sample_rate=scoring.SAMPLE_RATE, files=scores["files"],
              skipped=skipped + scores["skipped"], averages=scores["averages"])


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
    files.write_json(args.json, report)
  if not report["files"]:
    print("error: no converted file could be evaluated", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
