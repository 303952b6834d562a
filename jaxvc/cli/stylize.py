"""`python -m jaxvc.infer stylize`: spectrogram neural style transfer of audio files.

  stylize --content A.wav --style B.wav --output OUT.wav [--config configs/nst.py]
  stylize --manifest PAIRS.csv                           [--config.key=value ...]
  stylize ... --config.representation=mel --vocoder runs/vocoder_demo

A manifest is a CSV or TSV of `content,style,output` rows (an optional header
row, paths relative to the manifest); its pairs are optimized together in one
vmapped program. Each OUT.wav gets OUT.png (content, style and result
spectrograms) and OUT.json (the loss per iteration) beside it.
"""
import argparse
import csv
import json
import os
import sys

from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import plotting
from jaxvc.errors import ConfigError
from jaxvc.nst import transfer

DEFAULT_CONFIG = "nst"   # jaxvc/configs/nst.py
MANIFEST_HEADER = ["content", "style", "output"]


class InputError(ValueError):
  """Command-line input that cannot be used; the message names it and says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--content", help="audio file whose content is kept")
  parser.add_argument("--style", help="audio file whose style is transferred")
  parser.add_argument("--output", help="output .wav; OUT.png and OUT.json go beside it")
  parser.add_argument("--manifest", help="CSV/TSV of content,style,output rows, run as one batch")
  parser.add_argument("--config", default=DEFAULT_CONFIG,
                      help="a shipped config's name or a config file (default: nst, "
                      "jaxvc/configs/nst.py); change it with --config.KEY=VALUE")
  parser.add_argument("--vocoder", help="a jaxvc vocoder workdir that renders the result "
                      "(same as --config.vocoder=DIR; needs --config.representation=mel)")


def read_manifest(path: str) -> list[tuple[str, str, str]]:
  """(content, style, output) rows; relative paths are relative to the manifest."""
  try:
    with open(path, newline="") as f:
      text = f.read()
  except OSError as e:
    raise InputError(f"{path}: cannot read manifest ({e.strerror})") from None
  delimiter = "\t" if path.endswith(".tsv") or "\t" in text.partition("\n")[0] else ","
  folder = os.path.dirname(os.path.abspath(path))
  rows = []
  for line, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
    row = [field.strip() for field in row]
    if not any(row) or (line == 1 and [f.lower() for f in row] == MANIFEST_HEADER):
      continue
    if len(row) != 3 or not all(row):
      raise InputError(f"{path}:{line}: expected 3 fields content,style,output, got {row}")
    rows.append(tuple(os.path.join(folder, field) for field in row))
  if not rows:
    raise InputError(f"{path}: no content,style,output rows")
  return rows


def pairs_from_args(args: argparse.Namespace) -> list[tuple[str, str, str]]:
  """The (content, style, output) triples the command line asks for, checked."""
  single = (args.content, args.style, args.output)
  if args.manifest:
    if any(single):
      raise InputError("--manifest: give either --manifest or --content/--style/--output")
    rows = read_manifest(args.manifest)
  elif all(single):
    rows = [single]
  else:
    raise InputError("give --content, --style and --output, or --manifest")
  outputs = [os.path.abspath(out) for _, _, out in rows]
  for out in outputs:
    if not out.lower().endswith(".wav"):
      raise InputError(f"{out}: the output must be a .wav file")
    if outputs.count(out) > 1:
      raise InputError(f"{out}: written by more than one row")
  return rows


def save_plot(path: str, result: transfer.Result, titles: tuple[str, str]) -> None:
  """Content, style and result spectrograms, one above the other, as a PNG."""
  fig = plotting.figure(10, 9)
  images = (result.content_spectrogram, result.style_spectrogram, result.spectrogram)
  low = min(float(s.min()) for s in images)
  high = max(float(s.max()) for s in images)
  for ax, spec, title in zip(fig.subplots(3, 1), images, (*titles, "result")):
    shown = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high,
                      interpolation="nearest")
    ax.set(title=title, xlabel="frame", ylabel="bin")
  fig.colorbar(shown, ax=fig.axes)
  plotting.save_figure(fig, path, dpi=80)


def save_losses(path: str, result: transfer.Result, pair, config) -> None:
  """The loss at each iterate (0 = the initial spectrogram) and what produced it."""
  content, style, output = pair
  record = dict(content=content, style=style, output=output,
                loss=[float(v) for v in result.losses],
                config=json.loads(config.to_json_best_effort()))
  files.write_text(path, json.dumps(record, indent=1))


def run(args: argparse.Namespace, overrides) -> int:
  """Stylizes every pair; one line on stderr and exit status 1 on bad input."""
  try:
    pairs = pairs_from_args(args)
    if args.vocoder:
      overrides = [*overrides, f"--config.vocoder={args.vocoder}"]
    config = config_lib.from_file(args.config, overrides)
    styler = transfer.StyleTransfer(config)
    rate = styler.representation.sample_rate
    load = lambda path: audio.load_audio(path, rate, min_seconds=styler.min_seconds)
    contents = [load(content) for content, _, _ in pairs]
    styles = [load(style) for _, style, _ in pairs]
  except (InputError, ConfigError, audio.AudioError) as e:
    print(f"stylize: error: {e}", file=sys.stderr)
    return 1
  print(f"stylize: {len(pairs)} pair(s), {config.num_steps} {config.optimizer} steps, "
        f"{config.features} features on {config.representation}", flush=True)
  for pair, result in zip(pairs, styler(contents, styles)):
    output = pair[2]
    stem = os.path.splitext(output)[0]
    audio.save_audio(output, result.wave, rate)
    save_plot(stem + ".png", result, (f"content: {os.path.basename(pair[0])}",
                                      f"style: {os.path.basename(pair[1])}"))
    save_losses(stem + ".json", result, pair, config)
    print(f"stylize: wrote {output} (.png, .json): loss {result.losses[0]:.4g} -> "
          f"{result.losses[-1]:.4g}", flush=True)
  return 0
