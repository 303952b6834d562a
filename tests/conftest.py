"""Shared test data, rendered offline with espeak-ng (see jaxvc.data.demo)."""
import importlib.util
import os
from pathlib import Path
import tempfile

import pytest

# Tests and the CLIs they run (in process and as children) compile into a
# persistent cache of this session's, cold at its start like a fresh
# machine's, never the user's: a program that several tests build (a train
# step trained, stopped and resumed; one model in several tests) compiles once.
os.environ.setdefault("JAXVC_COMPILATION_CACHE", tempfile.mkdtemp(prefix="jaxvc-xla-"))
# The tests' programs are tiny and run a step or two, so compiling them is most
# of their time: LLVM's optimisation passes (not XLA's graph passes, which fix
# what is computed) are skipped, here and in the CLIs the tests start.
os.environ["XLA_FLAGS"] = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()

from jaxvc import caches  # noqa: E402

caches.enable_compilation_cache()

SPEECH_TEXT = "The quiet gardener carried seven yellow baskets across the bridge."


@pytest.fixture(scope="session")
def speech():
  """About 3.5 s of real speech in speaker_a's voice: (float32 wave, 16000)."""
  import soxr
  from jaxvc.data import demo
  wave, sample_rate = demo.render(SPEECH_TEXT, "speaker_a")
  return soxr.resample(wave, sample_rate, 16000), 16000


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory):
  """The root of a 12-sentence demo corpus (9 train, 3 test), built once per session."""
  from jaxvc.data import demo
  return demo.build(tmp_path_factory.mktemp("corpus") / "demo", n_sentences=12,
                    test_fraction=0.25)


@pytest.fixture(scope="session")
def load_tool():
  """Imports a script of tools/ (not a package) as a module: load_tool("evaluate")."""
  def load(name: str):
    path = Path(__file__).parents[1] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
  return load
