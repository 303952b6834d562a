"""Intelligibility without a word recogniser: phone error rate on broad classes.

Whether a conversion keeps the words is measured against what was said, the
transcript, so the unconverted source gets a score too and a conversion can
be judged against it ("within 10% of the source's score"). Word error rate
would be the usual figure, but no offline recogniser fits: pocketsphinx's
English word recogniser misreads espeak-ng's voices (about 85% WER before any
conversion) and there is none for Czech. Phones travel better than words:

  recognised  pocketsphinx's English phone decoder (allphone search, its
              phone trigram), ARPAbet phones; silence and noise dropped
  reference   espeak-ng's phonemes of the transcript (IPA, in the voice of
              its language: "en-us", "cs")

Both are mapped onto one alphabet of 20 broad classes (CLASSES: six vowel
regions, plosives, fricatives and affricates by voicing, sibilants apart,
nasals, l, r, w, j), coarse enough that an English recogniser's phones and a
Czech phonemization can meet in it, and the phone error rate is the edit
distance between the two class sequences over the reference's length.

Before decoding, every wave gets the same faint noise floor (with_noise_floor):
without it, synthetic speech with silent pauses scored better with noise
added than without.

What it cannot do: the figure is the error rate of an English acoustic
model, high even on clean speech (0.40 on the demo's espeak-ng voices, 0.63
and 0.73 on the two Czech speakers, where another sentence's transcript
scores 0.80-0.85), so only differences between systems on the same
sentences mean anything, never the level. It depends on the voice as well as
on the words: the Czech female speaker scores 0.10 worse than the male one
and close to chance, and her PER barely rises with noise until SNR 0 dB, so
a conversion into a voice the model hears badly scores worse for the voice
alone, and on such a voice the measure is blunt. It hears phone classes, not
words: what a conversion blurs within a class goes unnoticed. espeak-ng's
phonemization is taken as what was said, so a reader who departs from it,
or a word espeak-ng gets wrong (Czech "vlk" is spelled out), counts as an
error against every system alike. Per utterance it is noisy: tens of
utterances for a 10% difference. docs/results/intelligibility.md has the
validation (tools/intelligibility_check.py).
"""
import functools
import os
import re
import unicodedata

import numpy as np

from jaxvc.evaluation.metrics import MODEL_RATE, _import, _resampled

# The broad classes, each with the IPA and ARPAbet phones it takes.
CLASSES = {
    "i": "high front vowels: i ɪ ᵻ y; IY IH",
    "e": "mid front vowels: e ɛ eɪ; EH EY",
    "a": "low vowels: a æ ɑ ɒ aɪ aʊ; AA AE AY AW",
    "@": "central vowels: ə ɐ ʌ ɜ ɚ; AH ER",
    "o": "mid back vowels: o ɔ oʊ ɔɪ; AO OW OY",
    "u": "high back vowels: u ʊ; UW UH",
    "p": "voiceless plosives: p t k c; P T K",
    "b": "voiced plosives and flaps: b d ɡ ɟ ɾ; B D G",
    "f": "voiceless non-sibilant fricatives: f θ x ç; F TH",
    "v": "voiced non-sibilant fricatives: v ð ɣ; V DH",
    "h": "h, voiced or not: h ɦ; HH",
    "s": "voiceless sibilants: s ʃ ɕ; S SH",
    "z": "voiced sibilants: z ʒ ʑ; Z ZH",
    "ch": "voiceless affricates: tʃ ts tɕ; CH",
    "jh": "voiced affricates: dʒ dz dʑ; JH",
    "m": "nasals: m n ŋ ɲ ɱ; M N NG",
    "l": "laterals: l ɫ; L",
    "r": "rhotics: r ɹ r̝ (Czech ř); R",
    "w": "w; W",
    "j": "j; Y",
}

# pocketsphinx's English phones (cmudict's 39); SIL and the noise phones
# (+NSN+, +SPN+: anything in plus signs) are not speech and are dropped.
ARPABET = {
    "IY": "i", "IH": "i", "EH": "e", "EY": "e", "AA": "a", "AE": "a", "AY": "a",
    "AW": "a", "AH": "@", "ER": "@", "AO": "o", "OW": "o", "OY": "o", "UW": "u",
    "UH": "u", "P": "p", "T": "p", "K": "p", "B": "b", "D": "b", "G": "b",
    "F": "f", "TH": "f", "V": "v", "DH": "v", "HH": "h", "S": "s", "SH": "s",
    "Z": "z", "ZH": "z", "CH": "ch", "JH": "jh", "M": "m", "N": "m", "NG": "m",
    "L": "l", "R": "r", "W": "w", "Y": "j",
}
SILENCE = "SIL"
NOISE_FLOOR_DB = 40.0   # below the wave's mean power: see with_noise_floor

# IPA segments. An espeak-ng phoneme is stripped of its marks (stress,
# length, diacritics) and cut into segments by longest match, so a diphthong
# is one segment, as its ARPAbet phone is one phone, and an r-coloured vowel
# ("ɑːɹ") two, as ARPAbet writes it (AA R). The glottal stop, which ARPAbet
# lacks, maps to nothing.
IPA = {
    **dict.fromkeys(["i", "ɪ", "ᵻ", "ɨ", "y", "ʏ"], "i"),
    **dict.fromkeys(["e", "ɛ", "eɪ", "ɛɪ", "eə", "ø", "œ", "eʊ"], "e"),
    **dict.fromkeys(["a", "æ", "ɑ", "ɒ", "aɪ", "aʊ", "ɑɪ"], "a"),
    **dict.fromkeys(["ə", "ɐ", "ʌ", "ɜ", "ɚ", "ɝ", "ɵ"], "@"),
    **dict.fromkeys(["o", "ɔ", "oʊ", "əʊ", "ɔɪ"], "o"),
    **dict.fromkeys(["u", "ʊ", "ɯ"], "u"),
    **dict.fromkeys(["p", "t", "k", "c", "q"], "p"),
    **dict.fromkeys(["b", "d", "ɡ", "g", "ɟ", "ɾ"], "b"),
    **dict.fromkeys(["f", "θ", "x", "ç", "χ", "ɸ"], "f"),
    **dict.fromkeys(["v", "ð", "ɣ", "β", "ʋ"], "v"),
    **dict.fromkeys(["h", "ɦ"], "h"),
    **dict.fromkeys(["s", "ʃ", "ɕ"], "s"),
    **dict.fromkeys(["z", "ʒ", "ʑ"], "z"),
    **dict.fromkeys(["tʃ", "ts", "tɕ"], "ch"),
    **dict.fromkeys(["dʒ", "dz", "dʑ"], "jh"),
    **dict.fromkeys(["m", "n", "ŋ", "ɲ", "ɱ"], "m"),
    **dict.fromkeys(["l", "ɫ", "ʎ"], "l"),
    **dict.fromkeys(["r", "ɹ", "ɻ", "ʀ", "ʁ"], "r"),
    "w": "w", "j": "j", "ʔ": None,
}
_LONGEST_SEGMENT = max(map(len, IPA))
_MARKS = set("ˈˌːˑʲʰʷ")          # stress, length and secondary articulations
_LANGUAGE_SWITCH = re.compile(r"\([a-z-]+\)")   # espeak-ng's "(en)" ... "(cs)"


def ipa_classes(phonemes: list[str]) -> list[str]:
  """The broad classes of IPA phonemes (espeak-ng's, one string each).

  Raises ValueError naming a symbol that no class takes.
  """
  classes = []
  for phoneme in phonemes:
    bare = "".join(c for c in unicodedata.normalize("NFD", _LANGUAGE_SWITCH.sub("", phoneme))
                   if c not in _MARKS and not unicodedata.combining(c))
    while bare:
      for n in range(min(_LONGEST_SEGMENT, len(bare)), 0, -1):
        if bare[:n] in IPA:
          break
      else:
        raise ValueError(f"IPA symbol {bare[0]!r} (in {phoneme!r}) has no broad class")
      if IPA[bare[:n]] is not None:
        classes.append(IPA[bare[:n]])
      bare = bare[n:]
  return classes


def arpabet_classes(phones: list[str]) -> list[str]:
  """The broad classes of ARPAbet phones; silence and noise phones dropped."""
  return [ARPABET[p] for p in phones if p != SILENCE and not p.startswith("+")]


def reference_phones(text: str, language: str) -> list[str]:
  """espeak-ng's IPA phonemes of `text` in its voice `language` ("en-us", "cs")."""
  from jaxvc.data import demo   # espeak-ng, as the demo corpus drives it
  return demo.phonemes(text, language)


@functools.cache
def _phone_decoder():
  """pocketsphinx's US English phone decoder (allphone search with its phone
  trigram), loaded once per process. Language weight and beams as CMU
  recommends for phone recognition."""
  pocketsphinx = _import("pocketsphinx")
  model = pocketsphinx.get_model_path()
  return pocketsphinx.Decoder(
      hmm=os.path.join(model, "en-us", "en-us"),
      allphone=os.path.join(model, "en-us", "en-us-phone.lm.bin"),
      lw=2.0, beam=1e-20, pbeam=1e-20, samprate=MODEL_RATE, loglevel="FATAL")


def with_noise_floor(wave: np.ndarray) -> np.ndarray:
  """`wave` plus white noise NOISE_FLOOR_DB below its mean power (the same
  noise for every wave of a length: the measure stays deterministic).

  pocketsphinx's model was trained on recordings, which always have a noise
  floor; synthetic speech (espeak-ng's pauses are exact zeros) has none, and
  on it a little noise lowered the error instead of raising it (SNR 30 dB:
  0.52 -> 0.39 on the demo's low voice), so that a conversion that adds a
  floor would score better than its clean source. 40 dB is the faintest
  floor tried under which noise at SNR 30 dB no longer helped (0.394 without
  it, 0.395 with; at 50 dB, 0.401 and 0.385): a wave's own noise then counts
  once it is louder than this floor. docs/results/intelligibility.md has the
  sweep.
  """
  power = float(np.mean(np.square(wave, dtype=np.float64)))
  noise = np.random.default_rng(0).standard_normal(wave.size)
  return (wave + noise * np.sqrt(power / 10 ** (NOISE_FLOOR_DB / 10))).astype(np.float32)


def recognised_phones(wave: np.ndarray, sr: int) -> list[str]:
  """The ARPAbet phones pocketsphinx hears in `wave` (under a noise floor:
  with_noise_floor), silence and noise phones included."""
  samples = np.clip(with_noise_floor(_resampled(wave, sr, MODEL_RATE)), -1, 1) * 32767
  decoder = _phone_decoder()
  # The front end carries state from one utterance to the next (the noise
  # estimate of the model's remove_noise, which its feat.params turns on):
  # reset, or a wave's phones would depend on what was decoded before it.
  decoder.reinit_feat()
  decoder.start_utt()
  decoder.process_raw(samples.astype(np.int16).tobytes(), full_utt=True)
  decoder.end_utt()
  return [segment.word for segment in decoder.seg()]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
  """Levenshtein distance: substitutions, deletions and insertions, each 1
  (jiwer's alignment of the two sequences as words)."""
  alignment = _import("jiwer").process_words(" ".join(reference), " ".join(hypothesis))
  return alignment.substitutions + alignment.deletions + alignment.insertions


def class_error_rate(reference: list[str], hypothesis: list[str]) -> float:
  """Edit distance of two class sequences over the reference's length."""
  if not reference:
    raise ValueError("empty reference: nothing to compare with")
  return edit_distance(reference, hypothesis) / len(reference)


def phone_error_rate(wave: np.ndarray, sr: int, transcript: str, language: str) -> float:
  """Broad-class phone error rate of `wave` against `transcript` in `language`.

  0 when pocketsphinx's phones fall in the classes of espeak-ng's phonemes of
  the transcript one for one; can exceed 1 (insertions).
  """
  reference = ipa_classes(reference_phones(transcript, language))
  return class_error_rate(reference, arpabet_classes(recognised_phones(wave, sr)))
