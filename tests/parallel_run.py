"""Runs two MelGAN-VC train steps on a fixed global batch and saves the parameters.

  python tests/parallel_run.py OUT.npz DEVICES [COORDINATOR PROCESSES PROCESS_ID]

Used by tests/test_parallel.py to compare 1 device, several forced CPU devices,
and several processes (jax.distributed over gloo on localhost).
"""
import sys

import jax
import numpy as np

out, devices = sys.argv[1], int(sys.argv[2])
jax.config.update("jax_num_cpu_devices", devices)
if len(sys.argv) > 3:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

from jaxvc import config as config_lib  # noqa: E402
from jaxvc import melganvc  # noqa: E402
from jaxvc import train  # noqa: E402


def small_config():
  c = config_lib.melganvc()
  c.data.batch_size = 4
  c.model.generator_channels = 16
  c.model.critic_channels = 16
  c.model.siamese_channels = 16
  c.model.siamese_dim = 8
  return c


config = small_config()
step_fn, init, place_batch = train.data_parallel(config, melganvc.graph_definitions(config))
rng = np.random.default_rng(0)
shape = (config.critic_updates, config.data.batch_size, config.audio.n_mels, 72)
per_process = config.data.batch_size // jax.process_count()
local = slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)
state = init()
for _ in range(2):
  global_batch = {k: np.tanh(rng.normal(size=shape)).astype(np.float32) for k in "ab"}
  state, _ = step_fn(state, place_batch({k: v[:, local] for k, v in global_batch.items()}))
leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))
if jax.process_index() == 0:
  np.savez(out, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves})
