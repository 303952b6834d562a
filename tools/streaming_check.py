"""Live conversion, measured: what a lower latency costs, and whether the
stream is the offline conversion (docs/results/streaming.md).

  python tools/streaming_check.py --workdir RUN [--vocoder V ...] [--griffinlim]
      [--chunks 24 16 12 8] [--split test] [--utterances 20] [--json OUT]

For each renderer (each --vocoder run, and Griffin-Lim with --griffinlim)
and each generator width in --chunks, streams the first N utterances of the
run's source-domain split (default its test split: this reports, it tunes
nothing) through `Converter.stream` in 20 ms blocks, at the front-end's
loudness as `infer stream` feeds a file, and prints: the algorithmic latency,
the mean speaker similarity to the target (Resemblyzer, 60 train files),
DNSMOS SIG / OVRL, and the largest difference between the stream (after its
latency) and the offline conversion of the same audio with the same options,
relative to the offline output's peak.
"""
import argparse

import numpy as np

import jaxvc
from jaxvc import files
from jaxvc.audio import loudness
from jaxvc.data import domains
from jaxvc.evaluation import metrics

BLOCK_SECONDS = 0.02
REFERENCES = 60   # target train files for the speaker embedding


def streamed(converter, wave: np.ndarray) -> tuple[np.ndarray, int]:
  """`wave` pushed through a live stream in BLOCK_SECONDS blocks -> (output
  aligned with the input, latency in samples)."""
  stream = converter.stream()
  block = round(BLOCK_SECONDS * converter.sample_rate)
  out, _ = stream.push_all(wave, block)
  return np.concatenate(out)[stream.latency:], stream.latency


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--vocoder", nargs="*", default=[], help="vocoder workdirs to render with")
  parser.add_argument("--griffinlim", action="store_true", help="also render by Griffin-Lim")
  parser.add_argument("--chunks", type=int, nargs="+", default=[24, 16, 12, 8])
  parser.add_argument("--split", default="test", help="the source domain's split to convert")
  parser.add_argument("--utterances", type=int, default=20)
  parser.add_argument("--json", help="write the figures to this file")
  args = parser.parse_args(argv)
  renderers = {v: dict(vocoder=jaxvc.Vocoder.from_workdir(v)) for v in args.vocoder}
  if args.griffinlim:
    renderers["griffinlim"] = {}
  first = jaxvc.Converter.from_workdir(args.workdir)
  config, cfg, rate = first.config, first.audio, first.sample_rate
  sources = [loudness.normalise_loudness(w, rate, cfg.loudness_lufs) for w in domains.load_waves(
      config.data.domain_a, args.split, cfg, config.data, limit=args.utterances)]
  references = domains.load_waves(config.data.domain_b, config.data.train_split, cfg,
                                  config.data, limit=REFERENCES)
  target = metrics.speaker_embedding(references, rate)
  results = dict(workdir=args.workdir, split=args.split, utterances=len(sources),
                 block_ms=1e3 * BLOCK_SECONDS, settings=[])
  for renderer, options in renderers.items():
    for chunk in args.chunks:
      converter = jaxvc.Converter.from_workdir(args.workdir, chunk_frames=chunk, **options)
      outputs, differences = [], []
      for wave in sources:
        out, latency = streamed(converter, wave)
        offline = np.concatenate([w.wave for w in converter.convert_stream([wave])])
        differences.append(float(np.abs(out - offline).max() / max(np.abs(offline).max(), 1e-9)))
        outputs.append(out)
      dnsmos = [metrics.dnsmos(o, rate) for o in outputs]
      row = dict(
          renderer=renderer, chunk_frames=chunk, latency_ms=1e3 * latency / rate,
          similarity=float(np.mean([metrics.speaker_similarity(
              metrics.speaker_embedding([o], rate), target) for o in outputs])),
          dnsmos_sig=float(np.mean([d["dnsmos_sig"] for d in dnsmos])),
          dnsmos_ovrl=float(np.mean([d["dnsmos_ovrl"] for d in dnsmos])),
          max_relative_difference_from_offline=float(np.max(differences)))
      results["settings"].append(row)
      print(f"{renderer}, chunk {chunk}: latency {row['latency_ms']:.0f} ms, similarity "
            f"{row['similarity']:.3f}, DNSMOS SIG {row['dnsmos_sig']:.2f} OVRL "
            f"{row['dnsmos_ovrl']:.2f}, stream vs offline {row['max_relative_difference_from_offline']:.1e}",
            flush=True)
  if args.json:
    files.write_json(args.json, results)


if __name__ == "__main__":
  main()
