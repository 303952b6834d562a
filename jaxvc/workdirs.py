"""What a workdir holds besides checkpoints: its config.json, statistics of
its data kept beside them (`kept`); and loading a trained run, which needs both.

A workdir holds `config.json` (the run's full config) and `checkpoints/<step>`
(`jaxvc.checkpoints`). It is a local folder or a URL that orbax and
`etils.epath` reach (a `gs://` bucket); every path here goes through
`files.location`. This module builds on `checkpoints`, never the reverse: the
checkpoint format needs no config file, a trained run needs both.
"""
import contextlib
import functools
import json
from collections.abc import Callable
from typing import Any

from etils import epath
import jax
import ml_collections

from jaxvc import checkpoints
from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import methods
from jaxvc.checkpoints import CheckpointError
from jaxvc.errors import ConfigError

CONFIG_FILE = "config.json"


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


def write_untrained(workdir: str, config: ml_collections.ConfigDict) -> str:
  """A workdir holding config.json and the fresh step-0 state of `config`'s
  method: it loads like a trained run, without training (for tests and the
  benchmark). Returns it."""
  files.location(workdir).mkdir(parents=True, exist_ok=True)
  save_config(workdir, config)
  mngr = checkpoints.manager(workdir, config)
  checkpoints.save(mngr, methods.get(config.method).init_state(config))
  mngr.wait_until_finished()
  mngr.close()
  return str(workdir)


def root(path: str) -> epath.Path:
  """The workdir of a workdir path or of one checkpoint WORKDIR/checkpoints/STEP."""
  return _locate(path, None)[0]


def kept(workdir: str, file: str, provenance: dict, key: str, compute: Callable[[], Any], *,
         what: str, advice: str = "") -> Any:
  """Entry `key` of the statistics a run keeps in WORKDIR/`file` (`workdir`
  may be one of its checkpoint directories), as JSON reads it back.

  The file holds `provenance` (the data and settings its entries came from)
  and the entries. An entry is read back if the file was made with the same
  provenance; else `compute()` makes it (from the run's training data) and it
  is saved beside the entries of that provenance: a file from other data
  starts again, so a changed config is noticed rather than silently used,
  and a workdir copied away from its data keeps what it computed. A
  ConfigError from `compute` becomes one naming the file and `what` it lacks,
  and what to do (`advice` added).
  """
  path = root(workdir) / file
  provenance = json.loads(json.dumps(provenance))   # as a read-back file holds it
  entries = {}
  try:
    saved = json.loads(path.read_text())
    if saved.pop("provenance") == provenance:
      entries = saved
  except (OSError, ValueError, KeyError, TypeError, AttributeError):
    pass   # none yet, or unreadable: started again
  if key not in entries:
    try:
      entries[key] = json.loads(json.dumps(compute()))
    except ConfigError as e:
      raise ConfigError(f"{path} has no {what} and the run's voices cannot be read for it "
                        f"({e}); run once where the training data is{advice}") from None
    files.write_json(path, dict(provenance=provenance, **entries))
  return entries[key]


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
  mngr = checkpoints.reader(workdir)
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
    state = checkpoints.restore(mngr, _abstract_state(config), step)
  return config, state


@contextlib.contextmanager
def _reading(mngr, where: str):
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
  optimizer moments are not): the method's `inference_state` picks sub-trees
  of an abstract state, and `checkpoints.restore_part` reads those alone.
  """
  config, mngr, step, directory = _open(path, step, method)
  with _reading(mngr, f"{directory}/{step}"):
    picked = checkpoints.restore_part(mngr, _abstract_state(config),
                                      methods.get(method).inference_state, step)
  return config, picked, step
