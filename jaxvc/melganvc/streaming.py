"""A conversion cut into windows as its audio arrives: the one engine behind
offline conversion (`Converter.convert_stream`, windows of about ten
seconds) and live conversion (`Converter.stream`, windows of one chunk).

`Windows` takes blocks of any size (`push`) and gives back each window as
soon as the samples it needs are in; how the windows are cut, and why their
joins are exact or faded, is `windows.WindowPlan`'s docstring. Which window
comes out depends only on the samples, never on how they were blocked, so a
stream converts the same audio as one call does.

`LiveStream` is what a real-time caller wants on top: each block in gives
as many samples out, the converted stream delayed by the plan's `latency`
(silence until then), so it can go straight to a sound card.
"""
import dataclasses
import math
import time

import numpy as np

from jaxvc import audio
from jaxvc import buckets
from jaxvc.audio import pitch
from jaxvc.melganvc import chunking
from jaxvc.melganvc.windows import WindowPlan
from jaxvc.vocoder import excitation


# Frames of its last that a chunk's F0 analysis continues it by (the half
# analysis window and a frame: `Windows._converted_f0`).
CHUNK_F0_EXTENSION = 4


@dataclasses.dataclass(frozen=True)
class ConvertedWindow:
  """One window's share of a conversion, in stream order.

  `wave` is the next stretch of output at the model's rate (joins included);
  the mels are the window's own frames (`WindowPlan.own_start` k to k + 1),
  source and converted.
  """
  wave: np.ndarray
  source_mel: np.ndarray
  converted_mel: np.ndarray


class _Samples:
  """The stretch of a sample stream that windows still need, by global index."""

  def __init__(self):
    self._parts: list[np.ndarray] = []
    self._data = np.zeros(0, np.float32)
    self._origin = 0
    self._end = 0
    self.ended = False

  @property
  def end(self) -> int:
    return self._end

  def append(self, block: np.ndarray) -> None:
    self._parts.append(block)
    self._end += block.size

  def _joined(self) -> np.ndarray:
    if self._parts:
      self._data = np.concatenate([self._data, *self._parts])
      self._parts = []
    return self._data

  def take(self, start: int, size: int) -> np.ndarray:
    """Samples [start, start + size), zero where the stream has none."""
    data = self._joined()
    out = np.zeros(size, np.float32)
    lo, hi = max(start, self._origin), min(start + size, self.end)
    if hi > lo:
      out[lo - start:hi - start] = data[lo - self._origin:hi - self._origin]
    return out

  def drop(self, before: int) -> None:
    """Forgets the samples before index `before`."""
    data = self._joined()
    cut = min(max(0, before - self._origin), data.size)
    self._data, self._origin = data[cut:], self._origin + cut


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


def _checked(block) -> np.ndarray:
  """A mono block as float32; ValueError (state untouched) otherwise."""
  block = np.asarray(block, np.float32)
  if block.ndim == 2 and block.shape[1] == 1:
    block = block[:, 0]
  if block.ndim != 1:
    raise ValueError(f"a block must be mono, (samples,) or (samples, 1); got shape {block.shape}")
  if not np.isfinite(block).all():
    raise ValueError("a block contains NaN or Inf samples")
  return block


def _forget_before(cache: dict[int, object], index: int) -> None:
  """Drops a per-chunk cache's entries for the chunks before `index`."""
  for j in [j for j in cache if j < index]:
    del cache[j]


class Windows:
  """One stream's windows under `plan`, rendered by `converter` (a
  `Converter`: its generator, pitch choice and inversion).

  `push(block)` takes the next mono samples at the model's rate and returns
  the windows that they complete; `close()` ends the stream and returns the
  rest. The waves of all windows add up to exactly the samples pushed.
  """

  def __init__(self, converter, plan: WindowPlan):
    self.converter, self.plan = converter, plan
    self.cfg = converter.audio
    self._samples = _Samples()
    self._next = 0          # the next window's index
    self._join = None       # (first sample of the coming fade, the last window's rendering of it)
    self._oscillator = excitation.Oscillator(self.cfg.hop_length, self.cfg.sample_rate)
    self._chunks = {}       # chunk index -> its converted mel, for the next window
    self._chunk_f0 = {}     # chunk index -> the converted mel's (F0, voiced) over it
    self._alone = {}        # chunk index -> its converted mel from its own samples alone
    self.closed = False

  def push(self, block) -> list[ConvertedWindow]:
    if self.closed:
      raise ValueError("the stream is closed")
    self._samples.append(_checked(block))
    return self._ready()

  def close(self) -> list[ConvertedWindow]:
    if self.closed:
      return []
    self._samples.ended = True
    windows = self._ready()
    self.closed = True
    return windows

  def _ready(self) -> list[ConvertedWindow]:
    out = []
    samples = self._samples
    while not self.closed and (samples.ended or samples.end >= self.plan.samples_needed(self._next)):
      if samples.ended and samples.end == 0:
        self.closed = True
        break
      window, last = self._window(self._next)
      if window is not None:
        out.append(window)
      self._next += 1
      if last:
        self.closed = True
      else:
        samples.drop(self.plan.samples_done(self._next - 1))
    return out

  def _window(self, k: int) -> tuple[ConvertedWindow | None, bool]:
    """Window k (None if it owns no frames: a lookahead as long as the
    first windows), and whether it is the last."""
    plan, hop, samples = self.plan, self.cfg.hop_length, self._samples
    own, boundary = plan.own_start(k), plan.own_start(k + 1)
    n_frames = self.cfg.n_frames(samples.end) if samples.ended else math.inf
    start, stop, last = plan.span(k, n_frames)
    if boundary == 0 and not last:
      return None, False
    segment = self._source_segment(start, stop)
    source_mel = self._source_mel(segment, stop - start)
    converted = self._convert(source_mel, start, last)
    converted, f0 = self.converter._pitched(segment, converted, plan.margin // hop,
                                            lambda: self._converted_f0(start, stop))
    rows = None if f0 is None else self._oscillator.rows(*f0, start, own)
    rendered = self._invert(converted, rows, last)
    offset = start * hop   # rendered[i] is output sample offset + i

    parts, emit_from = [], own * hop
    if self._join is not None:
      fade_start, outgoing = self._join
      incoming = rendered[fade_start - offset:fade_start - offset + plan.fade]
      faded, sign = _crossfade(outgoing, incoming)
      rendered = sign * rendered
      parts.append(faded)
      emit_from = fade_start + plan.fade
    if last:
      emit_to = samples.end
    elif plan.exact:
      emit_to = boundary * hop
    else:
      emit_to = self._join_frame(converted, start, boundary) * hop - plan.fade // 2
      self._join = emit_to, rendered[emit_to - offset:emit_to - offset + plan.fade]
    parts.append(rendered[emit_from - offset:emit_to - offset])
    frames = slice(own - start, (stop if last else boundary) - start)
    wave = np.concatenate(parts).astype(np.float32)   # a fade's gains are float64
    return ConvertedWindow(wave, source_mel[:, frames], converted[:, frames]), last

  def _convert(self, source_mel: np.ndarray, start: int, last: bool) -> np.ndarray:
    """The window's converted mel (frames from `start`, a chunk boundary):
    the chunks the last window converted are taken from it (the generator
    sees each chunk alone, so they are the same chunks), the rest converted.
    With the "overlap" tail the last window converts whole, as its last
    chunk reaches back into the one before."""
    chunk, frames = self.plan.chunk, source_mel.shape[1]
    first = start // chunk
    kept = 0
    while kept < frames // chunk and first + kept in self._chunks:
      kept += 1
    if last and self.converter.tail == "overlap":
      kept = 0
    parts = [self._chunks[first + i] for i in range(kept)]
    if kept * chunk < frames:
      new = self.converter.convert_mel(source_mel[:, kept * chunk:])
      parts.append(new)
      for i in range(new.shape[1] // chunk):
        self._chunks[first + kept + i] = new[:, i * chunk:(i + 1) * chunk]
    _forget_before(self._chunks, first)
    return np.concatenate(parts, axis=1)

  def _converted_f0(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """The F0 and voicing of the converted mel over the frames [start, stop)
    (`start` a chunk boundary), read chunk by chunk: each chunk's from
    `pitch.mel_f0` of it after the chunk before (silence before the first),
    continued by CHUNK_F0_EXTENSION copies of its last frame so that its last
    frames are analysed whole, and computed once.

    Each chunk of a pair is converted again from its own samples, alone, in
    one fixed-size call (`_chunk_alone`): a Griffin-Lim rendering's F0 turns
    the last bits of float rounding (which a window's size changes) into
    whole hertz, and an oscillator would carry them on. So a chunk's F0 is
    the same whatever the windows: a live stream renders as offline
    conversion does.
    """
    chunk = self.plan.chunk
    chunks = range(start // chunk, -(-stop // chunk))
    for j in chunks:
      if j in self._chunk_f0:
        continue
      before = (np.full((self.cfg.n_mels, chunk), audio.SILENCE, np.float32) if j == 0
                else self._chunk_alone(j - 1, start, stop))
      own = self._chunk_alone(j, start, stop)   # short at the stream's end
      pair = np.concatenate([before, own], axis=1)
      pair = np.pad(pair, ((0, 0), (0, 2 * chunk + CHUNK_F0_EXTENSION - pair.shape[1])),
                    mode="edge")
      hz, voiced = (np.asarray(x) for x in pitch.mel_f0(pair, self.cfg))
      frames = own.shape[1]
      self._chunk_f0[j] = (hz[chunk:chunk + frames], voiced[chunk:chunk + frames])
    _forget_before(self._chunk_f0, chunks[0] - 1)
    _forget_before(self._alone, chunks[0] - 1)
    return tuple(np.concatenate([self._chunk_f0[j][i] for j in chunks]) for i in (0, 1))

  def _chunk_alone(self, j: int, start: int, stop: int) -> np.ndarray:
    """Chunk j's converted mel from its own samples, by the generator on that
    one chunk (one program, whatever the window): for `_converted_f0`."""
    if j not in self._alone:
      chunk = self.plan.chunk
      lo, hi = j * chunk, min((j + 1) * chunk, stop)
      if lo < start:
        raise AssertionError(f"chunk {j}'s samples are gone before its F0 was read")
      mel = self._source_mel(self._source_segment(lo, hi), hi - lo)
      converted = self.converter._generator(chunking.to_chunks(mel, chunk, "pad"))
      self._alone[j] = np.asarray(converted)[0][:, :hi - lo]
    return self._alone[j]

  def _join_frame(self, converted: np.ndarray, start: int, boundary: int) -> int:
    """The frame within the context of `boundary` where a fade costs the least:
    the least mel energy over the frames the fade touches."""
    plan = self.plan
    reach = plan.fade_reach
    lo, hi = boundary - plan.join_reach, boundary + plan.join_reach
    power = np.asarray(audio.denormalise_mel(
        converted[:, lo - reach - start:hi + reach + 1 - start], self.cfg)).sum(axis=0)
    touched = np.convolve(power, np.ones(2 * reach + 1), mode="valid")
    return lo + int(np.argmin(touched))

  def _source_segment(self, start: int, stop: int) -> np.ndarray:
    """The samples that the stream's frames [start, stop) cover, with the
    margin their analysis needs on both sides, padded to a few sizes."""
    hop, margin = self.cfg.hop_length, self.plan.margin
    segment = self._samples.take(start * hop - margin, (stop - start) * hop + 2 * margin)
    # Zeros, not whatever samples have arrived, up to the padded size: what a
    # window sees must not depend on how the stream was blocked.
    return buckets.pad_to(segment, self.plan.padded_frames(stop - start) * hop + 2 * margin)

  def _source_mel(self, segment: np.ndarray, frames: int) -> np.ndarray:
    """The stream's mel frames of the window, from the samples they cover."""
    first = self.plan.margin // self.cfg.hop_length
    return np.asarray(audio.wave_to_mel(segment, self.cfg))[:, first:first + frames]

  def _invert(self, mel: np.ndarray, rows: np.ndarray | None, last: bool) -> np.ndarray:
    """Converted mel frames [and their pitch rows] -> their wave, frame t
    centred on sample t * hop.

    Padded with silence to a few sizes; for an exact inversion in the last
    window by at least its context, so that the last frames render as in a
    one-shot `Vocoder` call (other windows keep only samples whose
    lookahead they hold).
    """
    inversion = self.converter.inversion
    frames = mel.shape[1]
    extra = 0 if inversion.context is None or not last else inversion.context
    padded = buckets.pad_to(np.asarray(mel, np.float32), self.plan.padded_frames(frames + extra),
                           value=audio.SILENCE)
    if rows is None:
      return inversion(padded)[:frames * self.cfg.hop_length]
    rows = excitation.pad_rows(rows, 0, padded.shape[1] - frames)
    return inversion.render(padded[None], rows[None])[0, :frames * self.cfg.hop_length]


class LiveStream:
  """Real-time conversion: `push(block)` returns as many samples as it was
  given, the converted stream `latency` samples late (silence before it);
  `close()` returns the last `latency` samples. Blocks are mono at
  `sample_rate` (the model's) and at the level the model expects (the
  front-end's `audio.loudness_lufs`; see `infer stream --gain`).

  A bad block (another rate or channel count, NaN) is a ValueError that
  leaves the stream as it was: what was converted so far stays, and
  `close()` still gives the rest.
  """

  def __init__(self, converter, plan: WindowPlan):
    self._windows = Windows(converter, plan)
    self.sample_rate = converter.sample_rate
    self.latency = plan.latency
    self._pending = [np.zeros(self.latency, np.float32)]
    self._held = self.latency   # samples in _pending

  @property
  def latency_seconds(self) -> float:
    return self.latency / self.sample_rate

  @property
  def window_seconds(self) -> float:
    """The audio between two windows: the compute budget of each (a push
    that completes one converts and renders it; the others only queue)."""
    return self._windows.plan.window * self._windows.plan.hop / self.sample_rate

  def push(self, block, sample_rate: int | None = None) -> np.ndarray:
    if sample_rate is not None and sample_rate != self.sample_rate:
      raise ValueError(f"a block at {sample_rate} Hz: the stream is at {self.sample_rate} Hz")
    self._add(self._windows.push(block))   # checks the block first
    return self._take(np.shape(block)[0])

  def close(self) -> np.ndarray:
    self._add(self._windows.close())
    return self._take(self._held)

  def push_all(self, wave: np.ndarray, block: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`wave` pushed in blocks of `block` samples as a live source would,
    then the stream closed -> (every block the stream gave, `close()`'s
    last; the seconds each push took). The one push loop of the tests,
    `tools/streaming_check.py` and the benchmark."""
    out, seconds = [], []
    for i in range(0, len(wave), block):
      start = time.perf_counter()
      out.append(self.push(wave[i:i + block]))
      seconds.append(time.perf_counter() - start)
    out.append(self.close())
    return out, np.asarray(seconds)

  def _add(self, windows: list[ConvertedWindow]) -> None:
    for w in windows:
      self._pending.append(w.wave)
      self._held += w.wave.size

  def _take(self, size: int) -> np.ndarray:
    if size > self._held:   # the latency is what the windows wait for: never
      raise RuntimeError(f"stream underrun: {size} samples asked, {self._held} ready")
    joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
    self._pending, self._held = [joined[size:]], self._held - size
    return joined[:size]
