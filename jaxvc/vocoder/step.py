"""Vocoder training core: the train state and one pure step (Vocos's schedule).

Each step updates the discriminators on real and generated segments, then the
generator against the updated discriminators: hinge adversarial terms, feature
matching and the reconstruction terms, the mel L1 and optionally a
multi-resolution STFT loss (`losses.py`). Before `loss.gan_start_step` the
generator trains on reconstruction alone and the discriminators neither run
nor train: a fraction of a GAN step's cost, so a CPU hour holds many more
steps. The mel the generator hears is computed
from the waveform segment inside the step, so input and target are aligned by
construction and the data pipeline moves only waves. Everything here is a pure
function of (state, batch); the trainer (`jaxvc.train`) owns the side effects.
"""
import functools

import flax
from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxvc import audio
from jaxvc import layers
from jaxvc.audio import pitch
from jaxvc.vocoder import discriminators as discriminators_lib
from jaxvc.vocoder import excitation
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import losses

NETWORKS = ("generator", "discriminators")


@flax.struct.dataclass
class TrainState:
  """Everything a resumed run needs; the data position is `step` itself."""
  step: jax.Array
  params: dict            # network name -> nnx.State of its parameters
  generator_opt: optax.OptState
  discriminator_opt: optax.OptState


def _cosine(config: ml_collections.ConfigDict, steps: int) -> optax.Schedule:
  o = config.optim
  return optax.warmup_cosine_decay_schedule(
      0.0, o.learning_rate, warmup_steps=o.warmup_steps,
      decay_steps=max(steps, o.warmup_steps + 1))


def schedules(config: ml_collections.ConfigDict) -> tuple[optax.Schedule, optax.Schedule]:
  """(generator's, discriminators') learning rate by their optimizer's count:
  linear warm-up and cosine decay to zero (Vocos). The GAN phase, from
  loss.gan_start_step to num_steps, gets one such schedule for both sides, so
  they enter it at the same rate; the reconstruction-only phase before it gets its own
  (the discriminators do not step then, so their count starts at the phase)."""
  gan_start = config.loss.gan_start_step
  gan = _cosine(config, config.num_steps - gan_start)
  if gan_start == 0:
    return gan, gan
  return optax.join_schedules([_cosine(config, gan_start), gan], [gan_start]), gan


def optimizers(config: ml_collections.ConfigDict):
  """(generator's, discriminators') AdamW on `schedules`."""
  o = config.optim
  return tuple(optax.adamw(s, b1=o.b1, b2=o.b2, weight_decay=o.weight_decay)
               for s in schedules(config))


def _networks(config: ml_collections.ConfigDict) -> dict:
  return dict(generator=generator_lib.create(config),
              discriminators=layers.created(lambda: discriminators_lib.Discriminators(
                  config, rngs=nnx.Rngs(config.seed + 1))))


def graph_definitions(config: ml_collections.ConfigDict) -> dict:
  """The static half of the split networks, obtained without allocating weights."""
  abstract = nnx.eval_shape(lambda: _networks(config))
  return {name: nnx.split(net)[0] for name, net in abstract.items()}


def init_state(config: ml_collections.ConfigDict) -> TrainState:
  """A fresh state from `config.seed`; jit it with output shardings to place it."""
  params = {name: nnx.split(net)[1] for name, net in _networks(config).items()}
  generator_tx, discriminator_tx = optimizers(config)
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    generator_opt=generator_tx.init(params["generator"]),
                    discriminator_opt=discriminator_tx.init(params["discriminators"]))


@functools.partial(jax.jit, static_argnums=0)
def apply(graphdef, params, *inputs):
  """Runs one network from its split parameters.

  A jit of its own inside the jitted step: the discriminators judge real and
  generated segments of one shape in both updates, and JAX traces such calls
  once and reuses the trace; XLA inlines them, so the compiled step is unchanged.
  """
  return nnx.merge(graphdef, params)(*inputs)


def generator_fn(graphdef, params):
  """The generator as a function: normalised mel (B, n_mels, T) [, pitch rows
  (B, 4, T) if model.pitch] -> wave (B, T * hop)."""
  return functools.partial(apply, graphdef, params)


def segment_mel(wave: jax.Array, cfg: audio.AudioConfig) -> jax.Array:
  """The normalised mel of a segment of T * hop samples: its T frames centred on
  samples 0, hop, ..., the samples the generator renders from them."""
  frames = wave.shape[-1] // cfg.hop_length
  return audio.normalise_mel(audio.mel_power(wave, cfg, frames), cfg)


def segment_pitch(wave: jax.Array, cfg: audio.AudioConfig, first_frame=0) -> jax.Array:
  """The pitch rows (B, ROWS, T) of a segment's T frames (`excitation.pitch_rows`),
  from the one F0 analysis (`jaxvc.audio.pitch`); the oscillator starts at
  phase 0 (the loss compares magnitudes, so the start is immaterial), the
  frames are numbered from `first_frame` (per segment, or one for all)."""
  frames = wave.shape[-1] // cfg.hop_length
  f0_hz, voiced = pitch.f0(wave, cfg)
  return excitation.pitch_rows(f0_hz[..., :frames], voiced[..., :frames], cfg.hop_length,
                               cfg.sample_rate, first_frame=first_frame)


def make_train_step(config: ml_collections.ConfigDict, graphdefs: dict):
  """Returns the pure step `(state, batch) -> (state, metrics)`; `batch["wave"]`
  is (batch, segment_frames * hop) float32."""
  cfg = audio.AudioConfig.from_config(config.audio)
  w = config.loss
  generator_tx, discriminator_tx = optimizers(config)

  def generate(params, inputs):
    """`inputs`: (normalised mel,), or (mel, pitch rows) with model.pitch."""
    return generator_fn(graphdefs["generator"], params)(*inputs)

  def judge(params, wave):
    return apply(graphdefs["discriminators"], params, wave)

  def discriminator_loss(d_params, real, fake):
    (p_real, r_real), (p_fake, r_fake) = judge(d_params, real), judge(d_params, fake)
    period = losses.discriminator_hinge(p_real, p_fake)
    resolution = losses.discriminator_hinge(r_real, r_fake)
    return period + w.resolution_weight * resolution, dict(
        discriminator_period=period, discriminator_resolution=resolution)

  def reconstruction(fake, real):
    """The weighted non-adversarial terms, shared by both phases."""
    terms = dict(mel_l1=losses.mel_l1(fake, real, cfg))
    total = w.mel_weight * terms["mel_l1"]
    if w.stft_weight > 0:
      terms["stft"] = losses.multi_resolution_stft(fake, real, tuple(w.stft_resolutions))
      total += w.stft_weight * terms["stft"]
    return total, terms

  def generator_loss(g_params, d_params, real, inputs):
    fake = generate(g_params, inputs)
    (p_real, r_real), (p_fake, r_fake) = judge(d_params, real), judge(d_params, fake)
    weighted, terms = reconstruction(fake, real)
    adversarial = (losses.generator_hinge(p_fake)
                   + w.resolution_weight * losses.generator_hinge(r_fake))
    features = (losses.feature_matching(p_real, p_fake)
                + w.resolution_weight * losses.feature_matching(r_real, r_fake))
    total = weighted + w.adversarial_weight * adversarial + w.feature_weight * features
    return total, dict(generator_loss=total, **terms, adversarial=adversarial,
                       feature_matching=features)

  def reconstruction_loss(g_params, real, inputs):
    total, terms = reconstruction(generate(g_params, inputs), real)
    return total, dict(generator_loss=total, **terms)

  def gan_step(state, real, inputs):
    g_params, d_params = state.params["generator"], state.params["discriminators"]
    fake = jax.lax.stop_gradient(generate(g_params, inputs))
    (d_loss, d_metrics), d_grads = jax.value_and_grad(discriminator_loss, has_aux=True)(
        d_params, real, fake)
    d_updates, d_opt = discriminator_tx.update(d_grads, state.discriminator_opt, d_params)
    d_params = optax.apply_updates(d_params, d_updates)
    (_, g_metrics), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(
        g_params, d_params, real, inputs)
    g_updates, g_opt = generator_tx.update(g_grads, state.generator_opt, g_params)
    g_params = optax.apply_updates(g_params, g_updates)
    return (dict(generator=g_params, discriminators=d_params), g_opt, d_opt,
            dict(discriminator_loss=d_loss, **d_metrics, **g_metrics))

  def reconstruction_step(state, real, inputs):
    """Before loss.gan_start_step: the generator on reconstruction alone, the
    discriminators neither run nor trained (the cost of each step is measured by
    `tools/benchmark.py --only vocoder_training`)."""
    g_params = state.params["generator"]
    (_, g_metrics), g_grads = jax.value_and_grad(reconstruction_loss, has_aux=True)(
        g_params, real, inputs)
    g_updates, g_opt = generator_tx.update(g_grads, state.generator_opt, g_params)
    zero = jnp.zeros((), jnp.float32)
    metrics = dict(discriminator_loss=zero, discriminator_period=zero,
                   discriminator_resolution=zero, adversarial=zero,
                   feature_matching=zero, **g_metrics)
    return (dict(state.params, generator=optax.apply_updates(g_params, g_updates)),
            g_opt, state.discriminator_opt, metrics)

  def train_step(state: TrainState, batch: dict):
    real = batch["wave"]
    inputs = (segment_mel(real, cfg),)
    if generator_lib.uses_pitch(config):
      first = 0
      if generator_lib.uses_noise_source(config):
        # Each segment numbered from a random frame, so that the noise source
        # draws new noise at every step (from the step: resume stays exact).
        key = jax.random.fold_in(jax.random.key(config.seed), state.step)
        first = jax.random.randint(key, real.shape[:1], 0, excitation.NUMBERS)
      inputs += (segment_pitch(real, cfg, first),)
    if w.gan_start_step >= config.num_steps:
      # No GAN step in this run: the discriminators stay out of the program.
      params, g_opt, d_opt, metrics = reconstruction_step(state, real, inputs)
    elif w.gan_start_step > 0:
      params, g_opt, d_opt, metrics = jax.lax.cond(
          state.step >= w.gan_start_step, gan_step, reconstruction_step, state, real, inputs)
    else:
      params, g_opt, d_opt, metrics = gan_step(state, real, inputs)
    return state.replace(step=state.step + 1, params=params, generator_opt=g_opt,
                         discriminator_opt=d_opt), metrics

  return train_step


def generator_state(state: TrainState) -> dict:
  """The generator's parameters: all that synthesis needs."""
  return dict(params=state.params["generator"])
