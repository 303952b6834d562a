"""Runs two MelGAN-VC train steps on a fixed global batch and saves the parameters.

  python tests/parallel_run.py OUT.npz DEVICES [COORDINATOR PROCESSES PROCESS_ID]

Used by tests/test_parallel.py to compare 1 device with several processes
(jax.distributed over gloo on localhost) of several forced CPU devices each.
"""
import sys

import jax
import numpy as np

out, devices = sys.argv[1], int(sys.argv[2])
jax.config.update("jax_num_cpu_devices", devices)
if len(sys.argv) > 3:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))

assert jax.device_count() == devices * jax.process_count(), jax.devices()

from jaxvc import train  # noqa: E402
from jaxvc.melganvc import method  # noqa: E402


def small_config():
  c = method.defaults()
  c.data.batch_size = 4
  c.model.generator_channels = 16
  c.model.critic_channels = 16
  c.model.siamese_channels = 16
  c.model.siamese_dim = 8
  return c


config = small_config()
init, make_step, place_batch = train.data_parallel(method, config)
rng = np.random.default_rng(0)
shape = (config.critic_updates, config.data.batch_size, config.audio.n_mels, 72)
per_process = config.data.batch_size // jax.process_count()
local = slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)
state = init()
step_fn = totals = None
for _ in range(2):
  global_batch = {k: np.tanh(rng.normal(size=shape)).astype(np.float32) for k in "ab"}
  batch = place_batch({k: v[:, local] for k, v in global_batch.items()})
  if step_fn is None:
    step_fn, _, totals, _ = make_step(state, batch)
  state, totals = step_fn(state, totals, batch)
leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))
if jax.process_index() == 0:
  np.savez(out, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves})
