"""MelGAN-VC training core: the train state and one pure train step.

A step is one generator/siamese update together with a critic update on the
same batch, followed by `critic_updates - 1` critic-only updates on further
batches: three critic updates per generator update, as the original. The
models are Flax NNX modules split once into a static graph definition and
array state; everything here is a pure function of (state, batch), and the
trainer (`jaxvc.train`) owns every side effect.
"""
from collections.abc import Callable
import functools

import flax
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxvc import audio
from jaxvc import layers
from jaxvc.melganvc import augment as augment_lib
from jaxvc.melganvc import losses
from jaxvc.melganvc import models

NETWORKS = ("generator", "siamese", "critic")
EMA = "generator_ema"


@flax.struct.dataclass
class TrainState:
  """Everything a resumed run needs; the data position is `step` itself."""
  step: jax.Array
  params: dict     # network name -> nnx.State of its parameters, and "generator_ema"
                   # (the generator's moving average) where config.generator_ema is set
  stats: dict      # network name -> batch-norm statistics and spectral-norm vectors
  gs_opt: optax.OptState   # one Adam over generator and siamese, as the original
  critic_opt: optax.OptState


def optimizers(config: ml_collections.ConfigDict):
  """(generator+siamese, critic) optimizers."""
  adam = functools.partial(optax.adam, b1=config.optim.b1, b2=config.optim.b2)
  rate = config.optim.learning_rate
  return adam(rate), adam(rate * config.optim.critic_lr_multiplier)


def _split(config: ml_collections.ConfigDict):
  nets = dict(zip(NETWORKS, layers.created(
      lambda: models.create_models(config, nnx.Rngs(config.seed)))))
  return {name: nnx.split(net, nnx.Param, ...) for name, net in nets.items()}


def graph_definitions(config: ml_collections.ConfigDict) -> dict:
  """The static half of the split networks, obtained without allocating weights."""
  return {name: parts[0] for name, parts in nnx.eval_shape(lambda: _split(config)).items()}


def init_state(config: ml_collections.ConfigDict) -> TrainState:
  """A fresh state from `config.seed`; jit it with output shardings to place it."""
  parts = _split(config)
  params = {name: p for name, (_, p, _) in parts.items()}
  stats = {name: s for name, (_, _, s) in parts.items()}
  if config.generator_ema:
    # Only then: a run without it keeps the original's checkpoint layout.
    params[EMA] = jax.tree.map(jnp.copy, params["generator"])
  gs_optimizer, critic_optimizer = optimizers(config)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=params,
      stats=stats,
      gs_opt=gs_optimizer.init((params["generator"], params["siamese"])),
      critic_opt=critic_optimizer.init(params["critic"]),
  )


@functools.partial(jax.jit, static_argnums=0, static_argnames="train")
def apply(graphdef, params, stats, x, *, train: bool):
  """Runs one network from its split state; returns (output, updated stats).

  A jit of its own, though it runs inside the jitted step: a step applies
  each network several times to same-shaped inputs (the generator to every
  chunk, the critic to real and fake crops), and JAX traces each such call
  once and reuses it; XLA inlines them, so the compiled step is unchanged.
  Tracing in a frame of its own also keeps NNX's per-variable bookkeeping
  (batch statistics written back) from scanning the whole step's trace.
  """
  net = nnx.merge(graphdef, params, stats, copy=True)
  return net(x, train=train), nnx.state(net, nnx.Not(nnx.Param))


def generator_fn(graphdef, params, stats) -> Callable[[jax.Array], jax.Array]:
  """The generator in inference mode: (B, n_mels, chunk) -> (B, n_mels, chunk).

  Takes the generator's own params and stats, not the train state, so callers
  hold and pass neither the other networks nor the optimizer moments.
  """
  return lambda x: apply(graphdef, params, stats, x, train=False)[0]


def generator_state(state: TrainState) -> dict:
  """The generator's parameters (the moving average where the run keeps one)
  and statistics: all that conversion needs."""
  params = state.params.get(EMA, state.params["generator"])
  return dict(params=params, stats=state.stats["generator"])


def ema_decay(decay: float, step: jax.Array) -> jax.Array:
  """The average's decay at `step`, lowered early on (as TensorFlow's
  ExponentialMovingAverage with num_updates) so a short run's average is not
  held back by the initial weights."""
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def make_train_step(config: ml_collections.ConfigDict, graphdefs: dict):
  """Returns the pure step `(state, batch) -> (state, metrics)`.

  `batch` holds "a" (source) and "b" (target) crops shaped
  (critic_updates, batch, n_mels, chunk_frames * chunks_per_crop).
  """
  n_chunks = config.data.chunks_per_crop
  loss_cfg = config.loss
  gs_optimizer, critic_optimizer = optimizers(config)
  augmenting = augment_lib.enabled(config.augment)
  band_limiting = augment_lib.band_limiting(config.band_limit)
  audio_cfg = audio.AudioConfig.from_config(config.audio)

  def critic_view(key, crop):
    """What the critic sees of a crop: augmented where configured."""
    return augment_lib.augment(key, crop, config.augment) if augmenting else crop

  def run(name, params, stats, x):
    return apply(graphdefs[name], params, stats[name], x, train=True)

  def translate(params, stats, crop):
    """G on each chunk of the crop separately, as the original; updates G's stats."""
    outputs = []
    for chunk in jnp.split(crop, n_chunks, axis=-1):
      out, stats["generator"] = run("generator", params, stats, chunk)
      outputs.append(out)
    return outputs

  def critic_losses(critic_params, stats, fake_crop, real_crop, key):
    """Hinge (+ R1) on crops already translated; `key` draws the real crop's augmentation."""
    real_crop = critic_view(key, real_crop)
    d_fake, stats["critic"] = run("critic", critic_params, stats, fake_crop)
    d_real, stats["critic"] = run("critic", critic_params, stats, real_crop)
    loss = losses.critic_hinge(d_real, d_fake)
    metrics = dict(critic_real=jnp.mean(jax.nn.relu(1 - d_real)),
                   critic_fake=jnp.mean(jax.nn.relu(1 + d_fake)))
    if loss_cfg.r1_weight:
      frozen = dict(stats)   # the penalty's own pass leaves the statistics alone
      r1 = losses.r1(lambda x: run("critic", critic_params, frozen, x)[0], real_crop)
      loss += loss_cfg.r1_weight * r1
      metrics["critic_r1"] = r1
    return loss, metrics

  def generator_and_critic_update(state: TrainState, a, b, b_source, key):
    """`b_source`: what the identity term translates back to `b` (b itself,
    or b band-limited)."""
    fake_key, real_key = jax.random.split(key)

    def loss_fn(gs_params, critic_params):
      g_params, s_params = gs_params
      stats = dict(state.stats)
      fakes = translate(g_params, stats, a)
      identities = translate(g_params, stats, b_source)
      fake_crop = critic_view(fake_key, jnp.concatenate(fakes, axis=-1))
      # The generator's adversarial term must not move the critic, and the
      # critic's loss must not move the generator: two views of one forward.
      d_fake_for_g, _ = run("critic", jax.lax.stop_gradient(critic_params), stats, fake_crop)
      critic_loss, critic_metrics = critic_losses(
          critic_params, stats, jax.lax.stop_gradient(fake_crop), b, real_key)

      a_chunks = jnp.split(a, n_chunks, axis=-1)
      embed = {}
      for key, x in (("a_first", a_chunks[0]), ("a_last", a_chunks[-1]),
                     ("fake_first", fakes[0]), ("fake_last", fakes[-1])):
        embed[key], stats["siamese"] = run("siamese", s_params, stats, x)
      t = losses.travel_vectors(embed["a_first"], embed["a_last"], loss_cfg.pairing)
      t_fake = losses.travel_vectors(embed["fake_first"], embed["fake_last"], loss_cfg.pairing)

      adversarial = losses.generator_adversarial(d_fake_for_g)
      travel = losses.travel(t, t_fake)
      margin = losses.margin(t, loss_cfg.margin)
      identity = jnp.mean(jnp.stack([
          losses.identity(g_b, b_chunk)
          for g_b, b_chunk in zip(identities, jnp.split(b, n_chunks, axis=-1))]))
      gs_loss = (loss_cfg.adversarial_weight * adversarial
                 + loss_cfg.travel_weight * (travel + margin)
                 + loss_cfg.identity_weight * identity)
      metrics = dict(generator_loss=gs_loss, adversarial=adversarial, travel=travel,
                     margin=margin, identity=identity, critic_loss=critic_loss,
                     **critic_metrics)
      return gs_loss + critic_loss, (metrics, stats)

    gs_params = (state.params["generator"], state.params["siamese"])
    grads, (metrics, stats) = jax.grad(loss_fn, argnums=(0, 1), has_aux=True)(
        gs_params, state.params["critic"])
    gs_updates, gs_opt = gs_optimizer.update(grads[0], state.gs_opt, gs_params)
    generator, siamese = optax.apply_updates(gs_params, gs_updates)
    critic, critic_opt = _critic_apply(critic_optimizer, state, grads[1])
    params = dict(generator=generator, siamese=siamese, critic=critic)
    if config.generator_ema:
      params[EMA] = optax.incremental_update(
          generator, state.params[EMA], 1.0 - ema_decay(config.generator_ema, state.step))
    return state.replace(params=params, stats=stats, gs_opt=gs_opt,
                         critic_opt=critic_opt), metrics

  def critic_update(state: TrainState, abk):
    a, b, key = abk
    fake_key, real_key = jax.random.split(key)
    stats = dict(state.stats)
    fake_crop = critic_view(fake_key, jax.lax.stop_gradient(
        jnp.concatenate(translate(state.params["generator"], stats, a), axis=-1)))

    def loss_fn(critic_params):
      inner = dict(stats)
      loss, metrics = critic_losses(critic_params, inner, fake_crop, b, real_key)
      return loss, (dict(critic_loss=loss, **metrics), inner)

    grads, (metrics, stats) = jax.grad(loss_fn, has_aux=True)(state.params["critic"])
    critic, critic_opt = _critic_apply(critic_optimizer, state, grads)
    return state.replace(params=dict(state.params, critic=critic), stats=stats,
                         critic_opt=critic_opt), metrics

  def train_step(state: TrainState, batch: dict):
    # Random draws depend on the seed and step alone, so a resumed run repeats them.
    step_key = jax.random.fold_in(jax.random.key(config.seed), state.step)
    keys = jax.random.split(step_key, config.critic_updates)
    a, b, b_source = batch["a"], batch["b"], batch["b"][0]
    if band_limiting:
      a_key, b_key = jax.random.split(jax.random.fold_in(step_key, 1))
      a = augment_lib.band_limit(a_key, a, config.band_limit, audio_cfg)
      b_source = augment_lib.band_limit(b_key, b_source, config.band_limit, audio_cfg)
    state, metrics = generator_and_critic_update(state, a[0], b[0], b_source, keys[0])
    state, critic_only = jax.lax.scan(critic_update, state, (a[1:], b[1:], keys[1:]))
    # The critic's figures are means over all its updates of this step alike.
    for key, values in critic_only.items():
      metrics[key] = jnp.mean(jnp.concatenate([metrics[key][None], values]))
    return state.replace(step=state.step + 1), metrics

  return train_step


def _critic_apply(optimizer, state: TrainState, grads):
  updates, opt_state = optimizer.update(grads, state.critic_opt, state.params["critic"])
  return optax.apply_updates(state.params["critic"], updates), opt_state
