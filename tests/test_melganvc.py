"""The train step's generator loss: the configured weighted sum of its terms."""
import jax
import ml_collections
import numpy as np
import pytest

from jaxvc.melganvc import config as melganvc_config
from jaxvc import config as config_lib
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


def test_generator_loss_is_the_weighted_sum_of_its_terms():
  config = _config(adversarial_weight=0.3, travel_weight=2.0, identity_weight=5.0)
  _, m = _step(config)(melganvc_step.init_state(config), _batch(config))
  expected = 0.3 * m["adversarial"] + 2.0 * (m["travel"] + m["margin"]) + 5.0 * m["identity"]
  assert float(m["generator_loss"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("weight, critic_matters", [(0.0, False), (1.0, True)])
def test_adversarial_weight_decides_whether_the_critic_moves_the_generator(
    weight, critic_matters):
  config = _config(adversarial_weight=weight)
  step, batch = _step(config), _batch(config)
  state = melganvc_step.init_state(config)
  other_critic = jax.tree.map(lambda p: 2 * p + 0.1, state.params["critic"])
  other = state.replace(params=dict(state.params, critic=other_critic))
  g = [jax.tree.leaves(step(s, batch)[0].params["generator"]) for s in (state, other)]
  same = all(np.array_equal(x, y) for x, y in zip(*g))
  assert same != critic_matters


def test_the_recipe_levers_default_off_keep_the_original_checkpoint_layout():
  config = _config()
  state = melganvc_step.init_state(config)
  assert sorted(state.params) == ["critic", "generator", "siamese"]
  _, m = _step(config)(state, _batch(config))
  assert "critic_r1" not in m


def test_every_lever_on_trains_finite_and_logs_r1():
  config = _config(r1_weight=1.0)
  config.critic_updates = 2
  config.augment.update(time_shift=4, mask_frames=8, gain=0.1)
  config.generator_ema = 0.99
  config.optim.critic_lr_multiplier = 2.0
  state, m = _step(config)(melganvc_step.init_state(config), _batch(config))
  assert all(np.isfinite(float(v)) for v in m.values())
  assert float(m["critic_r1"]) > 0
  assert int(state.step) == 1


def test_generator_ema_averages_and_is_what_conversion_uses():
  config = _config()
  config.generator_ema = 0.999
  state = melganvc_step.init_state(config)
  new, _ = _step(config)(state, _batch(config))
  # At step 0 the decay is lowered to 1/10 (`ema_decay`).
  for old, raw, ema in zip(*(jax.tree.leaves(p) for p in (
      state.params["generator"], new.params["generator"], new.params["generator_ema"]))):
    np.testing.assert_allclose(ema, 0.1 * old + 0.9 * raw, rtol=1e-5, atol=1e-7)
  used = melganvc_step.generator_state(new)["params"]
  assert all(np.array_equal(u, e) for u, e in zip(
      jax.tree.leaves(used), jax.tree.leaves(new.params["generator_ema"])))
  assert float(melganvc_step.ema_decay(0.999, 10**6)) == pytest.approx(0.999)


def test_critic_lr_multiplier_scales_the_critics_first_adam_step():
  deltas = []
  for multiplier in (1.0, 0.5):
    config = _config()
    config.optim.critic_lr_multiplier = multiplier
    state = melganvc_step.init_state(config)
    new, _ = _step(config)(state, _batch(config))
    deltas.append(jax.tree.leaves(jax.tree.map(
        lambda a, b: b - a, state.params["critic"], new.params["critic"])))
  for full, half in zip(*deltas):
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-4, atol=1e-9)
