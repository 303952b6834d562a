"""The MelGAN-VC losses on small cases worked out by hand."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvc.melganvc import losses


def test_l2_normalize_unit_rows_and_zero_guard():
  x = jnp.array([[3.0, 4.0], [0.0, 0.0]])
  np.testing.assert_allclose(losses.l2_normalize(x), [[0.6, 0.8], [0.0, 0.0]], atol=1e-7)


def test_critic_hinge():
  # relu(1 - [2, 0.5, -1]) = [0, 0.5, 2] -> 5/6; relu(1 + [-2, 0, 1]) = [0, 1, 2] -> 1.
  loss = losses.critic_hinge(jnp.array([2.0, 0.5, -1.0]), jnp.array([-2.0, 0.0, 1.0]))
  assert float(loss) == pytest.approx((5 / 6 + 1) / 2, abs=1e-6)


def test_critic_hinge_zero_beyond_margins():
  assert float(losses.critic_hinge(jnp.array([1.0, 3.0]), jnp.array([-1.0, -5.0]))) == 0.0


def test_generator_adversarial():
  assert float(losses.generator_adversarial(jnp.array([1.0, -3.0, 0.5]))) == pytest.approx(0.5)


def test_travel_hand_case():
  # Squared error: (1 + 1 + 0 + 1) / 4 = 0.75; cosines 0 and 1 -> mean 0.5.
  t = jnp.array([[1.0, 0.0], [0.0, 2.0]])
  t_fake = jnp.array([[0.0, 1.0], [0.0, 1.0]])
  assert float(losses.travel(t, t_fake)) == pytest.approx(0.25, abs=1e-6)


def test_travel_minimal_when_vectors_kept():
  t = jax.random.normal(jax.random.key(0), (8, 16))
  best = float(losses.travel(t, t))
  assert best == pytest.approx(-1.0, abs=1e-6)
  for seed in range(1, 6):
    noise = 0.1 * jax.random.normal(jax.random.key(seed), t.shape)
    assert float(losses.travel(t, t + noise)) > best
  grad = jax.grad(losses.travel, argnums=1)(t, t)
  np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def test_margin_hand_case():
  # Norms 5, 1, 0 against delta 2: relu(2 - norm)^2 = 0, 1, 4 -> mean 5/3
  # (the norm's 1e-6 floor moves it by about 1e-6).
  t = jnp.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])
  assert float(losses.margin(t, 2.0)) == pytest.approx(5 / 3, abs=1e-5)


def test_margin_zero_for_long_vectors():
  t = jnp.array([[3.0, 4.0], [2.0, 0.0], [0.0, -2.5]])
  assert float(losses.margin(t, 2.0)) == 0.0


def test_margin_gradient_finite_at_zero():
  grad = jax.grad(losses.margin)(jnp.zeros((2, 4)), 2.0)
  assert np.all(np.isfinite(grad))


def test_identity():
  g_b = jnp.array([[1.0, 2.0], [3.0, 4.0]])
  b = jnp.array([[0.0, 2.0], [5.0, 4.0]])
  assert float(losses.identity(g_b, b)) == pytest.approx(0.75)


def test_travel_vectors_thirds():
  s_first = jnp.array([[1.0, 2.0], [3.0, 5.0]])
  s_last = jnp.array([[0.5, 0.0], [4.0, 1.0]])
  np.testing.assert_allclose(losses.travel_vectors(s_first, s_last, "thirds"),
                             [[0.5, 2.0], [-1.0, 4.0]])


def test_travel_vectors_batch_hand_case():
  # Items 1, 2, 4, 8: all 12 ordered differences of distinct items.
  t = losses.travel_vectors(jnp.array([[1.0], [2.0]]), jnp.array([[4.0], [8.0]]), "batch")
  assert t.shape == (12, 1)
  np.testing.assert_allclose(np.sort(t[:, 0]), [-7, -6, -4, -3, -2, -1, 1, 2, 3, 4, 6, 7])


def test_travel_vectors_batch_counts_ordered_pairs():
  s_first = jax.random.normal(jax.random.key(0), (5, 3))
  s_last = jax.random.normal(jax.random.key(1), (5, 3))
  t = losses.travel_vectors(s_first, s_last, "batch")
  n = 10
  assert t.shape == (n * (n - 1), 3)
  assert np.all(np.linalg.norm(t, axis=-1) > 0)
  assert len(np.unique(np.round(np.asarray(t), 5), axis=0)) == n * (n - 1)


def test_travel_vectors_unknown_pairing():
  with pytest.raises(ValueError, match="pairing"):
    losses.travel_vectors(jnp.zeros((2, 3)), jnp.zeros((2, 3)), "triples")


def test_r1_is_the_squared_gradient_norm_at_the_real_crops():
  w = jnp.arange(12.0).reshape(3, 4) / 10
  critic = lambda x: jnp.sum(w * x, axis=(1, 2)) + jnp.sum(x ** 2, axis=(1, 2))
  real = jnp.ones((2, 3, 4))
  # d/dx = w + 2x = w + 2 at x = 1, the same for both crops.
  expected = float(jnp.sum((w + 2) ** 2))
  assert float(losses.r1(critic, real)) == pytest.approx(expected, rel=1e-6)
