"""Orbax checkpoints of the train state, and the config saved beside them.

A workdir holds `config.json` (the run's full config) and `checkpoints/<step>`.
Orbax writes each checkpoint under a temporary name and renames it when
complete, so a process killed at any moment leaves the latest finished
checkpoint loadable.
"""
import functools
import json
import os

import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxvc import files
from jaxvc import melganvc

CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
  """A checkpoint that is missing or does not fit its config; the message says which."""


def manager(workdir: str, config: ml_collections.ConfigDict) -> ocp.CheckpointManager:
  """Asynchronous, keeps the last `config.keep_checkpoints`."""
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), "checkpoints"),
      options=ocp.CheckpointManagerOptions(
          max_to_keep=config.keep_checkpoints,
          enable_async_checkpointing=True,
          cleanup_tmp_directories=True,
      ),
  )


def save(mngr: ocp.CheckpointManager, state) -> None:
  """Starts saving `state` at its step; returns before the write finishes."""
  mngr.save(int(jax.device_get(state.step)), args=ocp.args.StandardSave(state), force=True)


def restore(mngr: ocp.CheckpointManager, abstract_state, step: int | None = None):
  """The state at `step` (default: latest), placed as `abstract_state` says."""
  step = mngr.latest_step() if step is None else step
  return mngr.restore(step, args=ocp.args.StandardRestore(abstract_state))


def save_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes the run's config as JSON, atomically."""
  files.write_text(os.path.join(workdir, CONFIG_FILE),
                   config.to_json_best_effort(indent=2, sort_keys=True))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a workdir was trained with."""
  path = os.path.join(workdir, CONFIG_FILE)
  try:
    with open(path) as f:
      return ml_collections.ConfigDict(json.load(f))
  except OSError as e:
    raise FileNotFoundError(f"{path}: no saved config ({e.strerror}); is this a jaxvc workdir?") from None


def load_trained(path: str, step: int | None = None):
  """(config, graphdefs, state) of a trained model, on the default device.

  `path` is a workdir (its latest checkpoint, or `step`) or one checkpoint
  directory `WORKDIR/checkpoints/STEP`.
  """
  path = os.path.abspath(path)
  if os.path.basename(os.path.dirname(path)) == "checkpoints" and os.path.basename(path).isdigit():
    workdir, step = os.path.dirname(os.path.dirname(path)), int(os.path.basename(path))
  else:
    workdir = path
  try:
    config = load_config(workdir)
  except FileNotFoundError as e:
    raise CheckpointError(str(e)) from None
  directory = os.path.join(workdir, "checkpoints")
  mngr = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(read_only=True))
  step = mngr.latest_step() if step is None else step
  if step is None or step not in mngr.all_steps():
    raise CheckpointError(f"{directory}: no checkpoint{'' if step is None else f' at step {step}'}")
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  abstract = jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
      jax.eval_shape(functools.partial(melganvc.init_state, config)))
  try:
    state = restore(mngr, abstract, step)
  except (ValueError, KeyError, TypeError) as e:
    raise CheckpointError(
        f"{directory}/{step}: does not match its config.json ({str(e).splitlines()[0]})") from None
  finally:
    mngr.close()
  return config, melganvc.graph_definitions(config), state
