"""MelGAN-VC networks (Pasini 2019): generator, siamese and critic, in Flax NNX.

The original treats a mel spectrogram as a (n_mels x W x 1) image, but its
first convolution spans every mel bin, so each later layer is a 1-D
convolution over time with the features as channels. The networks are laid out
that way: (batch, frames, channels), every layer one large matrix product.

Mutable state (batch-norm statistics, spectral-norm vectors `u`) lives in
`nnx.BatchStat` variables and is written only when `train=True`; Params are
never written during a call, so the trainer can split once and merge inside a
pure step.
"""
import functools

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxvc.losses import l2_normalize

# Keras defaults, as the original's BatchNormalization() and LeakyReLU(0.2).
BN_MOMENTUM = 0.99
BN_EPSILON = 1e-3
LEAKY_SLOPE = 0.2


def same_padding(frames: int, width: int, stride: int) -> tuple[int, int]:
  """Keras/TF 'same' padding: output ceil(frames / stride), the extra pad on the right."""
  total = max((-(-frames // stride) - 1) * stride + width - frames, 0)
  return total // 2, total - total // 2


def conv_frames(frames: int, width: int, stride: int, padding: str) -> int:
  """Output length of a 1-D convolution with Keras 'same' or 'valid' padding."""
  if padding == "same":
    return -(-frames // stride)
  return (frames - width) // stride + 1


def conv1d(x: jax.Array, kernel: jax.Array, stride: int, padding: str) -> jax.Array:
  """(B, T, C_in) * (width, C_in, C_out) -> (B, T', C_out), as one matmul (im2col).

  Not lax.conv_general_dilated: on XLA CPU the input gradient of a strided
  convolution (an lhs-dilated convolution) can fall to a naive loop, 30-100x
  slower at this model's shapes; im2col costs matmuls and copies only.
  """
  width = kernel.shape[0]
  frames = conv_frames(x.shape[1], width, stride, padding)
  if padding == "same":
    x = jnp.pad(x, ((0, 0), same_padding(x.shape[1], width, stride), (0, 0)))
  taps = [x[:, j:j + stride * (frames - 1) + 1:stride] for j in range(width)]
  return jnp.concatenate(taps, axis=-1) @ kernel.reshape(-1, kernel.shape[-1])


def _upsample_fold(width: int) -> tuple[np.ndarray, int, int]:
  """Where the taps of a 'same' conv on a 2x nearest-upsampled input read the input.

  Output frame 2t + p, tap j reads upsampled frame 2t + p + j - (width - 1) // 2,
  which is input frame t + offsets[p, j]. Returns fold[p, offset + left, j] = 1
  and the input padding (left, right) the offsets reach.
  """
  offsets = np.array([[(p + j - (width - 1) // 2) // 2 for j in range(width)]
                      for p in range(2)])
  left, right = -offsets.min(), offsets.max()
  fold = np.zeros((2, left + right + 1, width), np.float32)
  for p in range(2):
    fold[p, offsets[p] + left, np.arange(width)] = 1
  return fold, left, right


def upsample_conv1d(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """conv1d(repeat(x, 2, time), kernel, 1, "same") at about half the cost.

  Upsampled frames come in equal pairs, so for each output phase (even, odd
  frame) neighbouring taps read the same input frame and fold into one: both
  phases run as one conv on x with 2 * C_out channels and about width / 2 taps.
  """
  fold, left, right = _upsample_fold(kernel.shape[0])
  folded = jnp.einsum("pdj,jio->dipo", fold, kernel)
  y = conv1d(jnp.pad(x, ((0, 0), (left, right), (0, 0))),
             folded.reshape(folded.shape[0], kernel.shape[1], -1), 1, "valid")
  return y.reshape(y.shape[0], -1, kernel.shape[-1])


def spectral_normalize(kernel_matrix: jax.Array, u: jax.Array, n_steps: int = 1,
                       eps: float = 1e-12) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Divides a (fan_in, out_features) kernel by its largest singular value.

  Power iteration from the persistent right singular vector estimate `u`
  (out_features,), as Miyato et al. 2018 and the Keras SN layers of the
  original; u and v are constants for the gradient. Returns
  (kernel / sigma, new u, sigma).
  """
  u = jax.lax.stop_gradient(u)
  w = jax.lax.stop_gradient(kernel_matrix)
  for _ in range(n_steps):
    v = l2_normalize(w @ u, eps=eps)
    u = l2_normalize(v @ w, eps=eps)
  sigma = v @ kernel_matrix @ u
  return kernel_matrix / sigma, u, sigma


class SpectralNorm(nnx.Module):
  """The persistent power-iteration vector of one spectrally normalised kernel.

  Layers divide their output by sigma rather than the kernel: the same function,
  as the layer is linear in its kernel, without kernel-sized elementwise passes
  in every call and its gradient.
  """

  def __init__(self, out_features: int, *, rngs: nnx.Rngs):
    self.u = nnx.BatchStat(jax.random.normal(rngs.params(), (out_features,)))

  def __call__(self, kernel: jax.Array, *, train: bool) -> jax.Array:
    """The kernel's spectral norm; one power iteration, whose u is kept only in training."""
    _, u, sigma = spectral_normalize(kernel.reshape(-1, kernel.shape[-1]), self.u[...])
    if train:
      self.u[...] = u
    return sigma


class Conv(nnx.Module):
  """Bias-free 1-D convolution over time, optionally spectrally normalised.

  `upsample`: nearest 2x upsampling in time first (the generator's decoder).
  """

  def __init__(self, in_features: int, out_features: int, width: int, *, stride: int = 1,
               padding: str = "same", upsample: bool = False, spectral_norm: bool,
               rngs: nnx.Rngs):
    # He-uniform with fan-in width * in_features: the original 2-D kernel's fan-in.
    self.kernel = nnx.Param(jax.nn.initializers.he_uniform()(
        rngs.params(), (width, in_features, out_features)))
    self.sn = SpectralNorm(out_features, rngs=rngs) if spectral_norm else None
    self.stride = stride
    self.padding = padding
    self.upsample = upsample

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    kernel = self.kernel[...]
    if self.upsample:
      y = upsample_conv1d(x, kernel)
    else:
      y = conv1d(x, kernel, self.stride, self.padding)
    return y if self.sn is None else y / self.sn(kernel, train=train)


class Dense(nnx.Module):
  """A dense layer, optionally spectrally normalised."""

  def __init__(self, in_features: int, out_features: int, *, kernel_init: nnx.Initializer,
               use_bias: bool, spectral_norm: bool, rngs: nnx.Rngs):
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features)))
    self.bias = nnx.Param(jnp.zeros((out_features,))) if use_bias else None
    self.sn = SpectralNorm(out_features, rngs=rngs) if spectral_norm else None

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    y = x @ self.kernel[...]
    if self.sn is not None:
      y = y / self.sn(self.kernel[...], train=train)
    return y if self.bias is None else y + self.bias[...]


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
