"""The offline demo corpus: two espeak-ng voices reading the same sentences.

Every demo config trains on it, so `python -m jaxvc.train --config
configs/melganvc_demo.py` needs no data preparation: `ensure_demo_corpus`
renders it on first use (a few seconds) into the jaxvc cache. The corpus is
parallel, the same sentence ids in both voices:

  ROOT/speaker_a/train/0000.wav  ROOT/speaker_a/train/0000.txt  ...
  ROOT/speaker_a/test/0270.wav   ...
  ROOT/speaker_b/...             (the same ids and transcripts)
  ROOT/metadata.json             (written last: its presence marks a corpus)

Wave files are 16-bit PCM at espeak's native 22050 Hz; transcripts are UTF-8
with one trailing newline.

  python -m jaxvc.data.demo --out DIR [--sentences N]
"""
import argparse
import ctypes
import fcntl
import json
import os
from pathlib import Path
import shutil
import tempfile
import threading
import time

import espeakng_loader
import numpy as np
import soundfile as sf

from jaxvc import caches
from jaxvc.data.sentences import sentences

VERSION = 1  # bump when the rendering or the sentences change
# Close to the hour a domain that MelGAN-VC's author recommends; on a quarter
# of it the recipe stopped improving within its hour of training
# (docs/results/tuning.md). The test split stays 30 sentences.
DEFAULT_SENTENCES = 1200
TEST_FRACTION = 0.025

# Each voice is an espeak-ng language file and variant file (paths under
# espeak-ng-data/lang and espeak-ng-data/voices/!v) with espeak_SetParameter's
# rate (words per minute), pitch and range (0-100, 50 = the variant's own).
VOICES = {
    "speaker_a": dict(language="gmw/en-US", variant="m3",  # low male
                      rate=160, pitch=45, range=50),
    "speaker_b": dict(language="gmw/en-US", variant="f2",  # high female
                      rate=180, pitch=60, range=70),
}

# Variant settings replaced here. Pitch flutter and glottal roughness advance
# counters that espeak-ng keeps from one utterance to the next, and breath
# noise keeps filter state, so with them a sentence would come out a little
# different depending on what was said before it.
_DROPPED_KEYWORDS = {"language", "name", "flutter", "roughness", "breath", "breathw"}
_STATELESS_SETTINGS = ["flutter 0", "roughness 0"]

# From espeak-ng's speak_lib.h.
_AUDIOOUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAMETERS = dict(rate=1, pitch=3, range=4)
_PHONEMES_IPA = 0x02        # espeak_TextToPhonemes' phonememode: IPA, not espeak's ASCII
_PHONEME_SEPARATOR = "_"    # its bits 8-23: a character written between phonemes
_MAX_VOICE_PATH = 59  # espeak_SetVoiceByFile copies the path into a char[60]
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def _voice_file_text(voice: dict, data_dir: Path) -> str:
  """An espeak-ng voice file: the language's lines, then the variant's."""
  language = (data_dir / "lang" / voice["language"]).read_text()
  variant = (data_dir / "voices" / "!v" / voice["variant"]).read_text()
  kept = [line for line in variant.splitlines()
          if (line.split() or [""])[0] not in _DROPPED_KEYWORDS]
  return "\n".join([language, *kept, *_STATELESS_SETTINGS]) + "\n"


class _Espeak:
  """espeak-ng in synchronous mode: text in, int16 samples out, one call at a time."""

  def __init__(self):
    lib_path = espeakng_loader.get_library_path()
    data_dir = Path(espeakng_loader.get_data_path())
    self._lib = lib = ctypes.CDLL(lib_path)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_SetVoiceByFile.argtypes = [ctypes.c_char_p]
    lib.espeak_Synth.argtypes = [
        ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    self.sample_rate = lib.espeak_Initialize(
        _AUDIOOUTPUT_SYNCHRONOUS, 0, str(data_dir).encode(), _INITIALIZE_DONT_EXIT)
    if self.sample_rate <= 0:
      raise RuntimeError(f"{lib_path}: espeak_Initialize failed with data {data_dir}")
    self.version = lib.espeak_Info(None).decode()
    self._chunks = []
    self._callback = _SYNTH_CALLBACK(self._collect)  # referenced: C keeps the pointer
    lib.espeak_SetSynthCallback(self._callback)
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    self._voice_dir = tempfile.TemporaryDirectory(prefix="jaxvc-espeak-")
    self._voice_files = {}
    for name, voice in VOICES.items():
      path = Path(self._voice_dir.name) / name
      if len(str(path)) > _MAX_VOICE_PATH:
        raise RuntimeError(f"{path}: too long a path for espeak-ng's voice loader "
                           f"(at most {_MAX_VOICE_PATH} characters); set TMPDIR to a shorter folder")
      path.write_text(_voice_file_text(voice, data_dir))
      self._voice_files[name] = str(path).encode()

  def _collect(self, samples, n, events):
    del events
    if n > 0:
      self._chunks.append(np.ctypeslib.as_array(samples, (n,)).copy())
    return 0  # 0: go on synthesising

  def synth(self, text: str, voice: str) -> np.ndarray:
    """int16 samples of `text` said by `voice`, independent of earlier calls."""
    lib = self._lib
    if lib.espeak_SetVoiceByFile(self._voice_files[voice]) != 0:
      raise RuntimeError(f"espeak-ng cannot load the voice file for {voice!r}")
    for name, code in _PARAMETERS.items():
      lib.espeak_SetParameter(code, VOICES[voice][name], 0)
    lib.espeak_ng_SetRandSeed(0)
    self._chunks = []
    data = text.encode()
    status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
    lib.espeak_Synchronize()
    if status != 0 or not self._chunks:
      raise RuntimeError(f"espeak-ng could not say {text!r} (status {status})")
    return np.concatenate(self._chunks)

  def phonemes(self, text: str, language: str) -> list[str]:
    """The IPA phonemes espeak-ng would say for `text` in its voice `language`
    ("en-us", "cs"), one string a phoneme with its stress and length marks;
    word boundaries are not marked. Sets the voice: synth sets its own."""
    if self._lib.espeak_SetVoiceByName(language.encode()) != 0:
      raise ValueError(f"espeak-ng has no voice {language!r}")
    buffer = ctypes.create_string_buffer(text.encode())
    pointer = ctypes.c_void_p(ctypes.addressof(buffer))
    mode = _PHONEMES_IPA | ord(_PHONEME_SEPARATOR) << 8
    clauses = []
    while pointer.value:  # one clause a call; the pointer moves on, to NULL at the end
      clauses.append(self._lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, mode))
    return [p for clause in clauses for word in (clause or b"").decode().split()
            for p in word.split(_PHONEME_SEPARATOR) if p]


_engine = None
_engine_lock = threading.Lock()  # espeak-ng's state is global: one call at a time


def _espeak() -> _Espeak:
  """The process's espeak-ng, set up on first use."""
  global _engine
  with _engine_lock:
    if _engine is None:
      _engine = _Espeak()
    return _engine


def _synth(text: str, voice: str) -> tuple[np.ndarray, int]:
  """int16 samples of `text` said by `voice`, and their sample rate."""
  if voice not in VOICES:
    raise ValueError(f"unknown demo voice {voice!r}; expected one of {sorted(VOICES)}")
  if not text.strip():
    raise ValueError(f"render: nothing to say in {text!r}")
  engine = _espeak()
  with _engine_lock:
    return engine.synth(text, voice), engine.sample_rate


def phonemes(text: str, language: str) -> list[str]:
  """`_Espeak.phonemes`: the IPA phonemes of `text` in espeak-ng's voice `language`."""
  engine = _espeak()
  with _engine_lock:
    return engine.phonemes(text, language)


def render(text: str, voice: str) -> tuple[np.ndarray, int]:
  """`text` spoken by `voice`: a float32 mono wave in [-1, 1) and its sample rate."""
  samples, sample_rate = _synth(text, voice)
  return samples.astype(np.float32) / 32768, sample_rate


def _recipe(n_sentences: int, test_fraction: float) -> dict:
  """What determines a corpus's content; stored in its metadata."""
  return dict(version=VERSION, sentences=n_sentences, test_fraction=test_fraction,
              voices=VOICES)


def _write_utterance(stem: Path, text: str, voice: str) -> float:
  """Writes `stem`.wav and `stem`.txt; returns the duration in seconds."""
  samples, sample_rate = _synth(text, voice)
  sf.write(stem.with_suffix(".wav"), samples, sample_rate, subtype="PCM_16")
  stem.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
  return len(samples) / sample_rate


def _render_corpus(root: Path, n_sentences: int, test_fraction: float) -> None:
  """Renders every voice into the empty folder `root`, metadata.json last."""
  texts = sentences(n_sentences)
  n_test = max(1, round(n_sentences * test_fraction))
  splits = ["train"] * (n_sentences - n_test) + ["test"] * n_test
  seconds = 0.0
  for voice in VOICES:
    start = time.perf_counter()
    for split in ("train", "test"):
      (root / voice / split).mkdir(parents=True)
    for i, (text, split) in enumerate(zip(texts, splits)):
      seconds += _write_utterance(root / voice / split / f"{i:04d}", text, voice)
    print(f"demo corpus: {voice}: {n_sentences} utterances "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
  metadata = dict(
      _recipe(n_sentences, test_fraction),
      sample_rate=_espeak().sample_rate,
      espeak_ng=_espeak().version,
      counts=dict(train=n_sentences - n_test, test=n_test),
      hours=seconds / 3600,
  )
  (root / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")


def _check_replaceable(out_dir: Path) -> None:
  """Refuses to replace a folder that holds anything but (part of) a corpus."""
  if not out_dir.exists():
    return
  if not out_dir.is_dir():
    raise ValueError(f"{out_dir}: exists and is not a folder")
  foreign = {p.name for p in out_dir.iterdir()} - {*VOICES, "metadata.json"}
  if foreign:
    raise ValueError(f"{out_dir}: not a demo corpus (holds {sorted(foreign)[:3]}); "
                     "refusing to replace it")


def build(out_dir: str | os.PathLike, *, n_sentences: int = DEFAULT_SENTENCES,
          test_fraction: float = TEST_FRACTION) -> Path:
  """Renders the corpus into `out_dir`, replacing any corpus already there.

  Rendering goes to a temporary sibling folder that is renamed into place
  when complete, so `out_dir` never holds half a corpus.
  """
  out_dir = Path(out_dir).absolute()
  if not 0 < test_fraction < 1:
    raise ValueError(f"build: test_fraction={test_fraction} must be between 0 and 1")
  if n_sentences < 2:
    raise ValueError(f"build: n_sentences={n_sentences} must be at least 2 (train and test)")
  _check_replaceable(out_dir)
  out_dir.parent.mkdir(parents=True, exist_ok=True)
  print(f"demo corpus: rendering {n_sentences} sentences x {len(VOICES)} voices "
        f"into {out_dir}", flush=True)
  temp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
  old = temp.with_name(temp.name + ".old")
  try:
    _render_corpus(temp, n_sentences, test_fraction)
    if out_dir.exists():
      out_dir.rename(old)
    temp.rename(out_dir)
  finally:
    shutil.rmtree(temp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
  return out_dir


def _is_current(root: Path) -> bool:
  """Whether `root` holds a complete corpus of this version and recipe."""
  try:
    metadata = json.loads((root / "metadata.json").read_text())
  except (OSError, ValueError):
    return False
  recipe = _recipe(DEFAULT_SENTENCES, TEST_FRACTION)
  return {k: metadata.get(k) for k in recipe} == recipe


def ensure_demo_corpus(cache_dir: str | None = None) -> Path:
  """The demo corpus's root in the jaxvc cache, built there first if missing.

  A lock file beside the corpus makes concurrent callers (say two training
  processes on one machine) wait for one build instead of racing; an outdated
  or partial corpus is rebuilt.
  """
  root = caches.cache_root(cache_dir) / "demo"
  if _is_current(root):
    return root
  root.parent.mkdir(parents=True, exist_ok=True)
  with open(root.parent / ".demo.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not _is_current(root):
      build(root, n_sentences=DEFAULT_SENTENCES, test_fraction=TEST_FRACTION)
  return root


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", required=True, help="corpus folder to create or replace")
  parser.add_argument("--sentences", type=int, default=DEFAULT_SENTENCES)
  args = parser.parse_args(argv)
  try:
    build(args.out, n_sentences=args.sentences)
  except ValueError as e:
    parser.exit(2, f"error: {e}\n")


if __name__ == "__main__":
  main()
