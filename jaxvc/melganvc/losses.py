"""MelGAN-VC losses (Pasini 2019; TraVeLGAN, Amodio & Krishnaswamy 2019).

Pure functions of network outputs, each returning a scalar; the trainer
weights and sums them.
"""
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxvc.layers import l2_normalize


def critic_hinge(d_real: jax.Array, d_fake: jax.Array) -> jax.Array:
  """Hinge loss of the critic, averaged over its real and fake halves."""
  return (jnp.mean(jax.nn.relu(1 - d_real)) + jnp.mean(jax.nn.relu(1 + d_fake))) / 2


def r1(critic: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
  """R1 penalty (Mescheder et al. 2018): the mean squared norm of the critic's
  gradient at real crops; keeps it from growing steep around the data."""
  grad = jax.grad(lambda x: jnp.sum(critic(x)))(real)
  return jnp.mean(jnp.sum(jnp.square(grad), axis=tuple(range(1, grad.ndim))))


def generator_adversarial(d_fake: jax.Array) -> jax.Array:
  """The generator's hinge-GAN term: raise the critic's score of its output."""
  return -jnp.mean(d_fake)


def travel(t: jax.Array, t_fake: jax.Array) -> jax.Array:
  """TraVeL loss: translation keeps the vectors between embeddings.

  Squared distance of the (N, dim) transformation vectors before and after
  translation, minus their mean cosine similarity (direction counts even when
  lengths differ).
  """
  cosine = jnp.sum(l2_normalize(t) * l2_normalize(t_fake), axis=-1)
  return jnp.mean(jnp.square(t - t_fake)) - jnp.mean(cosine)


def margin(t: jax.Array, delta: float) -> jax.Array:
  """Siamese margin loss: transformation vectors shorter than delta are penalised.

  Keeps the siamese from collapsing every embedding to one point, which would
  satisfy TraVeL trivially. The norm's floor keeps its gradient finite at t = 0.
  """
  norm = optax.safe_norm(t, 1e-6, axis=-1)
  return jnp.mean(jnp.square(jax.nn.relu(delta - norm)))


def identity(g_b: jax.Array, b: jax.Array) -> jax.Array:
  """Mean absolute error of the generator on target-domain input (should be a no-op)."""
  return jnp.mean(jnp.abs(g_b - b))


PAIRINGS = ("thirds", "batch")


def travel_vectors(s_first: jax.Array, s_last: jax.Array, pairing: str) -> jax.Array:
  """Transformation vectors (N, dim) between siamese embeddings (B, dim).

  `s_first` and `s_last` embed the first and last chunk of each crop; call it
  the same way on source and translated embeddings so the vectors correspond.
  "thirds" (MelGAN-VC): first minus last chunk of each crop, N = B.
  "batch" (TraVeLGAN): every ordered pair of distinct chunks among all 2B,
  N = 2B (2B - 1).
  """
  if pairing == "thirds":
    return s_first - s_last
  if pairing == "batch":
    s = jnp.concatenate([s_first, s_last])
    i, j = np.nonzero(~np.eye(len(s), dtype=bool))
    return s[i] - s[j]
  raise ValueError(f"unknown pairing {pairing!r}: expected {' or '.join(map(repr, PAIRINGS))}")
