"""Where jaxvc keeps what it can recompute, and JAX's persistent compilation cache.

The cache folder holds the rendered demo corpus, prepared audio folders, the
mels of each domain and the compiled XLA programs. Compiled programs matter
most to short runs: a CPU compiles each new program shape in seconds, so a
folder of short files (one window size after another) or a restarted run
would otherwise spend more time compiling than computing. `enable_compilation_cache`
is called by the command-line entry points only (side effects at the edges);
library users call it themselves if they want it.
"""
import os
from pathlib import Path

import jax

# Programs that compile faster than this are not worth a disk read (JAX's
# default is 1 s, which leaves out most of the converter's per-window programs).
MIN_COMPILE_SECONDS = 0.2


def cache_root(cache_dir: str | None = None) -> Path:
  """The jaxvc cache: `cache_dir`, or if empty $JAXVC_CACHE, or ~/.cache/jaxvc."""
  if cache_dir:
    return Path(cache_dir).expanduser()
  return Path(os.environ.get("JAXVC_CACHE") or Path.home() / ".cache" / "jaxvc")


def compilation_cache_dir() -> str | None:
  """$JAXVC_COMPILATION_CACHE ("off" disables it), else `cache_root()/xla`."""
  folder = os.environ.get("JAXVC_COMPILATION_CACHE")
  if folder == "off":
    return None
  return folder or str(cache_root() / "xla")


def enable_compilation_cache() -> None:
  """Points JAX's persistent compilation cache at `compilation_cache_dir()`,
  unless the user already set one (JAX_COMPILATION_CACHE_DIR) or turned it off;
  programs are kept from `MIN_COMPILE_SECONDS` of compiling, unless the user
  chose (JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS)."""
  folder = compilation_cache_dir()
  if folder is None or jax.config.jax_compilation_cache_dir:
    return
  jax.config.update("jax_compilation_cache_dir", folder)
  if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
