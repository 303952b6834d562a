"""The audio front-end every method shares: files, STFT, mel spectrograms, inversion.

  settings.py  AudioConfig: the mel and loudness settings, one frozen value
  io.py        checked loading, resampling, the front-end (trimming, loudness),
               atomic writing, the audio extensions
  loudness.py  integrated loudness (BS.1770) and the gain to a target
  stft.py      STFT, inverse STFT, Griffin-Lim and the multi-resolution STFT
               distance in JAX (librosa's definitions)
  mel.py       normalised log-mels (one wave, or a list of any lengths), their
               inversion (Griffin-Lim, gradient descent), and a mel's band limit
  pitch.py     F0 and voicing at the mel's frames (YIN in JAX; the choice:
               docs/results/pitch.md)
  pitch_shift.py  a mel's F0 moved by a factor, its spectral envelope kept,
               for renderers that take only a mel (Griffin-Lim, a mel-only
               vocoder)

Callers use the names below (`from jaxvc import audio; audio.wave_to_mel(...)`);
the modules import each other directly.
"""
from jaxvc.audio.io import AUDIO_EXTENSIONS
from jaxvc.audio.io import AudioError
from jaxvc.audio.io import Source
from jaxvc.audio.io import audio_writer
from jaxvc.audio.io import file_info
from jaxvc.audio.io import front_end
from jaxvc.audio.io import is_audio_file
from jaxvc.audio.io import list_audio_files
from jaxvc.audio.io import load_audio
from jaxvc.audio.io import read_blocks
from jaxvc.audio.io import read_source
from jaxvc.audio.io import require_audible
from jaxvc.audio.io import require_finite
from jaxvc.audio.io import resample
from jaxvc.audio.io import save_audio
from jaxvc.audio.io import trim_silence
from jaxvc.audio.mel import SILENCE
from jaxvc.audio.mel import band_limit
from jaxvc.audio.mel import denormalise_mel
from jaxvc.audio.mel import invert_mel_gradient
from jaxvc.audio.mel import mel_power
from jaxvc.audio.mel import mel_to_wave
from jaxvc.audio.mel import normalise_mel
from jaxvc.audio.mel import wave_to_mel
from jaxvc.audio.mel import waves_to_mels
from jaxvc.audio.pitch_shift import shift_mel_pitch
from jaxvc.audio.settings import AudioConfig
from jaxvc.audio.stft import griffin_lim
from jaxvc.audio.stft import istft
from jaxvc.audio.stft import multi_resolution_stft_distance
from jaxvc.audio.stft import stft

__all__ = [
    "AUDIO_EXTENSIONS", "SILENCE", "AudioConfig", "AudioError", "audio_writer", "band_limit",
    "denormalise_mel", "file_info", "front_end", "griffin_lim", "invert_mel_gradient", "is_audio_file",
    "istft", "list_audio_files", "load_audio", "mel_power", "mel_to_wave",
    "multi_resolution_stft_distance", "normalise_mel", "read_blocks", "require_audible",
    "require_finite", "resample", "save_audio", "shift_mel_pitch", "stft", "trim_silence",
    "wave_to_mel", "waves_to_mels",
]
