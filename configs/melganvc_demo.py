"""MelGAN-VC on the embedded demo corpus: a low espeak-ng voice -> a high one.

Needs no data preparation (the corpus is rendered offline on first use) and
runs its 1000 steps in about 8 minutes on a 2-core CPU (0.42 s a step):

  python -m jaxvc.train --config configs/melganvc_demo.py --workdir runs/demo

It shows the whole machinery working (losses, held-out metric, samples,
checkpoints, resume); 1000 steps are far fewer than MelGAN-VC needs to convert
convincingly (see the README's results), so raise `num_steps` for real use.
"""
from jaxvc import config


def get_config():
  c = config.melganvc()
  c.num_steps = 1000
  c.log_every = 25
  c.eval_every = 250
  c.sample_every = 250
  c.checkpoint_every = 250
  return c
