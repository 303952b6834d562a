"""Style transfer's losses: Grams, content and style terms, the objective.

Pure functions of extractor Layers; the Gram is averaged over real positions
so that clips of different lengths compare.
"""
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxvc.nst.extractors import Features
from jaxvc.nst.extractors import Layers


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
  """What G is pulled towards; computed once, before the optimization."""
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
