"""Loudness normalisation: every wave brought to one integrated loudness.

Real recordings come loud and quiet (another microphone, gain or take for each
file), and a log-mel carries that level into every bin: a converter trained on
one level meets another at conversion. So the front-end measures each wave's
integrated loudness (ITU-R BS.1770-4, the gated K-weighted measure of EBU
R128, by `pyloudnorm`) and applies the one gain that brings it to the
configured target, the same at preparation, training, evaluation and
conversion. Gating makes the measure indifferent to pauses, which a plain RMS
is not (a take with long silences would be turned up). The gain is a single
number per wave: dynamics within an utterance are kept. Why this measure and
this target: docs/results/tuning.md ("Loudness").

Files too long to hold (`file_conversion`'s block path) are measured block by
block: each block's gated loudness, the blocks then gated and combined as the
standard gates its 400 ms blocks (`combined_loudness`): its gating at the
coarser grain of a read block.
"""
import math
from collections.abc import Iterable

import numpy as np

# BS.1770's gating block: a wave shorter than this is measured as one block.
BLOCK_SECONDS = 0.4
# BS.1770's absolute gate: blocks below it are silence, not quiet speech.
ABSOLUTE_GATE_LUFS = -70.0
# BS.1770's relative gate: blocks this far below the rest are pauses and breaths.
RELATIVE_GATE_LU = -10.0


def _meter(sample_rate: int, seconds: float):
  import pyloudnorm  # noqa: PLC0415  (imported where used: scipy's filters load slowly)
  return pyloudnorm.Meter(sample_rate, block_size=min(BLOCK_SECONDS, seconds))


def integrated_loudness(wave: np.ndarray, sample_rate: int) -> float:
  """Integrated loudness of mono `wave` in LUFS; -inf for silence."""
  wave = np.asarray(wave, np.float64)
  if wave.size < 2:
    return -math.inf
  meter = _meter(sample_rate, wave.size / sample_rate)
  with np.errstate(divide="ignore"):
    return float(meter.integrated_loudness(wave))


def combined_loudness(parts: Iterable[tuple[float, int]]) -> float:
  """The loudness of a wave from its parts' (loudness LUFS, samples): BS.1770's
  two gates applied to the parts (absolute, then RELATIVE_GATE_LU below the
  power mean of the parts that pass it), the power mean of those kept,
  weighted by length."""
  def power_mean(kept):
    weight = sum(n for _, n in kept)
    return (10.0 * math.log10(sum(10.0 ** (l / 10.0) * n for l, n in kept) / weight)
            if weight else -math.inf)
  audible = [(l, n) for l, n in parts if l >= ABSOLUTE_GATE_LUFS]
  threshold = power_mean(audible) + RELATIVE_GATE_LU
  return power_mean([(l, n) for l, n in audible if l >= threshold])


def gain_to(loudness: float, target_lufs: float) -> float:
  """The linear gain from `loudness` to `target_lufs`: 1 with no target (0),
  or for a wave with nothing above the absolute gate (silence is left as it is)."""
  if not target_lufs or not loudness >= ABSOLUTE_GATE_LUFS:
    return 1.0
  return float(10.0 ** ((target_lufs - loudness) / 20.0))


def normalise_loudness(wave: np.ndarray, sample_rate: int,
                       target_lufs: float) -> np.ndarray:
  """`wave` (float32) scaled to `target_lufs`; unchanged with no target (0)."""
  wave = np.asarray(wave, np.float32)
  if not target_lufs:
    return wave
  gain = gain_to(integrated_loudness(wave, sample_rate), target_lufs)
  return wave if gain == 1.0 else (wave * np.float32(gain))
