"""MelGAN-VC music style conversion: GTZAN jazz -> classical.

Any two folders of music work the same way (`--config.data.domain_a=folder:...`).
Music has no silences to trim, so trimming is off.
"""
from jaxvc.melganvc import config


def get_config():
  c = config.defaults()
  c.data.domain_a = "tfds:gtzan:label=jazz"
  c.data.domain_b = "tfds:gtzan:label=classical"
  c.data.train_split = "train[:90%]"
  c.data.eval_split = "train[90%:]"
  c.data.top_db = 0.0
  return c
