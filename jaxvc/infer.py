"""Inference from the command line.

  python -m jaxvc.infer convert --workdir DIR --input FILE_OR_DIR --output FILE_OR_DIR
  python -m jaxvc.infer stream --workdir DIR --input FILE|-|device --output FILE|-|device
  python -m jaxvc.infer stylize --content A.wav --style B.wav --output OUT.wav

Each subcommand lives in its own module (`jaxvc.cli.convert`, `jaxvc.cli.stream`,
`jaxvc.cli.stylize`) with `add_arguments(parser)` and `run(args, overrides) -> exit status`;
`overrides` are the `--config.key=value` arguments, which only `stylize` takes.
"""
import argparse
import importlib
import sys

from jaxvc import caches
from jaxvc import config as config_lib

SUBCOMMANDS = {
    "convert": ("jaxvc.cli.convert", "convert audio files or folders with a trained MelGAN-VC model"),
    "stream": ("jaxvc.cli.stream", "convert live, block by block: a file at real-time pace, "
                                   "raw PCM on stdin, or a sound device"),
    "stylize": ("jaxvc.cli.stylize", "spectrogram neural style transfer of one clip onto another"),
    "export": ("jaxvc.cli.export", "a trained generator and vocoder as SavedModel or TFLite files"),
}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m jaxvc.infer", description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest="command", required=True)
  modules = {}
  for name, (module_name, help_text) in SUBCOMMANDS.items():
    modules[name] = importlib.import_module(module_name)
    modules[name].add_arguments(commands.add_parser(name, help=help_text))
  args, overrides = config_lib.parse_args(parser, argv)
  caches.enable_compilation_cache()
  return modules[args.command].run(args, overrides)


if __name__ == "__main__":
  sys.exit(main())
