"""`python -m jaxvc.train` as two localhost processes (jax.distributed over gloo):
the whole loop (per-host input, checkpoints, eval on the lead host, resume)
ends where one process ends, and a SIGTERM to one host stops both at one step."""
import os
import signal
import socket

import jax
import numpy as np
import pytest

from jaxvc import workdirs
from test_train import _cli


def _port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _train(config_path, workdir, *extra, process=None):
  """A `python -m jaxvc.train` process; `process` = (coordinator port, index) of two."""
  if process is not None:
    port, index = process
    extra = (*extra, "--coordinator_address", f"localhost:{port}", "--num_processes", "2",
             "--process_id", str(index))
  return _cli(config_path, workdir, *extra)


def _finish(*procs, timeout=600) -> list[str]:
  outs = []
  for proc in procs:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    outs.append(out)
  return outs


def _two_hosts(config_path, workdir, *extra) -> list[str]:
  port = _port()
  return _finish(*[_train(config_path, workdir, *extra, process=(port, i)) for i in range(2)])


def _assert_same_params(workdir_a, workdir_b):
  (_, a), (_, b) = workdirs.load_state(str(workdir_a)), workdirs.load_state(str(workdir_b))
  assert int(a.step) == int(b.step)
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
    np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_two_processes_train_evaluate_resume_like_one(tiny_config_path, tmp_path):
  _finish(_train(tiny_config_path, tmp_path / "one"))           # 4 steps, checkpoints at 2 and 4
  lead, other = _two_hosts(tiny_config_path, tmp_path / "two", "--config.num_steps=2")
  assert "eval step 2" in lead and "eval step" not in other   # eval on the lead host only
  lead, _ = _two_hosts(tiny_config_path, tmp_path / "two")
  assert "Resumed from step 2" in lead and "step 4/4" in lead
  _assert_same_params(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_sigterm_to_one_host_stops_both_at_one_step(tiny_config_path, tmp_path):
  port = _port()
  steps = ["--config.num_steps=1000", "--config.checkpoint_every=1000",
           "--config.eval_every=1000", "--config.sample_every=1000",
           "--config.preemption_check_every=3"]
  lead, other = (_train(tiny_config_path, tmp_path / "run", *steps, process=(port, i))
                 for i in range(2))
  for line in lead.stdout:   # the lead host prints the progress lines
    if line.startswith("step 2/"):
      break
  other.send_signal(signal.SIGTERM)   # only the non-lead host is told
  lead_out, _ = _finish(lead, other, timeout=300)
  preempted = [line for line in lead_out.splitlines() if line.startswith("Preempted at step")]
  assert len(preempted) == 1, lead_out[-2000:]
  stopped = int(preempted[0].split()[3].rstrip(":"))
  assert stopped % 3 == 0
  saved = sorted(int(d) for d in os.listdir(tmp_path / "run" / "checkpoints") if d.isdigit())
  assert saved == [stopped]
  # Resumed to two steps more, it equals one uninterrupted process.
  target = f"--config.num_steps={stopped + 2}"
  _two_hosts(tiny_config_path, tmp_path / "run", target, *steps[1:])
  _finish(_train(tiny_config_path, tmp_path / "one", target, *steps[1:]))
  _assert_same_params(tmp_path / "one", tmp_path / "run")
