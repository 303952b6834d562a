"""The neural vocoder as a method of the trainer (the interface is in `jaxvc.methods`).

Wires the config, the pure step (`step.py`), the input pipeline and the
held-out evaluation (`evaluator.py`) together; no logic of its own. The
input pipeline and the evaluator (TensorFlow, TFDS, the scorers) are imported
when training asks for them, so that inference, which loads this module to
read a checkpoint, starts without them.
"""
from jax.sharding import PartitionSpec as P

from jaxvc import config as config_lib
from jaxvc.vocoder import config as vocoder_config
from jaxvc.vocoder import step

# Batches are (batch, samples): examples on axis 0.
BATCH_PARTITION = P("data")

defaults = vocoder_config.defaults


def check_config(config) -> None:
  config_lib.check_trainer(config)
  vocoder_config.check(config)


def init_state(config) -> step.TrainState:
  return step.init_state(config)


def make_train_step(config):
  return step.make_train_step(config, step.graph_definitions(config))


def train_batches(config, *, start_step: int, process_index: int, process_count: int):
  from jaxvc.vocoder import input_pipeline  # noqa: PLC0415  (training only)
  return input_pipeline.create_train_dataset(
      config, start_batch=start_step, process_index=process_index,
      process_count=process_count).as_numpy_iterator()


def inference_state(state: step.TrainState) -> dict:
  """What a Vocoder needs: the generator's parameters."""
  return step.generator_state(state)


def evaluator(config):
  """The lead host's held-out evaluation."""
  from jaxvc.vocoder.evaluator import Evaluator  # noqa: PLC0415  (training only)
  return Evaluator(config)
