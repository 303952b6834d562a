"""MelGAN-VC on the embedded demo corpus: a low espeak-ng voice -> a high one.

Needs no data preparation (the corpus is rendered offline on first use) and
learns visibly within about 15 minutes on a 2-core CPU:

  python -m jaxvc.train --config configs/melganvc_demo.py --workdir runs/demo
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
