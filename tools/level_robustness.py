"""How conversion similarity depends on the input's level, with and without
loudness normalisation (docs/results/tuning.md, "Loudness").

  python tools/level_robustness.py --workdir RUN [--utterances 12]

Converts the first N utterances of the run's source-domain carve-out (its
eval split, never a test split) at gains of -30 to +6 dB, as they are and
brought to the target train split's median loudness, through Griffin-Lim;
prints the mean similarity to the target (Resemblyzer, 60 train utterances).
Meant for a run trained with levels as recorded (audio.loudness_lufs = 0).
"""
import argparse
import json

import numpy as np

import jaxvc
from jaxvc.audio import loudness
from jaxvc.data import domains
from jaxvc.evaluation import metrics

GAINS_DB = (-30, -20, -10, 0, 6)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--utterances", type=int, default=12)
  args = parser.parse_args(argv)
  converter = jaxvc.Converter.from_workdir(args.workdir)
  config, rate = converter.config, converter.sample_rate
  sources = domains.load_waves(config.data.domain_a, config.data.eval_split, converter.audio,
                               config.data, limit=args.utterances)
  references = domains.load_waves(config.data.domain_b, config.data.train_split,
                                  converter.audio, config.data, limit=60)
  target = metrics.speaker_embedding(references, rate)
  level = float(np.median([loudness.integrated_loudness(w, rate) for w in references]))
  print(f"target train split's median loudness: {level:.1f} LUFS", flush=True)
  results = {}
  for gain_db in GAINS_DB:
    for normalised in (False, True):
      similarities = []
      for wave in sources:
        wave = wave * np.float32(10 ** (gain_db / 20))
        if normalised:
          wave = loudness.normalise_loudness(wave, rate, level)
        out = converter.convert(wave, rate)
        similarities.append(metrics.speaker_similarity(metrics.speaker_embedding([out], rate),
                                                       target))
      name = f"{gain_db:+d} dB {'normalised' if normalised else 'as recorded'}"
      results[name] = float(np.mean(similarities))
      print(f"{name}: {results[name]:.3f}", flush=True)
  print(json.dumps(results))


if __name__ == "__main__":
  main()
