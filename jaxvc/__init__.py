"""jaxvc: voice conversion and audio style transfer on mel spectrograms, in JAX."""
