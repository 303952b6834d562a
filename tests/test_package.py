"""jaxvc as a user installs it: a wheel in a fresh virtual environment, run
from outside the checkout, with the shipped configs named as in the README."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_wheel_trains_the_demo_and_stylizes_outside_the_checkout(tmp_path, speech):
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-w", str(tmp_path / "dist"), ROOT], check=True, capture_output=True)
  [wheel] = (tmp_path / "dist").glob("jaxvc-*.whl")
  # The dependencies come from this environment; jaxvc itself only from the wheel.
  subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(tmp_path / "env")],
                 check=True)
  python = str(tmp_path / "env" / "bin" / "python")
  subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
                 check=True, capture_output=True)
  run = tmp_path / "elsewhere"
  run.mkdir()
  env = dict(os.environ, JAXVC_CACHE=str(tmp_path / "cache"), PYTHONPATH="")

  def jaxvc(*args):
    return subprocess.run([python, *args], cwd=run, env=env, capture_output=True, text=True)

  where = jaxvc("-c", "import jaxvc; print(jaxvc.__file__)")
  assert where.stdout.startswith(str(tmp_path / "env")), where.stdout + where.stderr
  trained = jaxvc("-m", "jaxvc.train", "--config", "configs/melganvc_demo.py", "--workdir", "run",
                  "--config.num_steps=2", "--config.data.batch_size=2",
                  "--config.model.generator_channels=8", "--config.model.critic_channels=8",
                  "--config.model.siamese_channels=8", "--config.eval_quality_utterances=0")
  assert trained.returncode == 0, trained.stdout + trained.stderr
  assert os.listdir(run / "run" / "checkpoints") == ["2"]
  wave, rate = speech
  sf.write(run / "a.wav", wave[:rate], rate)
  sf.write(run / "b.wav", np.sin(np.arange(rate) * 0.05).astype(np.float32) * 0.3, rate)
  styled = jaxvc("-m", "jaxvc.infer", "stylize", "--content", "a.wav", "--style", "b.wav",
                 "--output", "out.wav", "--config.num_steps=2", "--config.conv1d.filters=64",
                 "--config.griffin_lim_iters=2")
  assert styled.returncode == 0, styled.stdout + styled.stderr
  assert sf.info(run / "out.wav").frames > 0
