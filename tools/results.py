"""Regenerates the README's results from a trained demo run: scores, plots, benchmark.

  python tools/results.py --workdir WORKDIR [--vocoder VOCODER_WORKDIR]
      [--baseline EARLIER_WORKDIR] [--out docs/results] [--limit N]
      [--benchmark-json FILE] [--audio DIR] [--reuse-audio]
      [--config.KEY=VALUE ...]

On the demo corpus's test split (speaker_a -> speaker_b, parallel sentences
with transcripts) it renders these systems into --audio (default
WORKDIR/results_audio), on the first --limit test sentences:

  source          speaker_a's utterance unchanged: where conversion starts;
  vocoded         speaker_b's parallel utterance through the mel and back by
                  Griffin-Lim (copy-synthesis): the ceiling it allows;
  neural_vocoded  the same through --vocoder's trained vocoder, if given;
  melganvc_baseline  --baseline's latest checkpoint converting the source, if
                  given: an earlier recipe's row kept for comparison;
  melganvc        the run's latest checkpoint converting the source;
  melganvc_neural the same conversion rendered by --vocoder, if given;
  style_transfer  configs/nst.py (override with --config.KEY=VALUE), the
                  source as content, a different speaker_b sentence from the
                  train split as style (never the parallel target).

Each is scored by tools/evaluate.py against the parallel target, with each
speaker's train split as its similarity reference (so no scored utterance is
in it). Written to --out: results.md and results.json, losses.png (the run's
TensorBoard curves), spectrograms.png (a source and its conversion), and with
--benchmark-json (from tools/benchmark.py --json) benchmark.json and .md.

  python tools/results.py --copy-synthesis --vocoder VOCODER_WORKDIR
      [--steps N ...] [--out docs/results] [--limit N] [--audio DIR]

scores the vocoder alone: every TARGET test utterance (or the first --limit)
through its mel and back, by Griffin-Lim and by the vocoder at each kept
checkpoint of --steps (default its latest), against the original utterance.
Written to --out: vocoder.md and vocoder_copy_synthesis.json.

  python tools/results.py --real --workdir WORKDIR [--vocoder VOCODER_WORKDIR]
      [--limit N] [--out docs/results] [--audio DIR] [--reuse-audio]

scores a run on two real speakers (folder: domains with test/ splits, who say
different things) on the first --limit test utterances of each: the source
and the target unchanged, the target through its mel and back by Griffin-Lim
and by --vocoder (the ceiling), and the conversion through each; by the
figures that need no parallel target (similarity to each speaker's train
split, DNSMOS, median F0, and the intelligibility measure where the
language has one). Written to --out: real.md (with the run's in-loop curve)
and real.json.

  python tools/results.py --benchmark-json FILE [--out docs/results]

writes only the speed figures: FILE (from tools/benchmark.py --json) copied to
benchmark.json, and benchmark.md, its table.
"""
import argparse
import dataclasses
import functools
import json
import math
import os
from pathlib import Path
import sys
import time

import numpy as np
from tensorboard.backend.event_processing import event_accumulator

import jaxvc
from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc import files
from jaxvc import plotting
from jaxvc._tf import tf
from jaxvc.audio import inversion
from jaxvc.audio import loudness
from jaxvc.audio import pitch
from jaxvc.cli import stylize
from jaxvc.data import audio_folder
from jaxvc.data import demo
from jaxvc.data import specs
from jaxvc.data import transcripts as transcript_files
from jaxvc.evaluation import intelligibility
from jaxvc.evaluation import machine as machine_lib
from jaxvc.evaluation import scoring
from jaxvc.nst import transfer as nst

SOURCE, TARGET = "speaker_a", "speaker_b"
DEFAULT_LIMIT = 20  # of the 30: style transfer takes most of the time (results.md states it)
# System -> its row label. The order is the table's.
SYSTEMS = {
    "source": "(a) source, unchanged",
    "vocoded": "(b) target through mel + Griffin-Lim (ceiling)",
    "neural_vocoded": "(b') target through mel + neural vocoder (ceiling)",
    "melganvc_baseline": "(c0) MelGAN-VC, the --baseline run + Griffin-Lim",
    "melganvc": "(c) MelGAN-VC + Griffin-Lim",
    "melganvc_neural": "(c') MelGAN-VC + neural vocoder",
    "style_transfer": "(d) style transfer",
}
# Results table columns: figures of jaxvc.evaluation.scoring.
COLUMNS = ["mcd_db", "f0_rmse_cents", "f0_correlation", "voicing_error", "target_similarity",
           "source_similarity", "wer", "cer", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl",
           "dnsmos_p808", "converted_log_f0_mean", "converted_log_f0_median"]
# What the F0 agreement columns are, for the captions of the tables that
# have a parallel reference.
F0_AGREEMENT = ("F0 by `jaxvc.audio.pitch`, against the reference's over DTW-aligned frames: "
                "error the RMS in cents over the frames voiced in both, correlation of "
                "log F0 over them, voicing error the share voiced in one only")
# losses.png panels: (title, {TensorBoard tag: line label}).
LOSS_PANELS = [
    ("critic loss", {"train/critic_loss": None}),
    ("generator loss", {"train/generator_loss": None}),
    ("adversarial", {"train/adversarial": None}),
    ("TraVeL", {"train/travel": None}),
    ("identity", {"train/identity": None}),
    ("mel statistics distance to target", {"eval/stats_distance_converted": "converted",
                                           "eval/stats_distance_converted_means": "its means",
                                           "eval/stats_distance_converted_stds": "its stds",
                                           "eval/stats_distance_source": "source"}),
    ("similarity to target (eval)", {"eval/target_similarity": "converted",
                                     "eval/unconverted_target_similarity": "source",
                                     "eval/ceiling_target_similarity": "ceiling",
          "eval/phone_error_rate": "phone_error_rate",
          "eval/unconverted_phone_error_rate": "unconverted_phone_error_rate"}),
    ("MCD dB (eval)", {"eval/mcd_db": "converted", "eval/unconverted_mcd_db": "source",
                       "eval/ceiling_mcd_db": "ceiling"}),
]


@dataclasses.dataclass(frozen=True)
class Utterance:
  """One test sentence and the files each system reads for it."""
  key: str       # the sentence id, e.g. "0270"
  source: Path   # SOURCE/test/KEY.wav
  target: Path   # TARGET/test/KEY.wav, the parallel target
  style: Path    # a TARGET/train sentence: style transfer's style clip


def scored_utterances(corpus: Path, limit: int) -> list[Utterance]:
  """The first `limit` test sentences, the i-th styled by the i-th train sentence."""
  keys = sorted(p.stem for p in (corpus / SOURCE / "test").glob("*.wav"))[:limit]
  styles = sorted((corpus / TARGET / "train").glob("*.wav"))
  return [Utterance(key, corpus / SOURCE / "test" / f"{key}.wav",
                    corpus / TARGET / "test" / f"{key}.wav", style)
          for key, style in zip(keys, styles)]


# ----------------------------------------------------------------------------
# The four systems: Utterance -> (wave, sample rate).


def as_recorded(path: Path) -> tuple[np.ndarray, int]:
  return audio.load_audio(path, scoring.SAMPLE_RATE), scoring.SAMPLE_RATE


def unchanged(u: Utterance) -> tuple[np.ndarray, int]:
  return as_recorded(u.source)


def copy_synthesis(invert: inversion.Inversion, path: Path) -> tuple[np.ndarray, int]:
  """`path` through the front-end's loudness, its mel and back by `invert`;
  an F0-conditioned vocoder is also given the wave's F0 (`pitch.track`)."""
  rate = invert.cfg.sample_rate
  wave = loudness.normalise_loudness(audio.load_audio(path, rate), rate,
                                     invert.cfg.loudness_lufs)
  mel = np.asarray(audio.wave_to_mel(wave, invert.cfg))
  f0 = pitch.track(wave, invert.cfg) if getattr(invert, "uses_pitch", False) else ()
  return invert(mel, *f0)[:wave.size], rate


def vocoded(invert: inversion.Inversion, u: Utterance) -> tuple[np.ndarray, int]:
  """The parallel target through its mel and back by `invert` (copy-synthesis)."""
  return copy_synthesis(invert, u.target)


def converted_file(converter: jaxvc.Converter, path: Path) -> tuple[np.ndarray, int]:
  rate = converter.sample_rate
  return converter.convert(audio.load_audio(path, rate), rate), rate


def converted(converter: jaxvc.Converter, u: Utterance) -> tuple[np.ndarray, int]:
  return converted_file(converter, u.source)


def stylized(transfer: nst.StyleTransfer, u: Utterance) -> tuple[np.ndarray, int]:
  rate = transfer.representation.sample_rate
  load = functools.partial(audio.load_audio, sample_rate=rate, min_seconds=transfer.min_seconds)
  [result] = transfer([load(u.source)], [load(u.style)])
  return result.wave, rate


def render(system, items: list, folder: Path, key=lambda u: u.key) -> float:
  """Writes `system(item)` for each item (an Utterance, or a path) as
  folder/KEY.wav; returns seconds taken."""
  start = time.perf_counter()
  for item in items:
    wave, rate = system(item)
    audio.save_audio(folder / f"{key(item)}.wav", wave, rate)
  return time.perf_counter() - start


# ----------------------------------------------------------------------------
# Scores.


def reference_speaker(corpus: Path, name: str, skipped: list[str]) -> scoring.Speaker:
  """`name`'s test utterances (the parallel ones) with its train split's embedding."""
  return scoring.load_speaker(corpus / name / "test", skipped, reference=corpus / name / "train")


def score_system(name: str, folder: Path, keys: list[str], target: scoring.Speaker,
                 source: scoring.Speaker | None, columns: list[str] = COLUMNS) -> dict:
  """Per-file figures (transcripts from the targets' .txt files), skips, averages;
  `columns` printed as each file is scored."""
  def show(key, row):
    print(f"{name}/{key}: " + ", ".join(
        f"{scoring.FIGURES[c].short} {scoring.FIGURES[c].format(row.get(c))}" for c in columns),
        flush=True)
  return scoring.score_folder(folder, target, source, None, keys=set(keys), on_row=show)


# ----------------------------------------------------------------------------
# Markdown.


def cell(name: str, scores: dict) -> str:
  return scoring.FIGURES[name].format(scores.get(name))


def results_markdown(report: dict) -> str:
  """The results table with a caption saying what produced it."""
  headings = [f"{scoring.FIGURES[c].heading} {scoring.FIGURES[c].better}".strip()
              for c in COLUMNS]
  lines = ["| system | " + " | ".join(headings) + " |", "| --- |" + " ---: |" * len(COLUMNS)]
  for name, label in SYSTEMS.items():
    if name not in report["systems"]:
      continue
    scores = report["systems"][name]["averages"]
    lines.append(f"| {label} | " + " | ".join(cell(c, scores) for c in COLUMNS)
                 + " |")
  source = report["systems"]["source"]["averages"]
  nst = report["style_transfer"]
  n, total = len(report["utterances"]), report["test_sentences"]
  sentences = f"all {total}" if n == total else f"the first {n} of the {total}"
  caption = (
      f"Means over {sentences} test sentences"
      + (f" (style transfer takes {report['seconds']['style_transfer'] / n:.0f} s a "
         "sentence here)" if n < total else "")
      + f" of the demo corpus (espeak-ng {SOURCE} → {TARGET}, parallel), scored "
      f"against the parallel {TARGET} utterance. MelGAN-VC: the run's checkpoint at "
      f"step {report['checkpoint_step']}, Griffin-Lim {report['griffin_lim_iters']} "
      "iterations; (b) uses the same mel and inversion"
      + (f"; (b') and (c') the vocoder `{report['vocoder']}` at step "
         f"{report['vocoder_step']}, trained on {TARGET}'s train split"
         if report.get("vocoder") else "")
      + (f"; (c0) the run `{report['baseline']}` at step {report['baseline_step']}"
         if report.get("baseline") else "")
      + ". Style transfer: "
      f"`configs/nst.py` ({nst['num_steps']} {nst['optimizer']} steps, {nst['features']} "
      f"features on {nst['representation']}), the style a different {TARGET} sentence "
      "from the train split. Similarity: cosine of Resemblyzer speaker embeddings to "
      "each speaker's train split. WER/CER: pocketsphinx against the transcripts (it "
      f"mishears espeak-ng speech, so only differences between rows count). {F0_AGREEMENT}; "
      "F0 Hz and median: geometric means of each utterance's mean and median (target "
      f"{cell('target_log_f0_mean', source)} Hz and {cell('target_log_f0_median', source)} "
      f"Hz, source {cell('source_log_f0_mean', source)} Hz). Machine: "
      f"{machine_lib.describe(report['machine'])}. Regenerate: `python tools/results.py "
      f"--workdir WORKDIR{f' --limit {n}' if n < total else ''}`.")
  return "\n".join(lines) + f"\n\n*{caption}*\n"


def figure_text(value) -> str:
  """Four significant digits, whole numbers from 10^4 up (no exponents)."""
  if not isinstance(value, float):
    return str(value)
  return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def benchmark_markdown(results: dict) -> str:
  """tools/benchmark.py --json's figures as a table, what each benchmark measures below."""
  lines = ["| benchmark | figure | value |", "| --- | --- | ---: |"]
  notes = []
  for name, figures in results.items():
    if name == "machine":
      continue
    lines += [f"| {name} | {k} | {figure_text(v)} |" for k, v in figures.items() if k != "about"]
    if "about" in figures:
      notes.append(f"- **{name}**: {figures['about']}")
  return ("\n".join(lines) + f"\n\n*Machine: {machine_lib.describe(results['machine'])}. "
          "Regenerate: `python tools/benchmark.py --json FILE`.*\n\n" + "\n".join(notes) + "\n")


# ----------------------------------------------------------------------------
# Pictures.


def read_scalars(logdir: str, tags) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """(steps, values) of each of `tags` that `logdir`'s event files hold.

  tf.summary writes scalars as tensors; a step logged twice (a resumed run)
  keeps its last value.
  """
  events = event_accumulator.EventAccumulator(
      logdir, size_guidance={event_accumulator.TENSORS: 0})  # 0: keep every event
  events.Reload()
  curves = {}
  for tag in set(tags) & set(events.Tags()["tensors"]):
    by_step = {e.step: float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)}
    steps = np.array(sorted(by_step))
    curves[tag] = steps, np.array([by_step[s] for s in steps])
  return curves


def plot_losses(curves: dict, path: Path) -> None:
  """LOSS_PANELS over training steps, as a PNG."""
  columns = math.ceil(len(LOSS_PANELS) / 2)
  fig = plotting.figure(3 * columns, 4.5)
  for ax, (title, lines) in zip(fig.subplots(2, columns).flat, LOSS_PANELS):
    for tag, label in lines.items():
      if tag in curves:
        steps, values = curves[tag]
        ax.plot(steps, values, linewidth=1, label=label,
                marker="o" if steps.size < 20 else None, markersize=3)  # sparse: evals
    ax.set(title=title, xlabel="step")
    if ax.get_legend_handles_labels()[0]:
      ax.legend(fontsize="small")
  plotting.save_figure(fig, path, colours=48)


def plot_spectrograms(mels: dict[str, np.ndarray], seconds_per_frame: float, path: Path) -> None:
  """Each normalised mel under its title, as a PNG."""
  fig = plotting.figure(8, 2.2 * len(mels))
  for ax, (title, mel) in zip(fig.subplots(len(mels), 1), mels.items()):
    ax.imshow(plotting.mel_image([mel]), aspect="auto", interpolation="nearest",
              extent=(0, mel.shape[1] * seconds_per_frame, 0, mel.shape[0]))
    ax.set(title=title, xlabel="seconds", ylabel="mel bin")
  plotting.save_figure(fig, path, colours=48)


# ----------------------------------------------------------------------------
# The command.


def load_converter(workdir: str) -> tuple[jaxvc.Converter, int]:
  """The run's latest checkpoint and its step; the run must be on the demo voices."""
  converter = jaxvc.Converter.from_workdir(workdir)
  domains = (converter.config.data.domain_a, converter.config.data.domain_b)
  if domains != (f"demo:{SOURCE}", f"demo:{TARGET}"):
    raise ValueError(f"{workdir}: trained on {domains[0]} -> {domains[1]}, "
                     f"not the demo corpus's {SOURCE} -> {TARGET}")
  return converter, converter.step


def load_vocoder(workdir: str, step: int | None = None,
                 domain: str | None = f"demo:{TARGET}") -> jaxvc.Vocoder:
  """The vocoder run's latest checkpoint (or `step`), trained on `domain`
  (any, if None); it must not have heard the test split."""
  vocoder = jaxvc.Vocoder.from_workdir(workdir, step)
  data = vocoder.config.data
  if (domain and not specs.same(data.domain, domain)) or not data.train_split.startswith("train"):
    raise ValueError(f"{workdir}: trained on {data.domain} split {data.train_split!r}, "
                     f"not {domain or 'a domain'}'s train split")
  return vocoder


def run(args: argparse.Namespace, overrides: list[str]) -> dict:
  """Renders, scores, plots and writes everything; returns the report."""
  converter, step = load_converter(args.workdir)
  vocoder = load_vocoder(args.vocoder) if args.vocoder else None
  nst_config = config_lib.from_file(stylize.DEFAULT_CONFIG, overrides)
  transfer = nst.StyleTransfer(nst_config)
  corpus = demo.ensure_demo_corpus(converter.config.data.cache_dir or None)
  utterances = scored_utterances(corpus, args.limit)
  systems = dict(source=unchanged, vocoded=functools.partial(vocoded, converter.inversion),
                 melganvc=functools.partial(converted, converter),
                 style_transfer=functools.partial(stylized, transfer))
  baseline, baseline_step = load_converter(args.baseline) if args.baseline else (None, None)
  if baseline is not None:
    systems.update(melganvc_baseline=functools.partial(converted, baseline))
  if vocoder is not None:
    neural = jaxvc.Converter.from_workdir(args.workdir, vocoder=vocoder)
    systems.update(neural_vocoded=functools.partial(vocoded, neural.inversion),
                   melganvc_neural=functools.partial(converted, neural))
  audio_dir = Path(args.audio or os.path.join(args.workdir, "results_audio"))
  seconds = {}
  # Reused audio keeps the render time the last report measured for it.
  previous = Path(args.out) / "results.json"
  earlier = json.loads(previous.read_text())["seconds"] if (
      args.reuse_audio and previous.exists()) else {}
  for name, system in systems.items():
    reused = args.reuse_audio and all(
        (audio_dir / name / f"{u.key}.wav").exists() for u in utterances)
    if reused and name in earlier:
      seconds[name] = earlier[name]
      print(f"{name}: reusing {audio_dir / name}", flush=True)
      continue
    seconds[name] = render(system, utterances, audio_dir / name)
    print(f"{name}: {len(utterances)} sentences in {seconds[name]:.0f} s", flush=True)

  skipped = []
  target = reference_speaker(corpus, TARGET, skipped)
  source = reference_speaker(corpus, SOURCE, skipped)
  keys = [u.key for u in utterances]
  scores = {name: score_system(name, audio_dir / name, keys, target, source)
            for name in systems}
  report = dict(
      corpus=str(corpus), test_sentences=len(list((corpus / SOURCE / "test").glob("*.wav"))),
      utterances=[dict(key=u.key, style=u.style.name) for u in utterances],
      workdir=args.workdir, checkpoint_step=step, griffin_lim_iters=converter.inversion.n_iter,
      vocoder=args.vocoder, vocoder_step=vocoder.step if vocoder else None,
      baseline=args.baseline, baseline_step=baseline_step,
      style_transfer=json.loads(nst_config.to_json_best_effort()),
      machine=machine_lib.machine(), seconds=seconds, audio=str(audio_dir),
      skipped_references=skipped, systems=scores)

  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  files.write_json(out / "results.json", report)
  files.write_text(out / "results.md", results_markdown(report))
  tags = [tag for _, lines in LOSS_PANELS for tag in lines]
  plot_losses(read_scalars(args.workdir, tags), out / "losses.png")
  first = audio.wave_to_mel(unchanged(utterances[0])[0], converter.audio)
  plot_spectrograms({f"source: {SOURCE} {utterances[0].key}": np.asarray(first),
                     f"MelGAN-VC, step {step}": converter.convert_mel(np.asarray(first))},
                    converter.audio.hop_length / converter.sample_rate, out / "spectrograms.png")
  if args.benchmark_json:
    write_benchmark(args.benchmark_json, out)
  return report


def write_benchmark(benchmark_json: str, out: Path) -> None:
  """`out/benchmark.json` (a copy of tools/benchmark.py --json's file) and
  `out/benchmark.md`, its table."""
  with open(benchmark_json) as f:
    results = json.load(f)
  out.mkdir(parents=True, exist_ok=True)
  files.write_json(out / "benchmark.json", results)
  files.write_text(out / "benchmark.md", benchmark_markdown(results))


# ----------------------------------------------------------------------------
# The vocoder alone: copy-synthesis.

# Copy-synthesis table columns (no source: the target is both input and reference).
COPY_COLUMNS = ["mcd_db", "f0_rmse_cents", "f0_correlation", "voicing_error",
                "target_similarity", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808",
                "wer", "cer"]


def _schedule(report: dict) -> str:
  """The vocoder run's training schedule, in words."""
  terms = "the mel L1" + (" and the multi-resolution STFT loss" if report.get("stft_weight") else "")
  if report["gan_start_step"] >= report["num_steps"]:
    return f"{report['num_steps']} steps on {terms}, no GAN steps"
  return (f"{report['gan_start_step']} steps on {terms} alone, then the GAN objective "
          f"to step {report['num_steps']}")


def copy_synthesis_markdown(report: dict) -> str:
  """The copy-synthesis table, one row per inversion, with its caption."""
  headings = [f"{scoring.FIGURES[c].heading} {scoring.FIGURES[c].better}".strip()
              for c in COPY_COLUMNS]
  lines = ["| inversion | " + " | ".join(headings) + " |",
           "| --- |" + " ---: |" * len(COPY_COLUMNS)]
  for name, system in report["systems"].items():
    lines.append(f"| {system['label']} | "
                 + " | ".join(cell(c, system["averages"]) for c in COPY_COLUMNS) + " |")
  n, total = len(report["utterances"]), report["test_sentences"]
  sentences = f"all {total}" if n == total else f"the first {n} of the {total}"
  vocoders = "; ".join(
      f"`{v['workdir']}` ({_schedule(v)}{_f0_input(v['pitch'], v.get('noise_source'))})"
      for v in report["vocoders"])
  caption = (
      f"Copy-synthesis of {sentences} test utterances of {report['test_set']}: "
      "the original through its mel and back, scored against the original (MCD with "
      f"DTW; {F0_AGREEMENT}; similarity of Resemblyzer embeddings to the train split; "
      "DNSMOS P.835 and P.808 from `speechmos`, no reference; WER/CER of pocketsphinx, "
      "relative only, English). An F0-conditioned vocoder is given the original's F0 "
      f"(`jaxvc.audio.pitch`). The vocoders, trained on {report['domain']}: {vocoders}. "
      f"Machine: {machine_lib.describe(report['machine'])}. "
      "Regenerate: `python tools/results.py --copy-synthesis --vocoder "
      + " ".join(v["workdir"] for v in report["vocoders"])
      + (f" --steps {' '.join(str(s) for s in report['steps'])}" if report.get("steps") else "")
      + f"{f' --limit {n}' if n < total else ''} --out {report['out']}`.")
  return "\n".join(lines) + f"\n\n*{caption}*\n"


def _copy_synthesis_set(domain: str, limit: int | None, cache_dir: str | None,
                        skipped: list[str]) -> tuple[str, list[Path], int, scoring.Speaker]:
  """(what it is, the test files, how many the split has, their speaker with
  the train split's embedding) of a vocoder's domain: the demo's target voice,
  or a `folder:` domain's test/ and train/."""
  if domain.startswith("folder:"):
    root = folder_of(domain)
    paths = sorted((root / "test").glob("*.wav"))
    return (f"`{root}`", paths[:limit], len(paths),
            scoring.load_speaker(root / "test", skipped, reference=root / "train"))
  corpus = demo.ensure_demo_corpus(cache_dir)
  paths = [u.target for u in scored_utterances(corpus, limit)]
  return (f"the demo corpus's {TARGET}", paths,
          len(list((corpus / TARGET / "test").glob("*.wav"))),
          reference_speaker(corpus, TARGET, skipped))


def _f0_input(pitch: bool, noise_source: bool | None) -> str:
  """What a vocoder is given besides the mel, for its label."""
  return (", F0-conditioned" + (", harmonic plus noise" if noise_source else "")) if pitch else ""


def run_copy_synthesis(args: argparse.Namespace) -> dict:
  """Renders and scores Griffin-Lim and each --vocoder (at each of --steps,
  given one vocoder) on the test split of their domain; writes vocoder.md
  and vocoder_copy_synthesis.json to --out; returns the report."""
  if len(args.vocoder) > 1 and args.steps:
    raise ValueError("--steps goes with one --vocoder")
  runs = [(w, step) for w in args.vocoder for step in args.steps or [None]]
  vocoders = [load_vocoder(w, step, domain=None) for w, step in runs]
  domains = {v.config.data.domain for v in vocoders}
  if len(domains) > 1:
    raise ValueError(f"the vocoders were trained on different voices: {sorted(domains)}")
  config = vocoders[-1].config
  skipped = []
  test_set, paths, total, target = _copy_synthesis_set(
      config.data.domain, args.limit, config.data.cache_dir or None, skipped)
  griffin_lim = inversion.GriffinLim(vocoders[-1].cfg)
  systems = {"griffinlim": (f"Griffin-Lim, {griffin_lim.n_iter} iterations", griffin_lim)}
  for (workdir, _), vocoder in zip(runs, vocoders):
    c = vocoder.config
    phase = "reconstruction only" if vocoder.step <= c.loss.gan_start_step else "GAN"
    pitched = _f0_input(vocoder.uses_pitch, vocoder.uses_noise_source)
    systems[f"{Path(workdir).name}_{vocoder.step}"] = (
        f"vocoder `{Path(workdir).name}`, step {vocoder.step} ({phase}{pitched})", vocoder)
  audio_dir = Path(args.audio or os.path.join(args.vocoder[-1], "copy_synthesis_audio"))
  keys = [p.stem for p in paths]
  scores, seconds = {}, {}
  for name, (label, invert) in systems.items():
    seconds[name] = render(functools.partial(copy_synthesis, invert), paths, audio_dir / name,
                           key=lambda p: p.stem)
    print(f"{name}: {len(paths)} utterances in {seconds[name]:.0f} s", flush=True)
    scores[name] = dict(label=label, **score_system(name, audio_dir / name, keys, target, None,
                                                    COPY_COLUMNS))
  report = dict(
      test_set=test_set, domain=config.data.domain, test_sentences=total, utterances=keys,
      vocoders=[dict(workdir=w, step=v.step, pitch=v.uses_pitch,
                     noise_source=v.uses_noise_source,
                     gan_start_step=v.config.loss.gan_start_step, num_steps=v.config.num_steps,
                     stft_weight=v.config.loss.get("stft_weight", 0.0))
                for (w, _), v in zip(runs, vocoders)],
      steps=args.steps, out=args.out, machine=machine_lib.machine(), seconds=seconds,
      audio=str(audio_dir), skipped_references=skipped, systems=scores)
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  files.write_json(out / "vocoder_copy_synthesis.json", report)
  files.write_text(out / "vocoder.md", f"# Neural vocoder: copy-synthesis on {test_set}"
                   "\n\n" + copy_synthesis_markdown(report))
  return report


# ----------------------------------------------------------------------------
# Real recorded voices: a pair of speakers who say different things.

REAL_SYSTEMS = {
    "source": "(a) source, unchanged",
    "target": "(t) target, unchanged",
    "vocoded": "(b) target through mel + Griffin-Lim",
    "neural_vocoded": "(b') target through mel + neural vocoder (ceiling)",
    "melganvc": "(c) MelGAN-VC + Griffin-Lim",
    "melganvc_neural": "(c') MelGAN-VC + neural vocoder",
}
# Which speaker's test utterances each system renders.
REAL_INPUTS = dict(source="a", target="b", vocoded="b", neural_vocoded="b", melganvc="a",
                   melganvc_neural="a")
REAL_COLUMNS = ["target_similarity", "source_similarity", "dnsmos_sig", "dnsmos_bak",
                "dnsmos_ovrl", "dnsmos_p808", "converted_log_f0_median"]
REAL_LIMIT = 40   # test utterances per speaker


def folder_of(spec: str) -> Path:
  """The folder of a `folder:PATH` domain, which must hold a test split."""
  if not spec.startswith("folder:"):
    raise ValueError(f"{spec}: --real scores folder: domains with a test/ split")
  root = Path(spec.removeprefix("folder:"))
  if not (root / "test").is_dir():
    raise ValueError(f"{root}: no test/ folder to score")
  return root


def real_transcripts(root: Path, paths: list[Path]) -> dict[str, str]:
  """The texts of a speaker's files `paths` (under `root`) by stem, found as
  the data layer finds them (`jaxvc.data.transcripts`: a `.txt` beside a
  file, else a `transcripts.tsv` of its split folder or of `root`)."""
  found = transcript_files.find(root, [p.relative_to(root).as_posix() for p in paths])
  return {Path(name).stem: text for name, text in found.items()}


def training_curve(workdir: str) -> list[dict]:
  """The run's in-loop evaluation, one row per eval step."""
  tags = {"eval/target_similarity": "converted", "eval/source_similarity": "to_source",
          "eval/unconverted_target_similarity": "unconverted",
          "eval/ceiling_target_similarity": "ceiling",
          "eval/phone_error_rate": "phone_error_rate",
          "eval/unconverted_phone_error_rate": "unconverted_phone_error_rate"}
  by_step = {}
  for tag, (steps, values) in read_scalars(workdir, tags).items():
    for step, value in zip(steps, values):
      by_step.setdefault(int(step), {})[tags[tag]] = float(value)
  return [dict(step=step, **by_step[step]) for step in sorted(by_step)]


def way_to_ceiling(report: dict, converted: str, ceiling: str) -> float | None:
  """How far `converted` went from the unchanged source's similarity to the
  target towards `ceiling`'s, as a fraction; None where one of the three was
  not rendered or none of its files could be scored (all skipped)."""
  sims = [report["systems"].get(name, {}).get("averages", {}).get("target_similarity")
          for name in (converted, "source", ceiling)]
  if None in sims:
    return None
  converted, source, ceiling = sims
  return (converted - source) / (ceiling - source)


def real_markdown(report: dict) -> str:
  """The real pair's table, its training curve, and a caption."""
  columns = REAL_COLUMNS + [c for c in report.get("content_columns", [])]
  headings = [f"{scoring.FIGURES[c].heading} {scoring.FIGURES[c].better}".strip()
              for c in columns]
  lines = ["| system | " + " | ".join(headings) + " |", "| --- |" + " ---: |" * len(columns)]
  for name, label in REAL_SYSTEMS.items():
    if name in report["systems"]:
      scores = report["systems"][name]["averages"]
      lines.append(f"| {label} | " + " | ".join(cell(c, scores) for c in columns) + " |")
  ways = [f"{label}: {way:.0%}" for label, way in (
      ("Griffin-Lim", way_to_ceiling(report, "melganvc", "vocoded")),
      ("vocoder", way_to_ceiling(report, "melganvc_neural", "neural_vocoded"))) if way is not None]
  curve_columns = {   # the curve's key -> (heading, the figure it is)
      "converted": ("similarity to target", "target_similarity"),
      "to_source": ("to source", "source_similarity"),
      "unconverted": ("unconverted", "target_similarity"),
      "ceiling": ("ceiling", "target_similarity")}
  if any("phone_error_rate" in row for row in report["curve"]):
    curve_columns.update(phone_error_rate=("PER", "phone_error_rate"),
                         unconverted_phone_error_rate=("PER unconverted", "phone_error_rate"))
  curve = ["", "| step | " + " | ".join(h for h, _ in curve_columns.values()) + " |",
           "| ---: |" + " ---: |" * len(curve_columns)]
  for row in report["curve"]:
    curve.append(f"| {row['step']} | " + " | ".join(
        scoring.FIGURES[figure].format(row.get(k)) for k, (_, figure) in curve_columns.items())
        + " |")
  caption = (
      f"Means over the first {report['utterances_per_speaker']} test utterances of each "
      f"speaker ({report['domain_a']} → {report['domain_b']}, not parallel: each says "
      "different things). Similarity: cosine of Resemblyzer embeddings to each speaker's "
      "train split. No MCD (no parallel target) and no WER (pocketsphinx has no model "
      "of the language)"
      + ("; the phone error rate (`jaxvc.evaluation.intelligibility`: pocketsphinx's "
         "English phone decoder against espeak-ng's phonemes of the transcript, on 20 "
         "broad classes) ranks systems on the same sentences only, and depends on the "
         "voice too: compare a conversion with the target's own row as well as the "
         "source's" if report.get("content_columns") else "")
      + ". F0: median over `jaxvc.audio.pitch`'s voiced frames, geometric mean over "
      f"utterances. MelGAN-VC: `{report['workdir']}` at step {report['checkpoint_step']}"
      + (", through the level postfilter (`postfilter.py`)" if report.get("postfilter") else "")
      + f", Griffin-Lim {report['griffin_lim_iters']} iterations"
      + (f"; the vocoder `{report['vocoder']}` at step {report['vocoder_step']}"
         f"{_f0_input(report.get('vocoder_pitch'), report.get('vocoder_noise_source'))}, "
         "trained on the target's train split (an F0-conditioned one renders the "
         "converted mel at its own F0, `--pitch model`)" if report.get("vocoder") else "")
      + (f". Of the way from the unchanged source to the target's own copy-synthesis "
         f"through the same inversion: {', '.join(ways)}" if ways else "")
      + f". Machine: {machine_lib.describe(report['machine'])}. Regenerate: "
      f"`python tools/results.py --real --workdir WORKDIR --vocoder VOCODER_WORKDIR "
      f"--limit {report['utterances_per_speaker']}"
      f"{' --language ' + report['language'] if report.get('language') else ''}`.")
  curve_caption = ("*The run's in-loop evaluation (Griffin-Lim"
                   + (", without the level postfilter" if report.get("postfilter") else "")
                   + ", on " + _eval_split_words(report)
                   + "): similarity of the conversions to the target and to the "
                   "source, of the unconverted source, and of the target's own utterances "
                   "there through the same inversion (ceiling); where the run logged "
                   "it, the phone error rate of the conversions and of the unconverted "
                   "sources (PER).*")
  return ("\n".join(lines) + f"\n\n*{caption}*\n" + "\n".join(curve) + "\n\n"
          + curve_caption + "\n")


def _eval_split_words(report: dict) -> str:
  """Where a run's in-loop evaluation drew its utterances, and whether it
  trained on them (a recipe's default run trains on all of `train`)."""
  if "eval_split" not in report:
    return "its carve-out of the train split"
  return f"`{report['eval_split']}`, " + (
      "which it trained on" if report["eval_trained_on"]
      else f"held out of its training split `{report['train_split']}`")


def _shares_files(root: Path, split: str, other: str) -> bool:
  """Whether two split specs of a folder name any file in common."""
  splits = audio_folder.list_splits(root)
  return bool(set(audio_folder.select(root, splits, split))
              & set(audio_folder.select(root, splits, other)))


def run_real(args: argparse.Namespace) -> dict:
  """Renders and scores the real pair's systems; writes real.md and real.json."""
  converter = jaxvc.Converter.from_workdir(args.workdir)
  step = converter.step
  data = converter.config.data
  roots = dict(a=folder_of(data.domain_a), b=folder_of(data.domain_b))
  systems = dict(source=as_recorded, target=as_recorded,
                 vocoded=functools.partial(copy_synthesis, converter.inversion),
                 melganvc=functools.partial(converted_file, converter))
  vocoder = None
  if args.vocoder:
    vocoder = load_vocoder(args.vocoder, domain=data.domain_b)
    neural = jaxvc.Converter.from_workdir(args.workdir, vocoder=vocoder)
    systems.update(neural_vocoded=functools.partial(copy_synthesis, neural.inversion),
                   melganvc_neural=functools.partial(converted_file, neural))
  inputs = {k: sorted((root / "test").glob("*.wav"))[:args.limit] for k, root in roots.items()}
  audio_dir = Path(args.audio or os.path.join(args.workdir, "results_audio_real"))
  seconds = {}
  for name in REAL_SYSTEMS:
    if name in systems:
      paths = inputs[REAL_INPUTS[name]]
      if args.reuse_audio and all((audio_dir / name / f"{p.stem}.wav").exists() for p in paths):
        continue
      seconds[name] = render(systems[name], paths, audio_dir / name, key=lambda p: p.stem)
      print(f"{name}: {len(paths)} utterances in {seconds[name]:.0f} s", flush=True)
  skipped = []
  speakers = {k: scoring.load_speaker(root / "train", skipped) for k, root in roots.items()}
  transcripts = {k: real_transcripts(root, inputs[k]) for k, root in roots.items()}
  content, content_columns = real_content(args.language)
  scores = {}
  for name in systems:
    side = REAL_INPUTS[name]
    scores[name] = scoring.score_unpaired(
        audio_dir / name, speakers["b"].embedding, speakers["a"].embedding, transcripts[side],
        keys={p.stem for p in inputs[side]}, content=content,
        on_row=lambda key, row, name=name: print(f"{name}/{key}: " + ", ".join(
            f"{scoring.FIGURES[c].short} {scoring.FIGURES[c].format(row.get(c))}"
            for c in REAL_COLUMNS + content_columns), flush=True))
  report = dict(
      domain_a=data.domain_a, domain_b=data.domain_b, utterances_per_speaker=args.limit,
      workdir=args.workdir, checkpoint_step=step, griffin_lim_iters=converter.inversion.n_iter,
      postfilter=converter.level_map is not None,
      train_split=data.train_split, eval_split=data.eval_split,
      eval_trained_on=any(_shares_files(root, data.eval_split, data.train_split)
                          for root in roots.values()),
      vocoder=args.vocoder, vocoder_step=vocoder.step if vocoder else None,
      vocoder_pitch=bool(vocoder and vocoder.uses_pitch),
      vocoder_noise_source=bool(vocoder and vocoder.uses_noise_source),
      machine=machine_lib.machine(), seconds=seconds, audio=str(audio_dir),
      skipped_references=skipped, language=args.language, content_columns=content_columns,
      curve=training_curve(args.workdir), systems=scores)
  report["way_to_ceiling"] = dict(
      griffin_lim=way_to_ceiling(report, "melganvc", "vocoded"),
      vocoder=way_to_ceiling(report, "melganvc_neural", "neural_vocoded"))
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  files.write_json(out / "real.json", report)
  files.write_text(out / "real.md", "# Real recorded voices\n\n" + real_markdown(report))
  return report


def real_content(language: str | None) -> tuple:
  """The intelligibility measure in the transcripts' `language` (an espeak-ng
  voice: "cs", "en-us") and its columns; (None, []) without a language."""
  if not language:
    return None, []
  def content(wave, text):
    return dict(phone_error_rate=intelligibility.phone_error_rate(
        wave, scoring.SAMPLE_RATE, text, language))
  return content, ["phone_error_rate"]


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--workdir", help="a jaxvc.train run on the demo config")
  parser.add_argument("--copy-synthesis", action="store_true",
                      help="score --vocoder alone against Griffin-Lim (no --workdir)")
  parser.add_argument("--steps", type=int, nargs="+",
                      help="with --copy-synthesis: the vocoder checkpoints to score "
                      "(default the latest)")
  parser.add_argument("--vocoder", nargs="+", help="a jaxvc.train vocoder run on the demo's "
                      f"{TARGET} (vocoder_demo): adds its copy-synthesis and conversion rows")
  parser.add_argument("--baseline", help="an earlier jaxvc.train run on the demo config, "
                      "scored beside --workdir (its row kept for comparison)")
  parser.add_argument("--out", default="docs/results", help="where the tables and PNGs go")
  parser.add_argument("--limit", type=int,
                      help=f"score the first N test sentences (default {DEFAULT_LIMIT}; with --real, "
                      f"N test utterances of each speaker, default {REAL_LIMIT})")
  parser.add_argument("--real", action="store_true",
                      help="--workdir is a run on two folder: domains of real speakers with "
                      "test/ splits (not parallel): score its test utterances, write real.md")
  parser.add_argument("--language", help="with --real: the transcripts' language as an "
                      "espeak-ng voice (cs, en-us, ...): adds the phone error rate "
                      "(jaxvc.evaluation.intelligibility)")
  parser.add_argument("--benchmark-json", help="tools/benchmark.py --json output to tabulate")
  parser.add_argument("--reuse-audio", action="store_true",
                      help="a system whose audio the scratch folder already holds for every "
                      "sentence is not rendered again (rescoring after one system changed: "
                      "delete that system's folder first)")
  parser.add_argument("--audio", help="scratch folder for the systems' audio "
                      "(default WORKDIR/results_audio)")
  args, overrides = config_lib.parse_args(parser, argv)
  if args.limit is None:
    args.limit = REAL_LIMIT if args.real else DEFAULT_LIMIT
  if args.limit < 1:
    parser.error("--limit must be at least 1")
  if args.vocoder and len(args.vocoder) > 1 and not args.copy_synthesis:
    parser.error("several --vocoder runs are compared by --copy-synthesis only")
  if args.vocoder and not args.copy_synthesis:
    args.vocoder = args.vocoder[0]
  if args.copy_synthesis and not args.vocoder:
    parser.error("--copy-synthesis needs --vocoder")
  if not (args.copy_synthesis or args.workdir or args.benchmark_json):
    parser.error("--workdir is required (or --copy-synthesis with --vocoder, "
                 "or --benchmark-json alone)")
  if args.real and not args.workdir:
    parser.error("--real needs --workdir")
  if args.steps and not args.copy_synthesis:
    parser.error("--steps goes with --copy-synthesis")
  try:
    if args.copy_synthesis:
      print(copy_synthesis_markdown(run_copy_synthesis(args)))
    elif args.real:
      print(real_markdown(run_real(args)))
    elif not args.workdir:
      write_benchmark(args.benchmark_json, Path(args.out))
      print((Path(args.out) / "benchmark.md").read_text())
    else:
      print(results_markdown(run(args, overrides)))
  except (ValueError, OSError) as e:  # CheckpointError, ConfigError, AudioError are ValueErrors
    print(f"error: {e}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
