"""Audio files in and out: checked loading, resampling, the front-end (trimming,
loudness), atomic writing.

NumPy at the edges (soundfile, soxr, librosa). Every problem with a file is an
AudioError whose message is '<path>: <reason>', so callers can skip the file
with one line. `AUDIO_EXTENSIONS` is the one list of the files jaxvc takes as
audio, wherever it looks through a folder.
"""
import contextlib
import dataclasses
import os
from collections.abc import Iterator

from etils import epath
import librosa
import numpy as np
import soundfile as sf
import soxr

from jaxvc import files
from jaxvc.audio import loudness

_SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter is an empty recording.
# Full scale, as 16-bit PCM reads (32767 / 32768 = 0.99997) with a margin for
# 8- and 24-bit and lossy sources; a clip is CLIP_RUN such samples in a row.
CLIP_LEVEL = 0.999
CLIP_RUN = 3
# Formats soundfile both reads and writes, by their usual extensions.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64",
                    ".rf64")


class AudioError(ValueError):
  """An audio file that cannot be used; the message is '<path>: <reason>'."""


def unreadable(path, error: Exception) -> AudioError:
  """The AudioError for a file soundfile cannot read, with soundfile's reason."""
  reason = getattr(error, "error_string", "") or str(error) or type(error).__name__
  return AudioError(f"{path}: unreadable audio ({reason.splitlines()[0]})")


def is_audio_file(name) -> bool:
  """Whether jaxvc takes a file of this name as audio: a known extension, not hidden."""
  name = os.path.basename(os.fspath(name))
  return not name.startswith(".") and name.lower().endswith(AUDIO_EXTENSIONS)


def list_audio_files(folder, *, exclude=None) -> list[epath.Path]:
  """The audio files under `folder` (a local folder or a URL), recursively,
  sorted; hidden folders and the folder `exclude` (an output folder inside
  the input, say) are not searched."""
  root, skip = files.location(folder), files.location(exclude) if exclude else None
  found = []
  for parent, subfolders, names in files.walk(root):
    subfolders[:] = sorted(d for d in subfolders if not d.startswith(".")
                           and parent / d != skip)
    found += [parent / n for n in sorted(names) if is_audio_file(n)]
  return found


def file_info(path):
  """soundfile's header of `path`, or an AudioError naming why there is none."""
  try:
    info = sf.info(path)
  except (sf.SoundFileError, OSError, RuntimeError) as e:
    raise unreadable(path, e) from None
  if info.frames <= 0:
    raise AudioError(f"{path}: empty (0 samples)")
  return info


@dataclasses.dataclass(frozen=True)
class Source:
  """What a recording was before it became float32 mono at the working rate:
  what a preparation summary reports about a folder of real recordings."""
  sample_rate: int
  channels: int
  seconds: float
  # Runs of at least CLIP_RUN samples at full scale, in any channel: a peak
  # that reached the converter's limit and was cut flat, not one that touched it.
  clipped_runs: int


def load_audio(path, sample_rate: int, *, min_seconds: float = 0.0) -> np.ndarray:
  """Float32 mono at `sample_rate` from any file soundfile reads.

  Raises AudioError for files a dataset should skip with a reason: unreadable,
  empty, non-finite, silent, or shorter than `min_seconds`.
  """
  _, wave, file_rate = _read_checked(path, min_seconds)
  return resample(wave, file_rate, sample_rate)


def read_source(path, *, min_seconds: float = 0.0) -> tuple[np.ndarray, Source]:
  """Float32 mono at the file's own rate, and what the file was (its clipping
  counted on its own samples, before mixing and resampling); the checks and
  AudioErrors of `load_audio`."""
  samples, wave, file_rate = _read_checked(path, min_seconds)
  return wave, Source(int(file_rate), samples.shape[1], wave.size / file_rate,
                      clipped_runs(samples))


def _read_checked(path, min_seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
  """(samples (samples, channels), their mono mix, rate) of a file that passes
  `load_audio`'s checks."""
  if not files.location(path).is_file():
    raise AudioError(f"{path}: no such file")
  try:
    with _readable(path) as f:
      samples, file_rate = sf.read(f, dtype="float32", always_2d=True)
  except (sf.SoundFileError, OSError) as e:
    raise unreadable(path, e) from None
  if samples.size == 0:
    raise AudioError(f"{path}: empty (0 samples)")
  wave = samples.mean(axis=1)
  require_finite(path, wave)
  require_audible(path, float(np.abs(wave).max()))
  seconds = wave.size / file_rate
  if seconds < min_seconds:
    raise AudioError(f"{path}: too short ({seconds:.3g} s < min_seconds={min_seconds:.3g} s)")
  return samples, wave, file_rate


def clipped_runs(samples: np.ndarray) -> int:
  """Runs of CLIP_RUN or more samples at full scale (|x| >= CLIP_LEVEL) in any
  channel of `samples` (samples, channels), counted by where they start."""
  full = np.abs(samples) >= CLIP_LEVEL
  if len(full) < CLIP_RUN:
    return 0
  run = np.logical_and.reduce([full[i:len(full) - CLIP_RUN + 1 + i] for i in range(CLIP_RUN)])
  starts = run & ~np.concatenate([np.zeros_like(run[:1]), run[:-1]])
  return int(np.count_nonzero(starts))


@contextlib.contextmanager
def _readable(path):
  """What soundfile reads `path` from: the path of a local file, an open
  binary file for a URL (soundfile opens local paths only)."""
  if files.is_url(path):
    with files.location(path).open("rb") as f:
      yield f
  else:
    yield path


def require_finite(path, samples: np.ndarray) -> None:
  """AudioError unless every sample is a number."""
  if not np.isfinite(samples).all():
    raise AudioError(f"{path}: contains NaN or Inf samples")


def require_audible(path, peak: float) -> None:
  """AudioError for a recording whose peak is below -80 dBFS: nothing in it."""
  if peak < _SILENCE_PEAK:
    raise AudioError(f"{path}: silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
  """Resamples the last axis with soxr (high quality); float32 out."""
  wave = np.asarray(wave, np.float32)
  if orig_sr == target_sr:
    return wave
  flat = wave.reshape(-1, wave.shape[-1]).T  # soxr wants (samples, channels)
  out = soxr.resample(flat, orig_sr, target_sr).T
  return np.ascontiguousarray(out.reshape(*wave.shape[:-1], out.shape[-1]), np.float32)


def trim_silence(wave: np.ndarray, top_db: float) -> np.ndarray:
  """Cuts leading and trailing parts quieter than `top_db` below the peak."""
  if top_db <= 0:
    return wave
  trimmed, _ = librosa.effects.trim(wave, top_db=top_db)
  return trimmed


def front_end(wave: np.ndarray, sample_rate: int, *, top_db: float,
              loudness_lufs: float) -> np.ndarray:
  """What every wave at the working rate goes through before its mel, in
  training data and evaluation alike: silence trimmed (`trim_silence`), then
  brought to `loudness_lufs` (`loudness.normalise_loudness`; 0 keeps it)."""
  return loudness.normalise_loudness(trim_silence(wave, top_db), sample_rate, loudness_lufs)


@contextlib.contextmanager
def audio_writer(path, sample_rate: int) -> Iterator[sf.SoundFile]:
  """A mono sound file open for writing, atomically: it appears at `path` only
  when the block succeeds. 16-bit PCM for .wav, soundfile's default else."""
  path = os.fspath(path)
  extension = os.path.splitext(path)[1].lstrip(".").upper()
  if extension not in sf.available_formats():
    raise AudioError(f"{path}: unknown audio format {extension!r}")
  subtype = "PCM_16" if extension == "WAV" else None
  with files.atomic_path(path) as tmp:
    with sf.SoundFile(tmp, "w", sample_rate, 1, subtype, format=extension) as f:
      yield f


def save_audio(path, wave: np.ndarray, sample_rate: int) -> None:
  """Writes mono `wave`, clipped to [-1, 1], atomically (see `audio_writer`)."""
  with audio_writer(path, sample_rate) as f:
    f.write(np.clip(np.asarray(wave, np.float32), -1.0, 1.0))


def read_blocks(path, sample_rate: int, *, block_frames: int) -> Iterator[np.ndarray]:
  """Mono float32 blocks of `path` at `sample_rate`, read and resampled block by
  block so that a file of any length needs bounded memory; checked as
  `load_audio` checks (NaN or Inf, silence), the silence check at the end."""
  info = file_info(path)
  resampler = soxr.ResampleStream(info.samplerate, sample_rate, 1, dtype="float32")
  peak = 0.0
  try:
    with sf.SoundFile(path) as f:
      for block in f.blocks(block_frames, dtype="float32", always_2d=True):
        block = block.mean(axis=1)
        require_finite(path, block)
        peak = max(peak, float(np.abs(block).max()))
        yield resampler.resample_chunk(block, last=False)
  except sf.SoundFileError as e:
    raise unreadable(path, e) from None
  require_audible(path, peak)
  yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)
