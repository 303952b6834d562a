"""Feature extractors: (spectrogram (bins, frames), frame mask) -> Layers.

Random-weight CNNs (Ulyanov & Lebedev's wide 1-D conv, a Gatys-style 2-D
CNN) or the conv stack of a trained MelGAN-VC critic or siamese. Each zeroes
its padded positions, so that a padded clip's features are the unpadded one's.
"""
from collections.abc import Sequence
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import layers
from jaxvc import workdirs
from jaxvc.errors import ConfigError
from jaxvc.melganvc import models
from jaxvc.melganvc import step
from jaxvc.nst import config as nst_config
from jaxvc.nst import spectrograms


class Features(NamedTuple):
  """One layer's activations as (positions, channels), zero at padded positions."""
  values: jax.Array
  count: jax.Array  # real positions: the Gram's normaliser


class Layers(NamedTuple):
  """What the losses read from an extractor."""
  content: Features
  style: tuple[Features, ...]


class WideConv1d(nnx.Module):
  """Ulyanov & Lebedev's extractor: one wide random 1-D conv over time.

  The frequency bins are the input channels; `filters` ReLU units of `width`
  frames, Glorot-normal weights times sqrt(2), no padding. The single layer
  gives both the content and the style features.
  """

  def __init__(self, bins: int, *, filters: int, width: int, rngs: nnx.Rngs):
    init = jax.nn.initializers.variance_scaling(2.0, "fan_avg", "normal")
    self.kernel = nnx.Param(init(rngs.params(), (width, bins, filters)))
    self.min_frames = width
    self.style_weights = (1.0,)

  def __call__(self, spec: jax.Array, mask: jax.Array) -> Layers:
    width, bins, filters = self.kernel.shape
    frames = spec.shape[-1] - width + 1
    # im2col, so the conv is one (frames, width * bins) x (width * bins,
    # filters) matmul and its input gradient another: XLA's fastest form here.
    rows = spec.T
    patches = jnp.concatenate([rows[k:k + frames] for k in range(width)], axis=1)
    mask = mask[width - 1:]  # an output is real when its whole window is
    values = jax.nn.relu(patches @ self.kernel[...].reshape(width * bins, filters))
    features = Features(values * mask[:, None], jnp.sum(mask))
    return Layers(content=features, style=(features,))


class RandomCnn2d(nnx.Module):
  """A random CNN over the spectrogram as an image (Gatys et al.'s set-up).

  Blocks of 'same' conv + ReLU with 2x2 average pooling between them, He-normal
  weights. Content from one (deep) block, style from several (shallow) ones.
  """

  def __init__(self, *, channels: Sequence[int], kernel_size: int, content_layer: int,
               style_layers: Sequence[int], style_weights: Sequence[float], rngs: nnx.Rngs):
    init = jax.nn.initializers.he_normal()
    self.convs = nnx.List([
        nnx.Conv(c_in, c_out, (kernel_size, kernel_size), kernel_init=init, rngs=rngs)
        for c_in, c_out in zip((1, *channels), channels)])
    self.content_layer = content_layer
    self.style_layers = tuple(style_layers)
    self.style_weights = tuple(style_weights)
    self.min_frames = 2 ** (len(channels) - 1)

  def __call__(self, spec: jax.Array, mask: jax.Array) -> Layers:
    # (frames, bins, 1): an image with one channel, frames first so that the
    # real positions lead the flattened features.
    x = spec.T[..., None]
    per_layer = []
    for i, conv in enumerate(self.convs):
      # Zeroing padded frames after each pooling and conv makes the next layer
      # see the zeros (or nothing) an unpadded clip would.
      if i:
        mask = mask[1::2]  # a pooled frame is real when both of its frames are
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2)) * mask[:, None, None]
      x = jax.nn.relu(conv(x)) * mask[:, None, None]
      per_layer.append(Features(x.reshape(-1, x.shape[-1]), x.shape[1] * jnp.sum(mask)))
    return Layers(content=per_layer[self.content_layer],
                  style=tuple(per_layer[i] for i in self.style_layers))


class EncoderFeatures(nnx.Module):
  """The conv stack of a MelGAN-VC critic or siamese (`models.Encoder`) as extractor.

  Its three blocks are called in sequence so that padded frames can be zeroed
  between them, and each strided 'same' block gets a whole number of strides
  (a zero frame appended where needed): its left padding is then the same for
  every length, and a padded clip's real positions see what the unpadded
  clip's do.
  """

  def __init__(self, network: models.Critic | models.Siamese, *, content_layer: int,
               style_layers: Sequence[int], style_weights: Sequence[float]):
    self.encoder = network.encoder
    self.content_layer = content_layer
    self.style_layers = tuple(style_layers)
    self.style_weights = tuple(style_weights)
    self.min_frames = 3  # the first block's valid width

  def __call__(self, spec: jax.Array, mask: jax.Array) -> Layers:
    x = spec.T[None]  # (1, frames, n_mels): mel bins are the first block's channels
    per_layer = []
    for block in (self.encoder.conv1, self.encoder.conv2, self.encoder.conv3):
      width, stride = block.conv.kernel.shape[0], block.conv.stride
      if block.conv.padding == "valid":
        mask = mask[width - 1::stride]
      else:
        extra = -x.shape[1] % stride
        x = jnp.pad(x, ((0, 0), (0, extra), (0, 0)))
        mask = jnp.pad(mask, (0, extra))[::stride]
      x = block(x, train=False) * mask[:, None]
      per_layer.append(Features(x[0], jnp.sum(mask)))
    return Layers(content=per_layer[self.content_layer],
                  style=tuple(per_layer[i] for i in self.style_layers))


def load_network(workdir: str, name: str) -> tuple[ml_collections.ConfigDict, nnx.Module]:
  """The trained config and network `name` ("critic" or "siamese") of a workdir.

  The latest checkpoint, or WORKDIR/checkpoints/STEP; raises
  checkpoints.CheckpointError.
  """
  config, state = workdirs.load_state(workdir, method="melganvc")
  graphdef = step.graph_definitions(config)[name]
  return config, nnx.merge(graphdef, state.params[name], state.stats[name])


def random_extractor(config: ml_collections.ConfigDict, bins: int) -> WideConv1d | RandomCnn2d:
  """The random-weight extractor `config.features` names, for `bins` rows."""
  if config.features == "conv1d":
    c = config.conv1d
    return layers.created(lambda: WideConv1d(bins, filters=c.filters, width=c.width,
                                             rngs=nnx.Rngs(config.seed)))
  c = config.cnn2d
  return layers.created(lambda: RandomCnn2d(
      channels=c.channels, kernel_size=c.kernel_size, content_layer=c.content_layer,
      style_layers=c.style_layers, style_weights=c.style_weights, rngs=nnx.Rngs(config.seed)))


def trained_extractor(config: ml_collections.ConfigDict) -> tuple[spectrograms.LogMel, EncoderFeatures]:
  """The workdir's critic or siamese encoder, and the mels it was trained on."""
  c = config.trained
  try:
    model_config, network = load_network(c.workdir, config.features)
  except checkpoints.CheckpointError as e:
    raise ConfigError(f"config.trained.workdir: {e}") from None
  features = EncoderFeatures(network, content_layer=c.content_layer,
                             style_layers=c.style_layers, style_weights=c.style_weights)
  return spectrograms.LogMel(audio.AudioConfig.from_config(model_config.audio)), features


def build(config: ml_collections.ConfigDict):
  """(representation, extractor) as a checked `config` says."""
  if config.features in nst_config.TRAINED:
    return trained_extractor(config)
  spectrogram = spectrograms.representation(config)
  return spectrogram, random_extractor(config, spectrogram.bins)
