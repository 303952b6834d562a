"""The train step's generator loss: the configured weighted sum of its terms."""
import jax
import numpy as np
import pytest

from jaxvc import config as config_lib
from jaxvc import melganvc


def _config(**loss) -> config_lib.ml_collections.ConfigDict:
  c = config_lib.melganvc()
  c.data.batch_size = 2
  c.critic_updates = 1
  c.model.generator_channels = c.model.critic_channels = c.model.siamese_channels = 16
  c.model.siamese_dim = 8
  c.loss.update(loss)
  return c


def _step(config, state):
  batch = np.random.default_rng(0).uniform(
      -1, 1, (2, config.critic_updates, config.data.batch_size, config.audio.n_mels, 72))
  step = jax.jit(melganvc.make_train_step(config, melganvc.graph_definitions(config)))
  return step(state, {"a": batch[0].astype(np.float32), "b": batch[1].astype(np.float32)})


def test_generator_loss_is_the_weighted_sum_of_its_terms():
  config = _config(adversarial_weight=0.3, travel_weight=2.0, identity_weight=5.0)
  _, m = _step(config, melganvc.init_state(config))
  expected = 0.3 * m["adversarial"] + 2.0 * (m["travel"] + m["margin"]) + 5.0 * m["identity"]
  assert float(m["generator_loss"]) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize("weight, critic_matters", [(0.0, False), (1.0, True)])
def test_adversarial_weight_decides_whether_the_critic_moves_the_generator(
    weight, critic_matters):
  config = _config(adversarial_weight=weight)
  state = melganvc.init_state(config)
  other_critic = jax.tree.map(lambda p: 2 * p + 0.1, state.params["critic"])
  other = state.replace(params=dict(state.params, critic=other_critic))
  g = [jax.tree.leaves(_step(config, s)[0].params["generator"]) for s in (state, other)]
  same = all(np.array_equal(x, y) for x, y in zip(*g))
  assert same != critic_matters
