"""Splitting utterance mels into generator-width chunks and joining them back.

The generator translates fixed-width chunks, so audio of any length converts
chunk by chunk; the critic trained it on joined chunks, so the joins are
seamless. The last chunk is padded with silence (-1, the normalised floor) or,
as the original MelGAN-VC did, taken as the final full-width frames.
"""
import numpy as np

from jaxvc.audio.mel import SILENCE

TAIL_MODES = ("pad", "overlap")


def split_whole(mel, width: int):
  """(..., n_mels, k * width) -> (..., k, n_mels, width) for a NumPy or a
  JAX array, a symbolic k included (the exported generator's time axis)."""
  *lead, n_mels, frames = mel.shape
  return mel.reshape(*lead, n_mels, frames // width, width).swapaxes(-3, -2)


def join_whole(chunks):
  """Inverse of `split_whole`: (..., k, n_mels, width) -> (..., n_mels, k * width)."""
  *lead, k, n_mels, width = chunks.shape
  return chunks.swapaxes(-3, -2).reshape(*lead, n_mels, k * width)


def to_chunks(mel: np.ndarray, width: int, tail: str = "pad") -> np.ndarray:
  """(n_mels, frames) -> (n, n_mels, width) covering every frame once (`pad`)
  or with the last chunk overlapping its neighbour (`overlap`)."""
  if tail not in TAIL_MODES:
    raise ValueError(f"tail must be one of {TAIL_MODES}, got {tail!r}")
  n_mels, frames = mel.shape
  n = max(1, -(-frames // width))
  if tail == "overlap" and frames >= width:
    starts = [i * width for i in range(n - 1)] + [frames - width]
    return np.stack([mel[:, s:s + width] for s in starts])
  padded = np.full((n_mels, n * width), SILENCE, mel.dtype)
  padded[:, :frames] = mel
  return split_whole(padded, width)


def from_chunks(chunks: np.ndarray, frames: int, tail: str = "pad") -> np.ndarray:
  """Inverse of `to_chunks`: (n, n_mels, width) -> (n_mels, frames)."""
  n, _, width = chunks.shape
  joined = join_whole(chunks)
  if tail == "overlap" and frames >= width and frames % width:
    head = joined[:, :(n - 1) * width]
    last = chunks[-1][:, width - frames % width:]
    return np.concatenate([head, last], axis=1)
  return joined[:, :frames]
