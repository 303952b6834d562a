"""The optimization: one jitted program from (content, style) spectrograms to G.

L-BFGS (optax, zoom linesearch) or Adam over the spectrogram, vmapped over
pairs padded to equal length; inside the vmap each pair's L-BFGS update runs
in turn (see `_lbfgs`).
"""
import dataclasses
import functools

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxvc.nst import losses


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
  """The static part of the optimization program (hashable, for jit)."""
  content_weight: float
  style_weight: float
  optimizer: str
  num_steps: int
  learning_rate: float

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict) -> "Settings":
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
    return losses.objective(nnx.merge(graphdef, weights), targets, mask, settings.content_weight,
                     settings.style_weight)

  net = nnx.merge(graphdef, weights)
  data = (weights, losses.compute_targets(net, content, content_mask, style, style_mask), content_mask)
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
