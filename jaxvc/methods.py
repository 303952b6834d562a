"""The trainable methods, and the one small interface through which `jaxvc.train` runs them.

The trainer owns everything a run has whatever it trains: the loop, the mesh
and shardings, checkpoints and exact resume, preemption, the non-finite loss
stop, TensorBoard and the console, and the cadence of evaluation. A method
(`config.method`) gives it the rest, as a module with these names:

  defaults()                    its config (in its config module), for reference
  check_config(config)          ConfigError for settings that cannot train, before compute
  init_state(config)            a fresh state (a flax.struct dataclass with `step`);
                                pure, so the trainer jits it with output shardings
  make_train_step(config)       the pure step `(state, batch) -> (state, metrics)`,
                                metrics a flat dict of scalar arrays
  BATCH_PARTITION               where the example axis of every batch array is
                                (a PartitionSpec over the mesh axis "data")
  train_batches(config, *, start_step, process_index, process_count)
                                an iterator of this process's slice of each global
                                batch (NumPy dicts), starting at `start_step`
  evaluator(config)             called on the lead host only: an object with
                                `evaluate(state)` -> {name: float}, `samples(state)`
                                -> Samples, `summary(scores)` -> one console line
  inference_state(state)        the part of the state that inference needs, as
                                sub-trees picked from it (on an abstract state too:
                                `workdirs.load_inference` reads only those)

Adding a method means writing such a module and naming it in `METHODS`.
"""
import dataclasses
import importlib
from types import ModuleType

import numpy as np

from jaxvc.errors import ConfigError

METHODS = {
    "melganvc": "jaxvc.melganvc.method",
    "vocoder": "jaxvc.vocoder.method",
}
DEFAULT = "melganvc"   # workdirs from before `config.method` existed are MelGAN-VC runs


@dataclasses.dataclass(frozen=True)
class Samples:
  """What a method shows in TensorBoard at sample steps."""
  audio: dict[str, tuple[np.ndarray, int]] = dataclasses.field(default_factory=dict)
  images: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def get(name: str) -> ModuleType:
  """The method module `config.method` names."""
  if name not in METHODS:
    raise ConfigError(f"config.method: {name!r} is not one of {', '.join(METHODS)}")
  return importlib.import_module(METHODS[name])
