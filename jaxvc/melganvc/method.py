"""MelGAN-VC as a method of the trainer (the interface is `jaxvc.methods.Method`).

Wires the config, the pure step (`step.py`), the input pipeline and the
held-out evaluation (`evaluator.py`) together; no logic of its own. The
input pipeline and the evaluator (TensorFlow, TFDS, the scorers) are imported
when training asks for them, so that inference, which loads this module to
read a checkpoint, starts without them.
"""
from jax.sharding import PartitionSpec as P

from jaxvc import methods
from jaxvc.melganvc import config as melganvc_config
from jaxvc.melganvc import step


def make_train_step(config):
  return step.make_train_step(config, step.graph_definitions(config))


def train_batches(config, *, start_step: int, process_index: int, process_count: int):
  """Each step takes `critic_updates` batches, stacked on a leading axis."""
  from jaxvc.melganvc import input_pipeline  # noqa: PLC0415  (training only)
  k = config.critic_updates
  dataset = input_pipeline.create_train_dataset(
      config, start_batch=start_step * k, process_index=process_index,
      process_count=process_count)
  return dataset.batch(k, drop_remainder=True).as_numpy_iterator()


def evaluator(config):
  """The lead host's held-out evaluation."""
  from jaxvc.melganvc.evaluator import Evaluator  # noqa: PLC0415  (training only)
  return Evaluator(config)


METHOD = methods.Method(
    name="melganvc",
    defaults=melganvc_config.defaults,
    check_config=melganvc_config.check,
    init_state=step.init_state,
    make_train_step=make_train_step,
    # Batches are (critic_updates, batch, n_mels, frames): examples on axis 1.
    batch_partition=P(None, "data"),
    train_batches=train_batches,
    evaluator=evaluator,
    # A Converter needs the generator's parameters and statistics.
    inference_state=step.generator_state,
    console_scores=(
        "eval/stats_distance_converted", "eval/stats_distance_source",
        "eval/target_similarity", "eval/unconverted_target_similarity",
        "eval/source_similarity", "eval/mcd_db", "eval/unconverted_mcd_db",
        "eval/ceiling_mcd_db", "eval/phone_error_rate", "eval/unconverted_phone_error_rate"),
)
