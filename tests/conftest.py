"""Shared test data, rendered offline with espeak-ng (see jaxvc.data.demo)."""
import gc
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
CHILD_XLA_FLAGS = " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()
# In the test processes themselves, fusions are also emitted by XLA's older
# per-element emitter, which writes a train step's hundreds of small kernels
# faster than the default (MLIR) one. Not in the children: two `jaxvc.train`
# processes (gloo collectives between them) built with it hung before their
# first step. XLA reads its flags once, when JAX starts its CPU backend.
os.environ["XLA_FLAGS"] = CHILD_XLA_FLAGS + " --xla_cpu_use_fusion_emitters=false"
import jax  # noqa: E402

jax.devices()
os.environ["XLA_FLAGS"] = CHILD_XLA_FLAGS

from jaxvc import caches  # noqa: E402

caches.enable_compilation_cache()


def pytest_sessionfinish(session):
  """Garbage collected once, and what is left frozen: pytest then looks for
  unraisable exceptions with five full collections, each a walk over every
  object the session built (traced programs, TensorFlow's graphs), which took
  seconds in each worker while the run waited for it."""
  del session
  gc.collect()
  gc.freeze()


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
def tiny_config_path(demo_corpus, tmp_path_factory):
  """The tiny MelGAN-VC of tests/tiny_melganvc.py on the demo corpus, as a config
  file; one a session, so the domains it prepares are prepared once."""
  import tiny_melganvc
  return tiny_melganvc.write_config_file(tmp_path_factory.mktemp("tiny") / "tiny.py", demo_corpus)


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


@pytest.fixture(scope="session")
def gcs_bucket():
  """A `gs://` bucket on a local fake of the GCS JSON API (gcp-storage-emulator),
  reached by every layer a workdir goes through: etils.epath (through fsspec's
  gcsfs), orbax's tensorstore, and so jaxvc's own code. Nothing leaves the machine.

  TensorFlow's own GCS client, epath's default backend where TensorFlow is
  installed, cannot be pointed at an emulator (its endpoint is compiled in):
  the tests switch epath to gcsfs, and since jaxvc writes every workdir file
  through epath (TensorBoard events included), that one switch covers them all.
  """
  objects = pytest.importorskip("gcp_storage_emulator.handlers.objects")
  pytest.importorskip("gcsfs")
  # The emulator leaves out the generation header of a download, which
  # tensorstore reads (orbax's OCDBT store re-reads its manifest): added here,
  # before its router takes the handler.
  download = objects.download

  def download_with_generation(request, response, storage, *args, **kwargs):
    download(request, response, storage, *args, **kwargs)
    if response.status < 300:
      obj = storage.get_file_obj(request.params["bucket_name"], request.params["object_id"])
      response["x-goog-generation"] = obj["generation"]
  objects.download = download_with_generation
  from gcp_storage_emulator import server as emulator
  import socket
  with socket.socket() as s:
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  url = f"http://localhost:{port}"
  patch = pytest.MonkeyPatch()
  patch.setenv("STORAGE_EMULATOR_HOST", url)         # gcsfs
  patch.setenv("TENSORSTORE_GCS_HTTP_URL", url)      # orbax's array store
  patch.setenv("GOOGLE_AUTH_TOKEN_FOR_TESTING", "fake")
  patch.setenv("EPATH_USE_TF", "false")              # epath through gcsfs, not TensorFlow
  # epath caches its choice of backend from the first URL it met (TFDS's
  # catalog tests meet gs:// ones): chosen again here, and after.
  from etils.epath import gpath
  gpath._is_tf_installed.cache_clear()
  server = emulator.create_server("localhost", port, in_memory=True, default_bucket="jaxvc-test")
  server.start()
  yield "gs://jaxvc-test"
  server.stop()
  patch.undo()
  gpath._is_tf_installed.cache_clear()
