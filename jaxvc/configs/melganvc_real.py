"""MelGAN-VC for real recorded voices: the demo's recipe with the identity
term loosened, the front-end's loudness normalisation on, and band-limited
sources in training.

  python -m jaxvc.train --config melganvc_real --workdir runs/real \
      --config.data.domain_a=folder:/data/alice --config.data.domain_b=folder:/data/bob

Each folder holds one speaker's recordings, any rate or format soundfile
reads, with `train/` and `test/` subfolders if you want a test split (else
everything trains; the in-loop evaluation uses a tenth of it, `train[90%:]`).
About 30 minutes of each speaker; 2000 steps take about 40 minutes on a
2-core CPU.

Found on the realspeech corpus's Czech pair (two voice actors, different
lines) on a carve-out of its train split, never its test sentences
(docs/results/tuning.md, "Real recorded voices"): the demo recipe converts
real speech half of the way to the target's own copy-synthesis within 1000
steps and then stops, while its identity weight (50) holds the output near
the source voice. At identity 10 the similarity to the target is the same
within the evaluation's noise, and the similarity to the source falls from
about 0.70 to 0.63, under the target's own 0.68: the source voice is gone.
Every wave is brought to -23 LUFS (`audio.loudness_lufs`) at preparation and
conversion alike, so a quiet or a loud take converts as the training data
did. Half of the source crops (and of the target crops the identity term
translates) are band-limited at 3.4-6 kHz (`config.band_limit`), so that an
8 or 11 kHz recording converts with the target's bandwidth and as close to
the target as a full-band one, which costs full-band sources nothing the
evaluation can resolve (tuning.md, "Band-limited sources"). Conversions go
through the level postfilter (`postfilter.enabled`): the generator's mels
span a narrower range of levels than the target's recordings, and mapping
each band onto the target's brought the converted voice closer to the
target's (tuning.md, "The level postfilter"). What this reaches on the pair's test split, and
what it does not: README ("Real voices") and docs/results/real.md.
"""
from jaxvc.configs import melganvc_demo


def get_config():
  c = melganvc_demo.get_config()
  c.loss.identity_weight = 10.0
  c.audio.loudness_lufs = -23.0
  c.band_limit.probability = 0.5
  c.data.domain_a = "folder:corpus/realspeech/cs_fillets_big"
  c.data.domain_b = "folder:corpus/realspeech/cs_fillets_small"
  c.data.train_split = "train"
  c.data.eval_split = "train[90%:]"
  c.postfilter.enabled = True
  c.eval_language = "cs"        # the realspeech pair's transcripts.tsv: in-loop phone error rate
  return c
