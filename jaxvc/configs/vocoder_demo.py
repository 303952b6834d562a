"""The neural vocoder on the embedded demo corpus's target voice (speaker_b),
sized for a CPU: well inside an hour on 2 cores.

  python -m jaxvc.train --config vocoder_demo --workdir runs/vocoder_demo
  python -m jaxvc.infer convert --workdir runs/demo --vocoder runs/vocoder_demo ...

Smaller than Vocos (`configs/vocoder.py`) in the generator's width, with short
segments, and trained on reconstruction alone: the mel L1 and a
multi-resolution STFT loss, whose linear magnitudes at several frame sizes
pin down the phase that the mel alone leaves loose. A GAN step costs many
reconstruction steps on a CPU, and the few that fit in an hour made the
output worse, not better (docs/results/vocoder.md); the adversarial phase is
one override away (`--config.loss.gan_start_step=N`) for an accelerator.

F0-conditioned (`model.pitch`): given the F0 of the one analysis, it places
the harmonics where the F0 says instead of guessing them from the mel. Chosen
on the train carve-outs of this voice and of the realspeech corpus's Czech
female voice against the same recipe without, 6000 steps each: lower MCD and
higher DNSMOS on both, and on the real voice the frame-rate buzz gone from the
harmonics (docs/results/tuning.md, "The F0-conditioned vocoder").
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
  c.model.pitch = True
  c.discriminator.period_channels = (8, 32, 128, 256)
  c.discriminator.resolution_channels = 16
  c.loss.stft_weight = 45.0
  c.num_steps = 30000
  c.loss.gan_start_step = c.num_steps   # reconstruction only (see above)
  c.log_every = 100
  c.eval_every = 5000
  c.sample_every = 5000
  c.checkpoint_every = 2000
  return c
