"""Exports a trained MelGAN-VC generator (mel -> mel) and vocoder (mel -> wave)
for serving without JAX: `python -m jaxvc.infer export`.

  export(workdir, "exported/", "savedmodel", vocoder="runs/vocoder")

Route: `jax2tf.convert` with symbolic shapes. In jax 0.10 jax2tf always
serialises natively: each model becomes one XlaCallModule op holding the
StableHLO of the jitted function, lowered for the CPU, with its time axis a
symbolic dimension (what `jax.export` checks and specialises at each call).

- savedmodel: both models; TensorFlow runs the StableHLO with XLA, so they
  match JAX to float rounding.
- tflite: the generator only. The TFLite converter legalises the StableHLO
  to TFLite ops (run by the LiteRT interpreter, `ai-edge-litert`); the
  vocoder's symbolic-length slices (its ConvNeXt's depthwise taps, the
  inverse STFT's frames) lower to `stablehlo.dynamic_gather`, which the
  converter does not take.
- onnx: neither. tf2onnx cannot convert XlaCallModule (the only op jax2tf
  now writes); tf2onnx from the TFLite file writes a graph whose reshapes
  keep the traced sizes (onnxruntime refuses other lengths); jax2onnx pins
  orbax-checkpoint < 0.11.37, which jaxvc's checkpoints (>= 0.12) exclude.

What each model takes is written to `manifest.json` beside the models (names,
shapes, the mel settings, the sample rate, how to pad): the generator takes
(batch, n_mels, chunk_frames * k) normalised mels, converts each chunk as
`Converter.convert_mel` does (pad the mel with -1, the normalised silence, up
to a whole chunk, and cut the output back); the vocoder takes (batch, n_mels,
frames) [and an F0-conditioned one the pitch rows (batch, 4, frames) of
`excitation.pitch_rows`, whose phases are summed in float64 on the host, so
they stay an input] and returns (batch, frames * hop) samples.

Where the run's config turns the level postfilter on (`postfilter.enabled`,
as `melganvc_real` does), the exported generator includes it (the per-band
map of the run's `postfilter.json` at the exported step, computed there
first if a conversion has not yet), so that it converts as `convert` does.

The pure parts build the functions and the manifest; `export` loads the runs
and writes the folder, atomically (`files.atomic_folder`).
"""
import dataclasses
import importlib.metadata
import os
import shutil
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxvc import audio
from jaxvc import files
from jaxvc import workdirs
from jaxvc.audio import inversion
from jaxvc.melganvc import chunking
from jaxvc.melganvc import inference
from jaxvc.melganvc import postfilter
from jaxvc.melganvc import step as melganvc_step
from jaxvc.vocoder import excitation
from jaxvc.vocoder import generator as vocoder_generator
from jaxvc.vocoder import step as vocoder_step

FORMATS = ("savedmodel", "tflite", "onnx")
# Why a format, or a model in it, cannot be exported: one line each (module docstring).
NOT_EXPORTABLE = {
    "onnx": "no working converter: tf2onnx cannot convert the XlaCallModule op that jax2tf "
            "writes, and jax2onnx needs orbax-checkpoint < 0.11.37, below jaxvc's >= 0.12",
}
VOCODER_NOT_EXPORTABLE = {
    "tflite": "the vocoder does not convert to TFLite: its symbolic-length slices lower to "
              "stablehlo.dynamic_gather, which the TFLite converter does not support",
}
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
PLATFORMS = ("cpu",)   # what the StableHLO is lowered for


class ExportError(ValueError):
  """A format, model or output that cannot be exported; reported in one line."""


@dataclasses.dataclass(frozen=True)
class Tensor:
  """One input or output: its name in the signature and its shape, with
  "batch" and symbolic dimensions as jax.export writes them ("24*k")."""
  name: str
  shape: tuple[int | str, ...]

  @property
  def polymorphic(self) -> str:
    return "(" + ", ".join(str(d) for d in self.shape) + ")"

  def describe(self) -> dict:
    return dict(name=self.name, shape=list(self.shape), dtype="float32")


@dataclasses.dataclass(frozen=True)
class Model:
  """A pure JAX function of float32 arrays with its signature and what a
  caller needs to know (`notes`, written to the manifest)."""
  name: str
  fn: Callable[..., jax.Array]
  inputs: tuple[Tensor, ...]
  output: Tensor
  notes: dict


def generator_model(config, generator: dict,
                    level_map: postfilter.LevelMap | None = None) -> Model:
  """MelGAN-VC's generator over whole mels: (batch, n_mels, chunk * k) ->
  the same, each chunk converted on its own as `Converter.convert_mel` does
  (and mapped by `level_map`, the level postfilter, where given)."""
  g = melganvc_step.generator_fn(melganvc_step.graph_definitions(config)["generator"],
                                 generator["params"], generator["stats"])
  width, n_mels = config.data.chunk_frames, config.audio.n_mels

  def convert(mel: jax.Array) -> jax.Array:
    chunks = chunking.split_whole(mel, width)        # (batch, k, n_mels, width)
    batch, k = chunks.shape[:2]
    converted = g(chunks.reshape(batch * k, n_mels, width)).reshape(chunks.shape)
    converted = chunking.join_whole(converted)
    return converted if level_map is None else level_map(converted, xp=jnp)

  shape = ("batch", n_mels, f"{width}*k")
  return Model("generator", convert, (Tensor("mel", shape),), Tensor("converted", shape), dict(
      chunk_frames=width, pad_value=float(audio.SILENCE), postfilter=level_map is not None,
      usage=f"a normalised mel (as jaxvc.audio.wave_to_mel), padded at its end with "
            f"{audio.SILENCE:g} (silence) to a multiple of {width} frames; each chunk of "
            f"{width} frames converts on its own; cut the output to the mel's length"))


def vocoder_model(config, params) -> Model:
  """The vocoder's generator: (batch, n_mels, frames) [, pitch rows (batch, 4,
  frames)] -> (batch, frames * hop)."""
  v = vocoder_step.generator_fn(vocoder_step.graph_definitions(config)["generator"], params)
  cfg = audio.AudioConfig.from_config(config.audio)
  inputs = (Tensor("mel", ("batch", cfg.n_mels, "frames")),)
  notes = dict(context_frames=vocoder_generator.context_frames(config), usage=(
      "a normalised mel of any length; to render as jaxvc.Vocoder does, pad it with "
      "context_frames frames of -1 on each side and drop context_frames * hop samples "
      "at each end of the wave"))
  if vocoder_generator.uses_pitch(config):
    inputs += (Tensor("pitch", ("batch", excitation.ROWS, "frames")),)
    notes["pitch"] = ("rows per frame of jaxvc.vocoder.excitation.pitch_rows (F0 in Hz held "
                      "through unvoiced frames, voiced 0/1, oscillator phase at the frame's "
                      "centre mod 2 pi, summed in float64, frame number mod 2**24, the noise "
                      "source's seed); padding frames: edge values, voiced 0, numbered on")
  return Model("vocoder", v, inputs,
               Tensor("wave", ("batch", f"{cfg.hop_length}*frames")), notes)


def tf_module(model: Model):
  """A tf.Module whose `serving_default` signature runs `model` by jax2tf,
  taking and returning float32 tensors by name."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow only where exporting)
  from jax.experimental import jax2tf  # noqa: PLC0415
  converted = jax2tf.convert(model.fn, polymorphic_shapes=[t.polymorphic for t in model.inputs],
                             with_gradient=False, native_serialization_platforms=PLATFORMS)
  specs = [tf.TensorSpec([d if isinstance(d, int) else None for d in t.shape], tf.float32,
                         name=t.name) for t in model.inputs]
  module = tf.Module()
  module.serve = tf.function(lambda *x: {model.output.name: converted(*x)}, autograph=False,
                             input_signature=specs)
  return module


def _write(model: Model, folder: str, fmt: str) -> str:
  """Writes `model` under `folder` in `fmt`; returns its path relative to `folder`."""
  import tensorflow as tf  # noqa: PLC0415
  module = tf_module(model)
  saved = os.path.join(folder, model.name)
  tf.saved_model.save(module, saved, signatures=module.serve.get_concrete_function())
  if fmt == "savedmodel":
    return model.name
  flat = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
  shutil.rmtree(saved)   # only the .tflite is kept
  with open(os.path.join(folder, f"{model.name}.tflite"), "wb") as f:
    f.write(flat)
  return f"{model.name}.tflite"


def manifest(models: dict[str, dict], cfg: audio.AudioConfig, fmt: str) -> dict:
  """What a serving program needs besides the models."""
  try:
    version = importlib.metadata.version("jaxvc")
  except importlib.metadata.PackageNotFoundError:
    version = "unknown"
  return dict(manifest_version=MANIFEST_VERSION, jaxvc_version=version, format=fmt,
              signature="serving_default", sample_rate=cfg.sample_rate,
              hop_length=cfg.hop_length, audio=dataclasses.asdict(cfg), models=models)


def check_format(fmt: str, with_vocoder: bool) -> None:
  """Raises ExportError unless `fmt` exports the models asked for."""
  if fmt not in FORMATS:
    raise ExportError(f"--format {fmt}: one of {', '.join(FORMATS)}")
  if fmt in NOT_EXPORTABLE:
    raise ExportError(f"--format {fmt}: {NOT_EXPORTABLE[fmt]}")
  if with_vocoder and fmt in VOCODER_NOT_EXPORTABLE:
    raise ExportError(f"--format {fmt} with --vocoder: {VOCODER_NOT_EXPORTABLE[fmt]}")


def export(workdir: str, output: str, fmt: str, *, step: int | None = None,
           vocoder: str | None = None) -> dict:
  """Writes the run's generator [and `vocoder`'s] to the folder `output` in
  `fmt`, with `manifest.json`; returns the manifest. Raises ExportError (bad
  format or output), checkpoints.CheckpointError or ConfigError (bad runs);
  nothing is written then, nor if the conversion fails."""
  check_format(fmt, vocoder is not None)
  if files.is_url(output):
    raise ExportError(f"--output {output}: a local folder (exports are written, then renamed)")
  if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
    raise ExportError(f"--output {output}: exists and is not an empty folder")
  config, generator, trained = workdirs.load_inference(workdir, step, method="melganvc")
  cfg = audio.AudioConfig.from_config(config.audio)
  level_map = None
  if config.postfilter.enabled:
    plain = inference.Converter.from_generator_state(config, generator)
    level_map = postfilter.load_or_compute(workdir, config, trained, plain.convert_mel)
  models = [(generator_model(config, generator, level_map),
             dict(workdir=str(workdir), step=trained))]
  if vocoder is not None:
    v_config, v_state, v_step = workdirs.load_inference(vocoder, None, method="vocoder")
    v_cfg = audio.AudioConfig.from_config(v_config.audio)
    inversion.check_matches(_Settings(v_cfg), cfg, "the MelGAN-VC model")
    models.append((vocoder_model(v_config, v_state["params"]),
                   dict(workdir=str(vocoder), step=v_step)))
  written = {}
  with files.atomic_folder(output) as folder:
    for model, origin in models:
      path = _write(model, folder, fmt)
      written[model.name] = dict(path=path, inputs=[t.describe() for t in model.inputs],
                                 outputs=[model.output.describe()], **model.notes, **origin)
    result = manifest(written, cfg, fmt)
    files.write_json(os.path.join(folder, MANIFEST), result)
  return result


@dataclasses.dataclass(frozen=True)
class _Settings:
  """The audio settings of a vocoder not loaded for rendering, for
  `inversion.check_matches`."""
  cfg: audio.AudioConfig

