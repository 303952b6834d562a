"""Objective speech metrics: MCD, speaker similarity, WER/CER, F0, DNSMOS, STFT distance.

Pure functions of mono float waves in [-1, 1] and their sample rates, so
that any tool's output can be scored the same way. F0 is `jaxvc.audio.pitch`,
the analysis training and conversion use, so that a figure here means what
it means there; WORLD (pyworld) remains only inside MCD, for its envelope.
The libraries behind them (pyworld, pysptk, resemblyzer with torch,
pocketsphinx, jiwer, speechmos with onnxruntime) come from the `eval` extra
and are imported on first use: `import jaxvc` never needs them. The
pretrained models (Resemblyzer's GE2E encoder, pocketsphinx's US English
recogniser, DNSMOS P.835 and P.808) ship inside their wheels, so nothing is
downloaded.

  pip install -e ".[eval]"
"""
from collections.abc import Sequence
import functools
import importlib
import math
import warnings

import librosa
import numpy as np
import scipy.fft
import soxr

from jaxvc import audio
from jaxvc.audio import pitch

MCEP_ORDER = 24            # mel-cepstral coefficients c1..c24 (c0 is dropped)
FRAME_PERIOD_MS = 5.0      # WORLD analysis hop
SILENCE_DB = -20.0         # frames this far below the mean frame power are silence
MODEL_RATE = 16000         # what Resemblyzer and pocketsphinx's acoustic model expect
# The mel settings whose frames F0 is analysed on: the default front-end's, as
# a run's unless its config changes them.
PITCH_CONFIG = audio.AudioConfig()
# Fewer frame pairs voiced in both than this leave F0 error and correlation
# NaN: about 0.1 s, a short vowel; below it one octave jump or a few frames of
# onset decide the figure.
MIN_VOICED_PAIRS = 10
_CENTS_PER_NEPER = 1200 / math.log(2)
_DB_PER_NEPER = 10 / math.log(10)


def _import(name: str):
  """Imports an `eval` extra module, with an install hint if it is missing."""
  try:
    with warnings.catch_warnings():
      # pyworld, pysptk and webrtcvad import pkg_resources, resemblyzer an old
      # scipy namespace: their business, not the user's.
      warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
      warnings.simplefilter("ignore", DeprecationWarning)
      return importlib.import_module(name)
  except ImportError as e:
    raise ImportError(f"{name} is missing ({e}); install jaxvc's evaluation "
                      "extra: pip install -e '.[eval]'") from e


def _mono(wave: np.ndarray, dtype) -> np.ndarray:
  """`wave` as a contiguous 1-D array of `dtype`, or a ValueError saying why not."""
  wave = np.ascontiguousarray(wave, dtype)
  if wave.ndim != 1:
    raise ValueError(f"expected a mono wave (1-D), got shape {wave.shape}")
  return wave


def _resampled(wave: np.ndarray, sr: int, rate: int) -> np.ndarray:
  """Mono float32 `wave` at `rate` (soxr, high quality)."""
  wave = _mono(wave, np.float32)
  return wave if sr == rate else soxr.resample(wave, sr, rate).astype(np.float32)


def world_f0(wave: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
  """WORLD F0 in Hz (0 where unvoiced) and frame times: DIO refined by StoneMask.

  DIO + StoneMask rather than Harvest: an order of magnitude faster, and
  Harvest calls a pure tone unvoiced.
  """
  pyworld = _import("pyworld")
  x = _mono(wave, np.float64)
  f0, times = pyworld.dio(x, sr, frame_period=FRAME_PERIOD_MS)
  return pyworld.stonemask(x, f0, times, sr), times


def frame_power_db(envelope: np.ndarray) -> np.ndarray:
  """Each frame's power in dB relative to the mean frame power.

  `envelope` is a (frames, fft_size // 2 + 1) power spectral envelope; a
  frame's power is the mean over the full two-sided spectrum (sprocket's npow).
  """
  two_sided_sum = 2 * envelope.sum(axis=1) - envelope[:, 0] - envelope[:, -1]
  power = two_sided_sum / (2 * (envelope.shape[1] - 1))
  return 10 * np.log10(power / power.mean())


def mel_cepstra(wave: np.ndarray, sr: int) -> np.ndarray:
  """(frames, MCEP_ORDER + 1) mel-cepstra c0..c24 of the non-silent frames.

  WORLD's CheapTrick envelope, converted with pysptk.sp2mc at the all-pass
  constant that approximates the mel scale at `sr` (pysptk.util.mcepalpha).
  Frames more than SILENCE_DB below the utterance's mean frame power are
  dropped.
  """
  pyworld, pysptk = _import("pyworld"), _import("pysptk")
  x = _mono(wave, np.float64)
  f0, times = world_f0(x, sr)
  envelope = pyworld.cheaptrick(x, f0, times, sr)
  speech = frame_power_db(envelope) > SILENCE_DB
  if not speech.any():
    raise ValueError("no frame above the silence threshold")
  return pysptk.sp2mc(envelope[speech], MCEP_ORDER, pysptk.util.mcepalpha(sr))


def cepstral_distortion_db(cepstra: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """Per-frame mel-cepstral distortion in dB between two aligned (frames, d) arrays.

  The standard (10 / ln 10) * sqrt(2 * sum_d (c_d - c'_d)^2); the caller picks
  which coefficients enter (c0, the energy, normally does not).
  """
  squared = np.sum((cepstra - reference) ** 2, axis=-1)
  return _DB_PER_NEPER * np.sqrt(2 * squared)


def dtw_path(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """(pairs, 2) frame indices into `features` (frames, d) and `reference`
  (frames', d) along their DTW alignment (librosa.sequence.dtw, Euclidean
  cost, steps (1, 1), (0, 1), (1, 0)): how the figures of two parallel
  utterances spoken at different speeds are paired frame by frame."""
  _, path = librosa.sequence.dtw(X=features.T, Y=reference.T, metric="euclidean")
  return path


def mel_cepstral_distortion(converted: np.ndarray, target: np.ndarray, sr: int) -> float:
  """MCD in dB between a converted utterance and its parallel target.

  Convention: WORLD analysis (DIO + StoneMask F0, CheapTrick envelope, 5 ms
  hop) of both waves at `sr`; order-24 mel-cepstra (pysptk.sp2mc, alpha =
  mcepalpha(sr)); in each utterance, frames whose power is more than 20 dB
  below that utterance's mean frame power are dropped as silence (as the
  sprocket / VCC2018 baseline does); the rest are aligned by DTW
  (librosa.sequence.dtw, Euclidean cost on c1..c24) and the per-frame
  distortion over c1..c24 is averaged along the warping path.
  """
  a = mel_cepstra(converted, sr)[:, 1:]
  b = mel_cepstra(target, sr)[:, 1:]
  path = dtw_path(a, b)
  return float(np.mean(cepstral_distortion_db(a[path[:, 0]], b[path[:, 1]])))


@functools.cache
def _voice_encoder():
  """Resemblyzer's GE2E speaker encoder on the CPU, loaded once per process.

  torch runs it on one thread: a small network, and more threads slow badly
  when the cores are shared (with JAX in the trainer, say).
  """
  _import("torch").set_num_threads(1)
  return _import("resemblyzer").VoiceEncoder("cpu", verbose=False)


class NoSpeechError(ValueError):
  """Resemblyzer's voice activity detection found no speech in an utterance."""


def speaker_embedding(waves: Sequence[np.ndarray], sr: int) -> np.ndarray:
  """Unit-norm GE2E embedding of the speaker of `waves` (one or more utterances).

  Each wave is resampled to 16 kHz, volume-normalised and stripped of long
  pauses (resemblyzer.preprocess_wav); the speaker embedding is the normalised
  mean of the utterance embeddings (VoiceEncoder.embed_speaker). Utterances
  with no speech left (a sigh, a shout that the detector drops, in real
  recordings) are left out; NoSpeechError if none has any.
  """
  resemblyzer = _import("resemblyzer")
  if not waves:
    raise ValueError("speaker_embedding needs at least one utterance")
  utterances = [resemblyzer.preprocess_wav(_resampled(w, sr, MODEL_RATE)) for w in waves]
  utterances = [u for u in utterances if u.size]
  if not utterances:
    raise NoSpeechError("no speech found (voice activity detection kept nothing)")
  return _voice_encoder().embed_speaker(utterances)


def speaker_similarity(embedding: np.ndarray, reference: np.ndarray) -> float:
  """Cosine similarity of two speaker embeddings: 1 for the same voice."""
  return float(np.dot(embedding, reference)
               / (np.linalg.norm(embedding) * np.linalg.norm(reference)))


@functools.cache
def _recogniser():
  """pocketsphinx's default US English recogniser, loaded once per process."""
  return _import("pocketsphinx").Decoder(samprate=MODEL_RATE, loglevel="FATAL")


def transcribe(wave: np.ndarray, sr: int) -> str:
  """The words pocketsphinx hears in `wave`, decoded as one utterance ('' if none)."""
  samples = np.clip(_resampled(wave, sr, MODEL_RATE), -1, 1) * 32767
  decoder = _recogniser()
  decoder.start_utt()
  decoder.process_raw(samples.astype(np.int16).tobytes(), full_utt=True)
  decoder.end_utt()
  hypothesis = decoder.hyp()
  return hypothesis.hypstr if hypothesis else ""


def normalise_text(text: str) -> str:
  """Lowercase, punctuation removed, whitespace collapsed: what WER compares."""
  jiwer = _import("jiwer")
  return jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(),
                        jiwer.RemoveMultipleSpaces(), jiwer.Strip()])(text)


def error_rates(reference: str, hypothesis: str) -> dict[str, float]:
  """Word and character error rates of `hypothesis` against `reference`.

  Both are normalised first (normalise_text); CER counts spaces as characters.
  """
  jiwer = _import("jiwer")
  reference, hypothesis = normalise_text(reference), normalise_text(hypothesis)
  if not reference:
    raise ValueError("empty reference transcript")
  return dict(wer=jiwer.wer(reference, hypothesis), cer=jiwer.cer(reference, hypothesis))


def pitch_track(wave: np.ndarray, sr: int,
                cfg: audio.AudioConfig = PITCH_CONFIG) -> tuple[np.ndarray, np.ndarray]:
  """`pitch.track` of `wave` resampled to `cfg.sample_rate`: (F0 in Hz, 0 where
  unvoiced; voiced), one value per frame of `cfg`'s mel."""
  return pitch.track(_resampled(wave, sr, cfg.sample_rate), cfg)


def f0_statistics(wave: np.ndarray, sr: int) -> dict[str, float]:
  """Mean, median and standard deviation of ln(F0 / Hz) over `pitch_track`'s
  voiced frames. NaN for each when no frame is voiced.
  """
  f0, voiced = pitch_track(wave, sr)
  log_f0 = np.log(f0[voiced])
  if log_f0.size == 0:
    return dict(log_f0_mean=math.nan, log_f0_median=math.nan, log_f0_std=math.nan)
  return dict(log_f0_mean=float(log_f0.mean()), log_f0_median=float(np.median(log_f0)),
              log_f0_std=float(log_f0.std()))


def log_mel_cepstra(wave: np.ndarray, cfg: audio.AudioConfig = PITCH_CONFIG) -> np.ndarray:
  """(frames, MCEP_ORDER) cepstra c1..c24 of `cfg`'s normalised log-mel of
  `wave` (at `cfg.sample_rate`), on the frames `pitch_track` gives.

  The DCT of the log-mel over its bands: the low coefficients follow the
  spectral envelope (what is being said) rather than the harmonics (the F0
  being compared), and without c0 a level difference does not enter.
  """
  mel = audio.waves_to_mels([_mono(wave, np.float32)], cfg)[0]
  return scipy.fft.dct(mel, type=2, norm="ortho", axis=0)[1:MCEP_ORDER + 1].T


def f0_agreement(converted: np.ndarray, target: np.ndarray, sr: int,
                 cfg: audio.AudioConfig = PITCH_CONFIG) -> dict[str, float]:
  """How the converted utterance's F0 follows its parallel target's.

  Both are analysed by `pitch_track` and their frames paired by `dtw_path` on
  `log_mel_cepstra`, so that different speaking rates and pauses do not count
  as F0 error. Over the pairs voiced in both: `f0_rmse_cents`, the RMS of
  1200 log2(F0 / target F0), and `f0_correlation`, the Pearson correlation of
  log F0 (whether the contour rises and falls with the target's, whatever
  its key); both NaN below MIN_VOICED_PAIRS such pairs, and the correlation
  NaN where either contour is flat. `voicing_error`: the fraction of all
  aligned pairs, silences included, whose voicing decisions differ.
  """
  converted = _resampled(converted, sr, cfg.sample_rate)
  target = _resampled(target, sr, cfg.sample_rate)
  (f0_a, voiced_a), (f0_b, voiced_b) = (pitch_track(w, cfg.sample_rate, cfg)
                                        for w in (converted, target))
  i, j = dtw_path(log_mel_cepstra(converted, cfg), log_mel_cepstra(target, cfg)).T
  voiced_a, voiced_b = voiced_a[i], voiced_b[j]
  scores = dict(f0_rmse_cents=math.nan, f0_correlation=math.nan,
                voicing_error=float(np.mean(voiced_a != voiced_b)))
  both = voiced_a & voiced_b
  if both.sum() < MIN_VOICED_PAIRS:
    return scores
  log_a, log_b = np.log(f0_a[i][both]), np.log(f0_b[j][both])
  scores["f0_rmse_cents"] = float(_CENTS_PER_NEPER * np.sqrt(np.mean((log_a - log_b) ** 2)))
  log_a, log_b = log_a - log_a.mean(), log_b - log_b.mean()
  spread = math.sqrt(np.sum(log_a ** 2) * np.sum(log_b ** 2))
  if spread > 0:
    scores["f0_correlation"] = float(np.sum(log_a * log_b) / spread)
  return scores


STFT_RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))   # (n_fft, hop) at 16 kHz


def stft_distance(wave: np.ndarray, reference: np.ndarray, sr: int) -> float:
  """`audio.multi_resolution_stft_distance` (the vocoder's training term) over
  STFT_RESOLUTIONS scaled to `sr`. Both waves are aligned sample for sample
  (copy-synthesis); the shorter length is compared."""
  n = min(wave.size, reference.size)
  x, y = _mono(wave, np.float32)[:n], _mono(reference, np.float32)[:n]
  scale = sr / MODEL_RATE
  resolutions = tuple((int(round(n_fft * scale)), int(round(hop * scale)))
                      for n_fft, hop in STFT_RESOLUTIONS)
  return float(audio.multi_resolution_stft_distance(x, y, resolutions))


DNSMOS_RATE = 16000         # what the DNSMOS models take


def dnsmos(wave: np.ndarray, sr: int) -> dict[str, float]:
  """Naturalness without a reference: DNSMOS P.835 (signal, background, overall)
  and P.808 MOS, 1 to 5, from the models inside the `speechmos` package.

  Clips shorter than the models' 9 s input are repeated to fill it (speechmos);
  longer ones are scored per 9 s segment, hopping 1 s, and averaged.
  """
  scores = _import("speechmos.dnsmos").run(
      np.clip(_resampled(wave, sr, DNSMOS_RATE), -1, 1), DNSMOS_RATE)
  return dict(dnsmos_sig=float(scores["sig_mos"]), dnsmos_bak=float(scores["bak_mos"]),
              dnsmos_ovrl=float(scores["ovrl_mos"]), dnsmos_p808=float(scores["p808_mos"]))


def utterance_scores(converted: np.ndarray, target: np.ndarray | None, sr: int, *,
                     target_speaker: np.ndarray, source: np.ndarray | None = None,
                     source_speaker: np.ndarray | None = None,
                     transcript: str | None = None) -> dict[str, float | str]:
  """Every figure for one converted utterance, keyed by name.

  `target` is its parallel target utterance (None where there is none: no
  MCD and no F0 agreement then), `source` (optional) the
  utterance it was converted from; `*_speaker` are speaker_embedding()s of
  each speaker's references; `transcript` (optional) is what was said.
  Figures whose inputs are missing are left out.
  """
  scores = {}
  if target is not None:
    scores["mcd_db"] = mel_cepstral_distortion(converted, target, sr)
    scores.update(f0_agreement(converted, target, sr))
  embedding = speaker_embedding([converted], sr)
  scores["target_similarity"] = speaker_similarity(embedding, target_speaker)
  if source_speaker is not None:
    scores["source_similarity"] = speaker_similarity(embedding, source_speaker)
  if transcript is not None:
    recognised = transcribe(converted, sr)
    scores.update(error_rates(transcript, recognised), transcript=transcript,
                  recognised=recognised)
  scores.update(dnsmos(converted, sr))
  for name, wave in (("converted", converted), ("target", target), ("source", source)):
    if wave is not None:
      scores.update({f"{name}_{k}": v for k, v in f0_statistics(wave, sr).items()})
  return scores
