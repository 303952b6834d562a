"""`python -m jaxvc.infer stream`: live conversion, block by block.

  python -m jaxvc.infer stream --workdir runs/demo --vocoder runs/vocoder_demo \\
      --input talk.wav --output talk_b.wav                 # the file played at real-time pace
  arecord -q -f S16_LE -c 1 -r 16000 -t raw | python -m jaxvc.infer stream \\
      --workdir runs/demo --input - --output - | aplay -q -f S16_LE -c 1 -r 16000 -t raw
  python -m jaxvc.infer stream --workdir runs/demo --input device --output device

Sources: an audio file (read whole, then fed at real-time pace unless
--fast), raw 16-bit little-endian PCM on stdin (`-`, at the model's rate,
any channel count, mixed to mono), or the default sound device (`device`,
with the `live` extra's sounddevice). Sinks: a file (the conversion aligned:
the stream's latency cut off, so it equals `convert`'s through a vocoder),
raw PCM on stdout (`-`, what a sound card gets, latency included), or the
sound device. Unless a file is fed --fast, the stream's programs are
compiled on silence first, so the first live windows keep time. The
algorithmic latency is printed first; at the end, the compute per block
against its real-time budget. Messages go to stderr.

Input is taken at its level, as a live stream must be (a file's loudness is
normalised as `convert` does, since it is known whole); --gain scales it.
Errors are one line; whatever was converted before one is kept (a file
output is written beside and renamed complete). Ctrl-C ends a live input as
its end would: the rest is rendered. Exit status 0, 1 if the stream broke, 2
if it could not start.
"""
import argparse
import contextlib
import dataclasses
import os
import sys
import time

import numpy as np
import soundfile as sf

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import files
from jaxvc.audio import loudness
from jaxvc.cli.convert import UsageError
from jaxvc.cli.convert import add_model_arguments
from jaxvc.cli.convert import load_model
from jaxvc.errors import ConfigError

DEVICE = "device"
PIPE = "-"
INT16 = 32768.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
  add_model_arguments(parser)
  parser.add_argument("--input", required=True,
                      help=f"an audio file, '{PIPE}' (raw s16le PCM on stdin at the model's "
                           f"rate), or '{DEVICE}' (the default sound input)")
  parser.add_argument("--output", required=True,
                      help=f"an audio file (aligned: the latency cut), '{PIPE}' (raw s16le "
                           f"PCM on stdout), or '{DEVICE}' (the default sound output)")
  parser.add_argument("--channels", type=int, default=1,
                      help=f"with --input {PIPE}: interleaved channels on stdin, mixed to mono")
  parser.add_argument("--block-ms", type=float, default=20.0,
                      help="input block length in milliseconds (default 20)")
  parser.add_argument("--gain", type=float, metavar="DB",
                      help="scale the input by this many dB (default: 0 for a live input; a "
                           "file is brought to the model's loudness as convert does)")
  parser.add_argument("--fast", action="store_true",
                      help="feed a file as fast as it converts, not at real-time pace")
  parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")


@dataclasses.dataclass
class Timing:
  """Compute per block, and whether the stream keeps up: the block that
  completes a window converts and renders it, so its budget is the window's
  duration (`LiveStream.window_seconds`)."""
  block_seconds: float
  window_seconds: float
  settle_seconds: float = 1.0     # blocks before this much audio compile and warm up
  audio_seconds: float = 0.0
  compute: list = dataclasses.field(default_factory=list)

  def add(self, seconds: float, samples: int, rate: int) -> None:
    if self.audio_seconds >= self.settle_seconds:
      self.compute.append(seconds)
    self.audio_seconds += samples / rate

  def summary(self) -> str:
    if not self.compute:
      return f"{self.audio_seconds:.1f} s converted"
    c = np.asarray(self.compute)
    late = int((c > self.window_seconds).sum())
    return (f"{self.audio_seconds:.1f} s converted; after the first {self.settle_seconds:g} s: "
            f"real-time factor {c.mean() / self.block_seconds:.2f}, worst window "
            f"{c.max() * 1e3:.0f} ms of its {self.window_seconds * 1e3:.0f} ms budget "
            f"({late} over); a sound card's buffer needs the worst on top of the latency")


def run(args: argparse.Namespace, overrides: list[str]) -> int:
  """Streams until the input ends; 0 if it did, 1 if it broke, 2 if it could not start."""
  try:
    _check(args)
    model = load_model(args, overrides)
    rate = model.sample_rate
    block = max(1, round(args.block_ms * 1e-3 * rate))
    try:
      stream = model.stream()
    except ValueError as e:   # a generator width the inversion's joins cannot fit
      raise UsageError(f"--chunk-frames: {e}") from None
    if not args.fast:   # (--fast is a file input's; `_check` refuses it for a live one)
      _warm_up(model, block, stream.latency)
    with contextlib.ExitStack() as stack:
      source = _source(args, model, block, stack)
      sink = _sink(args, rate, stream.latency, stack)
      print(f"algorithmic latency {stream.latency_seconds * 1e3:.0f} ms "
            f"(+ the {block / rate * 1e3:.0f} ms input block); {rate} Hz mono",
            file=sys.stderr, flush=True)
      return _run(stream, source, sink, Timing(block / rate, stream.window_seconds), rate)
  except (UsageError, checkpoints.CheckpointError, ConfigError, audio.AudioError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


def _warm_up(model, block: int, latency: int) -> None:
  """Runs a throwaway stream over silence (the latency and two seconds) so
  that XLA compiles the stream's programs before the clock starts: a live
  input's first windows would otherwise wait seconds for them, and a sound
  card would run dry. The stream itself is not touched."""
  model.stream().push_all(np.zeros(latency + 2 * model.sample_rate, np.float32), block)


# A bad block, a broken pipe, a lost sound device (sounddevice.PortAudioError
# is a plain Exception): the stream stops in one line, keeping its output.
def _stream_errors() -> tuple[type[Exception], ...]:
  sounddevice = sys.modules.get("sounddevice")
  return (ValueError, OSError) + ((sounddevice.PortAudioError,) if sounddevice else ())


def _run(stream, source, sink, timing: Timing, rate: int) -> int:
  status = 0
  try:
    for block in source:
      start = time.perf_counter()
      out = stream.push(block)
      timing.add(time.perf_counter() - start, block.size, rate)
      sink(out)
  except KeyboardInterrupt:   # how a live input ends: the rest is still rendered
    print(f"interrupted after {timing.audio_seconds:.1f} s", file=sys.stderr)
  except _stream_errors() as e:
    print(f"error: {_reason(e)}; stopped after {timing.audio_seconds:.1f} s", file=sys.stderr)
    status = 1
  try:
    sink(stream.close())
  except _stream_errors() as e:
    print(f"error: {_reason(e)}", file=sys.stderr)
    status = 1
  print(timing.summary(), file=sys.stderr)
  return status


def _reason(e: Exception) -> str:
  if isinstance(e, BrokenPipeError):
    # Nothing more can reach the reader; stop Python's own flush at exit failing too.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return "the output pipe was closed (broken pipe)"
  return str(e)


def _check(args: argparse.Namespace) -> None:
  if not 1 <= args.block_ms <= 10_000:
    raise UsageError(f"--block-ms {args.block_ms:g}: must be between 1 and 10000")
  if args.channels < 1:
    raise UsageError(f"--channels {args.channels}: must be at least 1")
  if args.pitch == "match":
    raise UsageError("--pitch match centres on the whole input's F0, which a stream does not "
                     "have in advance: use --pitch auto")
  if args.input not in (PIPE, DEVICE):
    audio.file_info(args.input)   # AudioError naming the file
  elif args.fast:
    raise UsageError("--fast paces a file input; a live input comes at its own pace")
  if args.output not in (PIPE, DEVICE) and not args.overwrite:
    if os.path.exists(args.output):
      raise UsageError(f"--output {args.output}: exists (--overwrite to replace it)")


def _gain(args: argparse.Namespace) -> float:
  return 1.0 if args.gain is None else 10 ** (args.gain / 20)


def _source(args, model, block: int, stack: contextlib.ExitStack):
  rate = model.sample_rate
  if args.input == PIPE:
    return _pipe_blocks(sys.stdin.buffer, block, args.channels, _gain(args))
  if args.input == DEVICE:
    sd = _sounddevice()
    device = stack.enter_context(_opened(sd.InputStream, samplerate=rate, channels=1,
                                         blocksize=block, dtype="float32"))
    return _device_blocks(device, block, _gain(args))
  wave = audio.load_audio(args.input, rate)
  if args.gain is None:
    wave = loudness.normalise_loudness(wave, rate, model.audio.loudness_lufs)
  else:
    wave = wave * _gain(args)
  return _file_blocks(wave, block, None if args.fast else rate)


def _sink(args, rate: int, latency: int, stack: contextlib.ExitStack):
  if args.output == PIPE:
    out = sys.stdout.buffer

    def write(wave):
      out.write(_to_int16(wave).tobytes())
      out.flush()
    return write
  if args.output == DEVICE:
    sd = _sounddevice()
    device = stack.enter_context(_opened(sd.OutputStream, samplerate=rate, channels=1,
                                         dtype="float32"))
    return lambda wave: device.write(wave[:, None])
  # Written beside and renamed when the stream ends (an error included: what
  # was converted is kept), so an existing file is replaced only then.
  kind = os.path.splitext(args.output)[1][1:].upper()
  if kind not in sf.available_formats():
    raise UsageError(f"--output {args.output}: not an audio format soundfile writes "
                     f"({', '.join(sorted(sf.available_formats()))})")
  try:
    tmp = stack.enter_context(files.atomic_path(args.output))
    writer = stack.enter_context(sf.SoundFile(tmp, "w", rate, 1, subtype="PCM_16", format=kind))
  except (sf.SoundFileError, OSError, RuntimeError) as e:
    raise UsageError(f"--output {args.output}: cannot write ({e})") from None
  skip = [latency]   # a file gets the conversion aligned with its input

  def write(wave):
    cut = min(skip[0], wave.size)
    skip[0] -= cut
    writer.write(wave[cut:])
  return write


def _to_int16(wave: np.ndarray) -> np.ndarray:
  return np.clip(np.round(wave * INT16), -INT16, INT16 - 1).astype("<i2")


def _file_blocks(wave: np.ndarray, block: int, pace_rate: int | None):
  start = time.perf_counter()
  for i in range(0, wave.size, block):
    if pace_rate is not None:   # a block is there once it has been "recorded"
      delay = start + (i + block) / pace_rate - time.perf_counter()
      if delay > 0:
        time.sleep(delay)
    yield wave[i:i + block]


def _pipe_blocks(pipe, block: int, channels: int, gain: float):
  size = 2 * channels * block
  while True:
    data = pipe.read(size)
    if not data:
      return
    if len(data) % (2 * channels):
      raise ValueError(f"stdin: the input ended inside a sample frame ({len(data)} bytes "
                       f"left, {channels} channel(s) of 16 bits)")
    pcm = np.frombuffer(data, "<i2").reshape(-1, channels).astype(np.float32) / INT16
    yield pcm.mean(axis=1) * gain


def _device_blocks(device, block: int, gain: float):
  while True:
    data, _ = device.read(block)
    yield data[:, 0] * gain


def _sounddevice():
  try:
    import sounddevice
  except ImportError:
    raise UsageError("a sound device needs the sounddevice package: pip install "
                     "'jaxvc[live]'") from None
  except OSError as e:   # sounddevice is there but PortAudio is not
    raise UsageError(f"no sound device: {e}") from None
  return sounddevice


@contextlib.contextmanager
def _opened(kind, **options):
  try:
    stream = kind(**options)
    stream.start()
  except Exception as e:   # sounddevice.PortAudioError, or no device at all
    raise UsageError(f"no sound device: {e}") from None
  try:
    yield stream
  finally:
    with contextlib.suppress(Exception):
      stream.stop()   # lets what is queued for an output play out; close() drops it
    stream.close()
