"""`python -m jaxvc.infer export`: each exported model run in its own runtime
(TensorFlow, the LiteRT interpreter) on real mels (the demo corpus's test
split) matches JAX; formats that do not work, and bad outputs, are one-line
errors (exit 2) that leave nothing behind."""
import json
import os

import numpy as np
import pytest
import soundfile as sf

from jaxvc import audio
from jaxvc import export
from jaxvc import infer
from jaxvc.melganvc.inference import Converter
from jaxvc.vocoder import excitation
from jaxvc.vocoder.inference import Vocoder
from test_converter import tiny_config, write_workdir
from test_vocoder import tiny_config as tiny_vocoder_config

TOLERANCE = 1e-3   # the bound on |exported - JAX|, on mels in [-1, 0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """A tiny MelGAN-VC and a tiny F0-conditioned vocoder (fresh weights)."""
  root = tmp_path_factory.mktemp("runs")
  vocoder = tiny_vocoder_config()
  vocoder.model.pitch = True
  return write_workdir(root / "melganvc", tiny_config()), write_workdir(root / "vocoder", vocoder)


@pytest.fixture(scope="module")
def mels(demo_corpus):
  """Normalised mels of speaker_a's test utterances (lengths not a chunk multiple)."""
  cfg = audio.AudioConfig()
  out = []
  for path in sorted((demo_corpus / "speaker_a" / "test").glob("*.wav")):
    wave, rate = sf.read(path, dtype="float32")
    out.append(np.asarray(audio.wave_to_mel(audio.resample(wave, rate, cfg.sample_rate), cfg)))
  return out


@pytest.fixture(scope="module")
def savedmodel(runs, tmp_path_factory):
  melganvc, vocoder = runs
  out = tmp_path_factory.mktemp("export") / "savedmodel"
  assert infer.main(["export", "--workdir", melganvc, "--vocoder", vocoder, "--output", str(out),
                     "--format", "savedmodel"]) == 0
  return out


def _padded(mel, width):
  """The mel padded with silence to a whole number of chunks, batched."""
  frames = -(-mel.shape[1] // width) * width
  return np.pad(mel, ((0, 0), (0, frames - mel.shape[1])), constant_values=audio.SILENCE)[None]


def test_savedmodel_matches_jax_on_real_mels(savedmodel, runs, mels):
  import tensorflow as tf
  melganvc, vocoder_dir = runs
  manifest = json.loads((savedmodel / export.MANIFEST).read_text())
  generator, vocoder_info = manifest["models"]["generator"], manifest["models"]["vocoder"]
  assert manifest["format"] == "savedmodel" and manifest["sample_rate"] == 16000
  assert manifest["audio"]["n_mels"] == 192 and generator["step"] == 0
  assert generator["inputs"] == [dict(name="mel", shape=["batch", 192, "24*k"], dtype="float32")]
  assert [t["name"] for t in vocoder_info["inputs"]] == ["mel", "pitch"]
  assert vocoder_info["outputs"][0]["shape"] == ["batch", "192*frames"]
  serve_g = tf.saved_model.load(str(savedmodel / generator["path"])).signatures["serving_default"]
  serve_v = tf.saved_model.load(str(savedmodel / vocoder_info["path"])).signatures["serving_default"]
  converter, vocoder = Converter.from_workdir(melganvc), Vocoder.from_workdir(vocoder_dir)
  c, hop = vocoder_info["context_frames"], manifest["hop_length"]
  assert c == vocoder.context
  errors = []
  for mel in mels:
    frames = mel.shape[1]
    converted = serve_g(mel=tf.constant(_padded(mel, 24)))["converted"].numpy()[0, :, :frames]
    errors.append(np.abs(converted - converter.convert_mel(mel)).max())
    # The vocoder as jaxvc.Vocoder renders: context of silence on each side.
    f0 = np.where(np.arange(frames) % 50 < 30, 110.0 + np.arange(frames) * 0.2, 0.0)
    rows = vocoder.pitch_rows(mel[None], f0[None], None)
    wave = serve_v(mel=tf.constant(np.pad(mel, ((0, 0), (c, c)), constant_values=-1.0)[None]),
                   pitch=tf.constant(excitation.pad_rows(rows, c, c)))["wave"].numpy()
    reference = vocoder.render(mel[None], rows)
    errors.append(np.abs(wave[:, c * hop:(c + frames) * hop] - reference).max())
  assert max(errors) < TOLERANCE, errors
  # A batch of two, another length.
  both = np.stack([m[:, :48] for m in mels[:2]])
  out = serve_g(mel=tf.constant(both))["converted"].numpy()
  np.testing.assert_allclose(out, np.stack([converter.convert_mel(m) for m in both]),
                             atol=TOLERANCE)


def test_tflite_generator_matches_jax_in_litert(runs, mels, tmp_path):
  interpreter = pytest.importorskip("ai_edge_litert.interpreter")
  melganvc, _ = runs
  assert infer.main(["export", "--workdir", melganvc, "--output", str(tmp_path / "out"),
                     "--format", "tflite"]) == 0
  assert sorted(os.listdir(tmp_path / "out")) == ["generator.tflite", export.MANIFEST]
  runner = interpreter.Interpreter(model_path=str(tmp_path / "out" / "generator.tflite"))
  converter = Converter.from_workdir(melganvc)
  errors = []
  for mel in mels:
    x = _padded(mel, 24)
    [inp], [out] = runner.get_input_details(), runner.get_output_details()
    runner.resize_tensor_input(inp["index"], x.shape)
    runner.allocate_tensors()
    runner.set_tensor(inp["index"], x)
    runner.invoke()
    converted = runner.get_tensor(out["index"])[0, :, :mel.shape[1]]
    errors.append(np.abs(converted - converter.convert_mel(mel)).max())
  assert max(errors) < TOLERANCE, errors


def _export_error(capsys, *args) -> str:
  assert infer.main(["export", *args]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("error: ") and "\n" not in err, err
  return err


def test_unusable_formats_runs_and_outputs_exit_2_and_write_nothing(runs, tmp_path, capsys,
                                                                   monkeypatch):
  melganvc, vocoder = runs
  out = tmp_path / "out"
  base = ["--workdir", melganvc, "--output", str(out)]
  assert "--format onnx: no working converter" in _export_error(capsys, *base, "--format", "onnx")
  assert "--format tflite with --vocoder: the vocoder does not convert" in _export_error(
      capsys, *base, "--vocoder", vocoder, "--format", "tflite")
  assert "no saved config" in _export_error(
      capsys, "--workdir", str(tmp_path / "missing"), "--output", str(out), "--format", "tflite")
  assert "a melganvc run, not a vocoder one" in _export_error(
      capsys, *base, "--vocoder", melganvc, "--format", "savedmodel")
  assert not out.exists()
  out.mkdir()
  (out / "keep.txt").write_text("x")
  assert "exists and is not an empty folder" in _export_error(capsys, *base, "--format", "tflite")
  assert os.listdir(out) == ["keep.txt"]
  # A failure while writing leaves neither the output nor a temporary folder.
  written = export._write

  def fail_after_writing(model, folder, fmt):
    written(model, folder, fmt)
    raise export.ExportError("disk full")
  monkeypatch.setattr(export, "_write", fail_after_writing)
  fresh = tmp_path / "fresh"
  assert "disk full" in _export_error(capsys, "--workdir", melganvc, "--output", str(fresh),
                                      "--format", "tflite")
  assert os.listdir(tmp_path) == ["out"]


def test_the_level_postfilter_is_in_the_exported_generator(demo_corpus, mels, tmp_path):
  """A run whose config turns the postfilter on exports a generator that
  converts as `Converter.convert_mel` does, the map included."""
  import tensorflow as tf
  config = tiny_config()
  config.data.update(domain_a=f"folder:{demo_corpus}/speaker_a",
                     domain_b=f"folder:{demo_corpus}/speaker_b",
                     cache_dir=str(tmp_path / "cache"))
  config.postfilter.update(enabled=True, utterances=3)
  workdir = write_workdir(tmp_path / "run", config)
  assert infer.main(["export", "--workdir", workdir, "--output", str(tmp_path / "out"),
                     "--format", "savedmodel"]) == 0
  info = json.loads((tmp_path / "out" / export.MANIFEST).read_text())["models"]["generator"]
  assert info["postfilter"] is True
  serve = tf.saved_model.load(str(tmp_path / "out" / info["path"])).signatures["serving_default"]
  converter = Converter.from_workdir(workdir)
  assert converter.level_map is not None
  mel = mels[0]
  converted = serve(mel=tf.constant(_padded(mel, 24)))["converted"].numpy()[0, :, :mel.shape[1]]
  np.testing.assert_allclose(converted, converter.convert_mel(mel), atol=TOLERANCE)
  unfiltered = Converter.from_workdir(workdir, postfilter=False).convert_mel(mel)
  assert np.abs(converted - unfiltered).max() > 10 * TOLERANCE
