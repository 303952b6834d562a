"""The neural vocoder for about half an hour of one real voice.

  python -m jaxvc.train --config vocoder_real --workdir runs/vocoder_real \
      --config.data.domain=folder:/data/bob
  python -m jaxvc.infer convert --workdir runs/real --vocoder runs/vocoder_real ...

`vocoder_demo`'s network and reconstruction objective (no GAN steps: on a CPU
budget they cost many reconstruction steps), F0-conditioned as it is, with
the front-end's loudness normalisation on, as in `melganvc_real`, so that
the converter's mels and the vocoder's share one level, and vocoder_demo's
30000 steps (about an hour on a 2-core CPU alone). Without the F0, on the
realspeech corpus's Czech female speaker it rendered most utterances with a
buzz at the frame rate (16000 / 192 = 83 Hz, which a pitch tracker then
reads as the F0), at 12000 steps and still at 30000 (an F0 error of 964
cents against the recordings: docs/results/vocoder_pitch/real_30000):
reconstruction alone does not pin down the phase of real speech. Given the
F0 it places the harmonics there (a third of the frames an octave low
without, 2% with, on the carve-out at 6000 steps: docs/results/tuning.md,
"The F0-conditioned vocoder"); its unvoiced frames still carried some of that
periodicity, and on a converter's mels, whose voicing is weak, most of the
output read at 83 Hz. With a noise source for the free part's phase
(`model.noise_source`: harmonic plus noise) no frame does, copy-synthesis is
closer to the recordings and DNSMOS rates it higher; conversions it rates
as it rates Griffin-Lim's, lower than the buzz (docs/results/tuning.md,
"A noise source for the aperiodic part").
"""
from jaxvc.configs import vocoder_demo


def get_config():
  c = vocoder_demo.get_config()
  c.model.noise_source = True
  c.audio.loudness_lufs = -23.0
  c.data.domain = "folder:corpus/realspeech/cs_fillets_small"
  c.data.eval_split = "test"
  return c
