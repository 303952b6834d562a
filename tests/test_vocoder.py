"""The neural vocoder: shapes and sizes, losses by hand, exact resume, streaming
synthesis, and the errors a user meets (mismatched audio settings, bad workdirs)."""
import math
import re

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

import jaxvc
from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc import infer
from jaxvc import train
from jaxvc.errors import ConfigError
from jaxvc.vocoder import config as vocoder_config
from jaxvc.vocoder import discriminators as discriminators_lib
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import losses
from jaxvc.vocoder import method as vocoder_method
from jaxvc.vocoder import step as step_lib
from jaxvc.vocoder import inference as vocoder_inference
from test_converter import tiny_config as tiny_melganvc_config
from test_converter import write_workdir


def tiny_config(**data):
  c = vocoder_config.defaults()
  c.model.update(dim=16, intermediate_dim=32, num_layers=2)
  c.discriminator.update(periods=(2, 3), period_channels=(4, 8),
                         resolutions=((256, 64),), resolution_channels=4)
  c.data.update(batch_size=2, segment_frames=8, **data)
  return c


def _count(module) -> int:
  return sum(x.size for x in jax.tree.leaves(nnx.state(module, nnx.Param)))


def test_generator_shapes_and_parameter_count():
  c = tiny_config()
  g = generator_lib.create(c)
  mel = jnp.zeros((3, c.audio.n_mels, 20))
  assert jax.eval_shape(g, mel).shape == (3, 20 * c.audio.hop_length)
  m, k, n_mels = c.model, c.model.kernel_size, c.audio.n_mels
  d, h = m.dim, m.intermediate_dim
  block = k * d + d + 2 * d + d * h + h + h * d + d + d   # dw conv, norm, expand, project, scale
  expected = (k * n_mels * d + d + 2 * d + m.num_layers * block + 2 * d
              + d * (m.n_fft + 2) + m.n_fft + 2)
  assert _count(g) == expected
  # F0-conditioned: two more input channels and the pulse train's filter head.
  c.model.pitch = True
  g = generator_lib.create(c)
  assert _count(g) == expected + k * 2 * d + d * (m.n_fft + 2) + m.n_fft + 2
  pitch = jnp.zeros((3, 4, 20))
  assert jax.eval_shape(g, mel, pitch).shape == (3, 20 * c.audio.hop_length)
  with pytest.raises(ValueError, match="needs the F0"):
    g(mel)
  # A noise source gives the free part's phase: its head predicts magnitudes only.
  c.model.noise_source = True
  g = generator_lib.create(c)
  assert _count(g) == expected + k * 2 * d + d * (m.n_fft + 2) + m.n_fft + 2 - (d + 1) * (m.n_fft // 2 + 1)
  assert jax.eval_shape(g, mel, pitch).shape == (3, 20 * c.audio.hop_length)
  c.model.pitch = False
  with pytest.raises(ConfigError, match="model.noise_source: needs model.pitch"):
    vocoder_config.check(c)


def test_discriminator_shapes_and_parameter_count():
  c = tiny_config()
  disc = discriminators_lib.Discriminators(c, rngs=nnx.Rngs(0))
  samples = c.data.segment_frames * c.audio.hop_length
  periods, resolutions = jax.eval_shape(disc, jnp.zeros((2, samples)))
  assert len(periods) == 2 and len(resolutions) == 1
  for (scores, features), p in zip(periods, (2, 3)):
    # A stride-3 conv per channel count over T / p, a stride-1 conv, then the score.
    length = math.ceil(samples / p)
    for _ in c.discriminator.period_channels:
      length = math.ceil(length / 3)
    assert scores.shape == (2, p * length) and len(features) == 4
  (scores, features), = resolutions
  assert scores.ndim == 2 and len(features) == 6

  def conv(window, c_in, c_out):   # v, g and bias of a weight-normalised conv
    return window * c_in * c_out + 2 * c_out
  chans = (1, 4, 8)
  period = (sum(conv(5, a, b) for a, b in zip(chans[:-1], chans[1:]))
            + conv(5, 8, 8) + conv(3, 8, 1))
  r = 4
  resolution = conv(27, 1, r) + 3 * conv(27, r, r) + conv(9, r, r) + conv(9, r, 1)
  assert _count(disc) == 2 * period + resolution


def test_hinge_and_feature_matching_by_hand():
  real = [(jnp.array([2.0, 0.5]), [jnp.array([1.0, 2.0])])]
  fake = [(jnp.array([-3.0, 0.0]), [jnp.array([0.0, 4.0])])]
  # relu(1 - real): 0, 0.5 -> 0.25; relu(1 + fake): 0, 1 -> 0.5.
  np.testing.assert_allclose(losses.discriminator_hinge(real, fake), 0.75)
  # relu(1 - fake): 4, 1 -> 2.5.
  np.testing.assert_allclose(losses.generator_hinge(fake), 2.5)
  # |1 - 0|, |2 - 4| -> 1.5, for each of the two maps below (score map included).
  two = [(None, [jnp.array([1.0, 2.0]), jnp.array([0.0])])]
  two_fake = [(None, [jnp.array([0.0, 4.0]), jnp.array([1.0])])]
  np.testing.assert_allclose(losses.feature_matching(two, two_fake), 1.5 + 1.0)


def test_mel_l1_is_ln_of_the_gain_above_the_floor():
  cfg = audio.AudioConfig()
  t = np.arange(8000) / cfg.sample_rate
  wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
  np.testing.assert_allclose(losses.mel_l1(wave, wave, cfg), 0.0, atol=1e-6)
  loud = losses.log_mel(jnp.asarray(wave), cfg) > math.log(losses.LOG_FLOOR) + 2
  gain = jnp.abs(losses.log_mel(2 * wave, cfg) - losses.log_mel(wave, cfg))
  np.testing.assert_allclose(gain[loud], math.log(2), rtol=1e-4)


def test_multi_resolution_stft_is_convergence_plus_ln_of_the_gain():
  wave = 0.3 * np.random.RandomState(0).randn(2, 4096).astype(np.float32)
  resolutions = ((256, 64), (512, 128))
  np.testing.assert_allclose(losses.multi_resolution_stft(wave, wave, resolutions), 0.0, atol=1e-6)
  # Twice the wave: |2Y - Y| / |Y| = 1 and |ln 2Y - ln Y| = ln 2 at every
  # resolution (noise has no bin near the floor).
  np.testing.assert_allclose(losses.multi_resolution_stft(2 * wave, wave, resolutions),
                             1 + math.log(2), rtol=1e-5)
  c = tiny_config()
  c.loss.stft_resolutions = ((4096, 64),)
  with pytest.raises(ConfigError, match=r"^config.loss.stft_resolutions: .*within the 1536-sample"):
    vocoder_config.check(c)


def test_a_run_without_gan_steps_leaves_the_discriminators_out():
  c = tiny_config()
  c.num_steps = c.loss.gan_start_step = 3
  state = step_lib.init_state(c)
  wave = 0.1 * np.random.RandomState(0).randn(2, 8 * c.audio.hop_length).astype(np.float32)
  new, metrics = jax.jit(step_lib.make_train_step(c, step_lib.graph_definitions(c)))(
      state, {"wave": wave})
  assert float(metrics["discriminator_loss"]) == 0 and float(metrics["mel_l1"]) > 0
  assert _all_zero(new.discriminator_opt) and not _all_zero(new.generator_opt)


def test_both_sides_enter_the_gan_phase_at_the_same_learning_rate():
  c = tiny_config()
  c.num_steps, c.loss.gan_start_step = 100, 60
  generator, discriminators = step_lib.schedules(c)
  lr = c.optim.learning_rate
  np.testing.assert_allclose([generator(0), generator(60), discriminators(0)], lr)
  assert generator(59) < 0.01 * lr and generator(80) == discriminators(20) < lr
  assert discriminators(40) == generator(100) == 0


def _logged(text: str) -> dict[int, dict[str, float]]:
  """The metrics of each console line `step N/M | name=value ... | ...`."""
  return {int(m[1]): {k: float(v) for k, v in re.findall(r"(\w+)=(\S+)", m[2])}
          for m in re.finditer(r"^step (\d+)/\d+ \| (.*?) \|", text, re.M)}


def _all_zero(tree) -> bool:
  return all(not np.any(x) for x in jax.tree.leaves(jax.device_get(tree)))


def test_resumed_run_equals_uninterrupted_run(demo_corpus, tmp_path, monkeypatch, capsys):
  # Steps 1-2 train on reconstruction alone, 3-4 are GAN steps: the resume
  # crosses both, and the console shows what each phase trained.
  c = tiny_config(domain=f"folder:{demo_corpus}/speaker_b", cache_dir=str(tmp_path / "cache"))
  c.loss.update(gan_start_step=2, stft_weight=1.0)
  c.model.pitch = True   # the F0 analysis runs inside the step, in both phases
  c.model.noise_source = True   # and each step draws its noise from the step
  c.update(num_steps=4, log_every=1, eval_every=4, sample_every=4, checkpoint_every=2)
  # Built once for the three runs (each would trace the same step again).
  parallel = train.data_parallel(vocoder_method.METHOD, c)
  full = train.train_and_evaluate(c, str(tmp_path / "full"), parallel=parallel)
  logged = _logged(capsys.readouterr().out)
  for step in (1, 2):   # the discriminators neither run nor train
    assert logged[step]["discriminator_loss"] == 0 and logged[step]["stft"] > 0
    assert logged[step]["generator_loss"] == pytest.approx(
        c.loss.mel_weight * logged[step]["mel_l1"] + logged[step]["stft"], abs=0.05)
  assert all(logged[step]["discriminator_loss"] > 0 for step in (3, 4))
  # Stopped as a preemption stops it (the learning-rate schedules depend on
  # num_steps, so a shorter run would be another program to compile).
  with monkeypatch.context() as m:
    m.setattr(train.Preemption, "agreed", lambda self, step: step == 2)
    stopped = train.train_and_evaluate(c, str(tmp_path / "resumed"), parallel=parallel)
  assert int(stopped.step) == 2
  # Adam's moments and counts still zero: no discriminator update yet.
  assert _all_zero(stopped.discriminator_opt) and not _all_zero(stopped.generator_opt)
  assert not _all_zero(full.discriminator_opt)
  resumed = train.train_and_evaluate(c, str(tmp_path / "resumed"), parallel=parallel)
  assert int(resumed.step) == int(full.step) == 4
  for a, b in zip(jax.tree.leaves(jax.device_get(full.params)),
                  jax.tree.leaves(jax.device_get(resumed.params)), strict=True):
    np.testing.assert_array_equal(a, b)
  # The trained generator renders any length through the Python API.
  vocoder = jaxvc.Vocoder.from_workdir(str(tmp_path / "full"))
  assert vocoder.step == 4
  assert vocoder(np.zeros((c.audio.n_mels, 30), np.float32)).shape == (30 * c.audio.hop_length,)


@pytest.fixture(scope="module")
def vocoder():
  c = tiny_config()
  params = nnx.split(generator_lib.create(c))[1]
  return vocoder_inference.Vocoder(c, params, window_frames=16)


def test_streamed_synthesis_equals_one_shot(vocoder):
  mel = np.random.RandomState(1).uniform(-1, 0, (vocoder.cfg.n_mels, 53)).astype(np.float32)
  one_shot = vocoder_inference.Vocoder(vocoder.config, vocoder._params, window_frames=1000)(mel)
  streamed = vocoder(mel)
  assert streamed.shape == one_shot.shape == (53 * vocoder.cfg.hop_length,)
  # Exact up to float rounding (windows differ only in summation order and padding).
  np.testing.assert_allclose(streamed, one_shot, atol=1e-5 * np.abs(one_shot).max())
  # And the receptive field is what context_frames says: a change beyond it
  # leaves frame 0's samples alone, one inside it does not.
  c, hop = vocoder.context, vocoder.cfg.hop_length
  for offset, changes in ((c + 1, False), (c - 1, True)):
    other = mel.copy()
    other[:, offset] += 0.5
    moved = not np.allclose(vocoder(other)[:hop // 2], streamed[:hop // 2], atol=1e-6)
    assert moved == changes, offset


@pytest.mark.parametrize("pitch", [False, True])
def test_a_causal_vocoder_hears_the_mel_ahead_only_as_far_as_its_lookahead(pitch):
  """model.causal: the samples of frame t do not move when the mel (or the
  F0) changes after t + lookahead; without the F0 the bound is tight (the
  inverse STFT's half frame), and the past is heard as far as `context`."""
  c = tiny_config()
  c.model.update(causal=True, pitch=pitch)
  vocoder = vocoder_inference.Vocoder(c, nnx.split(generator_lib.create(c))[1])
  before, after = generator_lib.receptive_field(c)
  assert (vocoder.context, vocoder.lookahead) == (before, after) and after < before
  hop, t = vocoder.cfg.hop_length, 40
  mel = np.random.RandomState(2).uniform(-1, 0, (vocoder.cfg.n_mels, 80)).astype(np.float32)
  f0 = np.full(80, 140.0)
  inputs = (f0,) if pitch else ()
  base = vocoder(mel, *inputs)[t * hop - hop // 2:t * hop + hop // 2]

  def moved(frame, in_f0=False):
    m, f = mel.copy(), f0.copy()
    if in_f0:
      f[frame] = 200.0
    else:
      m[:, frame] += 0.5
    out = vocoder(m, *((f,) if pitch else ()))[t * hop - hop // 2:t * hop + hop // 2]
    return not np.allclose(out, base, atol=1e-6)

  assert not moved(t + after + 1)
  if pitch:
    assert not moved(t + after + 1, in_f0=True)
  else:
    assert moved(t + after)
    assert moved(t - before + 1) and not moved(t - before - 1)


def test_mismatched_audio_settings_are_a_config_error(vocoder, tmp_path):
  melganvc = tiny_melganvc_config()
  melganvc.audio.n_mels = 128
  other = jaxvc.Converter(melganvc, lambda m: m, vocoder=None)
  with pytest.raises(ConfigError, match=r"other audio settings .*n_mels 192 vs 128"):
    jaxvc.Converter(melganvc, lambda m: m, vocoder=vocoder)
  assert other.inversion.context is None
  # The trainer's samples and the style transfer load theirs by config key.
  workdir = write_workdir(tmp_path / "vocoder", tiny_config())
  melganvc.vocoder = workdir
  with pytest.raises(ConfigError, match=r"^config.vocoder: the vocoder was trained on other"):
    vocoder_inference.from_config_key(melganvc, audio.AudioConfig.from_config(melganvc.audio), "x")
  melganvc.vocoder = str(tmp_path / "missing")
  with pytest.raises(ConfigError, match=r"^config.vocoder: .*missing"):
    vocoder_inference.from_config_key(melganvc, audio.AudioConfig.from_config(melganvc.audio), "x")


def test_convert_with_a_vocoder_and_bad_vocoders_exit_2(speech, tmp_path, capsys):
  wave, rate = speech
  sf.write(tmp_path / "in.wav", wave[:rate], rate)
  model = write_workdir(tmp_path / "melganvc", tiny_melganvc_config())
  good = write_workdir(tmp_path / "vocoder", tiny_config())
  other = tiny_config()
  other.audio.fmax = 7000
  mismatched = write_workdir(tmp_path / "mismatched", other)
  base = ["convert", "--workdir", model, "--input", str(tmp_path / "in.wav")]
  assert infer.main([*base, "--output", str(tmp_path / "out.wav"), "--vocoder", good]) == 0
  assert sf.info(tmp_path / "out.wav").frames == rate
  capsys.readouterr()
  cases = [
      ([str(tmp_path / "nothing")], "nothing/config.json: no saved config"),
      ([model], "a melganvc run, not a vocoder one"),
      ([mismatched], "fmax 7000"),
      ([good, "--iters", "3"], "--vocoder renders the mels itself"),
  ]
  for (vocoder, *extra), message in cases:
    argv = [*base, "--output", str(tmp_path / "bad.wav"), "--vocoder", vocoder, *extra]
    assert infer.main(argv) == 2, vocoder
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], (vocoder, err)
  assert not (tmp_path / "bad.wav").exists()


def test_style_transfer_with_a_vocoder(speech, tmp_path):
  from jaxvc.nst import transfer
  wave, rate = speech
  c = config_lib.from_file("nst", ["--config.representation=mel", "--config.num_steps=2",
                                   "--config.conv1d.filters=8",
                                   f"--config.vocoder={write_workdir(tmp_path / 'v', tiny_config())}"])
  result, = transfer.StyleTransfer(c)([wave[:rate]], [wave[rate:2 * rate]])
  assert result.wave.shape == (rate,) and np.isfinite(result.wave).all()
  c.representation = "log_stft"
  with pytest.raises(ConfigError, match="config.vocoder: a vocoder renders mels"):
    transfer.StyleTransfer(c)
