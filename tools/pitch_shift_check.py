"""Measures `jaxvc.audio.shift_mel_pitch`: does the F0 move by the factor asked?

For each voice, n utterances: the wave's mel, shifted by each of SHIFTS
semitones (the ratio on the frames `pitch.f0` calls voiced in the wave, 1
elsewhere, as a caller sets it), rendered by Griffin-Lim and analysed by
`pitch.f0`. The measured factor is the median F0 of the shifted rendering
over the unshifted rendering's median, both over the frames shifted (voiced
in the wave) and voiced in both renderings, all utterances of a voice
pooled (the issue's criterion: within 3% of 2 ** (shift / 12)); the per-frame
factor is the median of each frame's ratio over the same frames instead, and
`frames scored` the share of the shifted frames so scored. Also: Griffin-
Lim's own F0 factor (the unshifted rendering against the wave), the level
change (integrated loudness of the shifted rendering minus the unshifted
one's, LU) and the cost of the shift (ms per second of audio).

Voices: the demo corpus's espeak-ng voices (sentences of seed 100, not a
corpus's) and the Czech speakers' train files (/work/corpus/realspeech).

  PYTHONPATH=. python tools/pitch_shift_check.py [--n 10] [--json out.json]
"""
import argparse
import json
import os
from pathlib import Path
import time

import numpy as np

from jaxvc import audio
from jaxvc import buckets
from jaxvc.audio import loudness
from jaxvc.audio import pitch
from jaxvc.data import demo
from jaxvc.data import sentences
from jaxvc.evaluation import machine as machine_lib

CFG = audio.AudioConfig()
SHIFTS = (-12, -5, 5, 12)
TOLERANCE = 0.03   # the criterion on the measured factor
REALSPEECH = Path("/work/corpus/realspeech")
LUFS = -23.0    # every wave's loudness, as configs/melganvc_real.py sets it


def voices(n: int) -> dict[str, list[np.ndarray]]:
  """n waves (16 kHz float32) of each voice, at LUFS as the real recipes'."""
  texts = sentences.sentences(n, seed=100)
  out = {voice: [audio.resample(*demo.render(t, voice), CFG.sample_rate) for t in texts]
         for voice in demo.VOICES}
  for speaker in ("cs_fillets_big", "cs_fillets_small"):
    paths = sorted((REALSPEECH / speaker / "train").glob("*.wav"))
    out[speaker] = [audio.load_audio(paths[i * len(paths) // n], CFG.sample_rate)
                    for i in range(n)]
  return {voice: [loudness.normalise_loudness(w, CFG.sample_rate, LUFS) for w in waves]
          for voice, waves in out.items()}


def render(mel: np.ndarray) -> np.ndarray:
  return np.asarray(audio.mel_to_wave(mel, CFG, length=mel.shape[-1] * CFG.hop_length))


def analyse(wave: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
  hz, voiced = pitch.f0(wave, CFG)
  return np.asarray(hz)[:frames], np.asarray(voiced)[:frames]


def measure_utterance(wave: np.ndarray) -> dict:
  """Per shift: (base F0, shifted F0, both voiced) frames, the level change,
  the shift's seconds; and Griffin-Lim's own (wave F0, rendered F0, voiced)."""
  frames = CFG.n_frames(wave.size)
  padded = buckets.pad_to(wave, buckets.bucket(wave.size, 2**14))
  mel = np.asarray(audio.wave_to_mel(padded, CFG))
  wave_hz, wave_voiced = analyse(padded, mel.shape[-1])
  base = render(mel)
  base_hz, base_voiced = analyse(base, frames)
  base_lufs = loudness.integrated_loudness(base[:wave.size], CFG.sample_rate)
  out = {"gl": (wave_hz[:frames], base_hz, wave_voiced[:frames] & base_voiced)}
  for shift in SHIFTS:
    ratio = np.where(wave_voiced, 2.0 ** (shift / 12), 1.0).astype(np.float32)
    audio.shift_mel_pitch(mel, ratio, CFG).block_until_ready()  # compiled
    start = time.perf_counter()
    shifted = np.asarray(audio.shift_mel_pitch(mel, ratio, CFG))
    seconds = time.perf_counter() - start
    rendered = render(shifted)
    hz, voiced = analyse(rendered, frames)
    level = loudness.integrated_loudness(rendered[:wave.size], CFG.sample_rate) - base_lufs
    scored = base_voiced & voiced & wave_voiced[:frames]
    out[shift] = (base_hz, hz, scored, level, seconds, padded.size,
                  int(wave_voiced[:frames].sum()))
  return out


def factor(pairs: list[tuple]) -> float:
  """Median of the second F0 over the first's, frames voiced in both, pooled."""
  a = np.concatenate([p[0][p[2]] for p in pairs])
  b = np.concatenate([p[1][p[2]] for p in pairs])
  return float(np.median(b) / np.median(a))


def frame_factor(pairs: list[tuple]) -> float:
  """Median over the same frames of each one's shifted over unshifted F0."""
  return float(np.median(np.concatenate([p[1][p[2]] / p[0][p[2]] for p in pairs])))


def machine() -> str:
  """What ran it, and how loaded it was (the timings depend on both)."""
  return (f"{machine_lib.describe(machine_lib.machine())}, load average "
          f"{os.getloadavg()[0]:.1f} at the end")


def report(n: int) -> dict:
  rows = []
  for voice, waves in voices(n).items():
    results = [measure_utterance(w) for w in waves]
    gl = [r["gl"] for r in results]
    rows.append(dict(voice=voice, shift=0, expected=1.0, measured=factor(gl),
                     per_frame=frame_factor(gl)))
    for shift in SHIFTS:
      pairs = [r[shift] for r in results]
      expected = 2.0 ** (shift / 12)
      measured = factor(pairs)
      audio_seconds = sum(p[5] for p in pairs) / CFG.sample_rate
      rows.append(dict(voice=voice, shift=shift, expected=expected, measured=measured,
                       error=measured / expected - 1, per_frame=frame_factor(pairs),
                       voiced=sum(int(p[2].sum()) for p in pairs) / sum(p[6] for p in pairs),
                       level=float(np.median([p[3] for p in pairs])),
                       level_max=float(np.max(np.abs([p[3] for p in pairs]))),
                       cost_ms=1000 * sum(p[4] for p in pairs) / audio_seconds))
      print(f"{voice} {shift:+d}: {measured:.3f} (expected {expected:.3f})", flush=True)
  return dict(machine=machine(), rows=rows)


def table(result: dict) -> str:
  lines = [f"Machine: {result['machine']}", "",
           "| voice | shift (semitones) | expected factor | measured factor | error "
           "| per-frame factor | frames scored | level change (LU, median / max) "
           "| ms per s of audio |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
  for r in result["rows"]:
    if r["shift"] == 0:
      lines.append(f"| {r['voice']} | 0 (Griffin-Lim vs the wave) | 1 | {r['measured']:.3f} "
                   f"| {r['measured'] - 1:+.1%} | {r['per_frame']:.3f} | | | |")
      continue
    ok = "" if abs(r["error"]) <= TOLERANCE else " **(miss)**"
    lines.append(f"| {r['voice']} | {r['shift']:+d} | {r['expected']:.3f} | "
                 f"{r['measured']:.3f} | {r['error']:+.1%}{ok} | {r['per_frame']:.3f} | "
                 f"{r['voiced']:.0%} | "
                 f"{r['level']:+.2f} / {r['level_max']:.2f} | {r['cost_ms']:.1f} |")
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n", type=int, default=10, help="utterances per voice")
  parser.add_argument("--json", help="also write the rows here")
  args = parser.parse_args(argv)
  result = report(args.n)
  if args.json:
    Path(args.json).write_text(json.dumps(result, indent=1))
  print(table(result))


if __name__ == "__main__":
  main()
