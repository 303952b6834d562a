"""Data parallelism changes nothing: two processes on localhost (jax.distributed,
gloo) of 2 forced CPU devices each train the tiny MelGAN-VC to the parameters
that this single-device process trains (so several devices in a host and
several hosts, in one run)."""
import os
import socket
import subprocess
import sys

import jax
import numpy as np

import parallel_run
import tiny_melganvc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "parallel_run.py")


def test_devices_and_processes_match_one_device(tmp_path):
  assert jax.device_count() == 1
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  out = tmp_path / "procs.npz"
  env = dict(os.environ, PYTHONPATH=ROOT)
  procs = [subprocess.Popen(
      [sys.executable, SCRIPT, str(out), "2", f"localhost:{port}", "2", str(i)],
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  # Meanwhile, the single-device run here: the tiny model's step as the
  # trainer's tests compile it, so mostly read from the compilation cache.
  single = parallel_run.train_two_steps(tiny_melganvc.config())
  for proc in procs:
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log[-3000:]
  procs = np.load(out)
  assert sorted(single) == sorted(procs)
  for name in single:
    np.testing.assert_allclose(single[name], procs[name], atol=1e-5, rtol=1e-5, err_msg=name)
