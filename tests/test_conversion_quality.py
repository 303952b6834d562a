"""Speaker similarity and MCD of converted audio in MelGAN-VC's periodic eval."""
import math

import pytest

from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc import methods
from jaxvc.errors import ConfigError
from jaxvc.evaluation import conversion_quality
from jaxvc.melganvc import evaluator as evaluator_lib
from jaxvc.melganvc import method as melganvc_method
from jaxvc.melganvc import step as step_lib

RATE = 16000


def _waves(corpus, speaker: str, split: str) -> list:
  return [audio.load_audio(p, RATE) for p in sorted((corpus / speaker / split).glob("*.wav"))]


def test_scores_and_reference_lines(demo_corpus):
  sources = _waves(demo_corpus, "speaker_a", "test")
  targets = _waves(demo_corpus, "speaker_b", "test")
  quality = conversion_quality.ConversionQuality(
      sources, targets, target_references=_waves(demo_corpus, "speaker_b", "train"),
      source_references=_waves(demo_corpus, "speaker_a", "train"), sample_rate=RATE,
      invert=lambda wave: wave)   # a lossless inversion: the ceiling is the targets
  base = quality.baselines
  assert base["ceiling_mcd_db"] == pytest.approx(0.0, abs=1e-9)
  assert base["unconverted_mcd_db"] > 3.0
  assert base["ceiling_target_similarity"] > base["unconverted_target_similarity"] + 0.1
  assert base["unconverted_source_similarity"] > base["unconverted_target_similarity"] + 0.1
  assert base["ceiling_source_similarity"] < base["unconverted_source_similarity"] - 0.1
  # The targets scored as conversions get the ceiling's figures.
  ceiling = {k.removeprefix("ceiling_"): v for k, v in base.items() if k.startswith("ceiling_")}
  assert quality(targets) == pytest.approx(ceiling)
  with pytest.raises(ValueError, match="expected 3 converted waves"):
    quality(targets[:1])
  with pytest.raises(ValueError, match="3 sources but 2 parallel targets"):
    conversion_quality.ConversionQuality(sources, targets[:2], target_references=targets,
                                         source_references=sources, sample_rate=RATE,
                                         invert=lambda wave: wave)


def test_without_parallel_targets_the_ceiling_is_held_out_target_speech(demo_corpus):
  """Real speakers say different things: the ceiling's similarities come from
  the target's own held-out utterances, and there is no MCD."""
  sources = _waves(demo_corpus, "speaker_a", "test")
  held_out = _waves(demo_corpus, "speaker_b", "test")[1:]   # not the sources' sentences
  references = dict(target_references=_waves(demo_corpus, "speaker_b", "train"),
                    source_references=_waves(demo_corpus, "speaker_a", "train"))
  quality = conversion_quality.ConversionQuality(
      sources, None, **references, sample_rate=RATE, invert=lambda wave: wave,
      held_out_targets=held_out)
  base = quality.baselines
  assert sorted(base) == ["ceiling_source_similarity", "ceiling_target_similarity",
                          "unconverted_source_similarity", "unconverted_target_similarity"]
  assert base["ceiling_target_similarity"] > base["unconverted_target_similarity"] + 0.1
  assert "mcd_db" not in quality(held_out[:1] + sources[1:])
  no_ceiling = conversion_quality.ConversionQuality(
      sources, None, **references, sample_rate=RATE, invert=lambda wave: wave)
  assert not any(k.startswith("ceiling_") for k in no_ceiling.baselines)


def test_phone_error_rate_where_the_sources_have_transcripts(demo_corpus):
  """The sources' transcripts give every row a phone error rate; speech of
  other sentences scored against them reads worse than the sentences said."""
  paths = sorted((demo_corpus / "speaker_a" / "test").glob("*.wav"))
  sources = [audio.load_audio(p, RATE) for p in paths]
  transcripts = [p.with_suffix(".txt").read_text().strip() for p in paths]
  transcripts[-1] = None   # unknown: left out of the mean
  quality = conversion_quality.ConversionQuality(
      sources, None, target_references=_waves(demo_corpus, "speaker_b", "train"),
      source_references=_waves(demo_corpus, "speaker_a", "train"), sample_rate=RATE,
      invert=lambda wave: wave, transcripts=transcripts, language="en")
  said = quality.baselines["unconverted_phone_error_rate"]
  assert 0 <= said < 0.6
  other_sentences = quality(sources[1:2] + sources[:1] + sources[2:])
  assert other_sentences["phone_error_rate"] > said + 0.1
  with pytest.raises(ValueError, match="3 sources but 2 transcripts"):
    conversion_quality.ConversionQuality(sources, None, target_references=sources,
                                         source_references=sources, sample_rate=RATE,
                                         invert=lambda wave: wave, transcripts=transcripts[:2])


def test_melganvc_eval_logs_similarity_mcd_and_phone_error_rate(tiny_config_path):
  config = config_lib.from_file(tiny_config_path, ["--config.eval_quality_utterances=2",
                                                   "--config.eval_language=en"])
  evaluator = evaluator_lib.Evaluator(config)
  assert len(evaluator.quality.sources) == 2 and len(evaluator.quality.targets) == 2
  assert all(evaluator.quality.transcripts)   # the demo corpus's .txt files
  scores = evaluator.evaluate(step_lib.init_state(config))
  for name in ("target_similarity", "source_similarity", "mcd_db", "phone_error_rate"):
    for prefix in ("", "unconverted_", "ceiling_"):
      assert math.isfinite(scores[f"eval/{prefix}{name}"])
  # Griffin-Lim keeps the target's voice; an untrained generator does not make it.
  assert scores["eval/ceiling_target_similarity"] > scores["eval/target_similarity"]
  assert scores["eval/ceiling_mcd_db"] < scores["eval/unconverted_mcd_db"]
  assert scores["eval/quality_seconds"] > 0
  line = methods.format_scores(scores, melganvc_method.METHOD.console_scores)
  assert "target_similarity" in line and "mcd_db" in line

  # the words of espeak's voices read better unconverted than an untrained generator's noise
  assert scores["eval/unconverted_phone_error_rate"] < scores["eval/phone_error_rate"]
  unknown = config_lib.from_file(tiny_config_path, ["--config.eval_quality_utterances=2",
                                                    "--config.eval_language=xx-nowhere"])
  with pytest.raises(ConfigError, match="eval_language: espeak-ng has no voice 'xx-nowhere'"):
    evaluator_lib.Evaluator(unknown)

  off = config_lib.from_file(tiny_config_path, ["--config.eval_quality_utterances=0"])
  evaluator = evaluator_lib.Evaluator(off)
  assert evaluator.quality is None
  assert not any("similarity" in k for k in evaluator.evaluate(step_lib.init_state(off)))
