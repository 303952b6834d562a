"""Two train steps of the tiny MelGAN-VC on fixed global batches, over every device.

  python tests/parallel_run.py OUT.npz DEVICES COORDINATOR PROCESSES PROCESS_ID

Run so, each process is one host of a jax.distributed run (gloo on
localhost) with DEVICES forced CPU devices, and process 0 saves the
parameters; tests/test_parallel.py compares them with `train_two_steps` in
its own single-device process.
"""
import sys

import jax
import numpy as np

from jaxvc import caches
from jaxvc import train
from jaxvc.melganvc import method
import tiny_melganvc


def train_two_steps(config) -> dict[str, np.ndarray]:
  """The parameters after two steps, by name; this process feeds its slice of each batch."""
  parallel = train.data_parallel(method.METHOD, config)
  rng = np.random.default_rng(0)
  per_process = config.data.batch_size // jax.process_count()
  local = slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)
  state = parallel.init()
  train_step = totals = None
  for _ in range(2):
    batch = parallel.place_batch(
        {k: v[:, local] for k, v in tiny_melganvc.batch(config, rng).items()})
    if train_step is None:
      train_step = parallel.make_step(state, batch)
      totals = train_step.fresh_totals()
    state, totals = train_step.step(state, totals, batch)
  leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(state.params))
  return {jax.tree_util.keystr(p): np.asarray(v) for p, v in leaves}


if __name__ == "__main__":
  out, devices = sys.argv[1], int(sys.argv[2])
  jax.config.update("jax_num_cpu_devices", devices)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
  assert jax.device_count() == devices * jax.process_count(), jax.devices()
  caches.enable_compilation_cache()
  params = train_two_steps(tiny_melganvc.config())
  if jax.process_index() == 0:
    np.savez(out, **params)
