"""jaxvc as a user installs it: a wheel in a fresh virtual environment, run
from outside the checkout, with the shipped configs named as in the README;
and the package's map, which the README and `jaxvc/__init__.py` both give."""
import ast
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "jaxvc")


def _package_map(text: str, start: str, end: str) -> list[str]:
  """The map's lines between `start` and `end`, without code quotes."""
  body = text[text.index(start) + len(start):]
  return body[:body.index(end)].replace("`", "").splitlines()


def test_the_readme_and_the_package_give_one_map_of_files_that_exist():
  """Renamed modules leave no stale name in either map, and the two do not drift."""
  with open(os.path.join(ROOT, "README.md")) as f:
    readme = _package_map(f.read(), "```\njaxvc/\n", "tools/ ")
  with open(os.path.join(PACKAGE, "__init__.py")) as f:
    package = _package_map(f.read(), "Where things are:\n\n", '"""')
  assert readme == package
  named = [name for line in package if not line.startswith("   ")
           for name in re.split(r"\s{2,}", line.strip())[0].split(", ")]
  assert "train.py" in named and "nst/" in named
  for name in named:
    assert os.path.exists(os.path.join(PACKAGE, name)), name


def test_every_package_folder_has_an_init_that_says_what_it_holds():
  for folder, subfolders, names in os.walk(PACKAGE):
    subfolders[:] = [d for d in subfolders if not d.startswith((".", "__"))]
    if any(n.endswith(".py") for n in names):
      with open(os.path.join(folder, "__init__.py")) as f:
        assert ast.get_docstring(ast.parse(f.read())), folder


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
