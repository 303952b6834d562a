"""Orbax checkpoints of a train state, and the config saved beside them.

A workdir holds `config.json` (the run's full config) and `checkpoints/<step>`.
It is a local folder or a URL that orbax and `etils.epath` reach (a `gs://`
bucket); every path here goes through `files.location`.
Orbax writes each checkpoint under a temporary name and renames it when
complete, so a process killed at any moment leaves the latest finished
checkpoint loadable.

A checkpoint holds {"format": FORMAT, "state": a nested dict of arrays}: the
train state's dataclass fields, dict keys and sequence indices as the keys,
each flax Variable one array (`stored_layout`). The layout is jaxvc's own,
not flax's flattening of its Variables, so a flax upgrade cannot make a
checkpoint unreadable. Checkpoints from before the format (the train state as
orbax stored it, each Variable's array under a "value" key) still load.
"""
import contextlib
import functools
import json

from etils import epath
from flax import nnx
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import methods

CONFIG_FILE = "config.json"
DEFAULT_ITEM = "default"   # the CheckpointManager's folder for a single-item checkpoint
FORMAT = 1                 # 0: the train state as orbax stored it, before the format key


class CheckpointError(ValueError):
  """A checkpoint that is missing or does not fit its config; the message says which."""


def manager(workdir: str, config: ml_collections.ConfigDict) -> ocp.CheckpointManager:
  """Asynchronous, keeps the last `config.keep_checkpoints`."""
  return ocp.CheckpointManager(
      files.location(workdir) / "checkpoints",
      options=ocp.CheckpointManagerOptions(
          max_to_keep=config.keep_checkpoints,
          enable_async_checkpointing=True,
          cleanup_tmp_directories=True,
      ),
  )


def _key(entry) -> str:
  for attribute in ("name", "key", "idx"):   # GetAttrKey, DictKey, SequenceKey
    if hasattr(entry, attribute):
      return str(getattr(entry, attribute))
  raise TypeError(f"unexpected pytree key {entry!r}")


def stored_layout(tree) -> list[tuple[tuple[str, ...], object]]:
  """(keys, array) of each array of `tree` where a checkpoint stores it, in
  `tree`'s leaf order: under "state", the path of fields, dict keys and
  indices, a flax Variable's array at the Variable's own path."""
  def is_variable(x):
    return isinstance(x, nnx.Variable)
  layout = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_variable)[0]:
    array = jax.tree.leaves(leaf)[0] if is_variable(leaf) else leaf
    layout.append((("state", *map(_key, path)), array))
  return layout


def _nested(layout) -> dict:
  tree = {}
  for keys, array in layout:
    node = tree
    for k in keys[:-1]:
      node = node.setdefault(k, {})
    node[keys[-1]] = array
  return tree


def _at(tree: dict, keys) -> object:
  for k in keys:
    tree = tree[k]
  return tree


def _names(layout) -> dict[str, tuple]:
  return {".".join(keys): tuple(np.shape(array)) for keys, array in layout}


def save(mngr: ocp.CheckpointManager, state) -> None:
  """Starts saving `state` at its step; returns before the write finishes."""
  stored = dict(_nested(stored_layout(state)), format=np.int32(FORMAT))
  mngr.save(int(jax.device_get(state.step)), args=ocp.args.StandardSave(stored), force=True)


def _item(mngr: ocp.CheckpointManager, step: int) -> epath.Path:
  return epath.Path(mngr.directory) / str(step) / DEFAULT_ITEM


def _stored_arrays(item) -> dict[str, tuple]:
  """Name -> shape of every array the checkpoint item at `item` holds."""
  metadata = ocp.StandardCheckpointHandler().metadata(epath.Path(item))
  return {m.name: tuple(m.shape) for m in jax.tree.leaves(metadata)}


def restore(mngr: ocp.CheckpointManager, abstract_state, step: int | None = None):
  """The state at `step` (default: latest), placed as `abstract_state` says;
  CheckpointError if the stored arrays are not the ones it describes."""
  step = mngr.latest_step() if step is None else step
  item = _item(mngr, step)
  stored = _stored_arrays(item)
  if "format" not in stored:   # format 0: orbax's own layout of the train state
    legacy = {jax.tree_util.keystr(p, simple=True, separator="."): tuple(x.shape)
              for p, x in jax.tree_util.tree_leaves_with_path(abstract_state)}
    check_fits(item, stored, legacy)
    return mngr.restore(step, args=ocp.args.StandardRestore(abstract_state))
  layout = stored_layout(abstract_state)
  check_fits(item, stored, _names(layout))
  restored = mngr.restore(step, args=ocp.args.StandardRestore(
      dict(_nested(layout), format=jax.ShapeDtypeStruct((), np.int32))))
  return jax.tree.unflatten(jax.tree.structure(abstract_state),
                            [_at(restored, keys) for keys, _ in layout])


def check_fits(item: str, stored: dict[str, tuple], wanted: dict[str, tuple], *,
               partial: bool = False) -> None:
  """CheckpointError naming the first array of the checkpoint item at `item`
  (its arrays `stored`, name -> shape) that is missing, extra or of another
  shape than `wanted` says (extra arrays are fine where `partial`: a restore
  of part of the state). The "format" key is not an array of the state.

  Checked from the metadata before orbax reads anything: its reads of a
  mismatched checkpoint are asynchronous and fail one by one, and which error
  surfaces first (a ValueError, or a bare Exception wrapping a cancelled
  read) is a race.
  """
  stored = {n: shape for n, shape in stored.items() if n != "format"}
  prefix = "state." if any(n.startswith("state.") for n in wanted) else ""
  # Parameters first: an optimiser moment's mismatch only mirrors its parameter's.
  names = sorted(wanted.keys() if partial else stored.keys() | wanted.keys(),
                 key=lambda n: (not n.startswith(prefix + "params."), n))
  for name in names:
    shown = name.removeprefix(prefix)
    if name not in stored:
      why = f"it has no {shown}"
    elif name not in wanted:
      why = f"it holds {shown}, which the config does not make"
    elif stored[name] != wanted[name]:
      why = f"{shown} is stored as {stored[name]}, the config makes {wanted[name]}"
    else:
      continue
    raise CheckpointError(f"{item}: does not match the config ({why})")


def write_initial(workdir: str, config: ml_collections.ConfigDict) -> str:
  """A workdir holding config.json and the fresh step-0 state of `config`'s
  method: it loads like a trained run (for tests and benchmarks). Returns it."""
  files.location(workdir).mkdir(parents=True, exist_ok=True)
  save_config(workdir, config)
  mngr = manager(workdir, config)
  save(mngr, methods.get(config.method).init_state(config))
  mngr.wait_until_finished()
  mngr.close()
  return str(workdir)


def save_config(workdir: str, config: ml_collections.ConfigDict) -> None:
  """Writes the run's config as JSON, atomically."""
  files.write_text(files.location(workdir) / CONFIG_FILE,
                   config.to_json_best_effort(indent=2, sort_keys=True))


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a workdir was trained with, over its method's current defaults."""
  path = files.location(workdir) / CONFIG_FILE
  try:
    saved = json.loads(path.read_text())
  except OSError as e:
    why = e.strerror or ("not found" if isinstance(e, FileNotFoundError)
                         else str(e).splitlines()[0])
    raise CheckpointError(
        f"{path}: no saved config ({why}); is this a jaxvc workdir?") from None
  except json.JSONDecodeError as e:
    raise CheckpointError(f"{path}: not a jaxvc config ({e})") from None
  saved.setdefault("method", methods.DEFAULT)
  return config_lib.merged(methods.get(saved["method"]).defaults(), saved)


def _locate(path: str, step: int | None) -> tuple[epath.Path, int | None]:
  """(workdir, step) of a workdir path or one checkpoint WORKDIR/checkpoints/STEP."""
  path = files.location(path)
  if path.parent.name == "checkpoints" and path.name.isdigit():
    return path.parent.parent, int(path.name)
  return path, step


def _open(path: str, step: int | None, method: str | None):
  """(config, read-only manager, step, checkpoints directory) of a trained run."""
  workdir, step = _locate(path, step)
  config = load_config(workdir)
  if method is not None and config.method != method:
    raise CheckpointError(f"{workdir}: a {config.method} run, not a {method} one")
  directory = workdir / "checkpoints"
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


def load_inference(path: str, step: int | None = None, *, method: str):
  """(config, what inference needs, step) of a trained `method` run: its
  `inference_state` (for MelGAN-VC the generator's parameters and statistics).

  Only those arrays are read from disk (the critic, the siamese and the
  optimiser moments are not): the method's `inference_state` picks sub-trees
  of an abstract state, and its arrays are restored where they are stored.
  """
  config, mngr, step, directory = _open(path, step, method)
  pick = methods.get(method).inference_state
  abstract = _abstract_state(config)
  with _reading(mngr, f"{directory}/{step}"):
    item = _item(mngr, step)
    stored = _stored_arrays(item)
    if "format" not in stored:   # format 0 is read whole
      return config, pick(restore(mngr, abstract, step)), step
    wanted = pick(abstract)
    chosen = {id(array) for array in jax.tree.leaves(wanted)}
    layout = [(keys, array) for keys, array in stored_layout(abstract) if id(array) in chosen]
    check_fits(item, stored, _names(layout), partial=True)
    partial = _nested(layout)
    restored = mngr.restore(step, args=ocp.args.PyTreeRestore(
        partial, restore_args=jax.tree.map(lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding),
                                           partial),
        partial_restore=True))
  where = {id(array): keys for keys, array in layout}
  return config, jax.tree.map(lambda array: _at(restored, where[id(array)]), wanted), step
