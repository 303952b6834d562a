"""MelGAN-VC speech conversion with the original defaults.

Domains are two speakers: folders of your own audio or a TFDS dataset, e.g.

  python -m jaxvc.train --config configs/melganvc_speech.py --workdir runs/vctk \
      --config.data.domain_a=folder:/data/alice --config.data.domain_b=folder:/data/bob \
      --config.data.eval_split='train[95%:]' --config.data.train_split='train[:95%]'

The default is VCTK speaker p225 -> p226 (prepare it first with `tfds build
vctk`; jaxvc never downloads).

It keeps every setting of the original (Pasini 2019): the loss weights
(critic 1, TraVeL 10, identity 0.5), three critic updates per generator
update, Adam at 2e-4, and none of the levers that `melganvc_demo` tries
(critic augmentation, R1, a separate critic rate, the generator's moving
average). The original's weights were chosen for runs of hours on real
speech, which is what this config is for; the demo's weights answer a
different question (what converts within 2000 steps on a 2-core CPU). They
were tuned on one synthetic voice pair and carried, unchanged, to a second
one (docs/results/tuning.md), but no recorded speech has been tried with them,
so they are not made the default here. To try them on your data:
`--config.loss.adversarial_weight=0.5 --config.loss.identity_weight=50
--config.augment.time_shift=8 --config.augment.mask_frames=12
--config.augment.gain=0.1 --config.generator_ema=0.995`.
"""
from jaxvc.melganvc import config


def get_config():
  c = config.defaults()
  c.data.domain_a = "tfds:vctk:speaker=p225"
  c.data.domain_b = "tfds:vctk:speaker=p226"
  c.data.train_split = "train[:95%]"
  c.data.eval_split = "train[95%:]"
  return c
