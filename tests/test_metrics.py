"""The trainer's held-out measure: per-bin statistics distance, on hand-computed cases."""
import numpy as np

from jaxvc.evaluation import mel_statistics as metrics

# Two utterances whose frames pool into bin 0 = (0, 2), bin 1 = (1, 1):
# per-bin means (1, 1), stds (1, 0).
MELS = [np.array([[0.0], [1.0]]), np.array([[2.0], [1.0]])]


def test_parts_are_means_then_stds():
  # Reference means (3, 0), stds (0, 0): means differ by (2, 1), stds by (1, 0).
  reference = [np.array([[3.0, 3.0], [0.0, 0.0]])]
  assert metrics.statistics_distance_parts(MELS, reference) == (1.5, 0.5)


def test_same_statistics_give_zero():
  reference = [np.array([[2.0, 0.0], [1.0, 1.0]])]
  assert metrics.statistics_distance_parts(MELS, reference) == (0.0, 0.0)
