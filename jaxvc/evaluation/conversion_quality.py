"""Speaker similarity, MCD and phone error rate of conversions, for training's
periodic eval.

The held-out mel statistics (`mel_statistics`) cannot tell a conversion from
a blur of the source; a speaker encoder can. When the `eval` extra is
installed, a method's evaluator renders a fixed handful of held-out source
utterances to audio and scores them as `tools/evaluate.py` does:
Resemblyzer similarity to each domain's reference embedding and, where the
utterances have parallel targets, MCD against them. The same figures for the
unconverted sources (where conversion starts) and for the parallel targets
through the same mel and inversion (the ceiling the inversion allows) are
computed once, so that every curve comes with its two reference lines.
"""
from collections.abc import Callable, Sequence
import importlib.util

import numpy as np

from jaxvc.evaluation import intelligibility
from jaxvc.evaluation import metrics

EXTRA_MODULES = ("resemblyzer", "pyworld", "pysptk", "pocketsphinx", "jiwer")   # what the figures import


def available() -> bool:
  """Whether the `eval` extra's speaker encoder and WORLD analysis are installed."""
  return all(importlib.util.find_spec(name) is not None for name in EXTRA_MODULES)


class ConversionQuality:
  """Scores conversions of fixed held-out source utterances.

  `sources` are the utterances that get converted; `targets`, if given, their
  parallel target utterances in the same order; `target_references` and
  `source_references` the utterances whose mean embedding stands for each
  domain (from the train split, so no scored utterance is its own
  reference); `invert(wave)` renders a wave through the mel and the inversion
  the conversions use, for the ceiling. Without parallel targets (two
  speakers saying different things, as real recordings are),
  `held_out_targets`, held-out utterances of the target domain, give the
  ceiling's similarities (there is no MCD without a parallel utterance).
  `transcripts`, if given, are what each source says (None where unknown) in
  `language` (an espeak-ng voice name): the sources and their conversions then
  also get the broad-class phone error rate (`intelligibility`), so that a
  conversion that loses the words shows beside the unconverted sources'. All
  waves mono at `sample_rate`.
  """

  def __init__(self, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray] | None, *,
               target_references: Sequence[np.ndarray],
               source_references: Sequence[np.ndarray], sample_rate: int,
               invert: Callable[[np.ndarray], np.ndarray],
               held_out_targets: Sequence[np.ndarray] = (),
               transcripts: Sequence[str | None] | None = None, language: str = "en"):
    if targets is not None and len(targets) != len(sources):
      raise ValueError(f"{len(sources)} sources but {len(targets)} parallel targets")
    if transcripts is not None and len(transcripts) != len(sources):
      raise ValueError(f"{len(sources)} sources but {len(transcripts)} transcripts")
    self.sources = list(sources)
    self.targets = None if targets is None else list(targets)
    self.transcripts = [None] * len(self.sources) if transcripts is None else list(transcripts)
    self.language = language
    self.sample_rate = sample_rate
    self.target_embedding = metrics.speaker_embedding(target_references, sample_rate)
    self.source_embedding = metrics.speaker_embedding(source_references, sample_rate)
    self.baselines = {f"unconverted_{k}": v for k, v in self(self.sources).items()}
    ceiling = self.targets if self.targets is not None else list(held_out_targets)
    if ceiling:
      transcripts = self.transcripts if self.targets is not None else None
      scores = self._scores([invert(t) for t in ceiling], self.targets, transcripts)
      self.baselines.update({f"ceiling_{k}": v for k, v in scores.items()})

  def __call__(self, converted: Sequence[np.ndarray]) -> dict[str, float]:
    """Mean similarity of `converted` (one wave per source, in order) to each
    domain, and mean MCD in dB against the parallel targets if there are any."""
    if len(converted) != len(self.sources):
      raise ValueError(f"expected {len(self.sources)} converted waves, got {len(converted)}")
    return self._scores(converted, self.targets, self.transcripts)

  def _scores(self, waves: Sequence[np.ndarray], targets: Sequence[np.ndarray] | None,
              transcripts: Sequence[str | None] | None = None) -> dict[str, float]:
    similarities = np.array([self._similarities(w) for w in waves])
    scores = dict(target_similarity=float(np.mean(similarities[:, 0])),
                  source_similarity=float(np.mean(similarities[:, 1])))
    if targets is not None:
      scores["mcd_db"] = float(np.mean([
          metrics.mel_cepstral_distortion(w, t, self.sample_rate)
          for w, t in zip(waves, targets, strict=True)]))
    said = [(w, t) for w, t in zip(waves, transcripts or ()) if t]
    if said:
      scores["phone_error_rate"] = float(np.mean([
          intelligibility.phone_error_rate(w, self.sample_rate, t, self.language)
          for w, t in said]))
    return scores

  def _similarities(self, wave: np.ndarray) -> tuple[float, float]:
    """(to the target domain, to the source domain); 0 for both where voice
    activity detection finds no speech (an early generator's noise): nobody's
    voice, and skipping it would flatter the mean."""
    try:
      embedding = metrics.speaker_embedding([wave], self.sample_rate)
    except metrics.NoSpeechError:
      return 0.0, 0.0
    return (metrics.speaker_similarity(embedding, self.target_embedding),
            metrics.speaker_similarity(embedding, self.source_embedding))
