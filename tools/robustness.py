"""How conversion depends on how the source was recorded: its level, with
and without loudness normalisation, and its bandwidth (docs/results/tuning.md,
"Loudness" and "Band-limited sources").

  python tools/robustness.py --workdir RUN --check level [--utterances 12]
  python tools/robustness.py --workdir RUN --check bandwidth [--utterances 12]

Converts the first N utterances of the run's source-domain carve-out (its
eval split, never a test split) through Griffin-Lim under each condition and
prints the mean similarity to the target (Resemblyzer, 60 train utterances).
  level      gains of -30 to +6 dB, as they are and brought to the target
             train split's median loudness. Meant for a run trained with
             levels as recorded (audio.loudness_lufs = 0).
  bandwidth  the source as prepared, and resampled to 11025 and 8000 Hz (as
             an 11 or 8 kHz recording would come), which the converter takes
             at that rate. Also the output's level above 4.5 kHz against
             below 3.4 kHz, in dB, beside the target's own recordings': a
             conversion with the target's bandwidth has the target's figure.
"""
import argparse
import json

import numpy as np

import jaxvc
from jaxvc import audio
from jaxvc.audio import loudness
from jaxvc.data import domains
from jaxvc.evaluation import metrics

GAINS_DB = (-30, -20, -10, 0, 6)
RATES = (None, 11025, 8000)     # None: as prepared (the run's own rate)
HIGH_BAND = (4500.0, 7500.0)    # above an 8 kHz recording's 4 kHz, with a margin
LOW_BAND = (300.0, 3400.0)      # what every telephone passes


def high_band_db(wave: np.ndarray, sample_rate: int) -> float:
  """Power in HIGH_BAND over power in LOW_BAND, in dB, over the whole wave."""
  spectrum = np.abs(np.fft.rfft(wave.astype(np.float64))) ** 2
  freqs = np.fft.rfftfreq(wave.size, 1 / sample_rate)

  def band(lo, hi):
    return spectrum[(freqs >= lo) & (freqs < hi)].sum()

  return float(10 * np.log10(max(band(*HIGH_BAND), 1e-30) / max(band(*LOW_BAND), 1e-30)))


def level_conditions(references, rate):
  """(name, wave -> (wave, rate)) for each gain, as recorded and normalised."""
  level = float(np.median([loudness.integrated_loudness(w, rate) for w in references]))
  print(f"target train split's median loudness: {level:.1f} LUFS", flush=True)
  for gain_db in GAINS_DB:
    gain = np.float32(10 ** (gain_db / 20))
    yield f"{gain_db:+d} dB as recorded", lambda w, g=gain: (w * g, rate)
    yield f"{gain_db:+d} dB normalised", (
        lambda w, g=gain: (loudness.normalise_loudness(w * g, rate, level), rate))


def bandwidth_conditions(references, rate):
  """(name, wave -> (wave, rate)) for each source rate."""
  own = np.mean([high_band_db(w, rate) for w in references])
  print(f"target's own recordings: {own:+.1f} dB above {HIGH_BAND[0]:.0f} Hz", flush=True)
  for source_rate in RATES:
    if source_rate is None:
      yield f"{rate} Hz (as prepared)", lambda w: (w, rate)
    else:
      yield f"{source_rate} Hz", lambda w, r=source_rate: (audio.resample(w, rate, r), r)


CHECKS = {"level": level_conditions, "bandwidth": bandwidth_conditions}


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--check", choices=sorted(CHECKS), required=True)
  parser.add_argument("--utterances", type=int, default=12)
  args = parser.parse_args(argv)
  converter = jaxvc.Converter.from_workdir(args.workdir)
  config, rate = converter.config, converter.sample_rate
  sources = domains.load_waves(config.data.domain_a, config.data.eval_split, converter.audio,
                               config.data, limit=args.utterances)
  references = domains.load_waves(config.data.domain_b, config.data.train_split,
                                  converter.audio, config.data, limit=60)
  target = metrics.speaker_embedding(references, rate)
  results = {}
  for name, condition in CHECKS[args.check](references, rate):
    similarities, high = [], []
    for wave in sources:
      out = converter.convert(*condition(wave))
      similarities.append(metrics.speaker_similarity(metrics.speaker_embedding([out], rate),
                                                     target))
      high.append(high_band_db(out, rate))
    results[name] = dict(similarity=float(np.mean(similarities)),
                         high_band_db=float(np.mean(high)))
    print(f"{name}: similarity {results[name]['similarity']:.3f}, "
          f"{results[name]['high_band_db']:+.1f} dB above {HIGH_BAND[0]:.0f} Hz", flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  main()
