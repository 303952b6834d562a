"""Spectrogram neural style transfer (Ulyanov & Lebedev 2016, after Gatys et al.).

A fixed CNN maps a spectrogram to feature maps. The generated spectrogram G
minimises

  alpha * sum (F(G) - F(C))^2 + beta * sum_l w_l sum (Gram_l(G) - Gram_l(S))^2

over the content C's deep features and the style S's shallow-layer Grams, by
L-BFGS (or Adam); Griffin-Lim turns G back into audio. The extractor is split
once; the optimisation is one jitted pure function of the spectrograms, vmapped
over pairs padded to equal length, with masks keeping padding out of every
loss and Gram so a padded pair gives the unpadded result. Inside it, each
pair's L-BFGS linesearch runs in turn (see `_lbfgs`).
"""
import dataclasses
import functools
from collections.abc import Sequence
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxvc import audio
from jaxvc import checkpoints
from jaxvc import models
from jaxvc.config import ConfigError
from jaxvc.config import require

REPRESENTATIONS = ("log_stft", "mel")
TRAINED = ("critic", "siamese")
FEATURES = ("conv1d", "cnn2d", *TRAINED)
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content")


# ----------------------------------------------------------------------------
# Representations: audio <-> the spectrogram that is optimised.


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
  """The spectrogram `config.representation` names."""
  require(config.representation in REPRESENTATIONS, "representation",
           f"{config.representation!r} is not one of {REPRESENTATIONS}")
  if config.representation == "mel":
    return LogMel(audio.AudioConfig.from_config(config.audio))
  for key in ("sample_rate", "n_fft", "hop_length"):
    require(config.stft[key] > 0, f"stft.{key}", f"{config.stft[key]} must be positive")
  require(config.stft.hop_length <= config.stft.n_fft, "stft.hop_length",
           f"{config.stft.hop_length} exceeds n_fft={config.stft.n_fft}")
  return LogStft(**config.stft)


# ----------------------------------------------------------------------------
# Feature extractors: (spectrogram (bins, frames), frame mask) -> Layers.


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
    layers = []
    for i, conv in enumerate(self.convs):
      # Zeroing padded frames after each pooling and conv makes the next layer
      # see the zeros (or nothing) an unpadded clip would.
      if i:
        mask = mask[1::2]  # a pooled frame is real when both of its frames are
        x = nnx.avg_pool(x, (2, 2), strides=(2, 2)) * mask[:, None, None]
      x = jax.nn.relu(conv(x)) * mask[:, None, None]
      layers.append(Features(x.reshape(-1, x.shape[-1]), x.shape[1] * jnp.sum(mask)))
    return Layers(content=layers[self.content_layer],
                  style=tuple(layers[i] for i in self.style_layers))


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
    layers = []
    for block in (self.encoder.conv1, self.encoder.conv2, self.encoder.conv3):
      width, stride = block.conv.kernel.shape[0], block.conv.stride
      if block.conv.padding == "valid":
        mask = mask[width - 1::stride]
      else:
        extra = -x.shape[1] % stride
        x = jnp.pad(x, ((0, 0), (0, extra), (0, 0)))
        mask = jnp.pad(mask, (0, extra))[::stride]
      x = block(x, train=False) * mask[:, None]
      layers.append(Features(x[0], jnp.sum(mask)))
    return Layers(content=layers[self.content_layer],
                  style=tuple(layers[i] for i in self.style_layers))


def load_network(workdir: str, name: str) -> tuple[ml_collections.ConfigDict, nnx.Module]:
  """The trained config and network `name` ("critic" or "siamese") of a workdir.

  The latest checkpoint, or WORKDIR/checkpoints/STEP; raises
  checkpoints.CheckpointError.
  """
  config, graphdefs, state = checkpoints.load_trained(workdir)
  return config, nnx.merge(graphdefs[name], state.params[name], state.stats[name])


def _check_layers(group: str, n_layers: int, cfg: ml_collections.ConfigDict) -> None:
  in_range = lambda i: -n_layers <= i < n_layers
  require(in_range(cfg.content_layer), f"{group}.content_layer",
           f"{cfg.content_layer} is not a layer of {n_layers}")
  require(len(cfg.style_layers) > 0 and all(map(in_range, cfg.style_layers)),
           f"{group}.style_layers", f"{cfg.style_layers} must be layers of {n_layers}")
  require(len(cfg.style_weights) == len(cfg.style_layers), f"{group}.style_weights",
           f"{len(cfg.style_weights)} weights for {len(cfg.style_layers)} style layers")
  require(all(w >= 0 for w in cfg.style_weights), f"{group}.style_weights",
           f"{cfg.style_weights} must be non-negative")


def random_extractor(config: ml_collections.ConfigDict, bins: int) -> WideConv1d | RandomCnn2d:
  """The random-weight extractor `config.features` names, for `bins` rows."""
  rngs = nnx.Rngs(config.seed)
  if config.features == "conv1d":
    c = config.conv1d
    require(c.filters > 0, "conv1d.filters", f"{c.filters} must be positive")
    require(c.width > 0, "conv1d.width", f"{c.width} must be positive")
    return WideConv1d(bins, filters=c.filters, width=c.width, rngs=rngs)
  c = config.cnn2d
  require(len(c.channels) > 0 and min(c.channels) > 0, "cnn2d.channels",
           f"{c.channels} must be positive channel counts")
  require(c.kernel_size > 0, "cnn2d.kernel_size", f"{c.kernel_size} must be positive")
  _check_layers("cnn2d", len(c.channels), c)
  require(bins >= 2 ** (len(c.channels) - 1), "cnn2d.channels",
           f"{len(c.channels)} blocks pool {bins} frequency rows to nothing")
  return RandomCnn2d(channels=c.channels, kernel_size=c.kernel_size,
                     content_layer=c.content_layer, style_layers=c.style_layers,
                     style_weights=c.style_weights, rngs=rngs)


def trained_extractor(config: ml_collections.ConfigDict) -> tuple[LogMel, EncoderFeatures]:
  """The workdir's critic or siamese encoder, and the mels it was trained on."""
  c = config.trained
  require(config.representation == "mel", "representation",
           f"trained {config.features} features need 'mel', not {config.representation!r}")
  require(bool(c.workdir), "trained.workdir", "must name a jaxvc training workdir")
  _check_layers("trained", 3, c)
  try:
    model_config, network = load_network(c.workdir, config.features)
  except checkpoints.CheckpointError as e:
    raise ConfigError(f"config.trained.workdir: {e}") from None
  features = EncoderFeatures(network, content_layer=c.content_layer,
                             style_layers=c.style_layers, style_weights=c.style_weights)
  return LogMel(audio.AudioConfig.from_config(model_config.audio)), features


def build(config: ml_collections.ConfigDict):
  """(representation, extractor) as `config` says; ConfigError names a bad setting."""
  require(config.features in FEATURES, "features",
           f"{config.features!r} is not one of {FEATURES}")
  if config.features in TRAINED:
    return trained_extractor(config)
  spectrogram = representation(config)
  return spectrogram, random_extractor(config, spectrogram.bins)


# ----------------------------------------------------------------------------
# Losses.


@jax.jit
def gram(features: Features) -> jax.Array:
  """(channels, channels) co-activations averaged over the real positions.

  Averaging (not summing) makes Grams of clips of different lengths comparable.
  """
  return features.values.T @ features.values / features.count


@jax.jit
def content_loss(generated: Features, target: Features) -> jax.Array:
  """Sum of squared activation differences (padding is zero in both)."""
  return jnp.sum((generated.values - target.values) ** 2)


@jax.jit
def layer_style_loss(generated_gram: jax.Array, target_gram: jax.Array) -> jax.Array:
  """Sum of squared Gram differences of one layer."""
  return jnp.sum((generated_gram - target_gram) ** 2)


@jax.jit
def style_loss(generated_grams: Sequence[jax.Array], target_grams: Sequence[jax.Array],
               weights: Sequence[float]) -> jax.Array:
  """Weighted sum over the style layers."""
  return sum(w * layer_style_loss(g, t)
             for g, t, w in zip(generated_grams, target_grams, weights, strict=True))


class Targets(NamedTuple):
  """What G is pulled towards; computed once, before the optimisation."""
  content: Features
  style_grams: tuple[jax.Array, ...]


def compute_targets(net, content: jax.Array, content_mask: jax.Array, style: jax.Array,
            style_mask: jax.Array) -> Targets:
  """The content's content features and the style's Grams."""
  style_grams = tuple(gram(f) for f in net(style, style_mask).style)
  return Targets(net(content, content_mask).content, style_grams)


@jax.jit
def total_loss(layers: Layers, targets: Targets, style_weights: Sequence[float],
               content_weight: float, style_weight: float) -> jax.Array:
  """alpha * content + beta * style."""
  grams = tuple(gram(f) for f in layers.style)
  return (content_weight * content_loss(layers.content, targets.content)
          + style_weight * style_loss(grams, targets.style_grams, style_weights))


def objective(net, targets: Targets, mask: jax.Array, content_weight: float,
              style_weight: float):
  """G -> total loss, the function minimised; padded frames of G are ignored."""
  def loss_fn(spec):
    layers = net(spec * mask, mask)
    return total_loss(layers, targets, net.style_weights, content_weight, style_weight)
  return loss_fn


# ----------------------------------------------------------------------------
# Optimisation.


def _lbfgs(objective_of, data, init: jax.Array, num_steps: int):
  """L-BFGS with optax's zoom linesearch on the loss `objective_of(*data)`."""
  solver = optax.lbfgs()

  # vmap would turn the linesearch's conds into selects that evaluate the loss
  # on both branches, each linesearch waiting for the pair that needs most
  # steps; so a batch runs each pair's update in turn (its loss is large
  # matmuls either way). Traced values must be arguments, not closed over.
  @jax.custom_batching.sequential_vmap
  def update(spec, state, data):
    loss_fn = objective_of(*data)
    value, grad = optax.value_and_grad_from_state(loss_fn)(spec, state=state)
    updates, state = solver.update(grad, state, spec, value=value, grad=grad, value_fn=loss_fn)
    return optax.apply_updates(spec, updates), state, value

  def step(carry, _):
    spec, state, value = update(*carry, data)
    return (spec, state), value

  (spec, state), values = jax.lax.scan(step, (init, solver.init(init)), length=num_steps)
  # The linesearch leaves the value at its accepted point: the last iterate's.
  return spec, jnp.concatenate([values, optax.tree.get(state, "value")[None]])


def _adam(loss_fn, init: jax.Array, num_steps: int, learning_rate: float):
  solver = optax.adam(learning_rate)

  def step(carry, _):
    spec, state = carry
    value, grad = jax.value_and_grad(loss_fn)(spec)
    updates, state = solver.update(grad, state, spec)
    return (optax.apply_updates(spec, updates), state), value

  (spec, _), values = jax.lax.scan(step, (init, solver.init(init)), length=num_steps)
  return spec, jnp.concatenate([values, loss_fn(spec)[None]])


@dataclasses.dataclass(frozen=True)
class Settings:
  """The static part of the optimisation program (hashable, for jit)."""
  content_weight: float
  style_weight: float
  optimizer: str
  num_steps: int
  learning_rate: float

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Settings":
    for key in ("content_weight", "style_weight"):
      require(config[key] >= 0, key, f"{config[key]} must be non-negative")
    require(config.optimizer in OPTIMIZERS, "optimizer",
             f"{config.optimizer!r} is not one of {OPTIMIZERS}")
    require(config.num_steps > 0, "num_steps", f"{config.num_steps} must be positive")
    require(config.learning_rate > 0, "learning_rate",
             f"{config.learning_rate} must be positive")
    return cls(float(config.content_weight), float(config.style_weight), config.optimizer,
               int(config.num_steps), float(config.learning_rate))


@functools.partial(jax.jit, static_argnames=("graphdef", "settings"))
def stylize_spectrogram(graphdef: nnx.GraphDef, weights: nnx.State, content: jax.Array,
                        content_mask: jax.Array, style: jax.Array, style_mask: jax.Array,
                        init: jax.Array, *, settings: Settings):
  """One pair: (G, losses at iterates 0..num_steps).

  Spectrograms are (bins, frames) with (frames,) masks, 1 on real frames;
  G has the content's shape and starts at `init`.
  """
  def objective_of(weights, targets, mask):
    return objective(nnx.merge(graphdef, weights), targets, mask, settings.content_weight,
                     settings.style_weight)

  net = nnx.merge(graphdef, weights)
  data = (weights, compute_targets(net, content, content_mask, style, style_mask), content_mask)
  if settings.optimizer == "lbfgs":
    return _lbfgs(objective_of, data, init, settings.num_steps)
  return _adam(objective_of(*data), init, settings.num_steps, settings.learning_rate)


@functools.partial(jax.jit, static_argnames=("graphdef", "settings"))
def stylize_spectrograms(graphdef: nnx.GraphDef, weights: nnx.State, contents: jax.Array,
                         content_masks: jax.Array, styles: jax.Array, style_masks: jax.Array,
                         inits: jax.Array, *, settings: Settings):
  """`stylize_spectrogram` vmapped over a leading pair axis; weights shared."""
  one = functools.partial(stylize_spectrogram, graphdef, weights, settings=settings)
  return jax.vmap(one)(contents, content_masks, styles, style_masks, inits)


# ----------------------------------------------------------------------------
# Audio in, audio out.


def pad_frames(specs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  """(bins, frames_i) spectrograms -> zero-padded (n, bins, frames) and (n, frames) masks."""
  frames = max(s.shape[-1] for s in specs)
  batch = np.zeros((len(specs), specs[0].shape[0], frames), np.float32)
  masks = np.zeros((len(specs), frames), np.float32)
  for i, s in enumerate(specs):
    batch[i, :, :s.shape[-1]] = s
    masks[i, :s.shape[-1]] = 1.0
  return batch, masks


@dataclasses.dataclass(frozen=True)
class Result:
  """One stylised pair: the audio, the spectrograms and the loss per iteration."""
  wave: np.ndarray
  spectrogram: np.ndarray          # G, (bins, content frames)
  content_spectrogram: np.ndarray
  style_spectrogram: np.ndarray
  losses: np.ndarray               # total loss at iterates 0..num_steps


class StyleTransfer:
  """A configured style transfer: representation, extractor split once, settings."""

  def __init__(self, config: ml_collections.ConfigDict):
    self.settings = Settings.from_config(config)
    require(config.init in INITS, "init", f"{config.init!r} is not one of {INITS}")
    require(config.init_scale >= 0, "init_scale", f"{config.init_scale} must be non-negative")
    require(config.griffin_lim_iters > 0, "griffin_lim_iters",
             f"{config.griffin_lim_iters} must be positive")
    self.config = config
    self.representation, net = build(config)
    self.min_frames = net.min_frames
    self._graphdef, self._weights = nnx.split(net)

  @property
  def min_seconds(self) -> float:
    """The shortest clip whose (centred) spectrogram has `min_frames` frames."""
    return (self.min_frames - 1) * self.representation.hop_seconds

  def _init(self, content: np.ndarray) -> np.ndarray:
    if self.config.init == "content":
      return content
    noise = jax.random.normal(jax.random.key(self.config.seed), content.shape, jnp.float32)
    return self.config.init_scale * np.asarray(noise)

  def __call__(self, contents: Sequence[np.ndarray], styles: Sequence[np.ndarray]) -> list[Result]:
    """Stylises each content wave with its style wave (both at the representation's rate).

    All pairs run as one vmapped program. Raises ValueError for a
    spectrogram shorter than `min_frames`.
    """
    analyse = lambda w: np.asarray(self.representation.analyse(w))
    content_specs = [analyse(w) for w in contents]
    style_specs = [analyse(w) for w in styles]
    for spec in content_specs + style_specs:
      if spec.shape[-1] < self.min_frames:
        raise ValueError(f"a clip of {spec.shape[-1]} frames is shorter than the "
                         f"{self.min_frames} the features need")
    content, content_mask = pad_frames(content_specs)
    style, style_mask = pad_frames(style_specs)
    init, _ = pad_frames([self._init(s) for s in content_specs])
    specs, losses = stylize_spectrograms(
        self._graphdef, self._weights, content, content_mask, style, style_mask, init,
        settings=self.settings)
    results = []
    for i, (c, s) in enumerate(zip(content_specs, style_specs)):
      spec = np.asarray(specs[i, :, :c.shape[-1]])
      wave = self.representation.synthesise(
          spec, length=len(contents[i]), n_iter=self.config.griffin_lim_iters)
      results.append(Result(np.asarray(wave), spec, c, s, np.asarray(losses[i])))
    return results
