"""A cheap held-out measure of conversion: how close the per-bin statistics of
converted mels are to the target domain's.

Voice conversion moves the spectral envelope and pitch, which shows up as the
mean and spread of each mel bin over time. The distance of the converted
audio's statistics from the target's, set beside the same distance for the
unconverted source, tells whether training moves audio towards the target.
"""
import numpy as np


def bin_statistics(mels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  """Mean and standard deviation of every mel bin over all frames of `mels`."""
  frames = np.concatenate([m for m in mels], axis=1)
  return frames.mean(axis=1), frames.std(axis=1)


def statistics_distance_parts(mels: list[np.ndarray],
                              reference: list[np.ndarray]) -> tuple[float, float]:
  """(mean absolute difference of per-bin means, that of per-bin stds).

  Their sum is the distance. Apart, they say whether conversion moved the
  spectral envelope (means) and whether the temporal contrast of each bin
  matches the target's (stds).
  """
  mean, std = bin_statistics(mels)
  ref_mean, ref_std = bin_statistics(reference)
  return float(np.abs(mean - ref_mean).mean()), float(np.abs(std - ref_std).mean())
