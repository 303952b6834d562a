"""The tiny MelGAN-VC that the trainer's tests train, as one config.

A train step takes seconds to compile. The trainer's resume and stop tests
(test_train, test_multihost) and the data-parallel check (test_parallel) all
train this one config, so its step is one program: compiled once and read
from the persistent compilation cache (tests/conftest.py) by every later run. The periodic eval (test_conversion_quality) reads the same
config file, and so the domains it prepared.
"""
import os

import numpy as np

from jaxvc.melganvc import config as melganvc_config


def config():
  c = melganvc_config.defaults()
  c.data.batch_size = 4           # splits over test_parallel's 2 processes of 2 devices
  c.model.update(generator_channels=16, critic_channels=16, siamese_channels=16, siamese_dim=8)
  # The recipe levers (R1 too, over the default 3 critic updates): their random
  # draws and the average must resume exactly and split over devices too.
  c.loss.r1_weight = 1.0
  c.augment.update(time_shift=4, mask_frames=6, gain=0.1)
  c.band_limit.probability = 0.5
  c.generator_ema = 0.9
  return c


def batch(config, rng: np.random.Generator) -> dict:
  """A global batch of crops in (-1, 1), as the input pipeline gives the step."""
  shape = (config.critic_updates, config.data.batch_size, config.audio.n_mels,
           config.data.chunk_frames * config.data.chunks_per_crop)
  return {k: np.tanh(rng.normal(size=shape)).astype(np.float32) for k in "ab"}


CONFIG_FILE = '''
import sys
sys.path.insert(0, {tests!r})
import tiny_melganvc
def get_config():
  c = tiny_melganvc.config()
  c.data.domain_a = "folder:{corpus}/speaker_a"
  c.data.domain_b = "folder:{corpus}/speaker_b"
  c.data.cache_dir = {cache!r}
  c.data.shard_mb = 0.25          # a few utterances a shard: crops are read across files
  c.num_steps = 4
  c.log_every = 1
  c.eval_every = 2
  c.sample_every = 4
  c.checkpoint_every = 2
  c.eval_quality_utterances = 0   # tested in test_conversion_quality.py
  return c
'''


def write_config_file(path, corpus) -> str:
  """`config()` training on the demo corpus at `corpus`, as a config file for
  `python -m jaxvc.train` (4 steps, every cadence hit); its cache beside it."""
  path.write_text(CONFIG_FILE.format(tests=os.path.dirname(os.path.abspath(__file__)),
                                     corpus=str(corpus), cache=str(path.parent / "cache")))
  return str(path)
