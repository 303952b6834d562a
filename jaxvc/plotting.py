"""Spectrogram pictures for TensorBoard and `--plot` PNGs."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
import numpy as np  # noqa: E402

from jaxvc import files  # noqa: E402


def mel_image(mels: list[np.ndarray], gap: int = 4) -> np.ndarray:
  """Normalised mels (n_mels, frames) stacked top to bottom, low frequencies at
  the bottom of each, as one uint8 RGB image (magma colour map)."""
  width = max(m.shape[1] for m in mels)
  rows = []
  for m in mels:
    tile = np.full((m.shape[0], width), np.nan, np.float32)
    tile[:, :m.shape[1]] = m[::-1]
    rows += [tile, np.full((gap, width), np.nan, np.float32)]
  values = (np.concatenate(rows[:-1]) + 1) / 2
  rgba = matplotlib.colormaps["magma"](np.nan_to_num(values, nan=1.0), bytes=True)
  return rgba[..., :3]


def save_png(path: str, image: np.ndarray) -> None:
  """Writes an RGB image atomically (temporary name, then rename)."""
  with files.atomic_path(path) as tmp:
    matplotlib.image.imsave(tmp, image, format="png")
