"""The training loop: exact resume, preemption, crash safety, NaN stops, config errors."""
import dataclasses
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import jax
import ml_collections
import numpy as np
import pytest
import soundfile as sf

from jaxvc.melganvc import config as melganvc_config
from jaxvc import audio
from jaxvc import workdirs
from jaxvc import config as config_lib
from jaxvc import infer
from jaxvc import methods
from jaxvc import run_lock
from jaxvc.melganvc import method as melganvc_method
from jaxvc import train
from jaxvc.data import domains

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config(config_path, *overrides):
  return config_lib.from_file(config_path, [f"--config.{o}" for o in overrides])


def _params(state):
  return jax.tree.leaves(jax.device_get(state.params))


def _cli(config_path, workdir, *extra):
  env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
  return subprocess.Popen(
      [sys.executable, "-m", "jaxvc.train", "--config", config_path, "--workdir", str(workdir), *extra],
      env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def parallel(tiny_config_path):
  """The tiny config's jitted functions, built once for the module's runs."""
  return train.data_parallel(melganvc_method.METHOD, _config(tiny_config_path))


@pytest.fixture(scope="module")
def full_run(tiny_config_path, parallel, tmp_path_factory):
  """(workdir, final state) of the 4-step run, checkpointed at steps 2 and 4."""
  workdir = tmp_path_factory.mktemp("full") / "run"
  return workdir, train.train_and_evaluate(_config(tiny_config_path), str(workdir),
                                           parallel=parallel)


def _stopped_at_2(full_run, folder) -> str:
  """A copy of the full run's workdir as it was after step 2."""
  workdir, _ = full_run
  copy = shutil.copytree(workdir, folder)
  shutil.rmtree(copy / "checkpoints" / "4")
  return str(copy)


def test_resumed_run_equals_uninterrupted_run(tiny_config_path, parallel, full_run, tmp_path):
  workdir, full = full_run
  def caller_handler(signum, frame):
    del signum, frame
  previous = signal.signal(signal.SIGTERM, caller_handler)
  try:
    stopped = _stopped_at_2(full_run, tmp_path / "r")
    resumed = train.train_and_evaluate(_config(tiny_config_path), stopped, parallel=parallel)
    # Training took SIGTERM for its preemption save and gave it back.
    assert signal.getsignal(signal.SIGTERM) is caller_handler
  finally:
    signal.signal(signal.SIGTERM, previous)
  with run_lock.RunLock(stopped):   # and the workdir's lock
    pass
  assert int(resumed.step) == int(full.step) == 4
  for a, b in zip(_params(full), _params(resumed), strict=True):
    np.testing.assert_array_equal(a, b)
  config = _config(tiny_config_path)
  mels = domains.mel_store(config.data.domain_a, "train",
                           audio.AudioConfig.from_config(config.audio), config.data)
  assert mels.num_shards >= 4  # trained on a domain stored in many files
  assert (workdir / "config.json").exists()
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(workdir))


def test_the_trained_run_converts_speech(full_run, speech, tmp_path):
  """Train -> convert end to end: the run's workdir converts a recording with
  the command a user types."""
  workdir, _ = full_run
  wave, rate = speech
  sf.write(tmp_path / "talk.wav", wave, rate)
  assert infer.main(["convert", "--workdir", str(workdir), "--input", str(tmp_path / "talk.wav"),
                     "--output", str(tmp_path / "out.wav"), "--iters", "2"]) == 0
  out, out_rate = sf.read(tmp_path / "out.wav")
  assert out_rate == workdirs.load_config(str(workdir)).audio.sample_rate
  assert abs(out.size / out_rate - wave.size / rate) < 0.01   # the recording's duration
  assert np.isfinite(out).all() and np.abs(out).max() > 0


def test_nonfinite_loss_stops_and_keeps_last_good_checkpoint(tiny_config_path, parallel, full_run,
                                                            tmp_path, monkeypatch):
  workdir = _stopped_at_2(full_run, tmp_path / "run")
  # A batch that makes every loss NaN from step 3 (data, not a changed loss
  # function: the step stays the program already compiled).
  clean = melganvc_method.METHOD
  poisoned = dataclasses.replace(clean, train_batches=lambda *a, **k: (
      {name: np.full_like(crops, np.nan) for name, crops in batch.items()}
      for batch in clean.train_batches(*a, **k)))
  monkeypatch.setattr(methods, "get", lambda name: poisoned)
  with pytest.raises(train.TrainingError, match=r"step 3: loss '.*' is nan.*checkpoint is step 2"):
    train.train_and_evaluate(_config(tiny_config_path), workdir, parallel=parallel)
  _, state = workdirs.load_state(workdir)
  assert int(state.step) == 2
  assert all(np.isfinite(p).all() for p in _params(state))


def _keys(config, prefix: str = "") -> set[str]:
  """The dotted path of every leaf field."""
  keys = set()
  for k, v in config.items():
    keys |= _keys(v, f"{prefix}{k}.") if isinstance(v, ml_collections.ConfigDict) else {prefix + k}
  return keys


@pytest.mark.parametrize("name", ["melganvc_demo", "melganvc_speech", "melganvc_music",
                                  "melganvc_real"])
def test_shipped_configs_pass_the_checks_and_add_no_keys(name):
  config = config_lib.from_file(os.path.join(ROOT, "configs", f"{name}.py"))
  train.check_config(config)
  assert _keys(config) == _keys(melganvc_config.defaults())  # a misspelt field would add one


@pytest.mark.parametrize("key", ["adversarial_weight", "travel_weight", "identity_weight"])
def test_negative_loss_weights_are_rejected(key):
  config = melganvc_config.defaults()
  config.loss[key] = -1.0
  with pytest.raises(config_lib.ConfigError, match=f"config.loss.{key}"):
    train.check_config(config)


def test_config_errors_are_reported_before_compute(tiny_config_path, tmp_path, capsys):
  for override, message in (("--config.data.nope=1", "no config key"),
                            ("--config.data.batch_size=abc", "batch_size"),
                            ("--config.loss.pairing=pairs", "config.loss.pairing"),
                            ("--config.data.chunk_frames=10", "config.data.chunk_frames"),
                            ("--config.data.domain_b=speaker_b", "config.data.domain_b")):
    assert train.main(["--config", tiny_config_path, "--workdir", str(tmp_path / "w"),
                       override]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error, error
  assert not (tmp_path / "w" / "checkpoints").exists()


def test_resuming_with_other_networks_is_one_line_exit_2(tiny_config_path, tmp_path, capsys):
  """A workdir's checkpoint made by other networks than the command's config:
  named from the checkpoint's metadata, before anything is read or trained."""
  workdir = workdirs.write_untrained(str(tmp_path / "w"), _config(tiny_config_path))
  assert train.main(["--config", tiny_config_path, "--workdir", workdir,
                     "--config.model.generator_channels=8"]) == 2
  error = capsys.readouterr().err.strip()
  assert len(error.splitlines()) == 1
  assert "does not match the config (params.generator." in error and "(16,)" in error
  assert os.listdir(os.path.join(workdir, "checkpoints")) == ["0"]


@pytest.mark.slow
def test_sigterm_saves_and_sigkill_leaves_a_loadable_checkpoint(tiny_config_path, tmp_path):
  steps = ("--config.num_steps=1000", "--config.checkpoint_every=1000", "--config.eval_every=1000",
           "--config.sample_every=1000")
  proc = _cli(tiny_config_path, tmp_path / "term", *steps)
  for line in proc.stdout:
    if line.startswith("step 2/"):
      break
  proc.send_signal(signal.SIGTERM)
  out, _ = proc.communicate(timeout=120)
  assert proc.returncode == 0, out
  _, state = workdirs.load_state(str(tmp_path / "term"))
  assert int(state.step) >= 2

  proc = _cli(tiny_config_path, tmp_path / "kill", "--config.num_steps=1000",
              "--config.checkpoint_every=1")
  ckpt_dir = tmp_path / "kill" / "checkpoints"
  deadline = time.time() + 300
  while time.time() < deadline and len([d for d in os.listdir(ckpt_dir) if d.isdigit()]
                                       if ckpt_dir.exists() else []) < 3:
    time.sleep(0.2)
  time.sleep(np.random.default_rng().uniform(0, 1.0))   # an arbitrary moment, mid-save or not
  proc.kill()
  proc.communicate()
  _, state = workdirs.load_state(str(tmp_path / "kill"))
  assert int(state.step) >= 3


def test_a_run_on_a_gcs_bucket_resumes_exactly_and_loads_for_inference(
    tiny_config_path, parallel, full_run, gcs_bucket, tmp_path):
  """A TPU pod's workdir is a gs:// URL: a run stopped at step 2 resumes from
  it, writes its config, checkpoints and events there, and inference loads from it."""
  from etils import epath
  workdir = epath.Path(f"{gcs_bucket}/runs/tiny")
  stopped = pathlib.Path(_stopped_at_2(full_run, tmp_path / "r"))
  for file in stopped.rglob("*"):
    if file.is_file():
      (workdir / file.relative_to(stopped).as_posix()).write_bytes(file.read_bytes())

  resumed = train.train_and_evaluate(_config(tiny_config_path), str(workdir), parallel=parallel)

  local, full = full_run
  for a, b in zip(_params(full), _params(resumed), strict=True):
    np.testing.assert_array_equal(a, b)
  assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == ["2", "4"]
  assert workdirs.load_config(str(workdir)).num_steps == 4
  uploaded = {p.name for p in workdir.iterdir() if p.name.startswith("events.out.tfevents")}
  new = uploaded - set(os.listdir(stopped))
  assert len(new) == 1 and b"train/generator_loss" in (workdir / new.pop()).read_bytes()
  _, generator, step = workdirs.load_inference(str(workdir), method="melganvc")
  _, want, _ = workdirs.load_inference(str(local), method="melganvc")
  assert step == 4
  for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(generator), strict=True):
    np.testing.assert_array_equal(a, b)


def test_a_parallel_built_from_another_config_is_refused(tiny_config_path, parallel, tmp_path):
  with pytest.raises(ValueError, match="built from another config"):
    train.train_and_evaluate(_config(tiny_config_path, "num_steps=6"), str(tmp_path / "w"),
                             parallel=parallel)


def test_a_workdir_that_cannot_be_made_is_a_one_line_error(tiny_config_path, tmp_path):
  (tmp_path / "file").write_text("not a folder")
  with pytest.raises(config_lib.ConfigError, match=r"workdir .*file/run: cannot be made \("):
    train.train_and_evaluate(_config(tiny_config_path), str(tmp_path / "file" / "run"))


def test_a_second_run_on_a_busy_workdir_is_one_line_exit_2(tiny_config_path, full_run,
                                                            tmp_path, capsys):
  """While a run holds a workdir's lock, a second `jaxvc.train` on it exits at
  once, naming the lock and its holder, and touches nothing there."""
  workdir = _stopped_at_2(full_run, tmp_path / "busy")
  before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
  with run_lock.RunLock(workdir):
    assert train.main(["--config", tiny_config_path, "--workdir", workdir]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert f"{workdir}/{run_lock.LOCK_FILE}" in error and f"pid {os.getpid()}" in error
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == before == ["2"]
  with run_lock.RunLock(workdir):   # released: the workdir can be trained again
    pass


@pytest.mark.slow
def test_two_processes_on_one_workdir(tiny_config_path, tmp_path):
  """Two `python -m jaxvc.train` started on one workdir: the second exits 2
  with the lock named while the first trains on; the first's checkpoints load."""
  workdir = tmp_path / "run"
  steps = ("--config.num_steps=1000", "--config.checkpoint_every=2", "--config.eval_every=1000",
           "--config.sample_every=1000")
  first = _cli(tiny_config_path, workdir, *steps)
  for line in first.stdout:
    if line.startswith("step 2/"):
      break
  second = _cli(tiny_config_path, workdir, *steps)
  out, _ = second.communicate(timeout=120)
  assert second.returncode == 2, out
  assert f"{workdir}/{run_lock.LOCK_FILE}" in out and f"pid {first.pid}" in out
  assert first.poll() is None   # still training
  first.send_signal(signal.SIGTERM)
  out, _ = first.communicate(timeout=120)
  assert first.returncode == 0, out
  _, state = workdirs.load_state(str(workdir))
  assert int(state.step) >= 2
