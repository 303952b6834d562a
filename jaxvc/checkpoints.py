"""Orbax checkpoints of a train state: how they are stored, saved and restored.

A workdir holds `checkpoints/<step>` beside its `config.json`; what else a
workdir holds, and loading a trained run from one, are `jaxvc.workdirs`. A
workdir is a local folder or a URL that orbax and `etils.epath` reach (a
`gs://` bucket); every path here goes through `files.location`.
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
from etils import epath
from flax import nnx
import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp

from jaxvc import files

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
  # Parameters first: an optimizer moment's mismatch only mirrors its parameter's.
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


def reader(workdir: str) -> ocp.CheckpointManager:
  """A read-only manager of the workdir's checkpoints, for loading a trained run."""
  return ocp.CheckpointManager(files.location(workdir) / "checkpoints",
                               options=ocp.CheckpointManagerOptions(read_only=True))


def restore_part(mngr: ocp.CheckpointManager, abstract_state, pick, step: int):
  """`pick(state)` of the state at `step`, placed as `abstract_state` says;
  CheckpointError if the stored arrays do not hold what it describes.

  `pick` chooses sub-trees of a state (a method's `inference_state`), and
  only those arrays are read from disk; a checkpoint from before the format
  is read whole.
  """
  item = _item(mngr, step)
  stored = _stored_arrays(item)
  if "format" not in stored:   # format 0 is read whole
    return pick(restore(mngr, abstract_state, step))
  wanted = pick(abstract_state)
  chosen = {id(array) for array in jax.tree.leaves(wanted)}
  layout = [(keys, array) for keys, array in stored_layout(abstract_state) if id(array) in chosen]
  check_fits(item, stored, _names(layout), partial=True)
  partial = _nested(layout)
  restored = mngr.restore(step, args=ocp.args.PyTreeRestore(
      partial, restore_args=jax.tree.map(lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding),
                                         partial),
      partial_restore=True))
  where = {id(array): keys for keys, array in layout}
  return jax.tree.map(lambda array: _at(restored, where[id(array)]), wanted)
