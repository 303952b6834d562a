"""The neural vocoder as a method of the trainer (the interface is `jaxvc.methods.Method`).

Wires the config, the pure step (`step.py`), the input pipeline and the
held-out evaluation (`evaluator.py`) together; no logic of its own. The
input pipeline and the evaluator (TensorFlow, TFDS, the scorers) are imported
when training asks for them, so that inference, which loads this module to
read a checkpoint, starts without them.
"""
from jax.sharding import PartitionSpec as P

from jaxvc import methods
from jaxvc.vocoder import config as vocoder_config
from jaxvc.vocoder import step


def make_train_step(config):
  return step.make_train_step(config, step.graph_definitions(config))


def train_batches(config, *, start_step: int, process_index: int, process_count: int):
  from jaxvc.vocoder import input_pipeline  # noqa: PLC0415  (training only)
  return input_pipeline.create_train_dataset(
      config, start_batch=start_step, process_index=process_index,
      process_count=process_count).as_numpy_iterator()


def evaluator(config):
  """The lead host's held-out evaluation."""
  from jaxvc.vocoder.evaluator import Evaluator  # noqa: PLC0415  (training only)
  return Evaluator(config)


METHOD = methods.Method(
    name="vocoder",
    defaults=vocoder_config.defaults,
    check_config=vocoder_config.check,
    init_state=step.init_state,
    make_train_step=make_train_step,
    # Batches are (batch, samples): examples on axis 0.
    batch_partition=P("data"),
    train_batches=train_batches,
    evaluator=evaluator,
    # A Vocoder needs the generator's parameters.
    inference_state=step.generator_state,
    console_scores=("eval/mel_l1", "eval/stft_distance", "eval/griffinlim_mel_l1",
                    "eval/griffinlim_stft_distance"),
)
