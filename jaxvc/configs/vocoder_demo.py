"""The neural vocoder on the embedded demo corpus's target voice (speaker_b),
sized for a CPU: an hour on 2 cores.

  python -m jaxvc.train --config vocoder_demo --workdir runs/vocoder_demo
  python -m jaxvc.infer convert --workdir runs/demo --vocoder runs/vocoder_demo ...

Smaller than Vocos (`configs/vocoder.py`) in the generator's width and the
discriminators' channels, with short segments and a warm-up on the mel loss
alone, so that a CPU runs enough steps in an hour; what it reaches against
Griffin-Lim is in docs/results/vocoder.md.
"""
from jaxvc.vocoder import config


def get_config():
  c = config.defaults()
  c.data.domain = "demo:speaker_b"
  c.data.batch_size = 8
  c.data.segment_frames = 32
  c.model.dim = 256
  c.model.intermediate_dim = 768
  c.model.num_layers = 6
  c.discriminator.period_channels = (8, 32, 128, 256)
  c.discriminator.resolution_channels = 16
  # The mel loss alone first (a small fraction of a GAN step's cost; see
  # `tools/benchmark.py --only vocoder_training`), then the full GAN
  # objective for the last 2000 steps.
  c.loss.gan_start_step = 12000
  c.num_steps = 14000
  c.log_every = 100
  c.eval_every = 2000
  c.sample_every = 2000
  c.checkpoint_every = 1000
  return c
