"""The vocoder's losses (Vocos, after HiFi-GAN): pure functions returning scalars.

Discriminator outputs come as lists of (scores, features), one per
sub-discriminator; each term sums over them, averaging within each.
"""
import jax
import jax.numpy as jnp

from jaxvc import audio

LOG_FLOOR = 1e-5   # magnitudes below this are equal in the mel loss (Vocos: 1e-7 on power)


def discriminator_hinge(real: list, fake: list) -> jax.Array:
  """Sum over sub-discriminators of mean(relu(1 - D(x))) + mean(relu(1 + D(G(s))))."""
  return sum(jnp.mean(jax.nn.relu(1 - r)) + jnp.mean(jax.nn.relu(1 + f))
             for (r, _), (f, _) in zip(real, fake, strict=True))


def generator_hinge(fake: list) -> jax.Array:
  """Sum over sub-discriminators of mean(relu(1 - D(G(s)))), Vocos's generator term."""
  return sum(jnp.mean(jax.nn.relu(1 - f)) for f, _ in fake)


def feature_matching(real: list, fake: list) -> jax.Array:
  """Sum over sub-discriminators and their layers of the mean absolute difference
  of feature maps, real vs. generated (the real ones held constant)."""
  return sum(jnp.mean(jnp.abs(jax.lax.stop_gradient(r) - f))
             for (_, real_maps), (_, fake_maps) in zip(real, fake, strict=True)
             for r, f in zip(real_maps, fake_maps, strict=True))


def log_mel(wave: jax.Array, cfg: audio.AudioConfig) -> jax.Array:
  """ln of the mel magnitude (the square root of `cfg`'s mel power), floored."""
  power = audio.mel_power(wave, cfg, cfg.n_frames(wave.shape[-1]))
  return jnp.log(jnp.maximum(jnp.sqrt(power), LOG_FLOOR))


def mel_l1(generated: jax.Array, real: jax.Array, cfg: audio.AudioConfig) -> jax.Array:
  """Mean absolute difference of log mel magnitudes, generated vs. real waves."""
  return jnp.mean(jnp.abs(log_mel(generated, cfg) - log_mel(real, cfg)))


def multi_resolution_stft(generated: jax.Array, real: jax.Array,
                          resolutions: tuple) -> jax.Array:
  """Parallel WaveGAN's auxiliary loss: `audio.multi_resolution_stft_distance`
  of the generated waves from the real ones.

  Unlike the mel L1, which sees one frame size, the linear magnitudes at
  several sizes only agree when neighbouring frames' phases are consistent,
  so this term shapes the phase that a mel-only warm-up leaves loose.
  """
  return audio.multi_resolution_stft_distance(generated, real, resolutions)
