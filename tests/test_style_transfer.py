"""Spectrogram style transfer: Grams, losses, optimization, batching and masking."""
import functools

from flax import nnx
import jax.numpy as jnp
import numpy as np
import pytest

from jaxvc.melganvc import config as melganvc_config
from jaxvc import checkpoints
from jaxvc import workdirs
from jaxvc import config as config_lib
from jaxvc import layers
from jaxvc.errors import ConfigError
from jaxvc.melganvc import step as melganvc_step
from jaxvc.melganvc import models
from jaxvc.nst import config as nst_checks
from jaxvc.nst import extractors
from jaxvc.nst import losses as nst_losses
from jaxvc.nst import optimize
from jaxvc.nst import spectrograms as nst_spectrograms
from jaxvc.nst import transfer
from jaxvc.cli.stylize import DEFAULT_CONFIG

SAMPLE_RATE = 22050


def nst_config(*overrides):
  """configs/nst.py with test-sized networks and few steps."""
  return config_lib.from_file(DEFAULT_CONFIG, [
      "--config.conv1d.filters=128", "--config.cnn2d.channels=(8,16,16,32)",
      "--config.num_steps=8", "--config.griffin_lim_iters=4", *overrides])


@pytest.fixture(scope="module")
def clips(speech):
  """(content, style) waves at 22050 Hz: 0.8 s of speech, 0.6 s of a buzzing chord."""
  import soxr
  wave, rate = speech
  content = soxr.resample(wave[rate // 2:rate // 2 + int(0.8 * rate)], rate, SAMPLE_RATE)
  t = np.arange(int(0.6 * SAMPLE_RATE)) / SAMPLE_RATE
  chord = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (196.0, 247.0, 294.0))
  noise = np.random.default_rng(0).standard_normal(t.size)
  style = 0.1 * chord * (0.6 + 0.4 * np.sin(2 * np.pi * 5 * t)) + 0.02 * noise
  return content.astype(np.float32), style.astype(np.float32)


@pytest.fixture(scope="module")
def spectrograms(clips):
  """(content, style) log(1 + |STFT|) spectrograms (1025 bins)."""
  spec = nst_spectrograms.LogStft(SAMPLE_RATE, 2048, 512)
  return tuple(np.asarray(spec.analyse(w)) for w in clips)


@functools.cache
def fresh_networks(bins):
  """A freshly initialised (siamese, critic) pair for `bins` mel bins, test-sized."""
  config = melganvc_config.defaults()
  config.audio.n_mels = bins
  config.model.update(generator_channels=8, critic_channels=32, siamese_channels=16)
  _, siamese, critic = layers.created(lambda: models.create_models(config, nnx.Rngs(0)))
  return dict(siamese=siamese, critic=critic)


@functools.cache
def split_extractor(name, bins):
  """(graphdef, weights, extractor) of a test-sized extractor."""
  if name in nst_checks.TRAINED:
    net = extractors.EncoderFeatures(fresh_networks(bins)[name], content_layer=2,
                             style_layers=(0, 1), style_weights=(1.0, 0.5))
  else:
    net = extractors.random_extractor(nst_config(f"--config.features={name}"), bins)
  return (*nnx.split(net), net)


@nnx.jit
def extract(net, spec, mask):
  """The extractor's layers, compiled (op-by-op dispatch is slow)."""
  return net(spec, mask)


def pad_to(spec, frames):
  """`spec` zero-padded to `frames` frames, and its mask."""
  mask = (np.arange(frames) < spec.shape[-1]).astype(np.float32)
  return np.pad(spec, ((0, 0), (0, frames - spec.shape[-1]))), mask


def relative_gram_distance(net, spec, style):
  """max over style layers of |Gram(G) - Gram(S)| / |Gram(S)| (Frobenius)."""
  mask = lambda s: jnp.ones(s.shape[-1])
  generated, target = extract(net, spec, mask(spec)).style, extract(net, style, mask(style)).style
  return max(float(jnp.linalg.norm(nst_losses.gram(g) - nst_losses.gram(t)) / jnp.linalg.norm(nst_losses.gram(t)))
             for g, t in zip(generated, target))


def test_gram_of_a_known_array():
  # Two real positions and one padded (zero) row; the Gram averages over the real ones.
  features = extractors.Features(jnp.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]), jnp.array(2.0))
  np.testing.assert_allclose(nst_losses.gram(features), [[5.0, 7.0], [7.0, 10.0]])


def test_style_loss_weights_the_layers():
  generated = (jnp.array([[1.0, 2.0], [2.0, 0.0]]), jnp.zeros((1, 1)))
  target = (jnp.array([[0.0, 2.0], [2.0, 3.0]]), jnp.array([[2.0]]))
  # Layer 0: 1^2 + 3^2 = 10; layer 1: 2^2 = 4.
  assert float(nst_losses.layer_style_loss(generated[0], target[0])) == pytest.approx(10.0)
  assert float(nst_losses.style_loss(generated, target, (0.5, 2.0))) == pytest.approx(0.5 * 10 + 2 * 4)


@pytest.mark.parametrize("name", ["conv1d", "cnn2d", "critic"])
def test_each_loss_is_zero_at_its_target_only(name, spectrograms):
  content, style = spectrograms
  _, _, net = split_extractor(name, content.shape[0])
  weights = net.style_weights
  ones = lambda s: jnp.ones(s.shape[-1])
  at_content, at_style = extract(net, content, ones(content)), extract(net, style, ones(style))
  targets = nst_losses.Targets(at_content.content, tuple(nst_losses.gram(f) for f in at_style.style))
  assert float(nst_losses.content_loss(at_content.content, targets.content)) == 0.0
  for f, g in zip(at_style.style, targets.style_grams):
    assert float(nst_losses.layer_style_loss(nst_losses.gram(f), g)) == 0.0
  # Content features and Grams of C itself: the total vanishes (to rounding, the
  # Grams being recomputed inside the jitted total); the style clip's do not.
  own = nst_losses.Targets(at_content.content, tuple(nst_losses.gram(f) for f in at_content.style))
  other = float(nst_losses.total_loss(at_content, targets, weights, 1e-2, 1.0))
  assert float(nst_losses.total_loss(at_content, own, weights, 1e-2, 1.0)) < 1e-9 * other


# L-BFGS on conv1d and cnn2d: see the style-only and padding tests (compiles are slow).
@pytest.mark.parametrize("name,optimizer", [("conv1d", "adam"), ("siamese", "lbfgs")])
def test_a_few_steps_lower_the_total_loss(name, optimizer, spectrograms):
  content, style = spectrograms
  graphdef, weights, _ = split_extractor(name, content.shape[0])
  settings = optimize.Settings(content_weight=1e-2, style_weight=1.0, optimizer=optimizer,
                         num_steps=6, learning_rate=0.05)
  init = 1e-3 * np.random.default_rng(0).standard_normal(content.shape).astype(np.float32)
  spec, losses = optimize.stylize_spectrogram(
      graphdef, weights, content, np.ones(content.shape[-1], np.float32), style,
      np.ones(style.shape[-1], np.float32), init, settings=settings)
  assert spec.shape == content.shape and losses.shape == (7,)
  assert np.all(np.isfinite(losses))
  assert losses[-1] < (0.5 if optimizer == "lbfgs" else 0.99) * losses[0]


def test_style_only_reaches_the_style_grams(spectrograms):
  content, style = spectrograms
  graphdef, weights, net = split_extractor("conv1d", content.shape[0])
  settings = optimize.Settings(content_weight=0.0, style_weight=1.0, optimizer="lbfgs",
                         num_steps=60, learning_rate=1.0)
  init = 1e-3 * np.random.default_rng(0).standard_normal(content.shape).astype(np.float32)
  spec, losses = optimize.stylize_spectrogram(
      graphdef, weights, content, np.ones(content.shape[-1], np.float32), style,
      np.ones(style.shape[-1], np.float32), init, settings=settings)
  assert np.all(np.diff(losses) <= 0)  # the linesearch only accepts decreases
  before = relative_gram_distance(net, init, style)
  after = relative_gram_distance(net, spec, style)
  assert before > 0.9
  assert after < before / 20


def test_a_batch_gives_the_pairs_one_by_one(clips):
  content, style = clips
  styler = transfer.StyleTransfer(nst_config("--config.init=content", "--config.num_steps=10"))
  contents, styles = [content, content[:12000]], [style, style[:9000]]
  batch = styler(contents, styles)
  for i in range(2):
    [single] = styler(contents[i:i + 1], styles[i:i + 1])
    assert batch[i].spectrogram.shape == single.spectrogram.shape
    np.testing.assert_allclose(batch[i].spectrogram, single.spectrogram, atol=1e-3)
    np.testing.assert_allclose(batch[i].losses, single.losses, rtol=1e-3)
    assert batch[i].wave.shape == contents[i].shape
  assert batch[0].losses[-1] < 0.5 * batch[0].losses[0]


@pytest.mark.parametrize("name", ["conv1d", "cnn2d", "critic"])
def test_padding_changes_no_features(name, spectrograms):
  content = spectrograms[0][:, :30]
  _, _, net = split_extractor(name, content.shape[0])
  exact, masked = extract(net, content, jnp.ones(30)), extract(net, *pad_to(content, 37))
  for a, b in zip((exact.content, *exact.style), (masked.content, *masked.style)):
    n = a.values.shape[0]
    assert float(a.count) == float(b.count) > 0
    np.testing.assert_allclose(b.values[:n], a.values, rtol=1e-5, atol=1e-5)
    assert not np.any(b.values[n:])


def test_padding_changes_no_result(spectrograms):
  # cnn2d: 'same' convs and pooling, where padding could leak the most.
  content, style = (s[:, :n] for s, n in zip(spectrograms, (30, 25)))
  graphdef, weights, _ = split_extractor("cnn2d", content.shape[0])
  padded, mask = pad_to(content, 37)
  padded_style, style_mask = pad_to(style, 37)
  # Near the content: from small noise, L-BFGS's first steps amplify rounding.
  settings = optimize.Settings(1e-2, 1.0, "lbfgs", 5, 1.0)
  noise = 0.1 * np.random.default_rng(0).standard_normal(padded.shape).astype(np.float32)
  init = padded + noise
  unpadded_spec, unpadded_losses = optimize.stylize_spectrogram(
      graphdef, weights, content, jnp.ones(30), style, jnp.ones(25), init[:, :30],
      settings=settings)
  padded_spec, padded_losses = optimize.stylize_spectrogram(
      graphdef, weights, padded, mask, padded_style, style_mask, init, settings=settings)
  assert padded_losses[-1] < 0.5 * padded_losses[0]
  np.testing.assert_allclose(padded_losses, unpadded_losses, rtol=1e-4)
  # The two programs round their sums in different orders; L-BFGS's steps carry
  # that up to ~2e-4 here (a leak through the padding moves whole columns).
  np.testing.assert_allclose(padded_spec[:, :30], unpadded_spec, atol=5e-4)
  np.testing.assert_array_equal(padded_spec[:, 30:], init[:, 30:])  # no gradient reaches padding


def test_trained_encoder_layers_follow_the_network(spectrograms):
  content, _ = spectrograms
  _, _, net = split_extractor("critic", content.shape[0])
  layers = extract(net, content[:, :33], jnp.ones(33))
  # Valid width-3 conv, then two stride-2 'same' convs: 31, 16, 8 frames.
  assert [f.values.shape for f in layers.style] == [(31, 32), (16, 32)]
  assert layers.content.values.shape == (8, 32)


@pytest.mark.slow
def test_load_network_restores_a_saved_checkpoint(tmp_path):
  config = melganvc_config.defaults()
  config.model.update(generator_channels=16, critic_channels=32, siamese_channels=16,
                      siamese_dim=8)
  state = melganvc_step.init_state(config)
  mngr = checkpoints.manager(str(tmp_path), config)
  checkpoints.save(mngr, state)
  mngr.wait_until_finished()
  workdirs.save_config(str(tmp_path), config)
  trained_config, critic = extractors.load_network(str(tmp_path), "critic")
  assert trained_config.model.critic_channels == 32
  np.testing.assert_array_equal(
      critic.encoder.conv2.conv.kernel[...],
      state.params["critic"]["encoder"]["conv2"]["conv"]["kernel"][...])


@pytest.mark.parametrize("override,key", [
    ("--config.features=vgg", "config.features"),
    ("--config.representation=cqt", "config.representation"),
    ("--config.optimizer=sgd", "config.optimizer"),
    ("--config.num_steps=0", "config.num_steps"),
    ("--config.init=zeros", "config.init"),
    ("--config.cnn2d.style_weights=(1.0,)", "config.cnn2d.style_weights"),
    ("--config.features=critic", "config.representation"),
])
def test_bad_settings_name_the_key(override, key):
  overrides = [override] + (["--config.features=cnn2d"] if "cnn2d" in override else [])
  with pytest.raises(ConfigError, match=f"^{key}: "):
    transfer.StyleTransfer(nst_config(*overrides))


def test_trained_features_need_a_workdir(tmp_path):
  with pytest.raises(ConfigError, match="^config.trained.workdir: .*no saved config"):
    transfer.StyleTransfer(nst_config("--config.features=siamese", "--config.representation=mel",
                                f"--config.trained.workdir={tmp_path}"))


def test_a_clip_too_short_for_the_features_is_rejected(clips):
  content, style = clips
  styler = transfer.StyleTransfer(nst_config())
  assert styler.min_seconds == pytest.approx(10 * 512 / SAMPLE_RATE)
  with pytest.raises(ValueError, match="shorter than the 11"):
    styler([content], [style[:4000]])
