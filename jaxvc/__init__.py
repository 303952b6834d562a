"""jaxvc: voice conversion and audio style transfer on mel spectrograms, in JAX.

Where things are:

  train.py, methods.py    the one trainer (`python -m jaxvc.train`) and the small
                          interface each trainable method gives it
  checkpoints.py          orbax checkpoints of a train state
  workdirs.py             a workdir's config.json, and loading a trained run from it
  caches.py               the cache folder and JAX's persistent compilation cache
  config.py, configs/     config loading and checks; the shipped configs
                          (configs/ at the top is a link to jaxvc/configs/)
  infer.py, cli/          `python -m jaxvc.infer convert | stream | stylize | export`
  export.py               a trained generator and vocoder as SavedModel / TFLite files
  audio/                  the shared front-end: files, loudness, STFT, mels, inversion,
                          F0, pitch shift in the mel
  data/                   domains (demo corpus, folders, TFDS), the on-disk store of
                          prepared utterances, and stateless crops
  melganvc/               MelGAN-VC: config, networks, losses, step, input
                          pipeline, eval, the Converter and its voices' F0
                          statistics, and the windows a conversion is cut
                          into as its audio arrives (offline and live)
  vocoder/                the neural vocoder: config, generator (and its F0
                          excitation), discriminators, losses, step, input
                          pipeline, eval, Vocoder
  nst/                    spectrogram neural style transfer: config checks, feature
                          extractors, losses, the optimization; none of the
                          trainer's parts (step, input pipeline, evaluator, method),
                          as it trains nothing: it optimizes a spectrogram per
                          clip at inference time
  evaluation/             metrics (MCD, similarity, WER, F0, DNSMOS), scoring,
                          the in-training conversion quality
  layers.py, buckets.py   shared layers; padding to a few compiled shapes
  monitoring.py, plotting.py, files.py, errors.py    logs, pictures, paths
                          that may be URLs (gs://) and atomic writes,
                          one-line config errors
"""
import importlib

# Public names loaded on first use, so `import jaxvc` stays light.
_LAZY = {"Converter": "jaxvc.melganvc.inference", "Vocoder": "jaxvc.vocoder.inference"}


def __getattr__(name: str):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module 'jaxvc' has no attribute {name!r}")
