"""The neural vocoder for about half an hour of one real voice.

  python -m jaxvc.train --config vocoder_real --workdir runs/vocoder_real \
      --config.data.domain=folder:/data/bob
  python -m jaxvc.infer convert --workdir runs/real --vocoder runs/vocoder_real ...

`vocoder_demo`'s network and reconstruction objective (no GAN steps: on a CPU
budget they cost many reconstruction steps), with the front-end's loudness
normalisation on, as in `melganvc_real`, so that the converter's mels and
the vocoder's share one level, and the step count that fits about an hour on
a 2-core CPU. On the realspeech corpus's Czech female speaker, its
copy-synthesis and the conversions it renders: docs/results/real.md.
"""
from jaxvc.configs import vocoder_demo


def get_config():
  c = vocoder_demo.get_config()
  c.audio.loudness_lufs = -23.0
  c.data.domain = "folder:corpus/realspeech/cs_fillets_small"
  c.data.eval_split = "test"
  c.num_steps = 12000
  c.loss.gan_start_step = c.num_steps
  c.eval_every = 4000
  c.sample_every = 4000
  return c
