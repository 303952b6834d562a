"""Chooses jaxvc's pitch analysis by measurement (docs/results/pitch.md).

Every candidate analyses the same waves at 16 kHz on the mel's frames (hop
192, frame t at sample t * 192) and is scored against a reference:

  synthetic  harmonic glides with known F0 (60-800 Hz, formant-coloured,
             vibrato) between unvoiced gaps (silence, or noise like a
             fricative), clean and in white noise at 20 and 10 dB SNR; the
             truth is known; frames within TRANSITION_MS of a voiced segment's
             edge are not scored.
  demo       the demo corpus's two espeak-ng voices (jaxvc.data.demo), clean
             and at 10 dB SNR. espeak-ng does not give out the F0 it renders,
             so the reference is WORLD Harvest on the clean wave, and Harvest's
             own clean row is 0 by construction. `demo-world` is the same speech
             resynthesised by WORLD from that F0 (and its CheapTrick envelope
             and D4C aperiodicity): speech whose F0 and voicing are known
             exactly, with the transition frames left out as above.
  real       Czech recordings (/work/corpus/realspeech, the two fillets
             speakers' train splits). No ground truth: the reference is where
             Harvest and pYIN agree (both voiced within 10%, or both unvoiced);
             frames where they disagree are not scored, and both candidates'
             rows there are agreement with a reference they helped make.

Metrics, pooled over frames: gross pitch error (% of frames voiced in both
that are more than 20% off), fine error (RMS in cents over the frames within
20%), voicing decision error (% of scored frames). Speed: seconds for 60 s
of real speech (median of 3; one run where one takes over SLOW_S), against
reading and resampling that 60 s file in the same process.

The pretrained networks (torchcrepe, pesto-pitch: weights inside their
wheels) are candidates when importable; neither is a dependency of jaxvc. They
import torchaudio only to read files, which they are not asked to do here:

  pip install --no-deps --target /tmp/pitchpkgs torchcrepe pesto-pitch \\
      resampy omegaconf antlr4-python3-runtime==4.9.3
  PYTHONPATH=.:/tmp/pitchpkgs python tools/pitch_check.py --json /tmp/pitch.json
  python tools/pitch_check.py --from-json /tmp/pitch.json   # the tables again
"""
import argparse
import dataclasses
import importlib
import json
import math
import os
from pathlib import Path
import sys
import tempfile
import time
import types
import warnings

import numpy as np
import soundfile as sf

from jaxvc import audio, buckets
from jaxvc.audio import pitch
from jaxvc.data import demo, sentences
from jaxvc.evaluation import machine as machine_lib

CFG = audio.AudioConfig()
SR, HOP = CFG.sample_rate, CFG.hop_length
FMIN, FMAX = 50.0, 1000.0          # every candidate searches the same range
FRAME_MS = 1000 * HOP / SR         # 12 ms
REALSPEECH = Path("/work/corpus/realspeech")
TRANSITION_MS = 30.0   # frames this close to a voiced segment's edge are not scored
GROSS = 0.2            # a voiced frame more than 20% off is a gross error
SNRS = (20, 10)
SLOW_S = 20.0
CREPE_VOICED = 0.21    # torchcrepe's README threshold on periodicity
PESTO_VOICED = 0.5     # on PESTO's confidence


# --- the sets --------------------------------------------------------------

@dataclasses.dataclass
class Item:
  """One wave and its reference on the mel's frames; `scored` marks the
  frames that count."""
  group: str          # table and column: "synthetic/snr10"
  name: str
  wave: np.ndarray
  f0: np.ndarray      # Hz, 0 where unvoiced
  voiced: np.ndarray
  scored: np.ndarray


def frame_count(wave: np.ndarray) -> int:
  return CFG.n_frames(wave.size)


def away_from_edges(voiced: np.ndarray) -> np.ndarray:
  """Frames at least TRANSITION_MS from any change of voicing."""
  reach = int(round(TRANSITION_MS / FRAME_MS))
  change = np.flatnonzero(np.diff(voiced.astype(np.int8))) + 0.5
  index = np.arange(voiced.size)
  if change.size == 0:
    return np.ones(voiced.size, bool)
  distance = np.abs(index[:, None] - change[None, :]).min(axis=1)
  return distance > reach


def add_noise(wave: np.ndarray, snr_db: float, seed: int, power: float | None = None):
  """`wave` plus white noise `snr_db` below `power` (default: the wave's mean power)."""
  power = np.mean(wave ** 2) if power is None else power
  noise = np.random.default_rng(seed).standard_normal(wave.size) * math.sqrt(
      power / 10 ** (snr_db / 10))
  return (wave + noise).astype(np.float32)


def harmonic_glide(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
  """A voiced segment and its F0 per sample: a glide in log F0 over up to an
  octave either way, vibrato on half of them, harmonics up to 7.2 kHz whose
  amplitudes fall as k^-tilt and rise near two random formants."""
  n = int(seconds * SR)
  t = np.arange(n) / SR
  start = math.exp(rng.uniform(math.log(60), math.log(800)))
  end = float(np.clip(start * 2 ** rng.uniform(-1, 1), 60, 800))
  log_f0 = np.linspace(math.log(start), math.log(end), n)
  if rng.random() < 0.5:
    log_f0 += rng.uniform(0.01, 0.03) * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
  f0 = np.clip(np.exp(log_f0), 60, 800)
  phase = 2 * np.pi * np.cumsum(f0) / SR
  tilt = rng.uniform(0.6, 1.6)
  formants = rng.uniform(300, 900), rng.uniform(900, 2500)
  wave = np.zeros(n)
  for k in range(1, int(0.45 * SR / 60) + 1):
    frequency = k * f0
    gain = k ** -tilt * (1 + sum(4 * np.exp(-0.5 * ((frequency - f) / 150) ** 2)
                                 for f in formants))
    wave += np.where(frequency < 0.45 * SR, gain, 0.0) * np.sin(k * phase)
  ramp = np.minimum(1, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * SR))
  return wave * ramp / np.sqrt(np.mean(wave ** 2)), f0


def synthetic_signal(seed: int, seconds: float = 5.0):
  """(wave, F0 per sample, voiced per sample, voiced-part power): voiced
  glides of 0.3-1.2 s between gaps of 0.1-0.4 s, each gap silent or a
  high-passed noise burst 6-20 dB below the voiced level."""
  rng = np.random.default_rng(seed)
  parts, f0s = [], []
  total = 0
  while total < seconds * SR:
    gap = int(rng.uniform(0.1, 0.4) * SR)
    if rng.random() < 0.5:
      burst = np.diff(rng.standard_normal(gap + 1))
      parts.append(burst / np.std(burst) * 10 ** (-rng.uniform(6, 20) / 20))
    else:
      parts.append(np.zeros(gap))
    f0s.append(np.zeros(gap))
    wave, f0 = harmonic_glide(rng, rng.uniform(0.3, 1.2))
    parts.append(wave)
    f0s.append(f0)
    total += gap + wave.size
  wave, f0 = np.concatenate(parts), np.concatenate(f0s)
  scale = 0.3 / np.abs(wave).max()
  return (wave * scale).astype(np.float32), f0, f0 > 0, scale ** 2


def synthetic_items(n: int, seed: int) -> list[Item]:
  items = []
  for i in range(n):
    wave, f0, voiced, power = synthetic_signal(seed + i)
    frames = np.arange(frame_count(wave)) * HOP
    f0_frames = f0[np.minimum(frames, f0.size - 1)]
    voiced_frames = voiced[np.minimum(frames, f0.size - 1)]
    scored = away_from_edges(voiced_frames)
    for condition in ("clean", *(f"snr{s}" for s in SNRS)):
      noisy = wave if condition == "clean" else add_noise(
          wave, int(condition[3:]), 1000 + seed + i, power)
      items.append(Item(f"synthetic/{condition}", f"sweep{seed + i}", noisy,
                        np.where(voiced_frames, f0_frames, 0.0), voiced_frames, scored))
  return items


def _pyworld():
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    return importlib.import_module("pyworld")


def harvest(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  pyworld = _pyworld()
  f0, _ = pyworld.harvest(wave.astype(np.float64), SR, f0_floor=FMIN, f0_ceil=FMAX,
                          frame_period=FRAME_MS)
  f0 = fit(f0, frame_count(wave))
  return f0, f0 > 0


def demo_items(n: int, seed: int) -> list[Item]:
  """Both voices; the reference is Harvest on the clean wave (see the module doc)."""
  pyworld = _pyworld()
  items = []
  texts = sentences.sentences(n, seed=seed)
  for voice in demo.VOICES:
    for i, text in enumerate(texts):
      wave, rate = demo.render(text, voice)
      wave = audio.resample(wave, rate, SR)
      f0, voiced = harvest(wave)
      everything = np.ones(f0.size, bool)
      name = f"{voice}/{i}"
      items.append(Item("demo/clean", name, wave, f0, voiced, everything))
      items.append(Item("demo/snr10", name, add_noise(wave, 10, seed + i), f0, voiced,
                        everything))
      x = wave.astype(np.float64)
      times = np.arange(f0.size) * FRAME_MS / 1000
      envelope = pyworld.cheaptrick(x, f0.astype(np.float64), times, SR)
      aperiodicity = pyworld.d4c(x, f0.astype(np.float64), times, SR)
      resynthesised = pyworld.synthesize(f0.astype(np.float64), envelope, aperiodicity, SR,
                                         frame_period=FRAME_MS).astype(np.float32)
      resynthesised = resynthesised[:wave.size]
      items.append(Item("demo-world/clean", name, resynthesised, f0, voiced,
                        away_from_edges(voiced)))
  return items


def real_items(n: int, cache: dict) -> list[Item]:
  """n train files of each Czech speaker, evenly spread; the reference is
  Harvest and pYIN's agreement (see the module doc), their analyses kept in
  `cache` as `score` keys them."""
  items = []
  for speaker in ("cs_fillets_big", "cs_fillets_small"):
    paths = sorted((REALSPEECH / speaker / "train").glob("*.wav"))
    for path in [paths[i * len(paths) // n] for i in range(n)]:
      wave = audio.load_audio(path, SR)
      name = f"{speaker}/{path.stem}"
      a, a_voiced = cache[("harvest", "real/recorded", name)] = harvest(wave)
      b, b_voiced = cache[("pyin", "real/recorded", name)] = pyin(wave)
      agree_f0 = a_voiced & b_voiced & (np.abs(b / np.where(a > 0, a, 1) - 1) <= 0.1)
      scored = agree_f0 | (~a_voiced & ~b_voiced)
      items.append(Item("real/recorded", name, wave,
                        np.where(agree_f0, a, 0.0), agree_f0, scored))
  return items


# --- the candidates --------------------------------------------------------

def fit(values: np.ndarray, n: int) -> np.ndarray:
  """A frame sequence cut or edge-padded to n frames (the candidates' own
  framings agree with the mel's to within the last frame)."""
  values = np.asarray(values)[:n]
  return np.pad(values, (0, n - values.size), mode="edge") if values.size < n else values


def jax_yin(wave: np.ndarray):
  """jaxvc.audio.pitch, the wave zero-padded to a length bucket (one
  program per bucket; frames before the padding are unchanged)."""
  n = frame_count(wave)
  padded = buckets.pad_to(wave, buckets.bucket(wave.size, 2 ** 14))
  f0, voiced = pitch.f0(padded, CFG)
  return np.asarray(f0)[:n], np.asarray(voiced)[:n]


def dio(wave: np.ndarray):
  pyworld = _pyworld()
  x = wave.astype(np.float64)
  f0, times = pyworld.dio(x, SR, f0_floor=FMIN, f0_ceil=FMAX, frame_period=FRAME_MS)
  f0 = fit(pyworld.stonemask(x, f0, times, SR), frame_count(wave))
  return f0, f0 > 0


def pyin(wave: np.ndarray):
  import librosa
  f0, voiced, _ = librosa.pyin(wave, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024,
                               hop_length=HOP)
  n = frame_count(wave)
  return fit(np.nan_to_num(f0), n), fit(voiced, n)


def librosa_yin(wave: np.ndarray):
  """No voicing decision: every frame voiced."""
  import librosa
  f0 = fit(librosa.yin(wave, fmin=FMIN, fmax=FMAX, sr=SR, frame_length=1024,
                       hop_length=HOP), frame_count(wave))
  return f0, None


def _without_torchaudio():
  """torchcrepe and pesto import torchaudio at the top for file reading only."""
  try:
    importlib.import_module("torchaudio")
  except ImportError:
    sys.modules["torchaudio"] = types.ModuleType("torchaudio")


def crepe(model: str):
  def analyse(wave: np.ndarray):
    import torch
    import torchcrepe
    f0, periodicity = torchcrepe.predict(
        torch.from_numpy(wave)[None], SR, HOP, FMIN, FMAX, model, return_periodicity=True,
        batch_size=512, device="cpu")
    n = frame_count(wave)
    voiced = fit(periodicity[0].numpy() >= CREPE_VOICED, n)
    return np.where(voiced, fit(f0[0].numpy(), n), 0.0), voiced
  return analyse


def pesto(wave: np.ndarray):
  import pesto as pesto_lib
  import torch
  times, f0, confidence, _ = pesto_lib.predict(torch.from_numpy(wave), SR, step_size=FRAME_MS)
  n = frame_count(wave)
  voiced = fit(confidence.numpy() >= PESTO_VOICED, n)
  return np.where(voiced, fit(f0.numpy(), n), 0.0), voiced


def candidates(networks: bool) -> dict:
  found = {"jax-yin (jaxvc)": jax_yin, "dio+stonemask": dio, "harvest": harvest,
           "pyin": pyin, "librosa-yin": librosa_yin}
  if networks:
    _without_torchaudio()
    for module, entries in (("torchcrepe", {"crepe-tiny": crepe("tiny")}),
                            ("pesto", {"pesto": pesto})):
      try:
        importlib.import_module(module)
        found.update(entries)
      except ImportError as e:
        print(f"{module}: not importable ({e}); left out")
  return found


# --- scoring ---------------------------------------------------------------

def counts(f0, voiced, item: Item) -> dict:
  """Frame counts and sums behind the metrics, for one item: pooled later."""
  s = item.scored
  both = s & item.voiced & (voiced if voiced is not None else True) & (f0 > 0)
  ratio = f0[both] / item.f0[both]
  fine = np.abs(ratio - 1) <= GROSS
  cents = 1200 * np.log2(ratio[fine])
  out = dict(scored=int(s.sum()), both=int(both.sum()), gross=int((~fine).sum()),
             fine=int(fine.sum()), cents_sq=float(np.sum(cents ** 2)),
             reference_voiced=int((s & item.voiced).sum()))
  if voiced is not None:
    out["voicing_errors"] = int((s & (voiced != item.voiced)).sum())
  return out


def pooled(rows: list[dict]) -> dict:
  total = {k: sum(r[k] for r in rows) for k in rows[0]}
  out = dict(gpe=100 * total["gross"] / max(total["both"], 1),
             fine_cents=math.sqrt(total["cents_sq"] / max(total["fine"], 1)),
             frames=total["scored"])
  if "voicing_errors" in total:
    out["vde"] = 100 * total["voicing_errors"] / total["scored"]
  return out


def score(items: list[Item], analysers: dict, cache: dict) -> dict:
  """{group: {candidate: per-item counts}}, each analysis timed."""
  results = {}
  for name, analyse in analysers.items():
    for item in items:
      key = (name, item.group, item.name)
      if key not in cache:
        cache[key] = analyse(item.wave)
      f0, voiced = cache[key]
      results.setdefault(item.group, {}).setdefault(name, []).append(
          counts(np.asarray(f0, np.float64), voiced, item))
    print(f"  {name}: {len(items)} waves", flush=True)
  return results


# --- speed -----------------------------------------------------------------

def sixty_seconds(folder: Path) -> Path:
  """A 60 s file of real speech at its recorded rate, written to a temp file."""
  paths = sorted(folder.glob("*.wav"))
  parts, total, rate = [], 0, None
  for path in paths:
    wave, rate = sf.read(path, dtype="float32")
    parts.append(wave)
    total += wave.size
    if total >= 60 * rate:
      break
  out = Path(tempfile.mkdtemp(prefix="pitch-check-")) / "sixty.wav"
  sf.write(out, np.concatenate(parts)[:60 * rate], rate, subtype="PCM_16")
  return out


def timed(fn, repeats: int = 3) -> tuple[float, int]:
  """Median seconds over `repeats` calls (one if the first takes over SLOW_S)."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
    if times[0] > SLOW_S:
      break
  return float(np.median(times)), len(times)


def speed(analysers: dict, networks: bool) -> dict:
  path = sixty_seconds(REALSPEECH / "cs_fillets_big" / "train")
  read, _ = timed(lambda: audio.load_audio(path, SR))
  wave = audio.load_audio(path, SR)
  out = {"read+resample": dict(seconds=read, runs=3)}
  start = time.perf_counter()
  f0, _ = pitch.f0(wave, CFG)
  np.asarray(f0)
  out["jax-yin compile"] = dict(seconds=time.perf_counter() - start, runs=1)
  for name, analyse in analysers.items():
    seconds, runs = timed(lambda: analyse(wave))
    out[name] = dict(seconds=seconds, runs=runs)
    print(f"  {name}: {seconds:.3f} s", flush=True)
  if networks and "crepe-tiny" in analysers:
    # CREPE's full model is too slow to time on 60 s here: 6 s once, scaled.
    seconds, _ = timed(lambda: crepe("full")(wave[:6 * SR]), repeats=1)
    out["crepe-full (6 s x 10)"] = dict(seconds=10 * seconds, runs=1)
  return out


# --- report ----------------------------------------------------------------

def machine() -> str:
  """What ran it, and how loaded it was (the timings depend on both)."""
  return (f"{machine_lib.describe(machine_lib.machine())}, load average "
          f"{os.getloadavg()[0]:.1f} at the end")


def tables(report: dict) -> str:
  lines = [f"Machine: {report['machine']}", ""]
  groups = report["accuracy"]
  sets = sorted({g.split("/")[0] for g in groups}, key=["synthetic", "demo", "demo-world",
                                                       "real"].index)
  for name in sets:
    columns = [g for g in groups if g.split("/")[0] == name]
    candidates = list(groups[columns[0]])
    frames = [pooled(groups[c][candidates[0]])["frames"] for c in columns]
    sizes = ", ".join(f"{c.split('/')[1]} {f} frames" for c, f in zip(columns, frames))
    lines.append(f"{name}: gross error % / fine error cents / voicing error % ({sizes})")
    lines.append("")
    lines.append("| candidate | " + " | ".join(c.split("/")[1] for c in columns) + " |")
    lines.append("| --- |" + " --- |" * len(columns))
    for candidate in candidates:
      cells = []
      for c in columns:
        m = pooled(groups[c][candidate])
        vde = f"{m['vde']:.1f}" if "vde" in m else "n/a"
        cells.append(f"{m['gpe']:.2f} / {m['fine_cents']:.1f} / {vde}")
      lines.append(f"| {candidate} | " + " | ".join(cells) + " |")
    lines.append("")
  if "speed" not in report:
    return "\n".join(lines)
  speeds = report["speed"]
  read = speeds["read+resample"]["seconds"]
  lines += ["Speed on 60 s of speech (16 kHz):", "",
            "| candidate | seconds | runs | x reading+resampling | x real time |",
            "| --- | --- | --- | --- | --- |"]
  for name, s in speeds.items():
    lines.append(f"| {name} | {s['seconds']:.3f} | {s['runs']} | {s['seconds'] / read:.1f} | "
                 f"{s['seconds'] / 60:.4f} |")
  return "\n".join(lines)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--synthetic", type=int, default=6, help="5 s signals")
  parser.add_argument("--demo", type=int, default=6, help="sentences per voice")
  parser.add_argument("--real", type=int, default=12, help="files per speaker")
  parser.add_argument("--seed", type=int, default=0,
                      help="synthetic seeds start here (the settings were tuned on 100+)")
  parser.add_argument("--no-networks", action="store_true")
  parser.add_argument("--no-speed", action="store_true")
  parser.add_argument("--json", help="write the pooled counts and timings here")
  parser.add_argument("--from-json", help="print the tables of an earlier --json")
  args = parser.parse_args(argv)
  if args.from_json:
    print(tables(json.loads(Path(args.from_json).read_text())))
    return
  analysers = candidates(not args.no_networks)
  cache = {}
  accuracy = {}
  for label, make in (("synthetic", lambda: synthetic_items(args.synthetic, args.seed)),
                      ("demo", lambda: demo_items(args.demo, args.seed)),
                      ("real", lambda: real_items(args.real, cache))):
    print(f"{label}:", flush=True)
    accuracy.update(score(make(), analysers, cache))
  report = dict(accuracy=accuracy, settings=dataclasses.asdict(pitch.PitchSettings()))
  if not args.no_speed:
    print("speed:", flush=True)
    report["speed"] = speed(analysers, not args.no_networks)
  report["machine"] = machine()
  if args.json:
    Path(args.json).write_text(json.dumps(report, indent=1))
  print(tables(report))


if __name__ == "__main__":
  main()
