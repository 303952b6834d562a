"""The neural vocoder at Vocos's size, for your own audio.

  python -m jaxvc.train --config vocoder --workdir runs/vocoder \
      --config.data.domain=folder:/path/to/target_speaker

Train it on the audio whose voice the conversions end in (the target domain,
or both domains) and at the same `config.audio` as the MelGAN-VC model it
will serve. Vocos trains for about a million steps on an accelerator; quality
keeps improving well past 100k. The model, discriminators and losses are in
`jaxvc/vocoder/config.py`.
"""
from jaxvc.vocoder import config


def get_config():
  c = config.defaults()
  c.data.domain = "folder:/path/to/your/audio"
  c.num_steps = 200_000
  c.log_every = 100
  c.eval_every = 5000
  c.sample_every = 5000
  c.checkpoint_every = 5000
  return c
