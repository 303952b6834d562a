"""Mel -> audio with a trained vocoder: `jaxvc.Vocoder`, an `audio.Inversion`.

  vocoder = jaxvc.Vocoder.from_workdir("runs/vocoder")
  wave = vocoder(mel)                                  # any length
  converter = jaxvc.Converter.from_workdir("runs/demo", vocoder=vocoder)

The generator's receptive field is finite (`context` frames on each side), so
rendering a mel in windows, each with that much mel on either side, and
cutting the windows at their boundaries gives the samples of one rendering of
the whole mel: the joins are exact up to float rounding (the tests bound it).
Beyond the mel's ends the generator hears silence (`audio.SILENCE`) for
`context` frames, so the output does not depend on how a window was padded.
Long mels are rendered in windows of `window_frames`, so memory stays bounded.

An F0-conditioned vocoder (`model.pitch`) takes the F0 and voicing per mel
frame besides the mel; its oscillator's phases are summed once over the
whole mel in float64 (`excitation.pitch_rows`), so its windows join exactly
too. Given no F0, it reads one off the mel itself (`pitch.mel_f0`: the
analysis of a Griffin-Lim rendering), which is what the mel's harmonics say.
"""
import functools

import jax
import ml_collections
import numpy as np

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import buckets
from jaxvc import workdirs
from jaxvc.audio import inversion
from jaxvc.audio import pitch as pitch_lib
from jaxvc.errors import ConfigError
from jaxvc.vocoder import excitation
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import step as step_lib

WINDOW_FRAMES = 1024   # frames rendered per call (12 s at the default settings)


@functools.partial(jax.jit, static_argnums=0)
def _render(graphdef, params, *inputs: jax.Array) -> jax.Array:
  """The generator on (B, n_mels, T) [and (B, 4, T) pitch rows]; compiled once
  per architecture and size."""
  return step_lib.generator_fn(graphdef, params)(*inputs)


class Vocoder:
  """A trained generator with the audio settings it was trained on."""

  def __init__(self, config: ml_collections.ConfigDict, params, *,
               window_frames: int = WINDOW_FRAMES):
    self.config = config
    self.cfg = audio.AudioConfig.from_config(config.audio)
    self._graphdef = step_lib.graph_definitions(config)["generator"]
    self._params = params
    self.context = generator_lib.context_frames(config)
    # Frames after a sample that it depends on: what a live stream waits for.
    self.lookahead = generator_lib.receptive_field(config)[1]
    self.uses_pitch = generator_lib.uses_pitch(config)
    self.uses_noise_source = generator_lib.uses_noise_source(config)
    if window_frames < 1:
      raise ValueError(f"window_frames must be positive, got {window_frames}")
    self.window_frames = window_frames
    self.step = None   # the training step of the checkpoint, when loaded from one

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, **options) -> "Vocoder":
    """The run's latest checkpoint (or `step`); raises checkpoints.CheckpointError."""
    config, generator, trained_step = workdirs.load_inference(workdir, step, method="vocoder")
    vocoder = cls(config, generator["params"], **options)
    vocoder.step = trained_step
    return vocoder

  @property
  def sample_rate(self) -> int:
    return self.cfg.sample_rate

  def __call__(self, mel: np.ndarray, f0_hz: np.ndarray | None = None,
               voiced: np.ndarray | None = None, start_phase: float = 0.0) -> np.ndarray:
    """Normalised mel (n_mels, T) or (B, n_mels, T) -> wave (..., T * hop).

    An F0-conditioned vocoder renders the harmonics at `f0_hz` (..., T), 0 or
    `voiced` False where unvoiced, its oscillator at `start_phase` at frame 0
    (a stream rendered in pieces carries it with `excitation.Oscillator` and
    `render`); without them, at the mel's own F0 (`pitch.mel_f0`). A mel-only
    vocoder given an F0 raises ValueError: it could not follow it.
    """
    mel = np.asarray(mel, np.float32)
    if mel.ndim not in (2, 3) or mel.shape[-2] != self.cfg.n_mels:
      raise ValueError(f"mel must be (n_mels={self.cfg.n_mels}, frames) or batched, "
                       f"got shape {mel.shape}")
    batched = mel if mel.ndim == 3 else mel[None]
    rows = None
    if self.uses_pitch:
      rows = self.pitch_rows(batched, f0_hz, voiced, start_phase)
    elif f0_hz is not None:
      raise ValueError("this vocoder takes no F0 (trained without model.pitch): render "
                       "the F0 into the mel instead (jaxvc.audio.shift_mel_pitch)")
    wave = self.render(batched, rows)
    return wave if mel.ndim == 3 else wave[0]

  def render(self, mel: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(B, n_mels, T) mels [and their (B, 4, T) pitch rows, `excitation.pitch_rows`]
    -> (B, T * hop) waves, in windows of `window_frames`."""
    batched = np.asarray(mel, np.float32)   # rows missing or extra: the generator says so
    frames, hop, c = batched.shape[-1], self.cfg.hop_length, self.context
    parts = []
    for start in range(0, max(frames, 1), self.window_frames):
      stop = min(start + self.window_frames, frames)
      lo, hi = max(0, start - c), min(frames, stop + c)
      # Silence beyond the mel's ends, and up to a bucket so lengths share programs.
      left = c - (start - lo)
      padded = buckets.bucket(left + (hi - lo) + c)
      pad = ((0, 0), (0, 0), (left, padded - left - (hi - lo)))
      window = [np.pad(batched[..., lo:hi], pad, constant_values=audio.SILENCE)]
      if rows is not None:
        window.append(excitation.pad_rows(rows[..., lo:hi], *pad[-1]))
      wave = np.asarray(_render(self._graphdef, self._params, *window))
      first = (left + start - lo) * hop
      parts.append(wave[:, first:first + (stop - start) * hop])
    return np.concatenate(parts, axis=-1)

  def pitch_rows(self, mel: np.ndarray, f0_hz, voiced, start_phase: float = 0.0) -> np.ndarray:
    """The generator's pitch rows (B, 4, T) for `mel` (B, n_mels, T)."""
    if f0_hz is None:
      if voiced is not None:
        raise ValueError("voiced without f0_hz")
      f0_hz, voiced = zip(*(pitch_lib.mel_f0(m, self.cfg) for m in mel))
    f0_hz = np.asarray(f0_hz, np.float64)
    if f0_hz.shape[-1] != mel.shape[-1]:
      raise ValueError(f"f0_hz has {f0_hz.shape[-1]} frames, the mel {mel.shape[-1]}")
    f0_hz = np.broadcast_to(f0_hz, mel.shape[:1] + mel.shape[2:])
    voiced = f0_hz > 0 if voiced is None else np.asarray(voiced, bool) & (f0_hz > 0)
    if not np.isfinite(f0_hz).all() or (f0_hz < 0).any():
      raise ValueError("f0_hz must be finite and not negative (0 where unvoiced)")
    return excitation.pitch_rows(f0_hz, voiced, self.cfg.hop_length, self.cfg.sample_rate,
                                 start_phase, xp=np)


def from_config_key(config: ml_collections.ConfigDict, cfg: audio.AudioConfig,
                    user: str) -> Vocoder | None:
  """The vocoder that `config.vocoder` names (a workdir; "" -> None), checked
  against `cfg`, the settings of the mels that `user` makes; raises
  ConfigError naming the key."""
  if not config.get("vocoder"):   # configs saved before the key existed have none
    return None
  try:
    vocoder = Vocoder.from_workdir(config.vocoder)
    inversion.check_matches(vocoder, cfg, user)
  except (checkpoints.CheckpointError, ConfigError) as e:
    raise ConfigError(f"config.vocoder: {e}") from None
  return vocoder
