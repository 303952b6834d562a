"""MelGAN-VC networks (Pasini 2019): generator, siamese and critic, in Flax NNX.

The original treats a mel spectrogram as a (n_mels x W x 1) image, but its
first convolution spans every mel bin, so each later layer is a 1-D
convolution over time with the features as channels. The networks are laid out
that way: (batch, frames, channels), every layer one large matrix product.

Mutable state (batch-norm statistics, spectral-norm vectors `u`) lives in
`nnx.BatchStat` variables and is written only when `train=True`; Params are
never written during a call, so the trainer can split once and merge inside a
pure step. The layers themselves are in `jaxvc.layers`.
"""
import functools

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections

from jaxvc.layers import Conv
from jaxvc.layers import Dense
from jaxvc.layers import conv_frames

# Keras defaults, as the original's BatchNormalization() and LeakyReLU(0.2).
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3
LEAKY_SLOPE = 0.2


class ConvBlock(nnx.Module):
  """Conv, optional batch norm, LeakyReLU(0.2): the original's `conv2d` block."""

  def __init__(self, in_features: int, out_features: int, width: int, *, stride: int = 1,
               padding: str = "same", upsample: bool = False, batch_norm: bool,
               spectral_norm: bool, rngs: nnx.Rngs):
    self.conv = Conv(in_features, out_features, width, stride=stride, padding=padding,
                     upsample=upsample, spectral_norm=spectral_norm, rngs=rngs)
    self.bn = nnx.BatchNorm(out_features, momentum=BN_MOMENTUM, epsilon=BN_EPSILON,
                            rngs=rngs) if batch_norm else None

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    x = self.conv(x, train=train)
    if self.bn is not None:
      x = self.bn(x, use_running_average=not train)
    return jax.nn.leaky_relu(x, LEAKY_SLOPE)


class Encoder(nnx.Module):
  """The three convolutions every MelGAN-VC network starts with.

  A convolution spanning all mel bins and 3 frames, then widths 9 and 7 at
  stride 2; returns all three feature maps (the generator's skips).
  """

  def __init__(self, n_mels: int, channels: int, *, first_padding: str, batch_norm: bool,
               spectral_norm: bool, rngs: nnx.Rngs):
    block = functools.partial(ConvBlock, batch_norm=batch_norm,
                              spectral_norm=spectral_norm, rngs=rngs)
    self.first_padding = first_padding
    self.conv1 = block(n_mels, channels, 3, padding=first_padding)
    self.conv2 = block(channels, channels, 9, stride=2)
    self.conv3 = block(channels, channels, 7, stride=2)

  def __call__(self, x: jax.Array, *, train: bool) -> list[jax.Array]:
    h1 = self.conv1(x, train=train)
    h2 = self.conv2(h1, train=train)
    return [h1, h2, self.conv3(h2, train=train)]

  def frames(self, frames: int) -> int:
    """Length of the last feature map for `frames` input frames."""
    frames = conv_frames(frames, 3, 1, self.first_padding)
    return conv_frames(conv_frames(frames, 9, 2, "same"), 7, 2, "same")


def _time_major(x: jax.Array) -> jax.Array:
  """(B, n_mels, frames) -> (B, frames, n_mels): mel bins become channels."""
  return jnp.swapaxes(x, 1, 2)


class Generator(nnx.Module):
  """U-Net generator: (B, n_mels, W) -> (B, n_mels, W) in [-1, 1], W a multiple of 4."""

  def __init__(self, n_mels: int = 192, channels: int = 256, *, rngs: nnx.Rngs):
    # Zero-padding one frame each side before the valid (n_mels x 3) conv is
    # 'same' padding; spectral norm everywhere, batch norm in the encoder.
    self.encoder = Encoder(n_mels, channels, first_padding="same", batch_norm=True,
                           spectral_norm=True, rngs=rngs)
    self.up1 = ConvBlock(channels, channels, 7, upsample=True, batch_norm=True,
                         spectral_norm=True, rngs=rngs)
    self.up2 = ConvBlock(2 * channels, channels, 9, upsample=True, batch_norm=False,
                         spectral_norm=True, rngs=rngs)
    # The original's Conv2DTranspose(1, (n_mels, 1)) is a per-frame projection
    # to n_mels with one scalar bias; Keras takes its fan-in as n_mels.
    self.out = Dense(2 * channels, n_mels,
                     kernel_init=jax.nn.initializers.he_uniform(in_axis=-1, out_axis=-2),
                     use_bias=False, spectral_norm=True, rngs=rngs)
    self.out_bias = nnx.Param(jnp.zeros((1,)))

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    if x.shape[-1] % 4:
      raise ValueError(f"generator width {x.shape[-1]} is not a multiple of 4")
    h1, h2, h3 = self.encoder(_time_major(x), train=train)
    u = jnp.concatenate([self.up1(h3, train=train), h2], axis=-1)
    u = jnp.concatenate([self.up2(u, train=train), h1], axis=-1)
    y = jnp.tanh(self.out(u, train=train) + self.out_bias[...])
    return _time_major(y)


class Siamese(nnx.Module):
  """Embeds a chunk (B, n_mels, chunk_frames) as a (B, dim) vector; no spectral norm."""

  def __init__(self, n_mels: int = 192, channels: int = 256, dim: int = 128,
               chunk_frames: int = 24, *, rngs: nnx.Rngs):
    self.encoder = Encoder(n_mels, channels, first_padding="valid", batch_norm=True,
                           spectral_norm=False, rngs=rngs)
    # Keras Dense defaults: Glorot-uniform kernel, zero bias.
    self.dense = Dense(self.encoder.frames(chunk_frames) * channels, dim,
                       kernel_init=jax.nn.initializers.glorot_uniform(), use_bias=True,
                       spectral_norm=False, rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    h = self.encoder(_time_major(x), train=train)[-1]
    return self.dense(h.reshape(h.shape[0], -1), train=train)


class Critic(nnx.Module):
  """Scores a crop (B, n_mels, crop_frames) as (B,); spectral norm, no batch norm."""

  def __init__(self, n_mels: int = 192, channels: int = 512, crop_frames: int = 72, *,
               rngs: nnx.Rngs):
    self.encoder = Encoder(n_mels, channels, first_padding="valid", batch_norm=False,
                           spectral_norm=True, rngs=rngs)
    self.dense = Dense(self.encoder.frames(crop_frames) * channels, 1,
                       kernel_init=jax.nn.initializers.he_uniform(), use_bias=True,
                       spectral_norm=True, rngs=rngs)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    h = self.encoder(_time_major(x), train=train)[-1]
    return self.dense(h.reshape(h.shape[0], -1), train=train)[:, 0]


def create_models(config: ml_collections.ConfigDict,
                  rngs: nnx.Rngs) -> tuple[Generator, Siamese, Critic]:
  """The three networks for a full jaxvc config."""
  n_mels, chunk = config.audio.n_mels, config.data.chunk_frames
  return (
      Generator(n_mels, config.model.generator_channels, rngs=rngs),
      Siamese(n_mels, config.model.siamese_channels, config.model.siamese_dim, chunk,
              rngs=rngs),
      Critic(n_mels, config.model.critic_channels, chunk * config.data.chunks_per_crop,
             rngs=rngs),
  )
