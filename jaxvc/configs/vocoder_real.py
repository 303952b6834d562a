"""The neural vocoder for about half an hour of one real voice.

  python -m jaxvc.train --config vocoder_real --workdir runs/vocoder_real \
      --config.data.domain=folder:/data/bob
  python -m jaxvc.infer convert --workdir runs/real --vocoder runs/vocoder_real ...

`vocoder_demo`'s network and reconstruction objective (no GAN steps: on a CPU
budget they cost many reconstruction steps), with the front-end's loudness
normalisation on, as in `melganvc_real`, so that the converter's mels and
the vocoder's share one level, and vocoder_demo's 30000 steps (about an
hour on a 2-core CPU alone). Stopped at 12000 steps, a run on the
realspeech corpus's Czech female speaker rendered most utterances with a buzz
at the frame rate (16000 / 192 = 83 Hz, which WORLD then reads as the F0):
docs/results/real.md. Do not cut the steps.
"""
from jaxvc.configs import vocoder_demo


def get_config():
  c = vocoder_demo.get_config()
  c.audio.loudness_lufs = -23.0
  c.data.domain = "folder:corpus/realspeech/cs_fillets_small"
  c.data.eval_split = "test"
  return c
