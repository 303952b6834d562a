"""MelGAN-VC's held-out evaluation and samples, run by the trainer on the lead host.

Every eval converts the first EVAL_UTTERANCES held-out source utterances and
measures how close the per-bin statistics of the converted mels are to the
target domain's (`evaluation.mel_statistics`), beside the same distance for
the unconverted source. That distance is cheap and needs nothing beyond the
core install, but it cannot tell conversion from a blur. So when the `eval`
extra is installed, every eval also converts `config.eval_quality_utterances`
held-out source utterances to audio and scores them
(`evaluation.conversion_quality`): speaker similarity to each domain and,
where the held-out files of both domains share names (parallel corpora such
as the demo's), MCD against the parallel target, and where the source files
have transcripts and `config.eval_language` is set, the phone error rate of
the sources and of their conversions (`evaluation.intelligibility`). The
audio is rendered by the vocoder that `config.vocoder` names, else Griffin-Lim.
"""
import time

import jax
import numpy as np

from jaxvc import audio
from jaxvc import methods
from jaxvc import plotting
from jaxvc.audio import inversion
from jaxvc.errors import ConfigError
from jaxvc.evaluation import conversion_quality
from jaxvc.evaluation import intelligibility
from jaxvc.evaluation import mel_statistics
from jaxvc.melganvc import input_pipeline
from jaxvc.melganvc import step as step_lib
from jaxvc.melganvc.inference import Converter
from jaxvc.vocoder import inference as vocoder_inference

EVAL_UTTERANCES = 32        # held-out utterances converted for the eval metric
SAMPLE_SECONDS = 4.0        # length of the audio sample logged to TensorBoard
REFERENCE_UTTERANCES = 32   # train-split utterances whose embedding stands for a domain


def quality_eval(config, cfg: audio.AudioConfig,
                 invert: inversion.Inversion) -> conversion_quality.ConversionQuality | None:
  """The audio-level figures' fixed utterances and references, or None where
  `config.eval_quality_utterances` is 0 or the `eval` extra is missing.

  Sources are the first held-out utterances of domain a by file name; where
  domain b holds files of the same names (a parallel corpus) they are the
  ones scored, with those files as MCD targets and the ceiling. Otherwise
  the first held-out utterances of domain b give the ceiling's similarities.
  """
  n = config.eval_quality_utterances
  if n == 0 or not conversion_quality.available():
    return None
  d = config.data
  named = {k: input_pipeline.domain_named_waves(config, k, d.eval_split) for k in "ab"}
  transcripts = None
  if named["a"] is None:
    sources, targets = input_pipeline.domain_waves(config, "a", d.eval_split, n), None
  else:
    parallel = sorted(set(named["a"]) & set(named["b"] or ()))
    keys = (parallel or sorted(named["a"]))[:n]
    sources = [named["a"][k] for k in keys]
    targets = [named["b"][k] for k in keys] if parallel else None
    if config.eval_language:
      try:
        intelligibility.reference_phones("a", config.eval_language)
      except ValueError as e:
        raise ConfigError(f"eval_language: {e}") from None
      said = input_pipeline.domain_transcripts(config, "a", d.eval_split)
      transcripts = [said.get(k) for k in keys]
  held_out_targets = () if targets is not None else (
      [named["b"][k] for k in sorted(named["b"])[:n]] if named["b"] is not None
      else input_pipeline.domain_waves(config, "b", d.eval_split, n))
  references = {k: input_pipeline.domain_waves(config, k, d.train_split, REFERENCE_UTTERANCES)
                for k in "ab"}
  return conversion_quality.ConversionQuality(
      sources, targets, target_references=references["b"], source_references=references["a"],
      sample_rate=cfg.sample_rate, invert=lambda w: invert(np.asarray(audio.wave_to_mel(w, cfg))),
      held_out_targets=held_out_targets, transcripts=transcripts, language=config.eval_language)


class Evaluator:
  """Holds the held-out mels; evaluates and samples a train state."""

  def __init__(self, config):
    self.config = config
    self.audio = audio.AudioConfig.from_config(config.audio)
    self.mels = input_pipeline.create_eval_mels(config)
    self.vocoder = vocoder_inference.from_config_key(config, self.audio, "this MelGAN-VC run")
    self.quality = quality_eval(config, self.audio,
                                self.vocoder or inversion.GriffinLim(self.audio))

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
    if self.quality is not None:
      start = time.perf_counter()
      waves = [converter.convert(w, self.audio.sample_rate) for w in self.quality.sources]
      quality = {**self.quality(waves), **self.quality.baselines}
      scores.update({f"eval/{k}": v for k, v in quality.items()})
      scores["eval/quality_seconds"] = time.perf_counter() - start
    return scores

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
