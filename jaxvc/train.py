"""The trainer: `python -m jaxvc.train --config NAME_OR_FILE --workdir DIR`.

One loop for every method (`config.method`; the interface is `jaxvc.methods`).
Data-parallel over every device of every host: the state replicated, each
batch sharded along the mesh axis "data", one jitted step with the state
donated. Running the same command again resumes from the latest checkpoint
exactly (parameters, optimiser and network statistics, step, and so the data
position). The workdir may be a `gs://` URL (`jaxvc.files.location`).
SIGTERM (preemption) on any host saves a checkpoint on all of them at one
agreed step, and they exit. Metrics stay on the devices and are fetched only
when something is done with them (a log line, an eval, a checkpoint), so the
host can queue steps ahead; a non-finite loss is still caught before any
checkpoint is written after it. Multi-host: see the README.
"""
import argparse
import contextlib
import copy
import dataclasses
import itertools
import logging
import signal
import sys
from collections.abc import Callable

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np

from jaxvc import caches
from jaxvc import checkpoints
from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import methods
from jaxvc import monitoring
from jaxvc import run_lock
from jaxvc import workdirs
from jaxvc.errors import ConfigError


class TrainingError(RuntimeError):
  """Training cannot go on; the message says why and what was kept."""


def check_config(config: ml_collections.ConfigDict) -> None:
  """Rejects settings that cannot train, before any compute."""
  config_lib.check_trainer(config)
  methods.get(config.method).check_config(config)


# ----------------------------------------------------------------------------
# Metrics on the devices.


def metric_names(train_step, state, batch) -> list[str]:
  """The names of the step's metrics, in the order the totals hold them."""
  _, metrics = jax.eval_shape(train_step, state, batch)
  return sorted(metrics)


def empty_totals(n_metrics: int) -> dict:
  """Sums since the last fetch, and the first non-finite metric since the run started."""
  return dict(sums=jnp.zeros(n_metrics, jnp.float32), count=jnp.zeros((), jnp.int32),
              bad_step=jnp.full((), -1, jnp.int32), bad_metric=jnp.zeros((), jnp.int32),
              bad_value=jnp.zeros((), jnp.float32))


def with_totals(train_step: Callable, names: list[str]) -> Callable:
  """`(state, totals, batch) -> (state, totals)`: the step, its metrics added to
  the totals, and the first step whose metrics are not all finite kept with
  which metric and its value."""
  def step(state, totals, batch):
    state, metrics = train_step(state, batch)
    values = jnp.stack([jnp.asarray(metrics[n], jnp.float32) for n in names])
    finite = jnp.isfinite(values)
    first_bad = (totals["bad_step"] < 0) & ~jnp.all(finite)
    which = jnp.argmin(finite)
    return state, dict(
        sums=totals["sums"] + values, count=totals["count"] + 1,
        bad_step=jnp.where(first_bad, state.step, totals["bad_step"]),
        bad_metric=jnp.where(first_bad, which, totals["bad_metric"]),
        bad_value=jnp.where(first_bad, values[which], totals["bad_value"]))
  return step


# ----------------------------------------------------------------------------
# Parallelism.


@dataclasses.dataclass(frozen=True)
class TrainStep:
  """The jitted step `(state, totals, batch) -> (state, totals)`, both donated
  (`with_totals`), with its metric names, a function making fresh totals and
  a jitted reset of their sums."""
  step: Callable
  names: list[str]
  fresh_totals: Callable
  reset: Callable


@dataclasses.dataclass(frozen=True)
class DataParallel:
  """A method's jitted functions over a mesh of every device of every host.

  `init()`: a fresh state with everything replicated. `place_batch(local)`:
  this host's slice of the global batch as global arrays, sharded along the
  "data" axis where the method's `batch_partition` puts it.
  `make_step(state, batch)`: the `TrainStep` for a state and batch like these
  (arrays or their `jax.ShapeDtypeStruct`s), built once per shapes and kept
  by this object. `config_json` is the config they were built from: a caller
  that trains the same config several times in one process (a resume in a
  notebook, the tests) may build this once and pass it to each
  `train_and_evaluate`, which then traces and compiles nothing again.
  """
  init: Callable
  place_batch: Callable
  make_step: Callable
  config_json: str


def data_parallel(method: methods.Method, config: ml_collections.ConfigDict) -> DataParallel:
  """The method's step and state over a mesh of `jax.devices()`."""
  # Its own copy: the jitted functions trace from it when first called, and
  # the caller's config may change before then.
  config = copy.deepcopy(config)
  devices = jax.devices()
  mesh = jax.make_mesh((len(devices),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,), devices=devices)
  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, method.batch_partition)
  init = jax.jit(lambda: method.init_state(config), out_shardings=replicated)
  # Jitted on its own too, so that `metric_names` traces it and the step
  # built around it reuses that trace (tracing is a large part of start-up).
  train_step = jax.jit(method.make_train_step(config))

  def place_batch(local_batch: dict) -> dict:
    return {k: jax.make_array_from_process_local_data(batch_sharding, v)
            for k, v in local_batch.items()}

  steps = {}

  def make_step(state, batch) -> TrainStep:
    leaves, structure = jax.tree.flatten((state, batch))
    key = (structure, tuple((x.shape, x.dtype) for x in leaves))
    if key not in steps:
      steps[key] = _train_step(state, batch)
    return steps[key]

  def _train_step(state, batch) -> TrainStep:
    names = metric_names(train_step, state, batch)
    return TrainStep(
        step=jax.jit(with_totals(train_step, names), donate_argnums=(0, 1),
                     in_shardings=(replicated, replicated, batch_sharding),
                     out_shardings=(replicated, replicated)),
        names=names,
        fresh_totals=jax.jit(lambda: empty_totals(len(names)), out_shardings=replicated),
        # After a log line: the sums start again, the first non-finite step stays.
        reset=jax.jit(lambda t: dict(t, sums=jnp.zeros_like(t["sums"]),
                                     count=jnp.zeros_like(t["count"])),
                      out_shardings=replicated, donate_argnums=0))

  return DataParallel(init, place_batch, make_step, _config_json(config))


def _config_json(config: ml_collections.ConfigDict) -> str:
  # As `workdirs.save_config` writes it: a value plain JSON cannot hold is no error.
  return config.to_json_best_effort(sort_keys=True)


class Preemption:
  """SIGTERM as a flag that every process agrees on at the same steps.

  A pod's hosts need not all get the signal, nor at the same step. A host that
  saved (a collective) and left alone would hang the others, so the flag is
  OR-ed over all processes every `every` steps, at steps every host reaches,
  and they all save and stop at the first such step after any got SIGTERM.
  A single process needs no agreement and stops at the next step.
  Orbax's own preemption point (`reached_preemption`, from JAX's preemption
  service where the runtime has one) is honoured as well; it is agreed too.
  A context manager: the handler is SIGTERM's while training runs, and the
  one before it is back when training ends, however it ends (a notebook or
  a test process that trained still stops on SIGTERM afterwards).
  """

  def __init__(self, every: int):
    self.every = every
    self.requested = False
    self._previous = None

  def __enter__(self) -> "Preemption":
    self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def __exit__(self, *exc_info) -> None:
    signal.signal(signal.SIGTERM, self._previous)

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def agreed(self, step: int) -> bool:
    """Whether any process got SIGTERM, asked at the same steps on all of them."""
    if jax.process_count() == 1:
      return self.requested
    if step % self.every:
      return False
    flags = multihost_utils.process_allgather(np.int32(self.requested))
    return bool(np.any(flags))


# ----------------------------------------------------------------------------
# The loop.


def _due(step: int, every: int, last: int) -> bool:
  return step % every == 0 or step == last


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, *,
                       parallel: DataParallel | None = None):
  """Trains to `config.num_steps`, resuming from `workdir` if it has checkpoints;
  returns the final state. The lead process holds the workdir's `RunLock`
  throughout, and SIGTERM's handler is the caller's again when this returns.
  `parallel`: `data_parallel(method, config)` built by the caller (see
  `DataParallel`), else built here."""
  method = methods.get(config.method)
  check_config(config)
  if parallel is None:
    parallel = data_parallel(method, config)
  elif parallel.config_json != _config_json(config):
    raise ValueError("train_and_evaluate: `parallel` was built from another config")
  try:
    files.location(workdir).mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise ConfigError(f"workdir {workdir}: cannot be made ({str(e).splitlines()[0]})") from None
  lead = jax.process_index() == 0
  with contextlib.ExitStack() as stack:
    if lead:
      stack.enter_context(run_lock.RunLock(workdir))
      workdirs.save_config(workdir, config)
    preemption = stack.enter_context(Preemption(config.preemption_check_every))
    return _train(method, config, workdir, parallel, preemption)


def _train(method: methods.Method, config: ml_collections.ConfigDict, workdir: str,
           parallel: DataParallel, preemption: Preemption):
  lead = jax.process_index() == 0
  mngr = checkpoints.manager(workdir, config)
  if mngr.latest_step() is None:
    state = parallel.init()
  else:
    state = checkpoints.restore(mngr, jax.eval_shape(parallel.init))
  step = int(jax.device_get(state.step))
  if lead and step:
    print(f"Resumed from step {step} in {workdir}", flush=True)
  if step >= config.num_steps:
    mngr.close()
    return state
  batches = map(parallel.place_batch, method.train_batches(
      config, start_step=step, process_index=jax.process_index(),
      process_count=jax.process_count()))
  first = next(batches)
  train_step = parallel.make_step(state, first)
  batches = itertools.chain([first], batches)
  del first
  totals = train_step.fresh_totals()
  evaluator = method.evaluator(config) if lead else None

  writer = monitoring.SummaryWriter(workdir, enabled=lead)
  progress = monitoring.Progress(config.num_steps, step)
  last_saved = step
  try:
    while step < config.num_steps:
      state, totals = train_step.step(state, totals, next(batches))
      step += 1
      preempted = preemption.agreed(step) or mngr.reached_preemption(step)
      log = _due(step, config.log_every, config.num_steps)
      evaluate = lead and _due(step, config.eval_every, config.num_steps)
      sample = lead and _due(step, config.sample_every, config.num_steps)
      save = _due(step, config.checkpoint_every, config.num_steps) or preempted
      if not (log or evaluate or sample or save):
        continue
      fetched = jax.device_get(totals)
      names = train_step.names
      if fetched["bad_step"] >= 0:
        raise TrainingError(
            f"step {fetched['bad_step']}: loss {names[fetched['bad_metric']]!r} is "
            f"{fetched['bad_value']}; stopped. The last good checkpoint is step "
            f"{last_saved} in {workdir}.")
      if log:
        means = dict(zip(names, fetched["sums"] / max(int(fetched["count"]), 1)))
        line, rate = progress.line(step, means)
        if lead:
          print(line, flush=True)
        writer.scalars(step, {**{f"train/{n}": v for n, v in means.items()},
                              "train/steps_per_second": rate})
        totals = train_step.reset(totals)
      if evaluate:
        scores = evaluator.evaluate(state)
        writer.scalars(step, scores)
        print(f"eval step {step} | {methods.format_scores(scores, method.console_scores)}",
              flush=True)
      if sample:
        samples = evaluator.samples(state)
        for name, (wave, rate) in samples.audio.items():
          writer.audio(step, name, wave, rate)
        for name, image in samples.images.items():
          writer.image(step, name, image)
      writer.flush()
      if save:
        checkpoints.save(mngr, state)
        last_saved = step
      if preempted:
        print(f"Preempted at step {step}: checkpoint saved, exiting.", flush=True)
        break
  finally:
    # tf.data's reader threads call into Python (`jaxvc.data.crops`); they must
    # stop while the interpreter runs, not during its exit, where they hang.
    batches = None
    mngr.wait_until_finished()
    mngr.close()
    writer.flush()
  if jax.process_count() > 1:
    # No host leaves while another still finishes its checkpoint: a peer that
    # disconnects mid-barrier aborts the others.
    multihost_utils.sync_global_devices("jaxvc.train: done")
  return state


def parse_args(argv):
  parser = argparse.ArgumentParser(prog="python -m jaxvc.train", description=__doc__.splitlines()[0])
  parser.add_argument("--config", required=True,
                      help="a shipped config's name (e.g. melganvc_demo) or a config file")
  parser.add_argument("--workdir", required=True,
                      help="checkpoints, TensorBoard logs, config.json: a local folder or "
                      "a URL that etils.epath and orbax reach (gs://BUCKET/PATH)")
  parser.add_argument("--coordinator_address", help="multi-host: HOST:PORT of process 0")
  parser.add_argument("--num_processes", type=int, help="multi-host: number of processes")
  parser.add_argument("--process_id", type=int, help="multi-host: this process's index")
  parser.add_argument("--distributed", action="store_true",
                      help="call jax.distributed.initialize() with cluster auto-detection (TPU pods, SLURM)")
  return config_lib.parse_args(parser, argv)


def main(argv=None) -> int:
  logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
  args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    config = config_lib.from_file(args.config, overrides)
  except ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  caches.enable_compilation_cache()
  distributed = args.distributed or bool(args.coordinator_address)
  if distributed:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(args.coordinator_address, args.num_processes, args.process_id)
  try:
    train_and_evaluate(config, args.workdir)
  except (ConfigError, checkpoints.CheckpointError, TrainingError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 1 if isinstance(e, TrainingError) else 2
  finally:
    if distributed:
      jax.distributed.shutdown()
  return 0


if __name__ == "__main__":
  sys.exit(main())
