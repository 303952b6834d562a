"""jaxvc: voice conversion and audio style transfer on mel spectrograms, in JAX.

Where things are:

  train.py, methods.py    the one trainer (`python -m jaxvc.train`) and the
                          interface a trainable method gives it
  checkpoints.py          orbax checkpoints of a train state
  workdirs.py             a workdir's config.json, and loading a trained run from it
  config.py, configs/     loading configs; the shipped configs
  infer.py, cli/          `python -m jaxvc.infer convert|stylize`
  audio/                  the shared front-end: files, STFT, mels, inversion
  data/                   domains (demo corpus, folders, TFDS) and stateless crops
  melganvc/               MelGAN-VC: networks, losses, step, input, eval, Converter
  vocoder/                the neural vocoder: networks, losses, step, Vocoder
  nst/                    spectrogram neural style transfer
  evaluation/             metrics (MCD, similarity, WER, F0, DNSMOS) and scoring
  layers.py, buckets.py   shared network layers; padding to few compiled shapes
  monitoring.py, plotting.py, files.py, errors.py   the edges: logs, pictures,
                          paths that may be URLs and atomic writes, config errors
"""
import importlib

# Public names loaded on first use, so `import jaxvc` stays light.
_LAZY = {"Converter": "jaxvc.melganvc.inference", "Vocoder": "jaxvc.vocoder.inference"}


def __getattr__(name: str):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module 'jaxvc' has no attribute {name!r}")
