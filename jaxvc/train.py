"""Trains MelGAN-VC: `python -m jaxvc.train --config configs/X.py --workdir DIR`.

Data-parallel over every device of every host: parameters replicated, the
batch sharded along one mesh axis, one jitted step. Running the same command
again resumes from the latest checkpoint exactly (parameters, optimiser and
network statistics, step, and so the data position). SIGTERM (preemption)
saves a checkpoint and exits. Multi-host: see the README.
"""
import argparse
import functools
import logging
import os
import signal
import sys

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import chunking
from jaxvc import config as config_lib
from jaxvc import input_pipeline
from jaxvc import losses
from jaxvc import melganvc
from jaxvc import metrics as metrics_lib
from jaxvc import monitoring
from jaxvc import plotting
from jaxvc.config import require
from jaxvc.data import domains

EVAL_UTTERANCES = 32        # held-out utterances converted for the eval metric
SAMPLE_SECONDS = 4.0        # length of the audio sample logged to TensorBoard
GENERATOR_BATCH = 64        # chunks per jitted generator call at eval time


class TrainingError(RuntimeError):
  """Training cannot go on; the message says why and what was kept."""


def check_config(config: ml_collections.ConfigDict) -> None:
  """Rejects settings that cannot train, before any compute."""
  d = config.data
  require(d.batch_size > 0 and d.batch_size % jax.device_count() == 0, "data.batch_size",
          f"{d.batch_size} must be a positive multiple of the device count {jax.device_count()}")
  require(d.chunk_frames > 0 and d.chunk_frames % 4 == 0, "data.chunk_frames",
          f"{d.chunk_frames} must be a positive multiple of 4 (two stride-2 layers)")
  require(d.chunks_per_crop >= 2, "data.chunks_per_crop",
          f"{d.chunks_per_crop} must be at least 2 (TraVeL compares the first and last chunk)")
  require(d.short_utterances in domains.SHORT_UTTERANCES, "data.short_utterances",
          f"{d.short_utterances!r} must be {' or '.join(map(repr, domains.SHORT_UTTERANCES))}")
  require(config.loss.pairing in losses.PAIRINGS, "loss.pairing",
          f"{config.loss.pairing!r} must be {' or '.join(map(repr, losses.PAIRINGS))}")
  for key in ("adversarial_weight", "travel_weight", "identity_weight"):
    require(config.loss[key] >= 0, f"loss.{key}", f"{config.loss[key]} must not be negative")
  require(config.critic_updates >= 1, "critic_updates", "must be at least 1")
  require(config.optim.learning_rate > 0, "optim.learning_rate", "must be positive")
  for key in ("num_steps", "log_every", "eval_every", "sample_every",
              "checkpoint_every", "keep_checkpoints"):
    require(config[key] > 0, key, f"{config[key]} must be positive")
  for key in ("domain_a", "domain_b"):
    try:
      domains.parse(d[key])
    except config_lib.ConfigError as e:
      raise config_lib.ConfigError(f"config.data.{key}: {e}") from None
  audio.AudioConfig.from_config(config.audio)


def data_parallel(config: ml_collections.ConfigDict, graphdefs: dict):
  """The jitted train step over a mesh of every device of every host.

  Returns (step, init, place_batch): the step (state donated), a jitted fresh
  state with parameters replicated, and a function placing each host's slice
  of the global batch, sharded along the "data" axis.
  """
  mesh = jax.make_mesh((jax.device_count(),), ("data",),
                       axis_types=(jax.sharding.AxisType.Auto,))
  replicated = NamedSharding(mesh, P())
  batch_sharding = NamedSharding(mesh, P(None, "data"))
  step = jax.jit(
      melganvc.make_train_step(config, graphdefs),
      in_shardings=(replicated, batch_sharding), out_shardings=(replicated, replicated),
      donate_argnums=0)
  init = jax.jit(functools.partial(melganvc.init_state, config), out_shardings=replicated)

  def place_batch(local_batch: dict) -> dict:
    return {k: jax.make_array_from_process_local_data(batch_sharding, v)
            for k, v in local_batch.items()}

  return step, init, place_batch


def _nonfinite(metrics: dict) -> str | None:
  bad = [k for k, v in metrics.items() if not np.isfinite(v)]
  return bad[0] if bad else None


class _Preemption:
  """Turns SIGTERM into a flag the loop checks between steps."""

  def __init__(self):
    self.requested = False
    signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True


def _convert(generator, mel: np.ndarray, chunk_frames: int) -> np.ndarray:
  chunks = chunking.to_chunks(mel, chunk_frames)
  return chunking.from_chunks(
      chunking.map_in_batches(generator, chunks, GENERATOR_BATCH), mel.shape[1])


def evaluate(generator, eval_mels: dict, chunk_frames: int) -> dict:
  """Per-bin statistics distance to the target domain, converted vs. source."""
  sources = eval_mels["a"][:EVAL_UTTERANCES]
  converted = [_convert(generator, m, chunk_frames) for m in sources]
  scores = {}
  for name, mels in (("source", sources), ("converted", converted)):
    means, stds = metrics_lib.statistics_distance_parts(mels, eval_mels["b"])
    scores.update({f"eval/stats_distance_{name}": means + stds,
                   f"eval/stats_distance_{name}_means": means,
                   f"eval/stats_distance_{name}_stds": stds})
  scores["eval/stats_distance_ratio"] = (scores["eval/stats_distance_converted"]
                                         / scores["eval/stats_distance_source"])
  return scores


def write_sample(writer, step: int, generator, mel: np.ndarray, config) -> None:
  """A converted held-out clip as audio and a source/converted mel image."""
  audio_cfg = audio.AudioConfig.from_config(config.audio)
  mel = mel[:, :int(SAMPLE_SECONDS * audio_cfg.sample_rate / audio_cfg.hop_length)]
  converted = _convert(generator, mel, config.data.chunk_frames)
  wave = np.asarray(audio.mel_to_wave(converted, audio_cfg))
  writer.audio(step, "sample/converted", wave, audio_cfg.sample_rate)
  writer.image(step, "sample/source_over_converted", plotting.mel_image([mel, converted]))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> melganvc.TrainState:
  """Trains to `config.num_steps`, resuming from `workdir` if it has checkpoints."""
  check_config(config)
  os.makedirs(workdir, exist_ok=True)
  lead = jax.process_index() == 0
  if lead:
    checkpoints.save_config(workdir, config)

  graphdefs = melganvc.graph_definitions(config)
  train_step, init, place_batch = data_parallel(config, graphdefs)
  mngr = checkpoints.manager(workdir, config)
  if mngr.latest_step() is None:
    state = init()
  else:
    state = checkpoints.restore(mngr, jax.eval_shape(init))
    logging.info("Resumed from step %d", int(state.step))
  start_step = int(jax.device_get(state.step))
  k = config.critic_updates
  dataset = input_pipeline.create_train_dataset(
      config, start_batch=start_step * k,
      process_index=jax.process_index(), process_count=jax.process_count())
  batches = dataset.batch(k, drop_remainder=True).as_numpy_iterator()
  eval_mels = input_pipeline.create_eval_mels(config) if lead else None
  generator = jax.jit(lambda params, stats, x: melganvc.generator_fn(
      graphdefs["generator"], params, stats)(x))

  writer = monitoring.SummaryWriter(workdir, enabled=lead)
  progress = monitoring.Progress(config.num_steps, start_step)
  preemption = _Preemption()
  last_saved = start_step
  step = start_step
  try:
    while step < config.num_steps:
      state, step_metrics = train_step(state, place_batch(next(batches)))
      step += 1
      step_metrics = jax.device_get(step_metrics)
      bad = _nonfinite(step_metrics)
      if bad:
        raise TrainingError(
            f"step {step}: loss {bad!r} is {step_metrics[bad]}; stopped. "
            f"The last good checkpoint is step {last_saved} in {workdir}.")
      if step % config.log_every == 0 or step == config.num_steps:
        line, rate = progress.line(step, step_metrics)
        if lead:
          print(line, flush=True)
        writer.scalars(step, {**{f"train/{n}": v for n, v in step_metrics.items()},
                              "train/steps_per_second": rate})
      if lead and (step % config.eval_every == 0 or step % config.sample_every == 0):
        g = functools.partial(generator, *jax.device_get(
            (state.params["generator"], state.stats["generator"])))
        if step % config.eval_every == 0:
          scores = evaluate(g, eval_mels, config.data.chunk_frames)
          writer.scalars(step, scores)
          print(f"eval step {step} | mel statistics distance to the target domain: "
                f"converted {scores['eval/stats_distance_converted']:.4f} "
                f"(means {scores['eval/stats_distance_converted_means']:.4f} + "
                f"stds {scores['eval/stats_distance_converted_stds']:.4f}), "
                f"source {scores['eval/stats_distance_source']:.4f}", flush=True)
        if step % config.sample_every == 0:
          write_sample(writer, step, g, eval_mels["a"][0], config)
        writer.flush()
      preempted = preemption.requested or mngr.reached_preemption(step)
      if step % config.checkpoint_every == 0 or step == config.num_steps or preempted:
        checkpoints.save(mngr, state)
        last_saved = step
      if preempted:
        logging.warning("Preempted at step %d: checkpoint saved, exiting.", step)
        break
  finally:
    mngr.wait_until_finished()
    mngr.close()
    writer.flush()
  return state


def parse_args(argv):
  parser = argparse.ArgumentParser(prog="python -m jaxvc.train", description=__doc__.splitlines()[0])
  parser.add_argument("--config", required=True, help="config file, e.g. configs/melganvc_demo.py")
  parser.add_argument("--workdir", required=True, help="checkpoints, TensorBoard logs, config.json")
  parser.add_argument("--coordinator_address", help="multi-host: HOST:PORT of process 0")
  parser.add_argument("--num_processes", type=int, help="multi-host: number of processes")
  parser.add_argument("--process_id", type=int, help="multi-host: this process's index")
  parser.add_argument("--distributed", action="store_true",
                      help="call jax.distributed.initialize() with cluster auto-detection (TPU pods, SLURM)")
  args, rest = parser.parse_known_args(argv)
  unknown = [a for a in rest if not a.startswith("--config.")]
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")
  return args, [a for a in rest if a.startswith("--config.")]


def main(argv=None) -> int:
  logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
  args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
  try:
    config = config_lib.from_file(args.config, overrides)
  except config_lib.ConfigError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  if args.distributed or args.coordinator_address:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(args.coordinator_address, args.num_processes, args.process_id)
  try:
    train_and_evaluate(config, args.workdir)
  except (config_lib.ConfigError, TrainingError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2 if isinstance(e, config_lib.ConfigError) else 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
