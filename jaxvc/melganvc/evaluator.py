"""MelGAN-VC's held-out evaluation and samples, run by the trainer on the lead host.

Every eval converts the first EVAL_UTTERANCES held-out source utterances and
measures how close the per-bin statistics of the converted mels are to the
target domain's (`evaluation.mel_statistics`), beside the same distance for
the unconverted source. That distance is cheap and needs nothing beyond the
core install, but it cannot tell conversion from a blur. The audio samples
are rendered by the vocoder that `config.vocoder` names, else Griffin-Lim.
"""
import jax
import numpy as np

from jaxvc import audio
from jaxvc import methods
from jaxvc import plotting
from jaxvc.evaluation import mel_statistics
from jaxvc.melganvc import input_pipeline
from jaxvc.melganvc import step as step_lib
from jaxvc.melganvc.converter import Converter
from jaxvc.vocoder import synthesis

EVAL_UTTERANCES = 32        # held-out utterances converted for the eval metric
SAMPLE_SECONDS = 4.0        # length of the audio sample logged to TensorBoard


class Evaluator:
  """Holds the held-out mels; evaluates and samples a train state."""

  def __init__(self, config):
    self.config = config
    self.audio = audio.AudioConfig.from_config(config.audio)
    self.mels = input_pipeline.create_eval_mels(config)
    self.vocoder = synthesis.from_config_key(config, self.audio, "this MelGAN-VC run")

  def _converter(self, state) -> Converter:
    return Converter.from_generator_state(
        self.config, jax.device_get(step_lib.generator_state(state)), vocoder=self.vocoder)

  def evaluate(self, state) -> dict[str, float]:
    """Per-bin statistics distance to the target domain, converted vs. source."""
    converter = self._converter(state)
    sources = self.mels["a"][:EVAL_UTTERANCES]
    converted = [converter.convert_mel(m) for m in sources]
    scores = {}
    for name, mels in (("source", sources), ("converted", converted)):
      means, stds = mel_statistics.statistics_distance_parts(mels, self.mels["b"])
      scores.update({f"eval/stats_distance_{name}": means + stds,
                     f"eval/stats_distance_{name}_means": means,
                     f"eval/stats_distance_{name}_stds": stds})
    scores["eval/stats_distance_ratio"] = (scores["eval/stats_distance_converted"]
                                           / scores["eval/stats_distance_source"])
    return scores

  def summary(self, scores: dict[str, float]) -> str:
    return (f"mel statistics distance to the target domain: "
            f"converted {scores['eval/stats_distance_converted']:.4f} "
            f"(means {scores['eval/stats_distance_converted_means']:.4f} + "
            f"stds {scores['eval/stats_distance_converted_stds']:.4f}), "
            f"source {scores['eval/stats_distance_source']:.4f}")

  def samples(self, state) -> methods.Samples:
    """A converted held-out clip as audio and a source/converted mel image."""
    converter = self._converter(state)
    frames = int(SAMPLE_SECONDS * self.audio.sample_rate / self.audio.hop_length)
    mel = self.mels["a"][0][:, :frames]
    converted = converter.convert_mel(mel)
    wave = converter.inversion(converted)
    return methods.Samples(
        audio={"sample/converted": (np.asarray(wave), self.audio.sample_rate)},
        images={"sample/source_over_converted": plotting.mel_image([mel, converted])})
