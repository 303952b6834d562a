"""Pictures: spectrogram images for TensorBoard and `--plot`, and matplotlib figures.

The one place matplotlib is set up (the Agg backend: files, no display);
everything that draws imports it from here.
"""
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.image  # noqa: E402
from matplotlib import figure as figure_lib  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

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


def figure(width: float, height: float) -> figure_lib.Figure:
  """A figure of `width` x `height` inches with a constrained layout."""
  return figure_lib.Figure(figsize=(width, height), layout="constrained")


def save_figure(fig: figure_lib.Figure, path, *, dpi: int = 72,
                colours: int | None = None) -> None:
  """Writes `fig` as a PNG atomically; with `colours`, as a palette PNG of that
  many colours (spectrograms' noise-like detail makes a true-colour one three
  times the size for no difference that shows)."""
  rendered = io.BytesIO()
  fig.savefig(rendered, format="png", dpi=dpi)
  with files.atomic_path(path) as tmp:
    if colours is None:
      with open(tmp, "wb") as f:
        f.write(rendered.getvalue())
    else:
      image = Image.open(rendered).convert("RGB").quantize(colours)
      image.save(tmp, format="png", optimize=True)
