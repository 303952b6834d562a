"""Broad-class phone error rate (jaxvc.evaluation.intelligibility) on espeak-ng speech."""
from pathlib import Path

import numpy as np
import pytest

from jaxvc.data import demo
from jaxvc.evaluation import intelligibility

from conftest import SPEECH_TEXT

OTHER_TEXT = "A bright morning light filled the little kitchen."
ENGLISH = [SPEECH_TEXT, OTHER_TEXT, "Judge the church: thin things, this measure, an hour's idea.",
           "Their quiet voices were heard far away, beyond the yellow boat."]
CZECH = ["Řeka, ťuk, ďábel, kůň, chléb, džem, vlk, auto, pouto.",
         "Vidíš to oko? Němý svědek tragédie... Někdo v důvěře usedl do letadla.",
         "Počkej, na semaforu svítí červená, zrcadlo a hřbitov."]


def test_identical_sequences_score_zero():
  classes = intelligibility.ipa_classes(intelligibility.reference_phones(SPEECH_TEXT, "en-us"))
  assert intelligibility.class_error_rate(classes, classes) == 0.0
  assert intelligibility.class_error_rate(classes, []) == 1.0        # all deleted
  assert intelligibility.edit_distance(list("kitten"), list("sitting")) == 3
  assert intelligibility.edit_distance([], list("ab")) == 2
  with pytest.raises(ValueError, match="empty reference"):
    intelligibility.class_error_rate([], ["a"])


def test_every_pocketsphinx_phone_has_a_class():
  import pocketsphinx
  model = Path(pocketsphinx.get_model_path()) / "en-us"
  phones = {p for line in (model / "cmudict-en-us.dict").read_text().splitlines()
            for p in line.split()[1:]}
  noise = {line.split()[1] for line in (model / "en-us" / "noisedict").read_text().splitlines()}
  assert phones == set(intelligibility.ARPABET)
  assert intelligibility.arpabet_classes(sorted(noise)) == []       # SIL, +NSN+, +SPN+ dropped
  assert set(intelligibility.ARPABET.values()) == set(intelligibility.CLASSES)


@pytest.mark.parametrize("language, texts", [("en-us", ENGLISH), ("en", ENGLISH), ("cs", CZECH)])
def test_every_symbol_espeak_emits_has_a_class(language, texts):
  for text in texts:
    phonemes = intelligibility.reference_phones(text, language)
    classes = intelligibility.ipa_classes(phonemes)    # raises on a symbol it cannot place
    assert set(classes) <= set(intelligibility.CLASSES)
    assert len(phonemes) * 0.9 <= len(classes) <= len(phonemes) * 1.3


def test_classes_of_known_words():
  classes = lambda text, language: intelligibility.ipa_classes(
      intelligibility.reference_phones(text, language))
  assert classes("church judge", "en-us") == ["ch", "@", "ch", "jh", "@", "jh"]
  assert classes("car", "en-us") == ["p", "a", "r"]          # ɑːɹ: AA R in ARPAbet
  assert classes("řeka", "cs") == ["r", "e", "p", "a"]
  assert classes("ťuk", "cs") == ["p", "u", "p"]


def test_odd_symbols():
  assert intelligibility.ipa_classes(["(en)", "ˈb", "ʔ", "(cs)", "r̝̊", "l̩"]) == ["b", "r", "l"]
  with pytest.raises(ValueError, match="'ʘ'"):
    intelligibility.ipa_classes(["ʘ"])


def test_true_transcript_scores_lower_and_noise_raises_it(speech):
  wave, sample_rate = speech
  true = intelligibility.phone_error_rate(wave, sample_rate, SPEECH_TEXT, "en-us")
  other = intelligibility.phone_error_rate(wave, sample_rate, OTHER_TEXT, "en-us")
  noise = np.random.default_rng(1).standard_normal(wave.size) * np.sqrt(np.mean(wave ** 2))
  noisy = intelligibility.phone_error_rate(wave + noise, sample_rate, SPEECH_TEXT, "en-us")
  assert true < 0.45 and other > true + 0.4 and noisy > true + 0.3   # measured 0.30, 1.10, 0.85


def test_recognition_does_not_depend_on_what_came_before(speech):
  wave, sample_rate = speech
  first = intelligibility.recognised_phones(wave, sample_rate)
  other, other_rate = demo.render(OTHER_TEXT, "speaker_b")
  intelligibility.recognised_phones(other, other_rate)
  intelligibility.recognised_phones(np.zeros(8000, np.float32), 8000)   # silence decodes too
  assert intelligibility.recognised_phones(wave, sample_rate) == first


def test_phonemizing_leaves_rendering_unchanged():
  before, _ = demo.render(OTHER_TEXT, "speaker_b")
  intelligibility.reference_phones(CZECH[0], "cs")
  after, _ = demo.render(OTHER_TEXT, "speaker_b")
  np.testing.assert_array_equal(before, after)
