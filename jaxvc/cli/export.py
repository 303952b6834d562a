"""`python -m jaxvc.infer export`: a trained generator (and vocoder) for serving
without JAX (`jaxvc.export`).

  python -m jaxvc.infer export --workdir runs/demo --vocoder runs/vocoder_demo \
      --output exported/ --format savedmodel

Writes the models and `manifest.json` into --output, a new (or empty) folder,
all at once: on any error nothing is left. Exit status 2 if the runs, the
format or the output cannot be used, with the reason in one line.
"""
import argparse
import sys

from jaxvc import checkpoints
from jaxvc import export
from jaxvc.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--workdir", required=True,
                      help="a MelGAN-VC training workdir (or one checkpoint WORKDIR/checkpoints/STEP)")
  parser.add_argument("--step", type=int, help="the checkpoint step to use (default: the latest)")
  parser.add_argument("--vocoder", help="also export this vocoder training workdir's latest checkpoint")
  parser.add_argument("--output", required=True, help="the folder to write (must not exist, or be empty)")
  parser.add_argument("--format", required=True, choices=export.FORMATS,
                      help="savedmodel (TensorFlow; both models), tflite (LiteRT; the "
                           "generator only), onnx (not available: the reason is printed)")


def run(args: argparse.Namespace, overrides: list[str]) -> int:
  """0 when written; 2 (one line on stderr) when nothing could be."""
  try:
    if overrides:
      raise export.ExportError(f"export takes no config overrides: {' '.join(overrides)}")
    manifest = export.export(args.workdir, args.output, args.format, step=args.step,
                             vocoder=args.vocoder)
  except (export.ExportError, checkpoints.CheckpointError, ConfigError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {', '.join(m['path'] for m in manifest['models'].values())} and "
        f"{export.MANIFEST} to {args.output}")
  return 0
