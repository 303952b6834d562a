"""The train step: the configured weighted sum of its terms, and each recipe lever.

Each distinct config is a program of its own to compile, so the tests share
two: every lever on at once (the critic's weight 0.3), and the defaults with
the critic's weight at zero (the levers off, as the original).
"""
import functools

import jax
import ml_collections
import numpy as np
import pytest

from jaxvc.melganvc import config as melganvc_config
from jaxvc.melganvc import step as melganvc_step


def _config(**loss) -> ml_collections.ConfigDict:
  c = melganvc_config.defaults()
  c.data.batch_size = 2
  c.critic_updates = 1
  c.model.generator_channels = c.model.critic_channels = c.model.siamese_channels = 16
  c.model.siamese_dim = 8
  c.loss.update(loss)
  return c


def _batch(config) -> dict:
  width = config.data.chunk_frames * config.data.chunks_per_crop
  shape = (config.critic_updates, config.data.batch_size, config.audio.n_mels, width)
  rng = np.random.default_rng(0)
  return {k: rng.uniform(-1, 1, shape).astype(np.float32) for k in ("a", "b")}


def _step(config):
  return jax.jit(melganvc_step.make_train_step(config, melganvc_step.graph_definitions(config)))


@functools.cache
def _stepped(**changes):
  """(config, jitted step, state before, state after, metrics) of one step of
  `_config(**changes)`, or of every lever on."""
  config = _levers_on() if changes.pop("levers", False) else _config(**changes)
  step = _step(config)
  state = melganvc_step.init_state(config)
  new, metrics = step(state, _batch(config))
  return config, step, state, new, metrics


def _levers_on() -> ml_collections.ConfigDict:
  c = _config(adversarial_weight=0.3, travel_weight=2.0, identity_weight=5.0, r1_weight=1.0)
  c.augment.update(time_shift=4, mask_frames=8, gain=0.1)
  c.generator_ema = 0.99
  c.optim.critic_lr_multiplier = 2.0
  c.band_limit.probability = 1.0
  return c


def test_band_limit_degrades_what_the_generator_translates_only():
  """With every source and identity input band-limited, the identity term
  compares G(band-limited b) with b itself, so it changes; the critic's real
  crops are b as recorded, so its real score does not."""
  config, step, state, _, limited = _stepped(levers=True)
  config = ml_collections.ConfigDict(config.to_dict())
  config.band_limit.probability = 0.0
  _, whole = _step(config)(state, _batch(config))
  assert float(limited["identity"]) != pytest.approx(float(whole["identity"]), rel=1e-5)
  assert float(limited["critic_real"]) == pytest.approx(float(whole["critic_real"]), rel=1e-5)


def test_generator_loss_is_the_weighted_sum_of_its_terms():
  *_, m = _stepped(levers=True)
  expected = 0.3 * m["adversarial"] + 2.0 * (m["travel"] + m["margin"]) + 5.0 * m["identity"]
  assert float(m["generator_loss"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("levers, critic_matters", [(False, False), (True, True)])
def test_adversarial_weight_decides_whether_the_critic_moves_the_generator(
    levers, critic_matters):
  """At weight 0 (the levers-off program) the critic cannot move the generator;
  at 0.3 (every lever on) it does."""
  config, step, state, new, _ = _stepped(levers=True) if levers else _stepped(adversarial_weight=0.0)
  other_critic = jax.tree.map(lambda p: 2 * p + 0.1, state.params["critic"])
  other = state.replace(params=dict(state.params, critic=other_critic))
  moved = step(other, _batch(config))[0]
  same = all(np.array_equal(x, y) for x, y in zip(
      jax.tree.leaves(new.params["generator"]), jax.tree.leaves(moved.params["generator"])))
  assert same != critic_matters


def test_the_recipe_levers_default_off_keep_the_original_checkpoint_layout():
  _, _, state, _, m = _stepped(adversarial_weight=0.0)   # every other lever at its default
  assert sorted(state.params) == ["critic", "generator", "siamese"]
  assert "critic_r1" not in m


def test_every_lever_on_trains_finite_and_logs_r1():
  *_, new, m = _stepped(levers=True)
  assert all(np.isfinite(float(v)) for v in m.values())
  assert float(m["critic_r1"]) > 0
  assert int(new.step) == 1


def test_generator_ema_averages_and_is_what_conversion_uses():
  _, _, state, new, _ = _stepped(levers=True)
  # At step 0 the decay is lowered to 1/10 (`ema_decay`).
  for old, raw, ema in zip(*(jax.tree.leaves(p) for p in (
      state.params["generator"], new.params["generator"], new.params["generator_ema"]))):
    np.testing.assert_allclose(ema, 0.1 * old + 0.9 * raw, rtol=1e-5, atol=1e-7)
  used = melganvc_step.generator_state(new)["params"]
  assert all(np.array_equal(u, e) for u, e in zip(
      jax.tree.leaves(used), jax.tree.leaves(new.params["generator_ema"])))
  assert float(melganvc_step.ema_decay(0.999, 10**6)) == pytest.approx(0.999)


def test_critic_lr_multiplier_scales_the_critics_first_adam_step():
  # Adam's first step moves each weight by lr * g / (|g| + eps): by the learning
  # rate itself wherever the gradient is not tiny, so the largest move is the rate.
  config, _, state, new, _ = _stepped(levers=True)
  lr = config.optim.learning_rate
  for name, rate in (("critic", 2.0 * lr), ("generator", lr), ("siamese", lr)):
    moves = jax.tree.leaves(jax.tree.map(lambda a, b: np.max(np.abs(b - a)),
                                         state.params[name], new.params[name]))
    assert max(moves) == pytest.approx(rate, rel=1e-3), name
