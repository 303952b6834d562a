"""Converting audio files: reading in bounded memory, writing atomically, the --plot PNG.

The file edge of `Converter.convert_file`: the converter streams arrays, this
module turns a file into blocks for it and its windows back into a file.
"""
import contextlib
import os
from collections.abc import Iterator

import numpy as np
import soxr

from jaxvc import audio
from jaxvc import plotting
from jaxvc.audio import loudness

MIN_SECONDS = 0.1            # shorter inputs hold no speech worth converting
PLOT_SECONDS = 30.0          # a --plot PNG shows the first this many seconds
STREAM_ABOVE_SAMPLES = 1 << 24   # files with more samples x channels are read in blocks
READ_BLOCK_FRAMES = 1 << 16


def convert_file(converter, in_path: str, out_path: str, *, sample_rate: int | None = None,
                 plot: bool = False) -> float:
  """Converts one audio file with `converter`; returns its duration in seconds.

  Writes `out_path` (format from its extension; 16-bit PCM for .wav) at
  `sample_rate` (default: the model's), as long as the input, and with `plot`
  `<out_path stem>.png`: the source mel over the converted one (the first
  PLOT_SECONDS). Raises audio.AudioError for an input that cannot be used;
  nothing is left at `out_path` unless it was written completely.
  """
  info = audio.file_info(in_path)
  model_rate = converter.sample_rate
  out_rate = sample_rate or model_rate
  length = round(info.frames * out_rate / info.samplerate)
  plot_frames = int(PLOT_SECONDS * model_rate / converter.audio.hop_length)
  read = lambda: _read(in_path, info, model_rate, converter.audio.loudness_lufs)
  if converter.pitch == "match":   # its F0's centre first
    if _read_whole(info):   # read once and kept
      kept = list(read())
      read = lambda: iter(kept)
    converter = converter.for_input(read())   # a huge file: read twice, never held
  mels = ([], [])
  with _atomic_writer(out_path, out_rate, length) as write:
    resampler = (None if out_rate == model_rate else
                 soxr.ResampleStream(model_rate, out_rate, 1, dtype="float32"))
    for window in converter.convert_stream(read()):
      write(window.wave if resampler is None else
            resampler.resample_chunk(window.wave, last=False))
      if plot and sum(m.shape[1] for m in mels[0]) < plot_frames:
        mels[0].append(window.source_mel)
        mels[1].append(window.converted_mel)
    if resampler is not None:
      write(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
  if plot:
    image = plotting.mel_image([np.concatenate(m, axis=1)[:, :plot_frames] for m in mels])
    plotting.save_png(os.path.splitext(out_path)[0] + ".png", image)
  return info.frames / info.samplerate


def _read(path: str, info, sample_rate: int, loudness_lufs: float) -> Iterator[np.ndarray]:
  """Mono blocks at `sample_rate` brought to `loudness_lufs` (0: as
  recorded), checked as audio.load_audio checks; a huge file is read block by
  block rather than whole, twice with a loudness target: once to measure it."""
  if _read_whole(info):
    wave = audio.load_audio(path, sample_rate, min_seconds=MIN_SECONDS)
    yield loudness.normalise_loudness(wave, sample_rate, loudness_lufs)
    return
  gain = 1.0
  if loudness_lufs:
    blocks = audio.read_blocks(path, sample_rate, block_frames=READ_BLOCK_FRAMES)
    measured = loudness.combined_loudness(
        (loudness.integrated_loudness(b, sample_rate), b.size) for b in blocks)
    gain = np.float32(loudness.gain_to(measured, loudness_lufs))
  for block in audio.read_blocks(path, sample_rate, block_frames=READ_BLOCK_FRAMES):
    yield block * gain


def _read_whole(info) -> bool:
  """Whether a file (`audio.file_info`) is read whole rather than in blocks."""
  return info.frames * info.channels <= STREAM_ABOVE_SAMPLES


@contextlib.contextmanager
def _atomic_writer(path: str, sample_rate: int, length: int):
  """Yields `write(block)` that streams mono samples into `path` atomically
  (`audio.audio_writer`); on a clean exit the file is cut or zero-padded to
  `length` samples."""
  written = 0
  with audio.audio_writer(path, sample_rate) as f:
    def write(block: np.ndarray) -> None:
      nonlocal written
      block = np.clip(block[:max(0, length - written)], -1.0, 1.0)
      f.write(block)
      written += block.size

    yield write
    f.write(np.zeros(max(0, length - written), np.float32))
