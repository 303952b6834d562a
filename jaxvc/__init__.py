"""jaxvc: voice conversion and audio style transfer on mel spectrograms, in JAX."""
import importlib

# Public names loaded on first use, so `import jaxvc` stays light.
_LAZY = {"Converter": "jaxvc.converter"}


def __getattr__(name: str):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f"module 'jaxvc' has no attribute {name!r}")
