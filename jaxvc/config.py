"""MelGAN-VC defaults as an ml_collections ConfigDict.

The config files in `configs/` start from `melganvc()` and change only what
their use case needs, so every default lives here once. Field names are the
command-line override paths (`--config.data.batch_size=32`).
"""
from collections.abc import Sequence
import dataclasses
import os

from absl import flags
import ml_collections
from ml_collections import config_flags


class ConfigError(ValueError):
  """A config file or override that cannot be used; the message says which."""


def require(ok: bool, key: str, why: str) -> None:
  """Raises ConfigError naming `config.KEY` and why, unless `ok`."""
  if not ok:
    raise ConfigError(f"config.{key}: {why}")


def from_file(path: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
  """Loads `get_config()` from a config file and applies `--config.a.b=v` overrides.

  The same parsing as absl's `--config` flag, so `jaxvc.train` and
  `jaxvc.infer` accept identical override syntax. Unknown keys and values of
  the wrong type raise `ConfigError` before any compute starts.
  """
  if not os.path.isfile(path):
    raise ConfigError(f"{path}: config file not found")
  argv = ["jaxvc", f"--config={path}", *overrides]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file(
      "config", flag_values=flag_values, lock_config=True, sys_argv=argv)
  try:
    flag_values(argv)
  except flags.UnrecognizedFlagError as e:
    raise ConfigError(f"{path}: unknown argument {e.flagname!r}") from None
  except flags.IllegalFlagValueError as e:
    raise ConfigError(f"{path}: {e}") from None
  except (AttributeError, KeyError) as e:
    raise ConfigError(f"{path}: no config key {e} (check the override's path)") from None
  except (OSError, SyntaxError, TypeError, ValueError) as e:
    raise ConfigError(f"{path}: cannot load config file ({e})") from None
  return flag_values.config


def audio() -> ml_collections.ConfigDict:
  """Audio front-end: the MelGAN-VC mel settings, `jaxvc.audio.AudioConfig`'s defaults."""
  from jaxvc import audio as audio_lib  # here: jaxvc.audio imports ConfigError from this module
  return ml_collections.ConfigDict(dataclasses.asdict(audio_lib.AudioConfig()))


def melganvc() -> ml_collections.ConfigDict:
  """The original MelGAN-VC training setup (Pasini 2019)."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.audio = audio()

  c.data = ml_collections.ConfigDict(dict(
      # A domain is `demo:NAME`, `folder:PATH` or `tfds:NAME[:FEATURE=VALUE]`.
      domain_a="demo:speaker_a",
      domain_b="demo:speaker_b",
      train_split="train",
      eval_split="test",
      batch_size=16,            # global, over every device of every host
      chunk_frames=24,          # generator width
      chunks_per_crop=3,        # the critic judges this many chunks joined
      top_db=40.0,              # silence trimming; 0 keeps silence
      short_utterances="pad",   # "pad" or "skip" utterances under one crop
      cache_dir="",             # "" -> $JAXVC_CACHE or ~/.cache/jaxvc
      prefetch=4,
  ))

  c.model = ml_collections.ConfigDict(dict(
      generator_channels=256,
      critic_channels=512,
      siamese_channels=256,
      siamese_dim=128,
  ))

  c.loss = ml_collections.ConfigDict(dict(
      adversarial_weight=1.0,   # weight of the critic's term in the generator loss
      travel_weight=10.0,       # weight of TraVeL + margin
      identity_weight=0.5,
      margin=2.0,               # delta of the siamese margin loss
      pairing="thirds",         # "thirds" (MelGAN-VC) or "batch" (TraVeLGAN)
  ))

  c.optim = ml_collections.ConfigDict(dict(
      learning_rate=2e-4,
      b1=0.5,
      b2=0.999,
  ))
  c.critic_updates = 3          # critic updates per generator/siamese update

  c.num_steps = 100_000         # generator updates
  c.log_every = 100
  c.eval_every = 1000
  c.sample_every = 1000
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  return c
