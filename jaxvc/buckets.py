"""Padding inputs of any size to a few sizes, so that jit compiles few programs.

jit compiles one program per input shape. Lengths and batch sizes that vary
(utterances, windows, chunk counts) are padded up to a bucket: the smallest
2**k or 3 * 2**k at or above them, so a padded size is within 1.5x of the
real one and n sizes up to N need about 2 log2(N) programs.
"""
from collections.abc import Callable

import numpy as np


def bucket(n: int, minimum: int = 1) -> int:
  """The smallest 2**k or 3 * 2**k that is >= max(n, minimum)."""
  n = max(n, minimum, 1)
  power = 1 << (n - 1).bit_length()
  return 3 * power // 4 if n <= 3 * power // 4 else power


def pad_to(x: np.ndarray, size: int, axis: int = -1, value: float = 0.0) -> np.ndarray:
  """`x` padded with `value` at the end of `axis` up to `size` (never cut)."""
  axis = axis % x.ndim
  widths = [(0, 0)] * x.ndim
  widths[axis] = (0, size - x.shape[axis])
  return np.pad(x, widths, constant_values=value)


def map_in_batches(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                   batch_size: int) -> np.ndarray:
  """Applies a jitted `fn` over the leading axis in batches of `batch_size`, the
  last one padded with copies of the last row, so any count reuses one program."""
  n = len(x)
  padded = np.concatenate([x, np.repeat(x[-1:], -n % batch_size, axis=0)])
  out = [np.asarray(fn(padded[i:i + batch_size])) for i in range(0, len(padded), batch_size)]
  return np.concatenate(out)[:n]
