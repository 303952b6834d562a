"""Objective metrics on espeak-ng speech (jaxvc.data.demo) with known answers."""
import json
import math
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr

from jaxvc.evaluation import metrics as evaluation
from jaxvc.data import demo

SR = 16000
OTHER_TEXT = "A bright morning light filled the little kitchen."
# pocketsphinx's default model mishears most espeak-ng sentences (WER 0.6 to
# 1 for speaker_a, 0.2 to 1 for speaker_b, measured), but gets this one right
# in speaker_b's voice: measured WER 0.
CLEAR_TEXT = "Thank you very much."


def render(text: str, voice: str, sample_rate: int = SR) -> np.ndarray:
  wave, rate = demo.render(text, voice)
  return soxr.resample(wave, rate, sample_rate)


@pytest.fixture(scope="module")
def cli(load_tool):
  """tools/evaluate.py as a module."""
  return load_tool("evaluate")


def test_import_needs_none_of_the_eval_extra():
  heavy = ["torch", "resemblyzer", "pocketsphinx", "pyworld", "pysptk", "jiwer"]
  code = ("import sys, jaxvc.evaluation; "
          f"print([m for m in {heavy} if m in sys.modules])")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True, cwd=Path(__file__).parents[1])
  assert out.stdout.strip() == "[]"


def test_identical_speech_scores_perfectly(speech):
  wave, sample_rate = speech
  assert evaluation.mel_cepstral_distortion(wave, wave, sample_rate) == 0.0
  embedding = evaluation.speaker_embedding([wave], sample_rate)
  assert np.linalg.norm(embedding) == pytest.approx(1, abs=1e-5)
  assert evaluation.speaker_similarity(embedding, embedding) > 0.99


def test_another_voice_is_less_similar_and_distorted(speech):
  wave, sample_rate = speech
  reference = evaluation.speaker_embedding([wave], sample_rate)
  same_voice = render(OTHER_TEXT, "speaker_a")
  other_voice = render(OTHER_TEXT, "speaker_b")
  same = evaluation.speaker_similarity(evaluation.speaker_embedding([same_voice], SR), reference)
  other = evaluation.speaker_similarity(evaluation.speaker_embedding([other_voice], SR), reference)
  assert other < 0.8 and same > other + 0.15  # measured 0.60 and 0.89
  assert evaluation.mel_cepstral_distortion(same_voice, other_voice, SR) > 8  # measured 12.4


def test_mcd_ignores_surrounding_silence(speech):
  wave, sample_rate = speech
  padded = np.concatenate([np.zeros(sample_rate // 4), wave, np.zeros(sample_rate // 2)])
  assert evaluation.mel_cepstral_distortion(padded, wave, sample_rate) < 0.1  # measured 0.006


def test_cepstral_distortion_is_the_standard_formula():
  reference = np.zeros((2, 3))
  cepstra = np.array([[1.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
  expected = 10 / np.log(10) * np.sqrt(2) * np.array([1.0, 5.0])
  np.testing.assert_allclose(evaluation.cepstral_distortion_db(cepstra, reference), expected)


@pytest.mark.parametrize("reference, hypothesis, wer, cer", [
    ("The cat sat on the mat.", "the cat sat on a mat", 1 / 6, 3 / 22),
    ("Hello, World!", "hello world", 0.0, 0.0),
    ("one two", "", 1.0, 1.0),
    ("one two", "one two three four", 1.0, 11 / 7),
])
def test_error_rates_of_hand_made_strings(reference, hypothesis, wer, cer):
  rates = evaluation.error_rates(reference, hypothesis)
  assert rates["wer"] == pytest.approx(wer)
  assert rates["cer"] == pytest.approx(cer)


def test_error_rates_reject_an_empty_reference():
  with pytest.raises(ValueError, match="empty reference"):
    evaluation.error_rates(" ?! ", "hello")


def test_transcribe_clear_speech():
  wave, rate = demo.render(CLEAR_TEXT, "speaker_b")  # 22050 Hz: transcribe resamples
  recognised = evaluation.transcribe(wave, rate)
  assert evaluation.error_rates(CLEAR_TEXT, recognised)["wer"] <= 0.25, recognised


def test_f0_of_a_tone_and_of_two_voices(speech):
  rate = 22050
  tone = 0.5 * np.sin(2 * np.pi * 200 * np.arange(2 * rate) / rate)
  stats = evaluation.f0_statistics(tone, rate)
  assert stats["log_f0_mean"] == pytest.approx(np.log(200), abs=0.005)
  assert stats["log_f0_std"] < 0.01
  low = evaluation.f0_statistics(*speech)["log_f0_mean"]
  high = evaluation.f0_statistics(render(OTHER_TEXT, "speaker_b"), SR)["log_f0_mean"]
  assert high - low > np.log(1.6)  # measured about 100 Hz and 227 Hz
  assert all(math.isnan(v) for v in evaluation.f0_statistics(np.zeros(SR), SR).values())


def voice(contour, seconds: float) -> np.ndarray:
  """A harmonic voice at `SR` whose F0 is contour(u) Hz, u = t / seconds in
  [0, 1), behind two moving formants: the same utterance at any speed."""
  n = int(seconds * SR)
  u = np.arange(n) / n
  f0 = contour(u)
  phase = 2 * np.pi * np.cumsum(f0) / SR
  f1 = 500 + 300 * np.sin(2 * np.pi * 3 * u)
  f2 = 1500 + 600 * np.sin(2 * np.pi * 2 * u + 1)
  wave = np.zeros(n)
  for k in range(1, 40):
    fk = k * f0
    envelope = 1 + 4 * np.exp(-((fk - f1) / 200) ** 2) + 2 * np.exp(-((fk - f2) / 300) ** 2)
    wave += (fk < SR / 2 - 500) * envelope / k * np.sin(k * phase)
  return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def intonation(u):
  """A contour that moves: half an octave either side of 150 Hz."""
  return 150 * 2 ** (0.5 * np.sin(2 * np.pi * 1.5 * u))


def test_f0_agreement_of_the_same_voice_and_an_octave_up():
  wave = voice(intonation, 1.5)
  same = evaluation.f0_agreement(wave, wave, SR)
  assert same == dict(f0_rmse_cents=0.0, f0_correlation=pytest.approx(1.0), voicing_error=0.0)
  octave = evaluation.f0_agreement(voice(lambda u: 2 * intonation(u), 1.5), wave, SR)
  assert octave["f0_rmse_cents"] == pytest.approx(1200, abs=20)
  assert octave["f0_correlation"] > 0.99
  assert octave["voicing_error"] < 0.02


def test_f0_agreement_aligns_a_slower_utterance():
  # Paired frame by frame instead, the contours are hundreds of cents apart.
  slow = evaluation.f0_agreement(voice(intonation, 2.0), voice(intonation, 1.5), SR)
  assert slow["f0_rmse_cents"] < 30 and slow["f0_correlation"] > 0.99
  assert slow["voicing_error"] < 0.02


def test_f0_agreement_of_unvoiced_waves_is_nan():
  noise = np.random.default_rng(0).standard_normal((2, SR)).astype(np.float32) * 0.1
  for converted, target in ((noise[0], noise[1]), (np.zeros(SR), voice(intonation, 1.0))):
    scores = evaluation.f0_agreement(converted, target, SR)
    assert math.isnan(scores["f0_rmse_cents"]) and math.isnan(scores["f0_correlation"])
    assert 0 <= scores["voicing_error"] <= 1


def write(path: Path, wave: np.ndarray, rate: int = SR, text: str | None = None) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  sf.write(path, wave, rate)
  if text is not None:
    path.with_suffix(".txt").write_text(text + "\n")


def test_cli_scores_matched_files_and_reports_the_rest(cli, tmp_path, capsys):
  texts = {"0001": CLEAR_TEXT, "0002": OTHER_TEXT}
  for stem, text in texts.items():
    wave, rate = demo.render(text, "speaker_b")
    write(tmp_path / "target" / "test" / f"{stem}.wav", wave, rate, text)
    write(tmp_path / "source" / "test" / f"{stem}.wav", render(text, "speaker_a"))
  # 0001: a perfect conversion; sub/0002.flac: none at all (still the source
  # voice); 0003: no parallel target.
  write(tmp_path / "converted" / "0001.wav", render(CLEAR_TEXT, "speaker_b"))
  write(tmp_path / "converted" / "sub" / "0002.flac", render(OTHER_TEXT, "speaker_a"))
  write(tmp_path / "converted" / "0003.wav", render("Nothing to compare.", "speaker_b"))
  out = tmp_path / "report" / "scores.json"

  assert cli.main(["--converted", str(tmp_path / "converted"),
                   "--target", str(tmp_path / "target"),
                   "--source", str(tmp_path / "source"), "--json", str(out)]) == 0

  report = json.loads(out.read_text())
  files = report["files"]
  assert sorted(files) == ["0001.wav", "sub/0002.flac"]
  perfect, unconverted = files["0001.wav"], files["sub/0002.flac"]
  assert perfect["target"] == "test/0001.wav" and unconverted["source"] == "test/0002.wav"
  assert perfect["mcd_db"] < 0.5 and unconverted["mcd_db"] > 8
  assert perfect["target_similarity"] > unconverted["target_similarity"] + 0.15
  assert unconverted["source_similarity"] > unconverted["target_similarity"] + 0.15
  assert perfect["wer"] <= 0.25 and perfect["transcript"] == CLEAR_TEXT
  assert perfect["source_log_f0_mean"] < perfect["converted_log_f0_mean"]
  # The same voice resampled against its original; speaker_a is over an octave below.
  assert perfect["f0_rmse_cents"] < 50 and perfect["voicing_error"] < 0.05
  assert unconverted["f0_rmse_cents"] > 900
  assert report["averages"]["mcd_db"] == pytest.approx(
      (perfect["mcd_db"] + unconverted["mcd_db"]) / 2)
  assert len(report["skipped"]) == 1 and "0003.wav: no parallel target" in report["skipped"][0]
  console = capsys.readouterr().out
  assert "skipped" in console and "average of 2" in console and "F0 ¢" in console


def test_cli_rejects_a_malformed_transcript_file(cli, tmp_path, capsys):
  for folder in ("converted", "target"):
    write(tmp_path / folder / "a.wav", np.zeros(SR))
  transcripts = tmp_path / "texts.tsv"
  transcripts.write_text("a.wav\tfine\nb.wav has no tab\n")
  with pytest.raises(SystemExit) as exit_info:
    cli.main(["--converted", str(tmp_path / "converted"), "--target", str(tmp_path / "target"),
              "--transcripts", str(transcripts)])
  assert exit_info.value.code == 2
  assert f"{transcripts}:2: expected" in capsys.readouterr().err
