"""The F0-conditioned vocoder's harmonic source: what it is given, and the
excitation it makes of it.

Why: a mel-only vocoder must guess where each harmonic lies, and on real
speech it guesses the frame rate instead (a buzz at 16000 / hop Hz). Given
the F0, a vocoder can place the harmonics exactly (NSF's sine source,
DDSP's harmonic oscillator); here the source is a band-limited pulse train at
F0, and the network, which stays at the frame rate, learns a filter for its
STFT (`generator.Generator`).

The pitch rows a caller hands the generator, per mel frame (`pitch_rows`):

  0  F0 in Hz, held through unvoiced frames (the last voiced value before; 0
     before the first), so that the oscillator neither stops nor sweeps to
     0 Hz at a voicing boundary;
  1  voiced, 0 or 1;
  2  the oscillator's phase at the frame's centre sample, modulo 2 pi;
  3  the frame's number in the stream (modulo NUMBERS), which seeds the
     noise source of a vocoder with `model.noise_source` (`noise_phases`).

The phase row makes rendering a long mel in windows exact: each window gets
the phases of one oscillator run over the whole mel, computed once in
float64 by the caller, instead of starting its own at 0. Between two frame
centres F0 is linear, so the phase advance over a hop has a closed form and
the phase row and the samples between frames (`excitation`) agree to float
rounding. The number row does the same for the noise: a frame's noise is
drawn from its number, so every window draws the same noise for it.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

ROWS = 4                 # F0 (Hz, held), voiced, phase, frame number
# Frame numbers wrap here: float32 holds every integer below it (56 hours at
# 83 frames a second before a frame's noise repeats).
NUMBERS = 2**24
HARMONICS = 96           # oscillator harmonics: up to Nyquist at 16 kHz from F0 >= 84 Hz
REFERENCE_HZ = 150.0     # the log-F0 input channel is log2(F0 / this)


def held_f0(f0_hz, voiced, xp=jnp, before: float = 0.0):
  """F0 held through unvoiced frames: each frame takes the F0 of the last
  voiced frame at or before it (`before` ahead of the first). (..., frames)."""
  frames = f0_hz.shape[-1]
  index = xp.where(voiced, xp.arange(frames), -1)
  if xp is np:
    last = np.maximum.accumulate(index, axis=-1)
  else:
    last = jax.lax.cummax(index, axis=index.ndim - 1)
  held = xp.take_along_axis(f0_hz, xp.maximum(last, 0), axis=-1)
  return xp.where(last >= 0, held, before)


def frame_phases(f0_held, hop: int, sample_rate: int, start: float = 0.0, xp=jnp,
                 anchor: int = 0):
  """The oscillator's phase at each frame's centre (..., frames), frame
  `anchor` at `start`, modulo 2 pi. Over the hop from frame i to i + 1 the F0 is linear,
  f_i + (f_{i+1} - f_i) j / hop at sample j, so the phase advances by
  2 pi / rate * (hop f_i + (f_{i+1} - f_i) (hop - 1) / 2), as `excitation` sums."""
  f, following = f0_held[..., :-1], f0_held[..., 1:]
  advance = 2 * math.pi / sample_rate * (hop * f + (following - f) * (hop - 1) / 2)
  zero = xp.zeros_like(f0_held[..., :1])
  summed = xp.concatenate([zero, xp.cumsum(advance, axis=-1)], axis=-1)
  return xp.mod(start + summed - summed[..., anchor:anchor + 1], 2 * math.pi)


def pitch_rows(f0_hz, voiced, hop: int, sample_rate: int, start: float = 0.0, xp=jnp, *,
               anchor: int = 0, held_before: float = 0.0, first_frame=0):
  """(F0 in Hz, 0 where unvoiced; voiced) of shape (..., frames) -> the
  generator's pitch rows (..., ROWS, frames), the oscillator at phase `start`
  at frame `anchor` and holding `held_before` ahead of the first voiced
  frame, the first frame numbered `first_frame` (an int, or one per leading
  index). With xp=np (inference) the phases are summed in float64, so they do
  not drift over hours of audio."""
  dtype = np.float64 if xp is np else jnp.float32
  f0_hz, voiced = xp.asarray(f0_hz, dtype), xp.asarray(voiced, bool)
  held = held_f0(f0_hz, voiced, xp, held_before)
  phases = frame_phases(held, hop, sample_rate, start, xp, anchor)
  numbers = frame_numbers(xp.asarray(first_frame)[..., None], held.shape[-1], xp)
  numbers = xp.broadcast_to(numbers, held.shape).astype(dtype)
  return xp.stack([held, voiced.astype(dtype), phases, numbers], axis=-2).astype(np.float32)


def frame_numbers(first, frames: int, xp=jnp):
  """Frames `first`, `first` + 1, ... (`frames` of them, along a new last
  axis) modulo NUMBERS; `first` may be negative (frames before a stream's
  first, its padding)."""
  return xp.mod(first + xp.arange(frames), NUMBERS)


def pad_rows(rows: np.ndarray, before: int, after: int) -> np.ndarray:
  """Pitch rows (..., ROWS, frames) extended by frames beyond their ends, as
  beside a mel padded with silence: unvoiced, the F0 and phase held (so the
  rows stay smooth into the padding), the frames numbered on."""
  widths = [(0, 0)] * (rows.ndim - 1) + [(before, after)]
  padded = np.pad(rows, widths, mode="edge")
  padded[..., 1, :before] = 0.0
  padded[..., 1, padded.shape[-1] - after:] = 0.0
  first = rows[..., 3, :1].astype(np.int64) - before
  padded[..., 3, :] = frame_numbers(first, padded.shape[-1], np)
  return padded


class Oscillator:
  """One pulse train carried across the overlapping windows of a stream.

  `rows(f0_hz, voiced, start, anchor)` gives the pitch rows of the window of
  frames [start, start + len) so that from frame `anchor` on (the first frame
  the window emits) the oscillator continues the previous window's exactly:
  its phase there and the F0 it held before `start` come from the previous
  window's rows. Windows come in order, each starting within the last (or
  where it started: a live stream's first windows all start at frame 0).
  """

  def __init__(self, hop: int, sample_rate: int):
    self.hop, self.sample_rate = hop, sample_rate
    self._start, self._rows, self._held = None, None, 0.0

  def rows(self, f0_hz: np.ndarray, voiced: np.ndarray, start: int, anchor: int) -> np.ndarray:
    phase, held = 0.0, 0.0
    if self._rows is not None:
      if not (self._start <= start and anchor < self._start + self._rows.shape[-1]):
        raise ValueError(f"window at frame {start} does not overlap the previous one")
      phase = float(self._rows[2, anchor - self._start])
      # What the oscillator held before `start`: the previous window's, if it starts there too.
      held = float(self._rows[0, start - 1 - self._start]) if start > self._start else self._held
    rows = pitch_rows(f0_hz, voiced, self.hop, self.sample_rate, phase, np, anchor=anchor - start,
                      held_before=held, first_frame=start)
    self._start, self._rows, self._held = start, rows, held
    return rows


def noise_phases(rows: jax.Array, bins: int) -> jax.Array:
  """The noise source (..., frames, bins): a phase uniform in [0, 2 pi) for
  each frequency bin of each frame, drawn from the frame's number (row 3),
  so that a frame's noise is the same in every window that renders it, and
  a training segment's differ from step to step (`step.py` numbers them at
  random)."""
  numbers = rows[..., 3, :].astype(jnp.uint32)
  key = jax.random.key(0)
  draw = lambda n: jax.random.uniform(jax.random.fold_in(key, n), (bins,), maxval=2 * math.pi)
  return jax.vmap(draw)(numbers.reshape(-1)).reshape(numbers.shape + (bins,))


def log_f0_channels(rows: jax.Array) -> jax.Array:
  """The generator's extra input channels (..., 2, frames): log2(F0 / 150 Hz)
  where voiced (0 elsewhere) and the voicing."""
  held, voiced = rows[..., 0, :], rows[..., 1, :]
  log_f0 = jnp.log2(jnp.maximum(held, 1.0) / REFERENCE_HZ)
  return jnp.stack([voiced * log_f0, voiced], axis=-2)


def excitation(rows: jax.Array, hop: int, sample_rate: int) -> jax.Array:
  """The pulse train (..., frames * hop): the first HARMONICS cosines of the
  oscillator's phase, each up to Nyquist, of amplitude 1, faded by the voicing.

  Sample i * hop + j lies between frames i and i + 1 (the last frame holds),
  where F0 and voicing are linear in j.
  """
  held, voiced, phase = rows[..., 0, :], rows[..., 1, :], rows[..., 2, :]
  following = lambda x: jnp.concatenate([x[..., 1:], x[..., -1:]], axis=-1)
  f, df = held[..., None], (following(held) - held)[..., None]
  v, dv = voiced[..., None], (following(voiced) - voiced)[..., None]
  j = jnp.arange(hop, dtype=jnp.float32)
  # Phase at sample j after the frame's centre: the sum of F0 over samples 0..j-1.
  phi = phase[..., None] + 2 * math.pi / sample_rate * (j * f + df * j * (j - 1) / (2 * hop))
  f_sample, v_sample = f + df * j / hop, v + dv * j / hop        # (..., frames, hop)
  k = jnp.arange(1, HARMONICS + 1, dtype=jnp.float32)
  below_nyquist = (k * f_sample[..., None] < sample_rate / 2).astype(jnp.float32)
  pulses = jnp.sum(jnp.cos(k * jnp.mod(phi, 2 * math.pi)[..., None]) * below_nyquist, axis=-1)
  wave = v_sample * pulses
  return wave.reshape(*wave.shape[:-2], -1)
