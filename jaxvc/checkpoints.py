"""Orbax checkpoints of a train state, and the config saved beside them.

A workdir holds `config.json` (the run's full config) and `checkpoints/<step>`.
Orbax writes each checkpoint under a temporary name and renames it when
complete, so a process killed at any moment leaves the latest finished
checkpoint loadable.
"""
import contextlib
import functools
import json
import os

from etils import epath
import jax
import ml_collections
import orbax.checkpoint as ocp

from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import methods

CONFIG_FILE = "config.json"
DEFAULT_ITEM = "default"   # the CheckpointManager's folder for a single-item checkpoint


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
  """The state at `step` (default: latest), placed as `abstract_state` says;
  CheckpointError if the stored arrays are not the ones it describes."""
  step = mngr.latest_step() if step is None else step
  check_fits(os.path.join(str(mngr.directory), str(step), DEFAULT_ITEM), abstract_state)
  return mngr.restore(step, args=ocp.args.StandardRestore(abstract_state))


def check_fits(path: str, abstract_state, *, partial: bool = False) -> None:
  """CheckpointError naming the first array of the checkpoint item at `path`
  that is missing, extra or of another shape than in `abstract_state`
  (extra arrays are fine where `partial`: a restore of part of the state).

  Checked from the metadata before orbax reads anything: its reads of a
  mismatched checkpoint are asynchronous and fail one by one, and which error
  surfaces first (a ValueError, or a bare Exception wrapping a cancelled
  read) is a race.
  """
  metadata = ocp.StandardCheckpointHandler().metadata(epath.Path(path))
  stored = {m.name: tuple(m.shape) for m in jax.tree.leaves(metadata)}
  wanted = {jax.tree_util.keystr(p, simple=True, separator="."): tuple(x.shape)
            for p, x in jax.tree_util.tree_leaves_with_path(abstract_state)}
  # Parameters first: an optimiser moment's mismatch only mirrors its parameter's.
  names = sorted(wanted.keys() if partial else stored.keys() | wanted.keys(), key=lambda n: (not n.startswith("params."), n))
  for name in names:
    if name not in stored:
      why = f"it has no {name}"
    elif name not in wanted:
      why = f"it holds {name}, which the config does not make"
    elif stored[name] != wanted[name]:
      why = f"{name} is stored as {stored[name]}, the config makes {wanted[name]}"
    else:
      continue
    raise CheckpointError(f"{path}: does not match the config ({why})")


def write_initial(workdir: str, config: ml_collections.ConfigDict) -> str:
  """A workdir holding config.json and the fresh step-0 state of `config`'s
  method: it loads like a trained run (for tests and benchmarks). Returns it."""
  os.makedirs(workdir, exist_ok=True)
  save_config(workdir, config)
  mngr = manager(workdir, config)
  save(mngr, methods.get(config.method).init_state(config))
  mngr.wait_until_finished()
  mngr.close()
  return str(workdir)


def save_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes the run's config as JSON, atomically."""
  files.write_text(os.path.join(workdir, CONFIG_FILE),
                   config.to_json_best_effort(indent=2, sort_keys=True))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a workdir was trained with, over its method's current defaults."""
  path = os.path.join(workdir, CONFIG_FILE)
  try:
    with open(path) as f:
      saved = json.load(f)
  except OSError as e:
    raise CheckpointError(
        f"{path}: no saved config ({e.strerror}); is this a jaxvc workdir?") from None
  except json.JSONDecodeError as e:
    raise CheckpointError(f"{path}: not a jaxvc config ({e})") from None
  saved.setdefault("method", methods.DEFAULT)
  return config_lib.merged(methods.get(saved["method"]).defaults(), saved)


def _locate(path: str, step: int | None) -> tuple[str, int | None]:
  """(workdir, step) of a workdir path or one checkpoint WORKDIR/checkpoints/STEP."""
  path = os.path.abspath(path)
  if os.path.basename(os.path.dirname(path)) == "checkpoints" and os.path.basename(path).isdigit():
    return os.path.dirname(os.path.dirname(path)), int(os.path.basename(path))
  return path, step


def _open(path: str, step: int | None, method: str | None):
  """(config, read-only manager, step, checkpoints directory) of a trained run."""
  workdir, step = _locate(path, step)
  config = load_config(workdir)
  if method is not None and config.method != method:
    raise CheckpointError(f"{workdir}: a {config.method} run, not a {method} one")
  directory = os.path.join(workdir, "checkpoints")
  mngr = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(read_only=True))
  step = mngr.latest_step() if step is None else step
  if step is None or step not in mngr.all_steps():
    mngr.close()
    raise CheckpointError(f"{directory}: no checkpoint{'' if step is None else f' at step {step}'}")
  return config, mngr, step, directory


def _abstract_state(config):
  """The state `config` makes, as shapes placed on this process's first device."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  return jax.tree.map(
      lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
      jax.eval_shape(functools.partial(methods.get(config.method).init_state, config)))


def load_state(path: str, step: int | None = None, *, method: str | None = None):
  """(config, state) of a trained run, on this process's first device.

  `path` is a workdir (its latest checkpoint, or `step`) or one checkpoint
  directory `WORKDIR/checkpoints/STEP`; `method`, if given, is the method the
  run must have trained.
  """
  config, mngr, step, directory = _open(path, step, method)
  with _reading(mngr, f"{directory}/{step}"):
    state = restore(mngr, _abstract_state(config), step)
  return config, state


@contextlib.contextmanager
def _reading(mngr: ocp.CheckpointManager, where: str):
  """Closes `mngr` after a restore; orbax's own errors become CheckpointError."""
  try:
    yield
  except CheckpointError:
    raise
  except (ValueError, KeyError, TypeError) as e:
    raise CheckpointError(
        f"{where}: does not match its config.json ({str(e).splitlines()[0]})") from None
  finally:
    mngr.close()


def _key(entry) -> str:
  for attribute in ("name", "key", "idx"):   # GetAttrKey, DictKey, SequenceKey
    if hasattr(entry, attribute):
      return str(getattr(entry, attribute))
  raise TypeError(f"unexpected pytree key {entry!r}")


def load_inference(path: str, step: int | None = None, *, method: str):
  """(config, what inference needs, step) of a trained `method` run: its
  `inference_state` (for MelGAN-VC the generator's parameters and statistics).

  Only those arrays are read from disk (the critic, the siamese and the
  optimiser moments are not): the method's `inference_state` picks sub-trees
  of an abstract state, and its leaves are restored where they are stored.
  """
  config, mngr, step, directory = _open(path, step, method)
  abstract = _abstract_state(config)
  wanted = methods.get(method).inference_state(abstract)
  chosen = {id(leaf) for leaf in jax.tree.leaves(wanted)}
  where, partial = {}, {}   # leaf id -> its keys in the stored tree; the stored tree cut down
  for keys, leaf in jax.tree_util.tree_flatten_with_path(abstract)[0]:
    if id(leaf) in chosen:
      where[id(leaf)] = keys = [_key(k) for k in keys]
      node = partial
      for k in keys[:-1]:
        node = node.setdefault(k, {})
      node[keys[-1]] = leaf
  with _reading(mngr, f"{directory}/{step}"):
    check_fits(os.path.join(directory, str(step), DEFAULT_ITEM), partial, partial=True)
    restored = mngr.restore(step, args=ocp.args.PyTreeRestore(
        partial, restore_args=jax.tree.map(lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding),
                                           partial),
        partial_restore=True))

  def stored(leaf):
    node = restored
    for k in where[id(leaf)]:
      node = node[k]
    return node

  return config, jax.tree.map(stored, wanted), step
