"""Validates the broad-class phone error rate (jaxvc.evaluation.intelligibility).

On N train utterances of each set (the demo corpus's two espeak-ng voices,
the two Czech speakers of /work/corpus/realspeech): PER against the true
transcript and against another utterance's (shuffled; and the nearest in
reference length, so that length alone cannot separate them); PER of the
same utterances degraded (white noise at falling SNR, low-passed at 2 kHz,
Griffin-Lim copy-synthesis through the project's mel); its spread; its cost.
Prints the tables of docs/results/intelligibility.md.

  python tools/intelligibility_check.py [--n 40] [--json per_utterance.json]
  python tools/intelligibility_check.py --from-json per_utterance.json
"""
import argparse
import json
import math
from pathlib import Path
import time

import numpy as np
import soundfile as sf
import soxr

from jaxvc import audio, buckets
from jaxvc.audio import inversion
from jaxvc.data import demo
from jaxvc.evaluation import intelligibility as intel

REALSPEECH = Path("/work/corpus/realspeech")
TUNING = range(300, 312)   # sorted train positions the decoder's settings were chosen on
SNRS = (20, 10, 5, 0)
CONDITIONS = ("clean", *(f"snr{s}" for s in SNRS), "lowpass2k", "griffinlim")


def utterances(n: int, realspeech: Path = REALSPEECH) -> dict[str, list[tuple[Path, str, str]]]:
  """(wave, transcript, language) of n train utterances a set, evenly spread."""
  root = demo.ensure_demo_corpus()
  found = {}
  for voice in ("speaker_a", "speaker_b"):
    found[voice] = [(w, w.with_suffix(".txt").read_text().strip(), "en-us")
                    for w in sorted((root / voice / "train").glob("*.wav"))]
  for speaker in ("cs_fillets_big", "cs_fillets_small"):
    lines = (realspeech / speaker / "transcripts.tsv").read_text(encoding="utf-8").splitlines()
    texts = dict(line.split("\t", 1) for line in lines if line)
    found[speaker] = [(w, texts[w.stem], "cs")
                      for w in sorted((realspeech / speaker / "train").glob("*.wav"))
                      if w.stem in texts]
  sets = {}
  for name, items in found.items():
    items = [u for i, u in enumerate(items) if i not in TUNING]
    sets[name] = [items[i * len(items) // n] for i in range(n)]
  return sets


def degraded(wave: np.ndarray, sr: int, condition: str, seed: int) -> tuple[np.ndarray, int]:
  if condition == "clean":
    return wave, sr
  if condition.startswith("snr"):
    power = np.mean(wave ** 2) / 10 ** (int(condition[3:]) / 10)
    noise = np.random.default_rng(seed).standard_normal(wave.size) * math.sqrt(power)
    return (wave + noise).astype(np.float32), sr
  if condition == "lowpass2k":   # through 4 kHz sampling and back: nothing above 2 kHz
    return soxr.resample(soxr.resample(wave, sr, 4000), 4000, sr), sr
  if condition == "griffinlim":
    cfg = audio.AudioConfig()
    x = soxr.resample(wave, sr, cfg.sample_rate)
    padded = buckets.pad_to(x, buckets.bucket(x.size, 2**12))   # few lengths to compile
    mel = np.asarray(audio.wave_to_mel(padded, cfg))
    return inversion.GriffinLim(cfg)(mel)[:x.size], cfg.sample_rate
  raise ValueError(condition)


def measure(sets) -> dict:
  """Per set, per utterance: duration, reference classes, PER per condition, timings."""
  results = {}
  for name, items in sets.items():
    rows = []
    for i, (path, text, language) in enumerate(items):
      wave, sr = sf.read(path, dtype="float32")
      start = time.perf_counter()
      reference = intel.ipa_classes(intel.reference_phones(text, language))
      row = dict(stem=path.stem, seconds=wave.size / sr, reference=reference,
                 reference_s=time.perf_counter() - start, per={}, hypothesis={})
      for condition in CONDITIONS:
        x, rate = degraded(wave, sr, condition, seed=i)
        start = time.perf_counter()
        hypothesis = intel.arpabet_classes(intel.recognised_phones(x, rate))
        if condition == "clean":
          row["recognise_s"] = time.perf_counter() - start
        row["hypothesis"][condition] = hypothesis
        row["per"][condition] = intel.class_error_rate(reference, hypothesis)
      rows.append(row)
    results[name] = rows
    print(f"{name}: {len(rows)} utterances measured", flush=True)
  return results


def mismatched(rows) -> tuple[np.ndarray, np.ndarray]:
  """Clean PER against a shuffled transcript (a fixed derangement), and against
  the transcript nearest in reference length among the others."""
  n = len(rows)
  order = np.random.default_rng(0).permutation(n)
  other = {order[k]: order[(k + 1) % n] for k in range(n)}
  shuffled, nearest = [], []
  for i, row in enumerate(rows):
    hypothesis = row["hypothesis"]["clean"]
    shuffled.append(intel.class_error_rate(rows[other[i]]["reference"], hypothesis))
    j = min((j for j in range(n) if j != i),
            key=lambda j: abs(len(rows[j]["reference"]) - len(row["reference"])))
    nearest.append(intel.class_error_rate(rows[j]["reference"], hypothesis))
  return np.array(shuffled), np.array(nearest)


def needed(sd: float, difference: float) -> int:
  """Utterances for a two-sided test at 5% to find `difference` 80% of the
  time, per-utterance standard deviation `sd`: (1.96 + 0.84) sd / sqrt(n) = difference."""
  return math.ceil(((1.96 + 0.84) * sd / difference) ** 2)


def report(results) -> None:
  per = {name: {c: np.array([r["per"][c] for r in rows]) for c in CONDITIONS}
         for name, rows in results.items()}
  print("\n| set | n | true | shuffled | nearest length | true < shuffled | true < nearest |")
  print("|---|---|---|---|---|---|---|")
  for name, rows in results.items():
    true = per[name]["clean"]
    shuffled, nearest = mismatched(rows)
    print(f"| {name} | {true.size} | {true.mean():.3f} | {shuffled.mean():.3f} | "
          f"{nearest.mean():.3f} | {np.mean(true < shuffled):.2f} | {np.mean(true < nearest):.2f} |")
  print("\nMean PER (standard error); in brackets, the fraction of utterances above their clean PER")
  print("\n| set | " + " | ".join(CONDITIONS) + " |")
  print("|---|" + "---|" * len(CONDITIONS))
  for name in results:
    clean = per[name]["clean"]
    cells = [f"{v.mean():.3f} ({v.std(ddof=1) / math.sqrt(v.size):.3f})"
             + ("" if c == "clean" else f" [{np.mean(v > clean):.2f}]")
             for c, v in per[name].items()]
    print(f"| {name} | " + " | ".join(cells) + " |")
  steps = [*zip(CONDITIONS[:5], CONDITIONS[1:5]), ("clean", "lowpass2k"), ("clean", "griffinlim")]
  print("\nEach step as a paired mean difference (t over the utterances)")
  print("\n| set | " + " | ".join(f"{a} -> {b}" for a, b in steps) + " |")
  print("|---|" + "---|" * len(steps))
  for name in results:
    cells = []
    for a, b in steps:
      d = per[name][b] - per[name][a]
      cells.append(f"{d.mean():+.3f} ({d.mean() / d.std(ddof=1) * math.sqrt(d.size):.1f})")
    print(f"| {name} | " + " | ".join(cells) + " |")
  paired = ("griffinlim", "snr20", "snr10")
  print("\n| set | clean mean | sd | SEM | n for 10%, unpaired | sd of paired difference "
        f"({', '.join(paired)}) | n for 10%, paired |")
  print("|---|---|---|---|---|---|---|")
  for name in results:
    clean = per[name]["clean"]
    mean, sd = clean.mean(), clean.std(ddof=1)
    sds = [np.std(per[name][c] - clean, ddof=1) for c in paired]
    print(f"| {name} | {mean:.3f} | {sd:.3f} | {sd / math.sqrt(clean.size):.3f} | "
          f"{needed(math.sqrt(2) * sd, 0.1 * mean)} | {', '.join(f'{v:.3f}' for v in sds)} | "
          f"{', '.join(str(needed(v, 0.1 * mean)) for v in sds)} |")
  print("\n| set | audio s / utterance | recognise, s per s of audio | phonemize, s / utterance |")
  print("|---|---|---|---|")
  for name, rows in results.items():
    seconds = sum(r["seconds"] for r in rows)
    print(f"| {name} | {seconds / len(rows):.2f} | "
          f"{sum(r['recognise_s'] for r in rows) / seconds:.3f} | "
          f"{np.mean([r['reference_s'] for r in rows]):.4f} |")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--n", type=int, default=40, help="utterances a set")
  parser.add_argument("--json", type=Path, help="writes the per-utterance results here")
  parser.add_argument("--from-json", type=Path, help="prints the tables of earlier results")
  parser.add_argument("--realspeech", type=Path, default=REALSPEECH,
                      help="the folder of the Czech speakers (SPEAKER/train/*.wav, SPEAKER/transcripts.tsv)")
  args = parser.parse_args()
  if args.from_json:
    results = json.loads(args.from_json.read_text())
  else:
    results = measure(utterances(args.n, args.realspeech))
  if args.json:
    args.json.write_text(json.dumps(results, indent=1) + "\n")
  report(results)


if __name__ == "__main__":
  main()
