"""The vocoder's discriminators: multi-period (HiFi-GAN) and multi-resolution (UnivNet).

Each returns, per sub-discriminator, its scores and the feature maps that
feature matching compares. Convolutions are weight-normalised, LeakyReLU 0.1,
as in both papers.

- Multi-period (Kong et al. 2020): the waveform folded into (T / p, p) for
  each period p, 2-D convs of (5, 1) that stride 3 along time: each column is
  a 1-D signal of every p-th sample, so they run here as 1-D convs over the
  columns, batched.
- Multi-resolution (Jang et al. 2021, the version Vocos first shipped): the
  STFT magnitude at several resolutions, 2-D convs over (time, frequency)
  that stride 2 along frequency.
"""
from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp

from jaxvc import audio
from jaxvc import layers

LEAKY_SLOPE = 0.1


class WeightNormConv(nnx.Module):
  """A channels-last convolution with weight normalisation (Salimans & Kingma 2016):
  kernel = g * v / ||v||, the norm over all but the output axis."""

  def __init__(self, window: Sequence[int], in_features: int, out_features: int, *,
               strides: Sequence[int], padding: Sequence[tuple[int, int]], rngs: nnx.Rngs):
    v = jax.nn.initializers.he_uniform()(rngs.params(), (*window, in_features, out_features))
    self.v = nnx.Param(v)
    self.g = nnx.Param(jnp.sqrt(jnp.sum(v * v, axis=tuple(range(v.ndim - 1)))))
    self.bias = nnx.Param(jnp.zeros((out_features,)))
    self.strides = tuple(strides)
    self.padding = tuple(tuple(p) for p in padding)

  def __call__(self, x: jax.Array) -> jax.Array:
    v = self.v[...]
    norm = jnp.sqrt(jnp.sum(v * v, axis=tuple(range(v.ndim - 1))))
    kernel = v * (self.g[...] / norm)
    return layers.conv(x, kernel, self.strides, self.padding) + self.bias[...]


def _judge(convs, post, x: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
  """LeakyReLU convs then the scoring conv; returns the scores and every layer's
  output, the feature maps that feature matching compares."""
  features = []
  for conv in convs:
    x = jax.nn.leaky_relu(conv(x), LEAKY_SLOPE)
    features.append(x)
  x = post(x)
  return x, [*features, x]


class PeriodDiscriminator(nnx.Module):
  """HiFi-GAN's DiscriminatorP for one period."""

  def __init__(self, period: int, channels: Sequence[int], *, rngs: nnx.Rngs):
    self.period = period
    widths = (1, *channels)
    self.convs = nnx.List([
        WeightNormConv((5,), c_in, c_out, strides=(3,), padding=((2, 2),), rngs=rngs)
        for c_in, c_out in zip(widths[:-1], widths[1:])])
    self.convs.append(WeightNormConv((5,), channels[-1], channels[-1], strides=(1,),
                                     padding=((2, 2),), rngs=rngs))
    self.post = WeightNormConv((3,), channels[-1], 1, strides=(1,), padding=((1, 1),), rngs=rngs)

  def __call__(self, wave: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    batch, samples = wave.shape
    p = self.period
    wave = jnp.pad(wave, ((0, 0), (0, -samples % p)), mode="reflect")
    # (B, T / p, p) -> p columns, each a 1-D signal: (B * p, T / p, 1).
    x = jnp.swapaxes(wave.reshape(batch, -1, p), 1, 2).reshape(batch * p, -1, 1)
    scores, features = _judge(self.convs, self.post, x)
    return scores.reshape(batch, -1), features


class ResolutionDiscriminator(nnx.Module):
  """UnivNet's spectrogram discriminator for one (n_fft, hop)."""

  def __init__(self, n_fft: int, hop: int, channels: int, *, rngs: nnx.Rngs):
    self.n_fft, self.hop = n_fft, hop
    conv = lambda c_in, window, strides: WeightNormConv(
        window, c_in, channels, strides=strides,
        padding=tuple((w // 2, w // 2) for w in window), rngs=rngs)
    self.convs = nnx.List([conv(1, (3, 9), (1, 1)), conv(channels, (3, 9), (1, 2)),
                           conv(channels, (3, 9), (1, 2)), conv(channels, (3, 9), (1, 2)),
                           conv(channels, (3, 3), (1, 1))])
    self.post = WeightNormConv((3, 3), channels, 1, strides=(1, 1), padding=((1, 1), (1, 1)),
                               rngs=rngs)

  def __call__(self, wave: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
    spec = audio.stft(wave, n_fft=self.n_fft, hop_length=self.hop, win_length=self.n_fft)
    x = jnp.swapaxes(jnp.abs(spec), 1, 2)[..., None]   # (B, frames, bins, 1)
    scores, features = _judge(self.convs, self.post, x)
    return scores.reshape(scores.shape[0], -1), features


class Discriminators(nnx.Module):
  """Both families; `__call__` returns (period outputs, resolution outputs), each a
  list of (scores, features) per sub-discriminator."""

  def __init__(self, config, *, rngs: nnx.Rngs):
    d = config.discriminator
    self.periods = nnx.List([PeriodDiscriminator(p, d.period_channels, rngs=rngs)
                             for p in d.periods])
    self.resolutions = nnx.List([
        ResolutionDiscriminator(n_fft, hop, d.resolution_channels, rngs=rngs)
        for n_fft, hop in d.resolutions])

  def __call__(self, wave: jax.Array):
    return [d(wave) for d in self.periods], [d(wave) for d in self.resolutions]
