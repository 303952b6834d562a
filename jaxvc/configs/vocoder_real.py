"""The neural vocoder for about half an hour of one real voice.

  python -m jaxvc.train --config vocoder_real --workdir runs/vocoder_real \
      --config.data.domain=folder:/data/bob
  python -m jaxvc.infer convert --workdir runs/real --vocoder runs/vocoder_real ...

`vocoder_demo`'s network and reconstruction objective (no GAN steps: on a CPU
budget they cost many reconstruction steps), with the front-end's loudness
normalisation on, as in `melganvc_real`, so that the converter's mels and
the vocoder's share one level, and vocoder_demo's 30000 steps (about an
hour on a 2-core CPU alone). On the realspeech corpus's Czech female
speaker it renders most utterances with a buzz at the frame rate (16000 /
192 = 83 Hz, which WORLD then reads as the F0), at 12000 steps and still at
30000 (docs/results/real.md, docs/results/real_recipe/real.md): on real
speech, reconstruction alone does not pin down the phase; the GAN phase
(`--config.loss.gan_start_step`) is the lever to try where there is the
budget.
"""
from jaxvc.configs import vocoder_demo


def get_config():
  c = vocoder_demo.get_config()
  c.audio.loudness_lufs = -23.0
  c.data.domain = "folder:corpus/realspeech/cs_fillets_small"
  c.data.eval_split = "test"
  return c
