"""Data parallelism changes nothing: 1 device, and two processes on localhost
(jax.distributed, gloo) of 2 forced CPU devices each, train to the same
parameters (so several devices in a host and several hosts, in one run)."""
import os
import socket
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tests", "parallel_run.py")


def _run(*args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc):
  out, _ = proc.communicate(timeout=600)
  assert proc.returncode == 0, out[-3000:]


def _assert_same(path_a, path_b):
  a, b = np.load(path_a), np.load(path_b)
  assert sorted(a) == sorted(b)
  for name in a:
    np.testing.assert_allclose(a[name], b[name], atol=1e-5, rtol=1e-5, err_msg=name)


def test_devices_and_processes_match_one_device(tmp_path):
  single, procs = tmp_path / "single.npz", tmp_path / "procs.npz"
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  # All three at once: each spends most of its time compiling on one core.
  runs = [_run(single, 1), *(_run(procs, 2, f"localhost:{port}", 2, i) for i in range(2))]
  for run in runs:
    _finish(run)
  _assert_same(single, procs)
