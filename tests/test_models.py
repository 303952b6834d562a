"""MelGAN-VC networks: sizes, state handling, spectral norm, and the 1-D layout."""
from flax import nnx
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvc.melganvc import config as melganvc_config
from jaxvc import config as config_lib
from jaxvc import layers
from jaxvc.melganvc import models

N_MELS = 192


def _count(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


def _mel(key: int, frames: int, batch: int = 2) -> jax.Array:
  return jax.random.uniform(jax.random.key(key), (batch, N_MELS, frames), minval=-1, maxval=1)


@nnx.jit(static_argnames="train")
def _run(net, x, train):
  """A network call, compiled once per network, shape and mode (eager is slower)."""
  return net(x, train=train)


def _nets(seed: int) -> dict:
  return dict(zip(("generator", "siamese", "critic"),
                  layers.created(lambda: models.create_models(melganvc_config.defaults(),
                                                              nnx.Rngs(seed)))))


@pytest.fixture(scope="module")
def nets():
  return _nets(0)


# Trainable / non-trainable (batch-norm statistics, spectral-norm u) sizes.
# G: convs 147,456 + 589,824 + 458,752 + 458,752 + 1,179,648, output 98,304
# + 1 scalar bias = 2,932,737; batch norm scale and offset 4 x 512.
# S: convs 1,196,032, dense 1536 x 128 + 128, batch norm 3 x 512.
# D: convs 294,912 + 2,359,296 + 1,835,008, dense 9216 + 1.
@pytest.mark.parametrize("name, params, stats", [
    ("generator", 2_932_737 + 2_048, 2_048 + 5 * 256 + N_MELS),
    ("siamese", 1_196_032 + 196_736 + 1_536, 1_536),
    ("critic", 4_489_216 + 9_217, 3 * 512 + 1),
])
def test_parameter_counts(nets, name, params, stats):
  assert _count(nnx.state(nets[name], nnx.Param)) == params
  assert _count(nnx.state(nets[name], nnx.BatchStat)) == stats
  assert _count(nnx.state(nets[name], nnx.Not(nnx.Param))) == stats


def test_generator_shapes_and_range(nets):
  g = nets["generator"]
  for frames in (24, 48):
    assert _run(g, _mel(0, frames), train=False).shape == (2, N_MELS, frames)
  y = _run(g, 100 * _mel(1, 24), train=False)
  assert y.dtype == jnp.float32
  assert float(jnp.max(jnp.abs(y))) <= 1.0
  with pytest.raises(ValueError, match="multiple of 4"):
    _run(g, _mel(0, 26), train=False)


def test_siamese_and_critic_shapes(nets):
  assert _run(nets["siamese"], _mel(0, 24), train=False).shape == (2, 128)
  assert _run(nets["critic"], _mel(0, 72), train=False).shape == (2,)


def _snapshot(net, kind):
  return jax.tree.map(np.array, nnx.state(net, kind))


@pytest.mark.parametrize("name, frames", [("generator", 24), ("siamese", 24), ("critic", 72)])
def test_train_flag_controls_state(nets, name, frames):
  net = nets[name]
  params, stats = _snapshot(net, nnx.Param), _snapshot(net, nnx.BatchStat)
  x = _mel(2, frames)

  _run(net, x, train=False)
  jax.tree.map(np.testing.assert_array_equal, _snapshot(net, nnx.BatchStat), stats)

  _run(net, x, train=True)
  after = _snapshot(net, nnx.BatchStat)
  changed = jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b), after, stats))
  assert all(changed), "every batch statistic and u must move in training"
  jax.tree.map(np.testing.assert_array_equal, _snapshot(net, nnx.Param), params)


def test_functional_use_in_a_jitted_gradient(nets):
  """The trainer's pattern: split once, merge inside jit + grad, read the stats back."""
  graphdef, params, stats = nnx.split(nets["generator"], nnx.Param, ...)

  @jax.jit
  def step(params, stats, x):
    def loss(params):
      net = nnx.merge(graphdef, params, stats, copy=True)
      y = net(x, train=True)
      return jnp.mean(jnp.square(y - x)), nnx.state(net, nnx.Not(nnx.Param))
    return jax.grad(loss, has_aux=True)(params)

  grads, new_stats = step(params, stats, _mel(3, 24))
  assert all(np.all(np.isfinite(g)) and np.any(g != 0) for g in jax.tree.leaves(grads))
  assert jax.tree.structure(new_stats) == jax.tree.structure(stats)
  u = new_stats["encoder"]["conv1"]["conv"]["sn"]["u"][...]
  assert not np.allclose(u, stats["encoder"]["conv1"]["conv"]["sn"]["u"][...])


# Convolution kernels.

@pytest.mark.parametrize("frames, width", [(6, 7), (5, 4)])
def test_upsample_conv1d_is_conv_on_repeated_frames(frames, width):
  x = jax.random.normal(jax.random.key(0), (2, frames, 6))
  kernel = jax.random.normal(jax.random.key(1), (width, 6, 5))
  expected = lax.conv_general_dilated(jnp.repeat(x, 2, axis=1), kernel, (1,), "SAME",
                                      dimension_numbers=("NWC", "WIO", "NWC"))
  np.testing.assert_allclose(jax.jit(layers.upsample_conv1d)(x, kernel), expected, atol=1e-5)


@pytest.mark.parametrize("frames, width, stride, padding", [
    (24, 9, 2, "SAME"), (11, 7, 2, "SAME"), (26, 3, 1, "VALID")])
def test_conv1d_matches_xla_convolution(frames, width, stride, padding):
  x = jax.random.normal(jax.random.key(2), (2, frames, 6))
  kernel = jax.random.normal(jax.random.key(3), (width, 6, 5))
  expected = lax.conv_general_dilated(x, kernel, (stride,), padding,
                                      dimension_numbers=("NWC", "WIO", "NWC"))
  conv = jax.jit(layers.conv1d, static_argnums=(2, 3))
  np.testing.assert_allclose(conv(x, kernel, stride, padding.lower()), expected, atol=1e-5)


@pytest.mark.parametrize("shape, window, strides, padding", [
    ((13, 20), (3, 9), (1, 2), ((1, 1), (4, 4))), ((30,), (5,), (3,), ((2, 2),)),
    ((9, 7), (3, 3), (1, 1), ((0, 0), (0, 0)))])
def test_im2col_and_xla_convolutions_agree_with_their_gradients(shape, window, strides, padding):
  """Both paths `layers.conv` chooses between by backend, compared on the CPU."""
  x = jax.random.normal(jax.random.key(4), (2, *shape, 3))
  kernel = jax.random.normal(jax.random.key(5), (*window, 3, 4))
  outputs = []
  for impl in (layers.conv_im2col, layers.conv_xla):
    f = jax.jit(lambda x, k, impl=impl: impl(x, k, strides, padding))
    outputs.append((f(x, kernel), jax.grad(lambda x, k: jnp.sum(f(x, k) ** 2), (0, 1))(x, kernel)))
  np.testing.assert_allclose(outputs[0][0], outputs[1][0], atol=1e-4)
  for a, b in zip(outputs[0][1], outputs[1][1]):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


# Spectral normalisation.

def test_spectral_normalize_diagonal():
  w = jnp.diag(jnp.array([3.0, 2.0, 1.0]))
  w_bar, u, sigma = layers.spectral_normalize(w, jnp.ones(3), n_steps=60)
  assert float(sigma) == pytest.approx(3.0, rel=1e-6)
  np.testing.assert_allclose(np.abs(u), [1, 0, 0], atol=1e-6)
  np.testing.assert_allclose(w_bar, np.diag([1, 2 / 3, 1 / 3]), atol=1e-6)


def test_spectral_normalize_random_matches_svd():
  w = jax.random.normal(jax.random.key(0), (40, 16))
  w_bar, _, sigma = layers.spectral_normalize(w, jax.random.normal(jax.random.key(1), (16,)),
                                              n_steps=300)
  assert float(sigma) == pytest.approx(np.linalg.svd(np.asarray(w))[1][0], rel=1e-5)
  assert np.linalg.svd(np.asarray(w_bar))[1][0] == pytest.approx(1.0, rel=1e-5)


def test_spectral_normalize_one_step_from_converged_u_is_exact():
  w = np.asarray(jax.random.normal(jax.random.key(2), (30, 12)))
  _, s, vt = np.linalg.svd(w)
  _, u, sigma = layers.spectral_normalize(jnp.asarray(w), jnp.asarray(vt[0]))
  assert float(sigma) == pytest.approx(s[0], rel=1e-6)
  np.testing.assert_allclose(u, vt[0], atol=1e-6)


def test_spectral_normalize_treats_u_as_constant():
  w = jax.random.normal(jax.random.key(3), (10, 5))
  u = jax.random.normal(jax.random.key(4), (5,))
  grad_u = jax.grad(lambda u: layers.spectral_normalize(w, u)[2])(u)
  np.testing.assert_array_equal(grad_u, 0.0)


# The 1-D layout is the original 2-D network: a straightforward NHWC reference
# on the (n_mels x frames x 1) image, with every kernel reshaped to its 2-D form.

def _conv2d(x, kernel_2d, stride, padding):
  return lax.conv_general_dilated(x, kernel_2d, (1, stride), padding,
                                  dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _kernel(layer):
  """A layer's effective kernel: spectrally normalised where it has SN, as the original."""
  kernel = layer.kernel[...]
  if layer.sn is None:
    return kernel
  matrix = kernel.reshape(-1, kernel.shape[-1])
  return layers.spectral_normalize(matrix, layer.sn.u[...])[0].reshape(kernel.shape)


def _block_2d(block, x, *, stride, padding, train):
  """The original `conv2d` block: Conv2D (+ BatchNormalization) + LeakyReLU."""
  kernel = _kernel(block.conv)
  kernel_2d = (jnp.transpose(kernel, (1, 0, 2))[:, :, None, :] if x.shape[1] > 1
               else kernel[None])  # (n_mels, 3, 1, C) on the image, (1, w, C, C) after
  y = _conv2d(x, kernel_2d, stride, padding)
  if block.bn is not None:
    bn = block.bn
    mean, var = ((jnp.mean(y, (0, 1, 2)), jnp.var(y, (0, 1, 2))) if train
                 else (bn.mean[...], bn.var[...]))
    y = (y - mean) / jnp.sqrt(var + bn.epsilon) * bn.scale[...] + bn.bias[...]
  return jnp.where(y >= 0, y, 0.2 * y)


def _encoder_2d(encoder, image, *, first_padding, train):
  h1 = _block_2d(encoder.conv1, image, stride=1, padding=first_padding, train=train)
  h2 = _block_2d(encoder.conv2, h1, stride=2, padding="SAME", train=train)
  return h1, h2, _block_2d(encoder.conv3, h2, stride=2, padding="SAME", train=train)


@nnx.jit(static_argnames="train")
def _generator_2d(g, x, train):
  image = jnp.pad(x[..., None], ((0, 0), (0, 0), (1, 1), (0, 0)))  # ZeroPadding2D((0, 1))
  g1, g2, g3 = _encoder_2d(g.encoder, image, first_padding="VALID", train=train)
  up = lambda h: jnp.repeat(h, 2, axis=2)  # UpSampling2D((1, 2))
  g4 = jnp.concatenate([_block_2d(g.up1, up(g3), stride=1, padding="SAME", train=train), g2], -1)
  g5 = jnp.concatenate([_block_2d(g.up2, up(g4), stride=1, padding="SAME", train=train), g1], -1)
  # Conv2DTranspose(1, (n_mels, 1)): Keras kernel (n_mels, 1, 1, 512).
  kernel_2d = _kernel(g.out).T[:, None, None, :]
  y = lax.conv_transpose(g5, kernel_2d, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                         transpose_kernel=True)
  return jnp.tanh(y + g.out_bias[...])[..., 0]


@nnx.jit(static_argnames="train")
def _head_2d(net, x, train):
  """Siamese or critic: encoder, Flatten (height, width, channel order), dense."""
  h = _encoder_2d(net.encoder, x[..., None], first_padding="VALID", train=train)[-1]
  return h.reshape(h.shape[0], -1) @ _kernel(net.dense) + net.dense.bias[...]


def _randomize_batch_norm(net, seed):
  """Non-trivial running statistics and affine parameters, so inference BN is tested."""
  keys = iter(jax.random.split(jax.random.key(seed), 100))
  for _, bn in nnx.iter_graph(net):
    if isinstance(bn, nnx.BatchNorm):
      shape = bn.mean.shape
      bn.mean[...] = jax.random.normal(next(keys), shape)
      bn.var[...] = jax.random.uniform(next(keys), shape, minval=0.5, maxval=2)
      bn.scale[...] = jax.random.uniform(next(keys), shape, minval=0.5, maxval=2)
      bn.bias[...] = jax.random.normal(next(keys), shape)


@pytest.mark.parametrize("train", [False, True])
def test_generator_equals_2d_reference(train):
  g = _nets(5)["generator"]
  _randomize_batch_norm(g, 6)
  x = _mel(7, 24)
  expected = _generator_2d(g, x, train)  # before the call: training moves u
  np.testing.assert_allclose(_run(g, x, train=train), expected, atol=1e-5)


@pytest.mark.parametrize("train", [False, True])
def test_siamese_and_critic_equal_2d_reference(train):
  nets = _nets(8)
  s, d = nets["siamese"], nets["critic"]
  _randomize_batch_norm(s, 9)
  chunk, crop = _mel(11, 24), _mel(12, 72)
  expected_s, expected_d = _head_2d(s, chunk, train), _head_2d(d, crop, train)[:, 0]
  np.testing.assert_allclose(_run(s, chunk, train=train), expected_s, atol=1e-4, rtol=1e-5)
  np.testing.assert_allclose(_run(d, crop, train=train), expected_d, atol=1e-5, rtol=1e-5)
