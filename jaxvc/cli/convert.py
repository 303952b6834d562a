"""`python -m jaxvc.infer convert`: converts audio files or whole folders.

  python -m jaxvc.infer convert --workdir runs/demo --input talk.flac --output talk_b.wav
  python -m jaxvc.infer convert --workdir runs/demo --input corpus/ --output converted/
  python -m jaxvc.infer convert --workdir runs/demo --vocoder runs/vocoder_demo ...

A folder converts every audio file under it (recognised by extension) to the
same relative path under --output. Outputs that exist are skipped unless
--overwrite, so an interrupted run resumes where it stopped. A file that
cannot be converted is reported in one line and skipped; the exit status is 1
if any file failed, 2 if the model or the arguments cannot be used.
"""
import argparse
import os
import sys
import time

import tqdm

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc.audio import inversion
from jaxvc.errors import ConfigError
from jaxvc.melganvc import chunking
from jaxvc.melganvc.inference import MAX_PITCH_SHIFT
from jaxvc.melganvc.inference import PITCH_MODES
from jaxvc.melganvc.inference import Converter
from jaxvc.vocoder.inference import Vocoder


class UsageError(ValueError):
  """Arguments that cannot be used; reported in one line, exit status 2."""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
  """The trained model and how its mels become audio: shared with `stream`."""
  model = parser.add_mutually_exclusive_group(required=True)
  model.add_argument("--workdir", help="a training workdir: its latest checkpoint (or --step)")
  model.add_argument("--checkpoint", help="one checkpoint directory, WORKDIR/checkpoints/STEP")
  parser.add_argument("--step", type=int, help="with --workdir: the checkpoint step to use")
  parser.add_argument("--vocoder",
                      help="a jaxvc vocoder training workdir: its latest checkpoint renders "
                           "the converted mels (instead of --inversion)")
  parser.add_argument("--inversion", choices=tuple(inversion.ITERATIVE),
                      help="without --vocoder, mel to audio by Griffin-Lim (fast, the "
                           "default) or the original's gradient descent")
  parser.add_argument("--iters", type=int,
                      help="inversion iterations (default: 32 for griffinlim, 500 for gradient)")
  parser.add_argument("--pitch", choices=PITCH_MODES, default="model",
                      help="the output's F0: the converted mel's own ('model', the default), or "
                           "the source's F0 contour moved onto the target voice's range: from "
                           "the source voice's ('auto': both voices' log-F0 median and spread "
                           "over the run's training data, computed on first use and kept in "
                           "the workdir) or centred from the input's own median ('match': "
                           "for an input in another key or by another voice; not for a live "
                           "stream, which cannot know it in advance). With an "
                           "F0-conditioned vocoder (model.pitch) it renders at that F0; with "
                           "any other renderer the converted mel's harmonics are redrawn there "
                           "where the source is voiced and dropped where it is not, keeping "
                           "its envelope")
  parser.add_argument("--pitch-shift", type=float, default=0.0, metavar="SEMITONES",
                      help="then raise (or lower, if negative) the F0 by this many semitones, "
                           f"at most {MAX_PITCH_SHIFT:g} either way; the formants stay")
  parser.add_argument("--postfilter", choices=("on", "off"),
                      help="map each band of the converted mels onto the target voice's "
                           "levels (statistics of the run's training data, computed on first "
                           "use and kept in the workdir); default: as the run's config says "
                           "(postfilter.enabled: on in melganvc_real)")
  parser.add_argument("--tail", choices=chunking.TAIL_MODES, default="pad",
                      help="the last generator chunk: padded with silence, or the final "
                           "full-width frames as the original MelGAN-VC")
  parser.add_argument("--chunk-frames", type=int,
                      help="the generator's width in frames, a multiple of 4 (default: the "
                           "trained one); narrower cuts a live stream's latency, at some cost "
                           "in quality")


def add_arguments(parser: argparse.ArgumentParser) -> None:
  add_model_arguments(parser)
  parser.add_argument("--input", required=True, help="an audio file or a folder of them")
  parser.add_argument("--output", required=True,
                      help="the output file (or folder, for a folder or into an existing folder)")
  parser.add_argument("--sample-rate", type=int,
                      help="output sample rate (default: the model's)")
  parser.add_argument("--plot", action="store_true",
                      help="also write OUTPUT_STEM.png: source mel over converted mel")
  parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def load_model(args: argparse.Namespace, overrides: list[str]) -> Converter:
  """The Converter that `add_model_arguments`' options name; raises
  UsageError, checkpoints.CheckpointError or ConfigError (one line each)."""
  if overrides:
    command = getattr(args, "command", "convert")
    raise UsageError(f"{command} takes no config overrides (the model's config comes from "
                     f"its checkpoint): {' '.join(overrides)}")
  if args.step is not None and not args.workdir:
    raise UsageError("--step needs --workdir")
  if args.vocoder and (args.inversion or args.iters is not None):
    raise UsageError("--vocoder renders the mels itself: drop --inversion/--iters")
  if not abs(args.pitch_shift) <= MAX_PITCH_SHIFT:
    raise UsageError(f"--pitch-shift {args.pitch_shift:g}: at most {MAX_PITCH_SHIFT:g} semitones "
                     "either way (an octave, what the renderers were measured to follow)")
  if args.iters is not None and args.iters < 1:
    raise UsageError(f"--iters: must be at least 1, got {args.iters}")
  if args.chunk_frames is not None and (args.chunk_frames <= 0 or args.chunk_frames % 4):
    raise UsageError(f"--chunk-frames {args.chunk_frames}: must be a positive multiple of 4")
  options = dict(inversion=args.inversion or "griffinlim", n_iter=args.iters, tail=args.tail,
                 pitch=args.pitch, pitch_shift=args.pitch_shift, chunk_frames=args.chunk_frames,
                 postfilter=None if args.postfilter is None else args.postfilter == "on")
  if args.vocoder:
    options["vocoder"] = Vocoder.from_workdir(args.vocoder)
  if args.workdir:
    return Converter.from_workdir(args.workdir, args.step, **options)
  return Converter.from_checkpoint(args.checkpoint, **options)


def run(args: argparse.Namespace, overrides: list[str]) -> int:
  """Converts every job; 0 if all went well, 1 if a file failed, 2 if nothing could run."""
  try:
    jobs = _jobs(args)
    model = load_model(args, overrides)
  except (UsageError, checkpoints.CheckpointError, ConfigError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  todo = [(src, dst) for src, dst in jobs if args.overwrite or not os.path.exists(dst)]
  if not todo:
    print(f"nothing to do: all {len(jobs)} outputs exist (--overwrite to replace them)")
    return 0
  return _convert_all(model, todo, skipped=len(jobs) - len(todo), args=args)


def _jobs(args: argparse.Namespace) -> list[tuple[str, str]]:
  """(input, output) paths, inputs in sorted order."""
  if args.sample_rate is not None and args.sample_rate <= 0:
    raise UsageError(f"--sample-rate: must be positive, got {args.sample_rate}")
  if os.path.isfile(args.input):
    output = args.output
    if os.path.isdir(output) or output.endswith(os.sep):
      output = os.path.join(output, os.path.basename(args.input))
    return [(args.input, output)]
  if not os.path.isdir(args.input):
    raise UsageError(f"--input {args.input}: no such file or folder")
  if os.path.isfile(args.output):
    raise UsageError(f"--output {args.output}: is a file, but --input is a folder")
  root, out_root = os.path.abspath(args.input), os.path.abspath(args.output)
  # Outputs inside the input folder are not inputs.
  jobs = [(str(source), os.path.join(out_root, os.path.relpath(source, root)))
          for source in audio.list_audio_files(root, exclude=out_root)]
  if not jobs:
    raise UsageError(
        f"--input {args.input}: no audio files ({', '.join(audio.AUDIO_EXTENSIONS)})")
  return jobs


def _convert_all(model: Converter, jobs: list[tuple[str, str]], *,
                 skipped: int, args: argparse.Namespace) -> int:
  """Converts every job, reporting progress, failures and a summary."""
  progress = _Progress(len(jobs))
  failed = 0
  for source, target in jobs:
    try:
      seconds = model.convert_file(source, target, sample_rate=args.sample_rate, plot=args.plot)
    except audio.AudioError as e:
      progress.error(str(e))
      failed += 1
    except OSError as e:
      progress.error(f"{e.filename or target}: cannot write ({e.strerror or e})")
      failed += 1
    else:
      progress.done(seconds)
  progress.finish(f"{len(jobs) - failed} converted, {skipped} skipped (output exists), "
                  f"{failed} failed")
  return 1 if failed else 0


class _Progress:
  """Files done and audio seconds per second: a tqdm bar on a terminal, a line
  per file otherwise (logs)."""

  def __init__(self, total: int):
    self.total, self.count, self.seconds = total, 0, 0.0
    self.start = time.perf_counter()
    self.bar = (tqdm.tqdm(total=total, unit="file", file=sys.stdout, dynamic_ncols=True)
                if sys.stdout.isatty() else None)

  def _rate(self) -> str:
    elapsed = time.perf_counter() - self.start
    return (f"{self.seconds:.1f} s of audio in {elapsed:.1f} s "
            f"({self.seconds / elapsed:.1f} s/s)")

  def done(self, seconds: float) -> None:
    self.count += 1
    self.seconds += seconds
    if self.bar is None:
      print(f"[{self.count}/{self.total}] {self._rate()}", flush=True)
    else:
      self.bar.set_postfix_str(f"{self.seconds / (time.perf_counter() - self.start):.1f} s/s")
      self.bar.update()

  def error(self, message: str) -> None:
    self.count += 1
    if self.bar is None:
      print(f"error: {message}", file=sys.stderr, flush=True)
    else:
      self.bar.write(f"error: {message}", file=sys.stderr)
      self.bar.update()

  def finish(self, summary: str) -> None:
    if self.bar is not None:
      self.bar.close()
    print(f"{summary}; {self._rate()}")
