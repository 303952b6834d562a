"""Scoring folders of converted speech against parallel targets.

A converted file is matched to the target (and source) file with the same
relative path less its extension, or else to the only file there with the
same name stem. Speaker similarity compares each converted file with the mean
embedding of a speaker's reference files. Everything is analysed at 16 kHz.
`FIGURES` names every figure, with its heading and format, for every table
that shows them (tools/evaluate.py, tools/results.py).
"""
import dataclasses
import math
from pathlib import Path, PurePosixPath

import numpy as np

from jaxvc import audio
from jaxvc.data import transcripts as transcript_files
from jaxvc.evaluation import metrics

SAMPLE_RATE = metrics.MODEL_RATE


@dataclasses.dataclass(frozen=True)
class Figure:
  """How a figure is shown: short and long heading, format, better direction."""
  short: str
  heading: str
  fmt: str
  better: str = ""   # "↓" lower is better, "↑" higher is better, "" neither
  # The value is a natural log, shown as what it is the log of: log-F0
  # statistics are averaged as logs (geometric means) but read in Hz.
  log: bool = False

  def format(self, value) -> str:
    """The value as shown ('–' if missing)."""
    if value is None or not math.isfinite(value):
      return "–"
    return self.fmt.format(math.exp(value) if self.log else value)


FIGURES = {
    "mcd_db": Figure("MCD dB", "MCD dB", "{:.2f}", "↓"),
    "f0_rmse_cents": Figure("F0 ¢", "F0 error cents", "{:.0f}", "↓"),
    "f0_correlation": Figure("F0 r", "F0 correlation", "{:.2f}", "↑"),
    "voicing_error": Figure("V err", "voicing error", "{:.0%}", "↓"),
    "target_similarity": Figure("sim tgt", "similarity to target", "{:.3f}", "↑"),
    "source_similarity": Figure("sim src", "similarity to source", "{:.3f}", "↓"),
    "wer": Figure("WER", "WER", "{:.0%}", "↓"),
    "cer": Figure("CER", "CER", "{:.0%}", "↓"),
    "phone_error_rate": Figure("PER", "phone error rate", "{:.0%}", "↓"),
    "dnsmos_sig": Figure("SIG", "DNSMOS SIG", "{:.2f}", "↑"),
    "dnsmos_bak": Figure("BAK", "DNSMOS BAK", "{:.2f}", "↑"),
    "dnsmos_ovrl": Figure("OVRL", "DNSMOS OVRL", "{:.2f}", "↑"),
    "dnsmos_p808": Figure("P.808", "DNSMOS P.808", "{:.2f}", "↑"),
    "converted_log_f0_mean": Figure("F0 conv", "F0 Hz", "{:.0f}", log=True),
    "converted_log_f0_median": Figure("F0 med", "F0 median Hz", "{:.0f}", log=True),
    "target_log_f0_mean": Figure("F0 tgt", "target F0 Hz", "{:.0f}", log=True),
    "target_log_f0_median": Figure("med tgt", "target F0 median Hz", "{:.0f}", log=True),
    "source_log_f0_mean": Figure("F0 src", "source F0 Hz", "{:.0f}", log=True),
}


def files_by_stem(folder: Path) -> dict[str, Path]:
  """The audio files under `folder`, keyed by relative path less extension."""
  return {p.relative_to(folder.absolute()).with_suffix("").as_posix(): p
          for p in audio.list_audio_files(folder)}


def match(key: str, keys) -> str | None:
  """`key` if in `keys`, else the only key with the same stem, else None."""
  if key in keys:
    return key
  stem = PurePosixPath(key).name
  same_stem = [k for k in keys if PurePosixPath(k).name == stem]
  return same_stem[0] if len(same_stem) == 1 else None


def sidecar_text(*waves: Path | None) -> str | None:
  """The text of the first .txt file beside one of `waves`, if any."""
  texts = (transcript_files.sidecar(wave) for wave in waves if wave is not None)
  return next((text for text in texts if text is not None), None)


@dataclasses.dataclass(frozen=True)
class Speaker:
  """A folder of one speaker's utterances, as far as they load."""
  folder: Path
  files: dict[str, Path]         # every audio file, by key (see files_by_stem)
  waves: dict[str, np.ndarray]   # those that load, at SAMPLE_RATE
  embedding: np.ndarray          # metrics.speaker_embedding of the reference waves


def load_speaker(folder: Path, skipped: list[str], reference: Path | None = None) -> Speaker:
  """Loads every audio file under `folder`; unreadable ones are skipped (their
  reasons appended to `skipped`). The embedding is of `reference`'s files if
  given (say the speaker's train split, so that no scored utterance is its own
  reference), else of `folder`'s."""
  def load(files):
    waves = {}
    for key, path in files.items():
      try:
        waves[key] = audio.load_audio(path, SAMPLE_RATE)
      except audio.AudioError as e:
        skipped.append(str(e))
    return waves

  files = files_by_stem(folder)
  waves = load(files)
  if not waves:
    raise ValueError(f"{folder}: no readable audio files")
  references = waves if reference is None else load(files_by_stem(reference))
  if not references:
    raise ValueError(f"{reference}: no readable audio files")
  return Speaker(folder, files, waves,
                 metrics.speaker_embedding(list(references.values()), SAMPLE_RATE))


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
    scores = metrics.utterance_scores(
        converted, target.waves[target_key], SAMPLE_RATE, target_speaker=target.embedding,
        source=source.waves[source_key] if source_key else None,
        source_speaker=source.embedding if source else None, transcript=text)
  except ValueError as e:
    raise ValueError(f"{path}: {e}") from None
  return dict(target=target.files[target_key].relative_to(target.folder.absolute()).as_posix(),
              source=(source_path.relative_to(source.folder.absolute()).as_posix()
                      if source_key else None),
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


def score_folder(converted: Path, target: Speaker, source: Speaker | None,
                 transcripts: dict[str, str] | None, keys=None, on_row=None) -> dict:
  """{"files": per-file figures, "skipped": reasons, "averages"} for the audio
  files under `converted` (only `keys` if given); `on_row(name, row)` is called
  as each file is scored."""
  return _score_each(converted, keys, on_row,
                     lambda key, path: score_file(path, key, target, source, transcripts))


def score_unpaired(folder: Path, target_speaker: np.ndarray, source_speaker: np.ndarray | None,
                   transcripts: dict[str, str] | None = None, keys=None, on_row=None,
                   content=None) -> dict:
  """`score_folder` for speech with no parallel target (two real speakers say
  different things): the figures that need none (similarity to each
  speaker's embedding, DNSMOS, F0), and `content(wave, transcript) -> dict`
  (an intelligibility measure) where `transcripts` has the file's text."""
  def score(key, path):
    wave = audio.load_audio(path, SAMPLE_RATE)
    try:
      row = metrics.utterance_scores(wave, None, SAMPLE_RATE, target_speaker=target_speaker,
                                     source_speaker=source_speaker)
      text = transcripts.get(match(key, transcripts)) if transcripts else None
      if content is not None and text:
        row.update(content(wave, text), transcript=text)
    except ValueError as e:
      raise ValueError(f"{path}: {e}") from None
    return row
  return _score_each(folder, keys, on_row, score)


def _score_each(folder: Path, keys, on_row, score) -> dict:
  """`score(key, path)` of each audio file under `folder` (only `keys` if
  given); a ValueError, which names the file, skips it."""
  found = files_by_stem(folder)
  if not found:
    raise ValueError(f"{folder}: no audio files")
  rows, skipped = {}, []
  for key, path in found.items():
    if keys is not None and key not in keys:
      continue
    try:
      row = score(key, path)
    except ValueError as e:  # the message names the file
      skipped.append(str(e))
      continue
    name = path.relative_to(folder.absolute()).as_posix()
    rows[name] = row
    if on_row:
      on_row(name, row)
  return dict(files=rows, skipped=skipped, averages=averages(rows))
