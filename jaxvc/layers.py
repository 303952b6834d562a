"""Neural-network layers the methods share, for Flax NNX used functionally.

1-D convolutions over time on (batch, frames, channels), written as matrix
products, and spectral normalisation with its power-iteration vector kept as
an `nnx.BatchStat`, so that a step can split a network once and merge it
inside a pure function. Parameters are never written during a call; the
spectral-norm vector only when `train=True`.
"""
from collections.abc import Callable
import itertools
from typing import TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


Built = TypeVar("Built")


def created(constructor: Callable[[], Built]) -> Built:
  """`constructor()` (networks built from a seed) run as one compiled program.

  Built op by op, each initializer of a distinct shape is a small program of
  its own to compile, dozens for one network, which on a CPU takes longer
  than the initialisation; one jit compiles once and reaches JAX's persistent
  cache. The values are the same: JAX's random numbers do not depend on jit.
  """
  return nnx.jit(constructor)()


def l2_normalize(x: jax.Array, axis: int = -1, eps: float = 1e-12) -> jax.Array:
  """x / ||x|| along `axis`, as tf.nn.l2_normalize: the squared norm floored at eps."""
  return x / optax.safe_norm(x, np.sqrt(eps), axis=axis, keepdims=True)


def same_padding(frames: int, width: int, stride: int) -> tuple[int, int]:
  """Keras/TF 'same' padding: output ceil(frames / stride), the extra pad on the right."""
  total = max((-(-frames // stride) - 1) * stride + width - frames, 0)
  return total // 2, total - total // 2


def conv_frames(frames: int, width: int, stride: int, padding: str) -> int:
  """Output length of a 1-D convolution with Keras 'same' or 'valid' padding."""
  if padding == "same":
    return -(-frames // stride)
  return (frames - width) // stride + 1


def conv_im2col(x: jax.Array, kernel: jax.Array, strides: tuple[int, ...],
                padding: tuple[tuple[int, int], ...]) -> jax.Array:
  """N-d convolution as one matmul: (B, *spatial, C_in) * (*window, C_in, C_out).

  Every tap is a strided slice; the slices side by side times the flattened
  kernel are the convolution, and its gradients are matmuls and slice updates.
  On XLA CPU this beats lax.conv_general_dilated, whose input gradient of a
  strided convolution (an lhs-dilated convolution) can fall to a naive loop,
  many times slower at these models' shapes.
  """
  x = jnp.pad(x, ((0, 0), *padding, (0, 0)))
  window = kernel.shape[:-2]
  out = [(x.shape[1 + d] - window[d]) // strides[d] + 1 for d in range(len(window))]
  # lax.slice, not x[a:b:s]: with a symbolic batch (an exported model,
  # jaxvc.export) indexing lowers to a gather, which TFLite cannot convert.
  taps = [jax.lax.slice(x, (0, *offsets, 0),
                        (x.shape[0], *(o + s * (n - 1) + 1
                                       for o, s, n in zip(offsets, strides, out)), x.shape[-1]),
                        (1, *strides, 1))
          for offsets in itertools.product(*(range(w) for w in window))]
  return jnp.concatenate(taps, axis=-1) @ kernel.reshape(-1, kernel.shape[-1])


def conv_xla(x: jax.Array, kernel: jax.Array, strides: tuple[int, ...],
             padding: tuple[tuple[int, int], ...]) -> jax.Array:
  """The same convolution by lax.conv_general_dilated (cuDNN on GPUs, the MXU on TPUs)."""
  spatial = "WHD"[:kernel.ndim - 2][::-1]
  numbers = (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
  return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=numbers)


def conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, ...],
         padding: tuple[tuple[int, int], ...]) -> jax.Array:
  """Channels-last convolution, `padding` explicit (low, high) per spatial axis:
  im2col on CPU, XLA's own convolution on accelerators."""
  impl = conv_im2col if jax.default_backend() == "cpu" else conv_xla
  return impl(x, kernel, tuple(strides), tuple(padding))


def conv1d(x: jax.Array, kernel: jax.Array, stride: int, padding: str) -> jax.Array:
  """(B, T, C_in) * (width, C_in, C_out) -> (B, T', C_out), Keras 'same' or 'valid'."""
  width = kernel.shape[0]
  pad = same_padding(x.shape[1], width, stride) if padding == "same" else (0, 0)
  return conv(x, kernel, (stride,), (pad,))


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
