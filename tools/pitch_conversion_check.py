"""Pitch at conversion, measured: what `--pitch auto|match` and `--pitch-shift`
do to a trained run's conversions (docs/results/pitch.md, "Pitch at conversion").

  python tools/pitch_conversion_check.py --workdir RUN [--vocoder VOCODER]
      [--source DOMAIN] [--split test] [--utterances 30] [--json OUT]

Converts the first N utterances of the run's source-domain split (default
its test split: this reports, it tunes nothing; `--source` names another
domain, a voice the run was not trained on) with each setting and
prints, per setting: the median F0 of the outputs over all their voiced
frames (the one analysis, `jaxvc.audio.pitch`), its factor against the
plain conversion's (for shifts: what the shift asked for), the median of the
frame-by-frame factor over the frames voiced in both outputs (the same
speech compared with itself: the analysis calls more weakly periodic frames
voiced at a higher F0, so the two pooled medians are over different frames),
its distance from
the target voice's median (its train split's files, for `auto` and
`match`), and the mean speaker similarity to the target (Resemblyzer, 60
train files) and DNSMOS SIG / OVRL, so that a pitch option that costs
similarity or naturalness shows; and for each setting the mean
per-utterance difference of those two from plain's with its standard error
(the same utterances, so the spread between them cancels: "within noise" is
then a difference within about two standard errors of zero). The mapping's
statistics come from the run's train split (`pitch_statistics.json` in the
workdir, made on first use).
"""
import argparse

import numpy as np

import jaxvc
from jaxvc import files
from jaxvc.audio import pitch
from jaxvc.data import domains
from jaxvc.evaluation import metrics

SETTINGS = {   # name -> Converter options
    "plain": dict(),
    "auto": dict(pitch="auto"),
    "match": dict(pitch="match"),
    "shift +12": dict(pitch_shift=12.0),
    "shift -5": dict(pitch_shift=-5.0),
    "auto, shift +3": dict(pitch="auto", pitch_shift=3.0),
}
EXPECTED_FACTOR = {"shift +12": 2.0, "shift -5": 2 ** (-5 / 12)}
REFERENCES = 60   # target train files for the speaker embedding and its median F0


def pooled_median_f0(waves, cfg) -> float:
  """The median F0 over every voiced frame of `waves` (Hz)."""
  return _pooled_median([pitch.track(w, cfg) for w in waves])


def _pooled_median(tracks) -> float:
  return float(np.median(np.concatenate([hz[voiced] for hz, voiced in tracks])))


def matched_factor(tracks, reference_tracks) -> float:
  """The median over the frames voiced in both of F0 / the reference's F0,
  pooled over files (tracks of the same inputs, frame for frame)."""
  return float(np.median(np.concatenate([
      hz[voiced & ref_voiced] / ref_hz[voiced & ref_voiced]
      for (hz, voiced), (ref_hz, ref_voiced) in zip(tracks, reference_tracks)])))


def paired_difference(values, reference_values) -> tuple[float, float]:
  """(mean, standard error) of the per-utterance differences `values` -
  `reference_values` (the same utterances, in order)."""
  differences = np.asarray(values, np.float64) - np.asarray(reference_values, np.float64)
  if differences.size < 2:
    raise ValueError(f"a standard error needs two utterances or more, got {differences.size}")
  return (float(differences.mean()),
          float(differences.std(ddof=1) / np.sqrt(differences.size)))


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--vocoder", help="a vocoder workdir to render with (else Griffin-Lim)")
  parser.add_argument("--source", help="the domain to convert (default: the run's source, "
                      "domain_a), e.g. folder:PATH of another voice")
  parser.add_argument("--split", default="test", help="the source domain's split to convert")
  parser.add_argument("--utterances", type=int, default=30)
  parser.add_argument("--json", help="write the figures to this file")
  args = parser.parse_args(argv)
  if args.utterances < 2:
    parser.error(f"--utterances {args.utterances}: at least 2 (a standard error needs two)")
  vocoder = jaxvc.Vocoder.from_workdir(args.vocoder) if args.vocoder else None
  plain = jaxvc.Converter.from_workdir(args.workdir, vocoder=vocoder)
  config, cfg, rate = plain.config, plain.audio, plain.sample_rate
  source = args.source or config.data.domain_a
  sources = domains.load_waves(source, args.split, cfg, config.data, limit=args.utterances)
  references = domains.load_waves(config.data.domain_b, config.data.train_split, cfg,
                                  config.data, limit=REFERENCES)
  target = metrics.speaker_embedding(references, rate)
  target_median = pooled_median_f0(references, cfg)
  source_median = pooled_median_f0(sources, cfg)
  print(f"source ({args.split}, {len(sources)} files) median F0 {source_median:.1f} Hz; "
        f"target (train, {len(references)} files) {target_median:.1f} Hz", flush=True)
  results = dict(workdir=args.workdir, vocoder=args.vocoder, source=source, split=args.split,
                 utterances=len(sources), source_median_hz=source_median,
                 target_median_hz=target_median, settings={})
  plain_tracks = plain_scores = None   # the first setting's, "plain"
  for name, options in SETTINGS.items():
    converter = jaxvc.Converter.from_workdir(args.workdir, vocoder=vocoder, **options)
    outputs = [converter.convert(w, rate) for w in sources]
    tracks = [pitch.track(o, cfg) for o in outputs]
    plain_tracks = plain_tracks or tracks
    dnsmos = [metrics.dnsmos(o, rate) for o in outputs]
    scores = dict(similarity=[metrics.speaker_similarity(
                      metrics.speaker_embedding([o], rate), target) for o in outputs],
                  dnsmos_ovrl=[d["dnsmos_ovrl"] for d in dnsmos])
    plain_scores = plain_scores or scores
    row = dict(
        median_hz=_pooled_median(tracks),
        matched_factor=matched_factor(tracks, plain_tracks),
        similarity=float(np.mean(scores["similarity"])),
        dnsmos_sig=float(np.mean([d["dnsmos_sig"] for d in dnsmos])),
        dnsmos_ovrl=float(np.mean(scores["dnsmos_ovrl"])),
        per_utterance=scores,
        **{f"{key}_against_plain": paired_difference(scores[key], plain_scores[key])
           for key in scores})
    plain_median = results["settings"].get("plain", row)["median_hz"]
    row.update(factor=row["median_hz"] / plain_median,
               from_target=row["median_hz"] / target_median - 1,
               expected_factor=EXPECTED_FACTOR.get(name))
    results["settings"][name] = row
    print(f"{name}: median F0 {row['median_hz']:.1f} Hz (x{row['factor']:.3f} of plain"
          + (f", asked x{row['expected_factor']:.3f}" if row["expected_factor"] else "")
          + f"; frame by frame x{row['matched_factor']:.3f}"
          + f"; {100 * row['from_target']:+.1f}% from the target's), similarity "
          f"{row['similarity']:.3f}, DNSMOS SIG {row['dnsmos_sig']:.2f} OVRL "
          f"{row['dnsmos_ovrl']:.2f}; against plain, per utterance: similarity "
          f"{_plus_minus(row['similarity_against_plain'])}, OVRL "
          f"{_plus_minus(row['dnsmos_ovrl_against_plain'])}", flush=True)
  if args.json:
    files.write_json(args.json, results)


def _plus_minus(mean_and_error) -> str:
  mean, error = mean_and_error
  return f"{mean:+.3f} ± {error:.3f}"


if __name__ == "__main__":
  main()
