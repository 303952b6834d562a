"""Configs as Python: loading a config file or a shipped config, with overrides.

A config file defines `get_config()` returning an ml_collections ConfigDict;
the shipped ones live in `jaxvc/configs/` and can be named without a path
(`--config melganvc_demo`). Every default lives once: the trainer's keys in
`trainer()`, the audio front-end's in `audio()`, each method's in its own
`defaults()` (e.g. `jaxvc.melganvc.config.defaults`), which starts from these
two. Field names are the command-line override paths
(`--config.data.batch_size=32`).
"""
import argparse
from collections.abc import Sequence
import dataclasses
import importlib.resources
import os
import warnings

from absl import flags
import jax
import ml_collections
from ml_collections import config_flags

from jaxvc.audio.settings import AudioConfig
from jaxvc.errors import ConfigError
from jaxvc.errors import require

SHIPPED_PACKAGE = "jaxvc.configs"


def shipped() -> list[str]:
  """The names of the configs shipped in `jaxvc/configs/`."""
  folder = importlib.resources.files(SHIPPED_PACKAGE)
  return sorted(p.name[:-3] for p in folder.iterdir()
                if p.name.endswith(".py") and not p.name.startswith("_"))


def resolve(name_or_path: str) -> str:
  """The config file `name_or_path` names: an existing path, else a shipped config
  by name (`melganvc_demo`, `melganvc_demo.py` or `configs/melganvc_demo.py`, so
  that the README's commands work from any folder and from an installed wheel)."""
  if os.path.isfile(name_or_path):
    return name_or_path
  folder, base = os.path.split(name_or_path)
  name = base[:-3] if base.endswith(".py") else base
  if folder in ("", "configs") and name in shipped():
    return str(importlib.resources.files(SHIPPED_PACKAGE) / f"{name}.py")
  raise ConfigError(f"{name_or_path}: config file not found "
                    f"(shipped configs: {', '.join(shipped())})")


OVERRIDE_PREFIX = "--config."


def parse_args(parser: argparse.ArgumentParser,
               argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
  """`parser`'s arguments and the `--config.KEY=VALUE` overrides among `argv`.

  The one place where every entry point (`jaxvc.train`, `jaxvc.infer`,
  `tools/results.py`) splits its command line: the overrides go to
  `from_file`, which checks them against the config; any other argument the
  parser does not know is its usual one-line usage error (exit 2).
  """
  args, rest = parser.parse_known_args(argv)
  unknown = [a for a in rest if not a.startswith(OVERRIDE_PREFIX)]
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
  return args, [a for a in rest if a.startswith(OVERRIDE_PREFIX)]


def from_file(name_or_path: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
  """Loads `get_config()` from a config file and applies `--config.a.b=v` overrides.

  The same parsing as absl's `--config` flag, so `jaxvc.train` and
  `jaxvc.infer` accept identical override syntax. Unknown keys and values of
  the wrong type raise `ConfigError` before any compute starts.
  """
  path = resolve(name_or_path)
  argv = ["jaxvc", f"--config={path}", *overrides]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file(
      "config", flag_values=flag_values, lock_config=True, sys_argv=argv)
  try:
    with warnings.catch_warnings():
      # ml_collections loads config files with the deprecated load_module(): theirs to fix.
      warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
      flag_values(argv)
  except flags.UnrecognizedFlagError as e:
    raise ConfigError(f"{name_or_path}: unknown argument {e.flagname!r}") from None
  except flags.IllegalFlagValueError as e:
    raise ConfigError(f"{name_or_path}: {e}") from None
  except (AttributeError, KeyError) as e:
    if isinstance(e, AttributeError) and "module" in str(e):  # raised inside the file
      raise ConfigError(f"{name_or_path}: cannot load config file ({e})") from None
    raise ConfigError(f"{name_or_path}: no config key {e} (check the override's path)") from None
  except (OSError, SyntaxError, TypeError, ValueError) as e:
    raise ConfigError(f"{name_or_path}: cannot load config file ({e})") from None
  return flag_values.config


def audio() -> ml_collections.ConfigDict:
  """Audio front-end: the MelGAN-VC mel settings, `AudioConfig`'s defaults."""
  return ml_collections.ConfigDict(dataclasses.asdict(AudioConfig()))


def trainer() -> ml_collections.ConfigDict:
  """The keys `jaxvc.train` reads whatever the method; a method's defaults add theirs."""
  return ml_collections.ConfigDict(dict(
      method="",                # "melganvc" or "vocoder": which method trains
      seed=0,
      num_steps=100_000,        # optimiser steps (for MelGAN-VC, generator updates)
      log_every=100,            # console line and TensorBoard scalars, averaged since the last
      eval_every=1000,          # held-out evaluation, on the lead host
      sample_every=1000,        # TensorBoard audio and spectrogram samples
      checkpoint_every=1000,
      keep_checkpoints=3,
      # On several hosts, steps between the processes' agreement on a SIGTERM
      # (one host sync each); a notice must outlast this many steps. One
      # process checks its flag every step.
      preemption_check_every=10,
  ))


def check_trainer(config: ml_collections.ConfigDict) -> None:
  """Rejects trainer settings that cannot run, before any compute."""
  for key in ("num_steps", "log_every", "eval_every", "sample_every",
              "checkpoint_every", "keep_checkpoints", "preemption_check_every"):
    require(config[key] > 0, key, f"{config[key]} must be positive")
  # Every method's batch is sharded by the trainer over all devices of all hosts.
  batch = config.data.batch_size
  require(batch > 0 and batch % jax.device_count() == 0, "data.batch_size",
          f"{batch} must be a positive multiple of the device count {jax.device_count()}")


def merged(defaults: ml_collections.ConfigDict, saved: dict) -> ml_collections.ConfigDict:
  """`saved` (a workdir's config.json) over `defaults`: keys added since the run
  was trained take their defaults, which keep the behaviour it was trained with."""
  config = ml_collections.ConfigDict(defaults.to_dict())
  for key, value in saved.items():
    if isinstance(value, dict) and isinstance(config.get(key), ml_collections.ConfigDict):
      config[key] = merged(config[key], value)
    else:
      config[key] = value
  return config
