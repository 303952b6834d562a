"""F0 and a voiced/unvoiced decision at the mel's frame rate, in JAX: the one
pitch analysis for training, conversion and evaluation.

YIN (de Cheveigné and Kawahara 2002): per frame, the cumulative mean
normalised difference function d'(lag) of the wave against itself shifted;
the period is the first local minimum below an absolute threshold (else the
first one close to the deepest), refined by parabolic interpolation, and d'
at that minimum is the frame's aperiodicity. A frame is voiced when it is
loud enough and periodic enough, or nearly so and next to such frames
(hysteresis). Chosen over WORLD's Harvest and DIO (pyworld, the `eval`
extra's), librosa's pYIN and the pretrained networks by measurement:
docs/results/pitch.md (tools/pitch_check.py).

Frame t is centred at sample t * hop_length and there are exactly
`cfg.n_frames(samples)` frames, as the mel's. F0 is in Hz, 0 where the frame
is unvoiced (as WORLD writes it), so log F0 needs the `voiced` mask
(`LogF0Statistics`). `f0` is pure JAX, jit-compiled with the settings
static, batched over leading axes; `track` runs it on one wave of any
length, `mel_f0` on a mel with no wave behind it, and `map_log_f0` moves a
contour from one voice's range to another's.
"""
import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxvc import buckets
from jaxvc.audio import mel as mel_lib
from jaxvc.audio.settings import AudioConfig
# By name: the package's `stft` is the function, which hides the module once
# jaxvc.audio has loaded.
from jaxvc.audio.stft import to_blocks


@dataclasses.dataclass(frozen=True)
class PitchSettings:
  """The analysis' settings; frozen and hashable, jit's static argument."""
  # The search range. 50 Hz is below a low male voice's floor (creak aside),
  # 1000 Hz above a child's voice and most of a soprano's sung range, so one
  # setting serves every speaker; a wider range costs little (the longest lag
  # sets the frame length) but gives octave errors more room.
  fmin: float = 50.0
  fmax: float = 1000.0
  # The integration window: the samples compared with their shifted copy.
  # Longer is steadier on noise, shorter follows fast glides.
  window_ms: float = 25.0
  # YIN's absolute threshold: the first dip of d' below it is the period,
  # so that a deeper dip at twice the period (a subharmonic) is not taken.
  threshold: float = 0.15
  # Where no dip is below the threshold (noise, reverberation, a glide), the
  # first dip within this of the deepest: the deepest alone is as often at
  # twice or three times the period.
  margin: float = 0.1
  # A frame whose d' at the chosen period (its aperiodicity) is above this is
  # unvoiced: noise has d' near 1 at every lag, a voiced frame far below.
  voicing_threshold: float = 0.35
  # Frames up to this aperiodicity are voiced too when joined to a voiced
  # frame through such frames: the weakly periodic onsets, offsets and voiced
  # consonants next to a vowel, not an isolated noisy frame.
  voicing_extend: float = 0.5
  # Frames quieter than this (RMS over the window, dB below full scale) are
  # unvoiced whatever their shape: d' of near-silence is dither's.
  silence_db: float = -60.0

  def lags(self, sample_rate: int) -> tuple[int, int]:
    """The shortest and longest lag searched, in samples."""
    return int(sample_rate // self.fmax), int(math.ceil(sample_rate / self.fmin))

  def window(self, sample_rate: int) -> int:
    return int(round(self.window_ms * sample_rate / 1000))


def _frames(wave: jax.Array, length: int, hop: int, n_frames: int,
            advance: int) -> jax.Array:
  """(..., samples) -> (..., n_frames, length), frame t starting at
  t * hop - length // 2 + advance, zeros outside the wave; k shifted slices of
  hop-sized blocks, no gather."""
  wave = jnp.pad(wave[..., advance:], [(0, 0)] * (wave.ndim - 1) + [(0, advance)])
  blocks = to_blocks(wave, length, hop, n_frames)
  k = -(-length // hop)
  frames = jnp.stack([blocks[..., i:i + n_frames, :] for i in range(k)], axis=-2)
  return frames.reshape(*frames.shape[:-2], -1)[..., :length]


def difference(frames: jax.Array, window: int, max_lag: int) -> jax.Array:
  """YIN's cumulative mean normalised difference d' (..., max_lag + 2) of
  frames (..., window + max_lag + 1); d'(0) = 1.

  d(lag) = sum_j (x_j - x_{j+lag})^2 over the window's j, as energies minus
  twice an FFT cross-correlation: O(n log n) a frame, not O(window * lags).
  """
  n_fft = 1 << (frames.shape[-1] - 1).bit_length()
  head = frames[..., :window]
  correlation = jnp.fft.irfft(
      jnp.conj(jnp.fft.rfft(head, n_fft)) * jnp.fft.rfft(frames, n_fft), n_fft)
  correlation = correlation[..., :max_lag + 2]
  energy = jnp.concatenate(
      [jnp.zeros_like(frames[..., :1]), jnp.cumsum(frames ** 2, axis=-1)], axis=-1)
  lags = jnp.arange(max_lag + 2)
  shifted = energy[..., lags + window] - energy[..., lags]     # sum of x_{j+lag}^2
  d = jnp.maximum(energy[..., window:window + 1] + shifted - 2 * correlation, 0.0)
  mean = jnp.cumsum(d[..., 1:], axis=-1) / lags[1:]
  normalised = d[..., 1:] / jnp.maximum(mean, jnp.finfo(jnp.float32).tiny)
  return jnp.concatenate([jnp.ones_like(d[..., :1]), normalised], axis=-1)


def pick_period(d: jax.Array, settings: PitchSettings,
                sample_rate: int) -> tuple[jax.Array, jax.Array]:
  """(period in samples, aperiodicity) of each frame's d' (..., lags).

  The first local minimum of d' below the threshold, else the first within
  `margin` of the deepest; refined by a parabola through it and its
  neighbours. Aperiodicity 1 where d' has no dip in range.
  """
  min_lag, max_lag = settings.lags(sample_rate)
  lags = jnp.arange(d.shape[-1])
  inside = (lags >= max(min_lag, 1)) & (lags <= max_lag)
  before, after = jnp.roll(d, 1, axis=-1), jnp.roll(d, -1, axis=-1)
  dip = inside & (d < before) & (d <= after)
  deepest = jnp.min(jnp.where(dip, d, jnp.inf), axis=-1, keepdims=True)
  below = dip & (d < jnp.maximum(settings.threshold, deepest + settings.margin))
  lag = jnp.argmax(below, axis=-1)
  take = lambda offset: jnp.take_along_axis(d, (lag + offset)[..., None], axis=-1)[..., 0]
  left, centre, right = take(-1), take(0), take(1)
  curvature = left - 2 * centre + right
  shift = jnp.where(curvature > 0, 0.5 * (left - right) / jnp.maximum(curvature, 1e-12), 0.0)
  shift = jnp.clip(shift, -0.5, 0.5)
  aperiodicity = centre - 0.25 * (left - right) * shift
  no_dip = ~jnp.any(dip, axis=-1)
  return lag + shift, jnp.where(no_dip, 1.0, jnp.clip(aperiodicity, 0.0, 1.0))


def _hysteresis(strong: jax.Array, weak: jax.Array) -> jax.Array:
  """Frames of `weak` (..., frames) in a run of `weak` frames holding a
  `strong` one (strong implies weak)."""
  frames = weak.shape[-1]
  rows = weak.reshape(-1, frames)
  # Runs numbered by the non-weak frames before them, apart in each row.
  run = jnp.cumsum(~rows, axis=-1) + (frames + 1) * jnp.arange(rows.shape[0])[:, None]
  has_strong = jax.ops.segment_max(strong.reshape(-1).astype(jnp.int32), run.reshape(-1),
                                   num_segments=rows.shape[0] * (frames + 1))
  return (rows & (has_strong[run] > 0)).reshape(weak.shape)


@functools.partial(jax.jit, static_argnames=("cfg", "settings"))
def f0(wave: jax.Array, cfg: AudioConfig,
       settings: PitchSettings = PitchSettings()) -> tuple[jax.Array, jax.Array]:
  """(..., samples) -> (F0 in Hz, voiced), each (..., cfg.n_frames(samples)).

  F0 is float32, 0 where unvoiced; voiced is bool.
  """
  wave = jnp.asarray(wave, jnp.float32)
  n_frames = cfg.n_frames(wave.shape[-1])
  window = settings.window(cfg.sample_rate)
  min_lag, max_lag = settings.lags(cfg.sample_rate)
  # A lag's comparison spans window + lag samples from the frame's start, so
  # its time is start + (window + lag) / 2: frames start where that is the
  # frame's time for a lag in the middle of the range (geometric), so that on
  # a glide no F0 is more than (max_lag - min_lag) / 4 samples early or late.
  length = window + max_lag + 1
  middle = math.sqrt(max(min_lag, 1) * max_lag)
  advance = length // 2 - int(round((window + middle) / 2))
  frames = _frames(wave, length, cfg.hop_length, n_frames, advance)
  period, aperiodicity = pick_period(difference(frames, window, max_lag), settings,
                                     cfg.sample_rate)
  power = jnp.mean(frames[..., :window] ** 2, axis=-1)
  loud = 10 * jnp.log10(jnp.maximum(power, 1e-20)) > settings.silence_db
  voiced = _hysteresis(loud & (aperiodicity < settings.voicing_threshold),
                      loud & (aperiodicity < settings.voicing_extend))
  hz = jnp.where(voiced, cfg.sample_rate / jnp.maximum(period, 1.0), 0.0)
  return hz.astype(jnp.float32), voiced


MIN_BUCKET = 2**14   # the shortest padded length `track` analyses, in samples


def track(wave: np.ndarray, cfg: AudioConfig,
          settings: PitchSettings = PitchSettings()) -> tuple[np.ndarray, np.ndarray]:
  """`f0` of one wave of any length at cfg.sample_rate, as NumPy arrays.

  The wave is zero-padded to a length bucket (jaxvc.buckets) and the frames
  of the padding cut off, so that utterances of many lengths compile a few
  programs; the frames before the padding are those of the unpadded wave.
  """
  wave = np.asarray(wave, np.float32)
  hz, voiced = f0(buckets.pad_to(wave, buckets.bucket(wave.size, MIN_BUCKET)), cfg, settings)
  n = cfg.n_frames(wave.size)
  return np.asarray(hz)[:n], np.asarray(voiced)[:n]


@dataclasses.dataclass(frozen=True)
class LogF0Statistics:
  """A voice's ln(F0 / Hz) over its voiced frames: the centre and spread
  that the linear transform of log F0 between two voices maps (`map_log_f0`).

  The median and the scaled median absolute deviation rather than the mean
  and standard deviation: the few frames any analysis reads an octave off
  (creak, the ends of voicing) would pull a mean and widen a deviation, and
  on a normal distribution the two pairs agree.
  """
  centre: float
  spread: float
  voiced_frames: int

  @classmethod
  def of_waves(cls, waves, cfg: AudioConfig) -> "LogF0Statistics":
    """Over every voiced frame of `waves` (at cfg.sample_rate); ValueError if
    none is voiced (nothing to say what the voice's pitch is)."""
    log_f0 = [np.log(hz[voiced]) for hz, voiced in (track(w, cfg) for w in waves)]
    log_f0 = np.concatenate(log_f0) if log_f0 else np.zeros(0)
    if log_f0.size == 0:
      raise ValueError("no voiced frame: the F0 statistics of unvoiced or silent audio are undefined")
    centre = float(np.median(log_f0))
    return cls(centre, float(MAD_TO_STD * np.median(np.abs(log_f0 - centre))), int(log_f0.size))

  @property
  def median_hz(self) -> float:
    return math.exp(self.centre)


MAD_TO_STD = 1.4826   # a normal distribution's standard deviation over its median absolute deviation


def map_log_f0(f0_hz: np.ndarray, voiced: np.ndarray, source: LogF0Statistics,
               target: LogF0Statistics) -> np.ndarray:
  """The voiced frames' F0 moved from `source`'s range to `target`'s:
  ln f' = c_t + (s_t / s_s) (ln f - c_s) with each voice's centre c and
  spread s, 0 where unvoiced. The contour keeps its shape, in the target's
  key and spread."""
  f0_hz, voiced = np.asarray(f0_hz, np.float64), np.asarray(voiced, bool)
  scale = target.spread / source.spread if source.spread > 0 else 1.0
  log_f0 = target.centre + scale * (np.log(np.where(voiced, f0_hz, 1.0)) - source.centre)
  return np.where(voiced, np.exp(log_f0), 0.0)


def mel_f0(mel, cfg: AudioConfig,
           settings: PitchSettings = PitchSettings()) -> tuple[jax.Array, jax.Array]:
  """(F0 in Hz, voiced), each (frames,), of a normalised mel (n_mels, frames)
  with no wave behind it (a converted mel): `f0` of its Griffin-Lim
  rendering. The rendering's phases are rough, but its harmonics lie where
  the mel's do, and their spacing is what YIN reads (docs/results/pitch.md
  measures the agreement with the analysis of the wave itself)."""
  frames = mel.shape[-1]
  wave = mel_lib.mel_to_wave(mel, cfg, length=frames * cfg.hop_length)
  hz, voiced = f0(wave, cfg, settings)
  return hz[..., :frames], voiced[..., :frames]
