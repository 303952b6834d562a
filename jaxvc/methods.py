"""The trainable methods, and the one small interface through which `jaxvc.train` runs them.

The trainer owns everything a run has whatever it trains: the loop, the mesh
and shardings, checkpoints and exact resume, preemption, the non-finite loss
stop, TensorBoard and the console, and the cadence of evaluation. A method
(`config.method`) gives it the rest as one `Method` value, `METHOD` in the
method's `method.py`; adding a method means writing such a module and naming
it in `METHODS`.
"""
from collections.abc import Callable, Iterator
import dataclasses
import importlib
from typing import Any, Protocol

from jax.sharding import PartitionSpec
import ml_collections
import numpy as np

from jaxvc.errors import ConfigError

METHODS = {
    "melganvc": "jaxvc.melganvc.method",
    "vocoder": "jaxvc.vocoder.method",
}
DEFAULT = "melganvc"   # workdirs from before `config.method` existed are MelGAN-VC runs

Config = ml_collections.ConfigDict
State = Any      # a flax.struct dataclass with a `step` field
Batch = dict     # name -> array


@dataclasses.dataclass(frozen=True)
class Samples:
  """What a method shows in TensorBoard at sample steps."""
  audio: dict[str, tuple[np.ndarray, int]] = dataclasses.field(default_factory=dict)
  images: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


class Evaluator(Protocol):
  """The lead host's held-out evaluation of a train state."""

  def evaluate(self, state: State) -> dict[str, float]:
    """Scores by TensorBoard name (`eval/...`); the trainer logs and prints them."""

  def samples(self, state: State) -> Samples:
    """Audio and pictures for TensorBoard."""


@dataclasses.dataclass(frozen=True)
class Method:
  """What a trainable method gives the trainer.

  Every function is pure but `train_batches` (which reads data) and
  `evaluator` (which loads held-out data and, being called on the lead host
  only, imports what evaluation needs); the trainer jits `init_state` and the
  step itself, with its shardings.
  """
  name: str
  # Its config, every key with its default (in its config module).
  defaults: Callable[[], Config]
  # ConfigError for the method's settings that cannot train, before any
  # compute (the trainer checks its own keys, `config.check_trainer`).
  check_config: Callable[[Config], None]
  # A fresh state.
  init_state: Callable[[Config], State]
  # The step `(state, batch) -> (state, metrics)`, metrics a flat dict of scalars.
  make_train_step: Callable[[Config], Callable[[State, Batch], tuple[State, dict]]]
  # Where the example axis of every batch array is (over the mesh axis "data").
  batch_partition: PartitionSpec
  # `(config, *, start_step, process_index, process_count)`: this process's
  # slice of each global batch (NumPy dicts), from `start_step` on.
  train_batches: Callable[..., Iterator[Batch]]
  # The held-out evaluation, made on the lead host.
  evaluator: Callable[[Config], Evaluator]
  # The part of a state that inference needs, as sub-trees picked from it (on
  # an abstract state too: `workdirs.load_inference` reads only those).
  inference_state: Callable[[State], dict]
  # The scores worth a console line at each eval, in order; TensorBoard gets all.
  console_scores: tuple[str, ...] = ()


def get(name: str) -> Method:
  """The method `config.method` names."""
  if name not in METHODS:
    raise ConfigError(f"config.method: {name!r} is not one of {', '.join(METHODS)}")
  return importlib.import_module(METHODS[name]).METHOD


def format_scores(scores: dict[str, float], names: tuple[str, ...]) -> str:
  """One console line of the named scores that `scores` holds (`eval/` left off)."""
  shown = [f"{n.removeprefix('eval/')} {scores[n]:.4g}" for n in names if n in scores]
  return ", ".join(shown) if shown else f"{len(scores)} scores (TensorBoard)"
