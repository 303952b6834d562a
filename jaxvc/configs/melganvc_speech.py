"""MelGAN-VC speech conversion with the original defaults.

Domains are two speakers: folders of your own audio or a TFDS dataset, e.g.

  python -m jaxvc.train --config configs/melganvc_speech.py --workdir runs/vctk \
      --config.data.domain_a=folder:/data/alice --config.data.domain_b=folder:/data/bob \
      --config.data.eval_split='train[95%:]' --config.data.train_split='train[:95%]'

The default is VCTK speaker p225 -> p226 (TFDS downloads VCTK on first use).
"""
from jaxvc.melganvc import config


def get_config():
  c = config.defaults()
  c.data.domain_a = "tfds:vctk:speaker=p225"
  c.data.domain_b = "tfds:vctk:speaker=p226"
  c.data.train_split = "train[:95%]"
  c.data.eval_split = "train[95%:]"
  return c
