"""The spectrograms style transfer optimizes, with their analysis and synthesis.

log(1 + |STFT|) (Ulyanov & Lebedev) or MelGAN-VC's normalised log-mel; both
turn back into audio by Griffin-Lim.
"""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from jaxvc import audio


@dataclasses.dataclass(frozen=True)
class LogStft:
  """log(1 + |STFT|), Ulyanov & Lebedev's input; Griffin-Lim inverts exp(G) - 1."""
  sample_rate: int
  n_fft: int
  hop_length: int

  @property
  def bins(self) -> int:
    return self.n_fft // 2 + 1

  @property
  def hop_seconds(self) -> float:
    return self.hop_length / self.sample_rate

  def analyse(self, wave) -> jax.Array:
    """(samples,) -> (bins, frames)."""
    spec = audio.stft(wave, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft)
    return jnp.log1p(jnp.abs(spec))

  def synthesise(self, spec, *, length: int, n_iter: int) -> jax.Array:
    # G is unconstrained; a magnitude below zero is the same as zero.
    magnitude = jnp.maximum(jnp.expm1(spec), 0.0)
    return audio.griffin_lim(
        magnitude, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
        length=length, n_iter=n_iter)


@dataclasses.dataclass(frozen=True)
class LogMel:
  """MelGAN-VC's normalised log-mel (`jaxvc.audio`), inverted by `audio.mel_to_wave`."""
  cfg: audio.AudioConfig

  @property
  def sample_rate(self) -> int:
    return self.cfg.sample_rate

  @property
  def bins(self) -> int:
    return self.cfg.n_mels

  @property
  def hop_seconds(self) -> float:
    return self.cfg.hop_length / self.cfg.sample_rate

  def analyse(self, wave) -> jax.Array:
    return audio.wave_to_mel(wave, self.cfg)

  def synthesise(self, spec, *, length: int, n_iter: int) -> jax.Array:
    return audio.mel_to_wave(spec, self.cfg, n_iter=n_iter, length=length)


def representation(config: ml_collections.ConfigDict) -> LogStft | LogMel:
  """The spectrogram `config.representation` names (a checked config)."""
  if config.representation == "mel":
    return LogMel(audio.AudioConfig.from_config(config.audio))
  return LogStft(**config.stft)
