"""Converts audio of any length with a trained MelGAN-VC generator.

  converter = Converter.from_workdir("runs/demo")
  converted = converter.convert(wave, sample_rate)        # at the model's rate
  converter.convert_file("in.flac", "out.wav", sample_rate=44100, plot=True)

Audio streams through in windows of about `window_seconds`, so memory stays
bounded from a fraction of a second to hours. Window k owns the frames
[kW, (k+1)W) (W a whole number of generator chunks) and renders them with C
frames of context on each side (C also whole chunks, about half a second):

- mel: each frame is computed from the samples it covers, zero outside the
  signal, so a window's mel is the same frames of the whole file's mel;
- generator: windows start on the file's chunk grid, so every chunk G sees is
  a chunk of the one-shot conversion (with the "overlap" tail the last window
  reaches back C >= one chunk, so its final full-width chunk is the file's
  too): the converted mel equals the one-shot one;
- inversion (Griffin-Lim or gradient) is global within a window and starts
  from its own phase, so two neighbours render their 2C shared frames with
  unrelated phases, and any mix of the two is a little off the target where
  it happens. The join is therefore a short raised-cosine cross-fade placed
  where the converted mel is quietest within the shared frames, away from
  both renderings' edges: a pause between words, in speech. Its gains keep
  the energy for the renderings' measured correlation, after flipping the
  incoming window's sign if they are anti-correlated (a phase-retrieved
  signal's sign is arbitrary). Near a join the output's mel stays about as
  close to the target as a one-shot inversion's.

Every window is padded to one of a few sizes (2**k or 3 * 2**k chunks) and G
runs in batches of a few fixed sizes, so any number of files of any length
compile a bounded set of programs.
"""
import contextlib
import dataclasses
import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator

import jax
import ml_collections
import numpy as np
import soundfile as sf
import soxr

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import chunking
from jaxvc import melganvc
from jaxvc import plotting

# --inversion name -> (normalised mel -> wave, default iterations).
INVERSIONS = {
    "griffinlim": (audio.mel_to_wave, 32),
    "gradient": (audio.invert_mel_gradient, 500),
}
MIN_SECONDS = 0.1            # shorter inputs hold no speech worth converting
PLOT_SECONDS = 30.0          # a --plot PNG shows the first this many seconds
# Chunks per G call: short inputs, and the rest (48 is a default window whole).
GENERATOR_BATCHES = (4, 48)
CONTEXT_SECONDS = 0.5        # rendered on each side of a window (rounded up to chunks)
FADE_HOPS = 4                # cross-fade length at a join
STREAM_ABOVE_SAMPLES = 1 << 24   # files with more samples x channels are read in blocks
READ_BLOCK_FRAMES = 1 << 16


@dataclasses.dataclass(frozen=True)
class ConvertedWindow:
  """One window's share of a conversion, in stream order.

  `wave` is the next stretch of output at the model's rate (joins included);
  the mels are the window's own frames [kW, (k+1)W), source and converted.
  """
  wave: np.ndarray
  source_mel: np.ndarray
  converted_mel: np.ndarray


@functools.partial(jax.jit, static_argnums=0)
def _generate(graphdef, params, stats, chunks: jax.Array) -> jax.Array:
  """G in inference mode; compiled once per architecture and batch size."""
  return melganvc.generator_fn(graphdef, params, stats)(chunks)


def _bucket(n: int) -> int:
  """The smallest 2**k or 3 * 2**k that is >= n: sizes within 1.5x of any n."""
  power = 1 << max(0, (n - 1).bit_length())
  return 3 * power // 4 if n <= 3 * power // 4 else power


def _generator_batch(n_chunks: int) -> int:
  """The smallest of GENERATOR_BATCHES that needs at most four calls, else the
  largest: little padding for short inputs, efficient calls for long ones."""
  return next((b for b in GENERATOR_BATCHES if 4 * b >= n_chunks), GENERATOR_BATCHES[-1])


class _Samples:
  """The stretch of a sample stream that windows still need, by global index."""

  def __init__(self, blocks: Iterable[np.ndarray]):
    self._blocks = iter(blocks)
    self._data = np.zeros(0, np.float32)
    self._origin = 0
    self.ended = False

  @property
  def end(self) -> int:
    return self._origin + self._data.size

  def fill(self, stop: int) -> None:
    """Reads blocks until sample `stop` is held or the stream has ended."""
    parts = [self._data]
    end = self.end
    while end < stop and not self.ended:
      block = next(self._blocks, None)
      if block is None:
        self.ended = True
      else:
        parts.append(np.asarray(block, np.float32))
        end += block.size
    if len(parts) > 1:
      self._data = np.concatenate(parts)

  def take(self, start: int, size: int) -> np.ndarray:
    """Samples [start, start + size), zero where the stream has none."""
    out = np.zeros(size, np.float32)
    lo, hi = max(start, self._origin), min(start + size, self.end)
    if hi > lo:
      out[lo - start:hi - start] = self._data[lo - self._origin:hi - self._origin]
    return out

  def drop(self, before: int) -> None:
    """Forgets the samples before index `before`."""
    cut = min(max(0, before - self._origin), self._data.size)
    self._data, self._origin = self._data[cut:], self._origin + cut


def _crossfade(outgoing: np.ndarray, incoming: np.ndarray) -> tuple[np.ndarray, float]:
  """Joins two renderings of the same samples; returns (joined, sign of incoming).

  Raised-cosine gains normalised so the expected energy stays that of either
  rendering given their correlation rho: g_out**2 + g_in**2 + 2 rho g_out g_in = 1.
  """
  energy = math.sqrt(float(np.dot(outgoing, outgoing)) * float(np.dot(incoming, incoming)))
  rho = float(np.dot(outgoing, incoming)) / energy if energy > 0 else 1.0
  sign = -1.0 if rho < 0 else 1.0
  rho = abs(rho)
  u = 0.5 - 0.5 * np.cos(np.pi * (np.arange(outgoing.size) + 0.5) / outgoing.size)
  norm = np.sqrt((1 - u) ** 2 + u ** 2 + 2 * rho * u * (1 - u))
  return ((1 - u) * outgoing + u * sign * incoming) / norm, sign


class Converter:
  """A trained generator with the audio settings it was trained on.

  `generator` maps normalised mel chunks (B, n_mels, chunk_frames) to
  converted chunks of the same shape; `from_workdir`, `from_checkpoint` and
  `from_trained` build it from a training run. `inversion` turns mels back
  into audio ("griffinlim", or "gradient" descent as the original) in
  `n_iter` iterations (default 32 or 500); `tail` is how the last chunk is
  filled (chunking.TAIL_MODES); `window_seconds` sizes the streaming windows.
  """

  def __init__(self, config: ml_collections.ConfigDict,
               generator: Callable[[np.ndarray], jax.Array], *,
               inversion: str = "griffinlim", n_iter: int | None = None, tail: str = "pad",
               window_seconds: float = 10.0):
    if inversion not in INVERSIONS:
      raise ValueError(f"inversion must be one of {tuple(INVERSIONS)}, got {inversion!r}")
    if tail not in chunking.TAIL_MODES:
      raise ValueError(f"tail must be one of {chunking.TAIL_MODES}, got {tail!r}")
    invert, default_iterations = INVERSIONS[inversion]
    n_iter = default_iterations if n_iter is None else n_iter
    if n_iter < 1:
      raise ValueError(f"n_iter must be at least 1, got {n_iter}")
    self.config = config
    self.audio = audio.AudioConfig.from_config(config.audio)
    self.chunk_frames = config.data.chunk_frames
    self.n_iter = n_iter
    self._invert_mel = invert
    self.tail = tail
    self._generator = generator
    hop, chunk = self.audio.hop_length, self.chunk_frames
    self._fade = FADE_HOPS * hop
    # Frames a fade centred on a frame touches on either side; a join keeps
    # half an STFT window more inside both renderings, clear of their edges.
    self._fade_reach = -(-(self._fade // 2 + self.audio.n_fft // 2) // hop)
    self._join_margin = self._fade_reach + -(-(self.audio.n_fft // 2) // hop)
    context_chunks = -(-max(round(CONTEXT_SECONDS * self.audio.sample_rate / hop),
                            2 * self._join_margin + 1) // chunk)
    self._context = chunk * context_chunks
    # Core frames per window: an interior window fills one padded size exactly.
    chunk_seconds = chunk * hop / self.audio.sample_rate
    target = max(round(window_seconds / chunk_seconds), 4 * context_chunks)
    self._window = chunk * (_bucket(target + 2 * context_chunks) - 2 * context_chunks)
    # Samples beyond a window's frames that its mel needs, whole hops.
    self._margin = hop * -(-(self.audio.n_fft // 2) // hop)

  @classmethod
  def from_trained(cls, config, graphdefs: dict, state, **options) -> "Converter":
    """From `checkpoints.load_trained`'s (config, graphdefs, state)."""
    return cls(config, functools.partial(_generate, graphdefs["generator"],
                                         state.params["generator"], state.stats["generator"]),
               **options)

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, **options) -> "Converter":
    """The run's latest checkpoint (or `step`); raises checkpoints.CheckpointError."""
    return cls.from_trained(*checkpoints.load_trained(workdir, step), **options)

  @classmethod
  def from_checkpoint(cls, path: str, **options) -> "Converter":
    """One checkpoint directory WORKDIR/checkpoints/STEP."""
    return cls.from_trained(*checkpoints.load_trained(path), **options)

  @property
  def sample_rate(self) -> int:
    return self.audio.sample_rate

  # --------------------------------------------------------------------------
  # Arrays.

  def convert_mel(self, mel: np.ndarray) -> np.ndarray:
    """Normalised mel (n_mels, frames) of any length -> converted, same shape."""
    chunks = chunking.to_chunks(np.asarray(mel, np.float32), self.chunk_frames, self.tail)
    converted = chunking.map_in_batches(
        self._generator, chunks, _generator_batch(len(chunks)))
    return chunking.from_chunks(converted, mel.shape[1], self.tail)

  def convert(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono `wave` at `sample_rate` -> converted float32 wave at `self.sample_rate`,
    as many samples as `wave` resampled to that rate."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1 or wave.size == 0:
      raise ValueError(f"wave must be mono and non-empty (one axis), got shape {wave.shape}")
    if not np.isfinite(wave).all():
      raise ValueError("wave contains NaN or Inf samples")
    source = audio.resample(wave, sample_rate, self.sample_rate)
    return np.concatenate([w.wave for w in self.convert_stream([source])])

  def convert_stream(self, blocks: Iterable[np.ndarray]) -> Iterator[ConvertedWindow]:
    """Converts a stream of mono blocks at the model's rate, window by window;
    the yielded waves add up to exactly as many samples as came in."""
    hop, window, context = self.audio.hop_length, self._window, self._context
    samples = _Samples(blocks)
    join = None   # (first sample of the coming fade, the previous window's rendering of it)
    for k in itertools.count():
      core = k * window
      samples.fill((core + window + context) * hop + self._margin)
      if samples.ended and samples.end == 0:
        return
      n_frames = self.audio.n_frames(samples.end) if samples.ended else math.inf
      last = n_frames <= core + window + context
      start = max(0, core - context)
      stop = n_frames if last else core + window + context
      source_mel = self._source_mel(samples, start, stop)
      converted = self.convert_mel(source_mel)
      rendered = self._invert(converted)
      offset = start * hop   # rendered[i] is output sample offset + i

      parts, emit_from = [], 0
      if join is not None:
        fade_start, outgoing = join
        incoming = rendered[fade_start - offset:fade_start - offset + self._fade]
        faded, sign = _crossfade(outgoing, incoming)
        rendered = sign * rendered
        parts.append(faded)
        emit_from = fade_start + self._fade
      if last:
        emit_to = samples.end
      else:
        emit_to = self._join_frame(converted, start, core + window) * hop - self._fade // 2
        join = emit_to, rendered[emit_to - offset:emit_to - offset + self._fade]
      parts.append(rendered[emit_from - offset:emit_to - offset])
      own = slice(core - start, (stop if last else core + window) - start)
      yield ConvertedWindow(np.concatenate(parts), source_mel[:, own], converted[:, own])
      if last:
        return
      samples.drop((core + window - context) * hop - self._margin)

  def _join_frame(self, converted: np.ndarray, start: int, boundary: int) -> int:
    """The frame within `context` of `boundary` where a fade costs the least:
    the least mel energy over the frames the fade touches."""
    reach = self._fade_reach
    lo = boundary - self._context + self._join_margin
    hi = boundary + self._context - self._join_margin
    power = np.asarray(audio.denormalise_mel(
        converted[:, lo - reach - start:hi + reach + 1 - start], self.audio)).sum(axis=0)
    touched = np.convolve(power, np.ones(2 * reach + 1), mode="valid")
    return lo + int(np.argmin(touched))

  def _source_mel(self, samples: _Samples, start: int, stop: int) -> np.ndarray:
    """The file's mel frames [start, stop), from the samples they cover."""
    hop, margin = self.audio.hop_length, self._margin
    padded = self.chunk_frames * _bucket(-(-(stop - start) // self.chunk_frames))
    segment = samples.take(start * hop - margin, padded * hop + 2 * margin)
    mel = audio.wave_to_mel(segment, self.audio)
    return np.asarray(mel)[:, margin // hop:margin // hop + stop - start]

  def _invert(self, mel: np.ndarray) -> np.ndarray:
    """Converted mel frames -> their wave, frame t centred on sample t * hop."""
    hop, frames = self.audio.hop_length, mel.shape[1]
    padded = self.chunk_frames * _bucket(-(-frames // self.chunk_frames))
    full = np.full((mel.shape[0], padded), chunking.SILENCE, np.float32)
    full[:, :frames] = mel
    wave = self._invert_mel(full, self.audio, n_iter=self.n_iter, length=padded * hop)
    return np.asarray(wave)[:frames * hop]

  # --------------------------------------------------------------------------
  # Files.

  def convert_file(self, in_path: str, out_path: str, *, sample_rate: int | None = None,
                   plot: bool = False) -> float:
    """Converts one audio file; returns its duration in seconds.

    Writes `out_path` (format from its extension; 16-bit PCM for .wav) at
    `sample_rate` (default: the model's), as long as the input, and with `plot`
    `<out_path stem>.png`: the source mel over the converted one (the first
    PLOT_SECONDS). Raises audio.AudioError for an input that cannot be used;
    nothing is left at `out_path` unless it was written completely.
    """
    info = _info(in_path)
    out_rate = sample_rate or self.sample_rate
    length = round(info.frames * out_rate / info.samplerate)
    plot_frames = int(PLOT_SECONDS * self.sample_rate / self.audio.hop_length)
    mels = ([], [])
    with _atomic_writer(out_path, out_rate, length) as write:
      resampler = (None if out_rate == self.sample_rate else
                   soxr.ResampleStream(self.sample_rate, out_rate, 1, dtype="float32"))
      for converted in self.convert_stream(self._read(in_path, info)):
        write(converted.wave if resampler is None else
              resampler.resample_chunk(converted.wave, last=False))
        if plot and sum(m.shape[1] for m in mels[0]) < plot_frames:
          mels[0].append(converted.source_mel)
          mels[1].append(converted.converted_mel)
      if resampler is not None:
        write(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    if plot:
      image = plotting.mel_image([np.concatenate(m, axis=1)[:, :plot_frames] for m in mels])
      plotting.save_png(os.path.splitext(out_path)[0] + ".png", image)
    return info.frames / info.samplerate

  def _read(self, path: str, info) -> Iterator[np.ndarray]:
    """Mono blocks at the model's rate, checked as audio.load_audio checks;
    a huge file is read block by block rather than whole."""
    if info.frames * info.channels <= STREAM_ABOVE_SAMPLES:
      yield audio.load_audio(path, self.sample_rate, min_seconds=MIN_SECONDS)
      return
    resampler = soxr.ResampleStream(info.samplerate, self.sample_rate, 1, dtype="float32")
    peak = 0.0
    try:
      with sf.SoundFile(path) as f:
        for block in f.blocks(READ_BLOCK_FRAMES, dtype="float32", always_2d=True):
          block = block.mean(axis=1)
          audio.require_finite(path, block)
          peak = max(peak, float(np.abs(block).max()))
          yield resampler.resample_chunk(block, last=False)
    except sf.SoundFileError as e:
      raise audio.AudioError(f"{path}: unreadable audio ({str(e).splitlines()[0]})") from None
    audio.require_audible(path, peak)
    yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)


def _info(path: str):
  """soundfile's header of `path`, or audio.AudioError naming why there is none."""
  try:
    info = sf.info(path)
  except (sf.SoundFileError, OSError, RuntimeError) as e:
    reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    raise audio.AudioError(f"{path}: unreadable audio ({reason})") from None
  if info.frames <= 0:
    raise audio.AudioError(f"{path}: empty (0 samples)")
  return info


@contextlib.contextmanager
def _atomic_writer(path: str, sample_rate: int, length: int):
  """Yields `write(block)` that streams mono samples into `path` atomically
  (`audio.audio_writer`); on a clean exit the file is cut or zero-padded to
  `length` samples."""
  written = 0
  with audio.audio_writer(path, sample_rate) as f:
    def write(block: np.ndarray) -> None:
      nonlocal written
      block = np.clip(block[:max(0, length - written)], -1.0, 1.0)
      f.write(block)
      written += block.size

    yield write
    f.write(np.zeros(max(0, length - written), np.float32))
