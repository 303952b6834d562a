"""Converts audio of any length with a trained MelGAN-VC generator.

  converter = Converter.from_workdir("runs/demo")
  converted = converter.convert(wave, sample_rate)        # at the model's rate and loudness
  converter.convert_file("in.flac", "out.wav", sample_rate=44100, plot=True)

Audio streams through in windows (`windows.WindowPlan`), so memory stays
bounded from a fraction of a second to hours:

- mel: each frame is computed from the samples it covers, zero outside the
  signal, so a window's mel is the same frames of the whole file's mel;
- generator: windows start on the file's chunk grid, so every chunk G sees is
  a chunk of the one-shot conversion (with the "overlap" tail the last window
  reaches back C >= one chunk, so its final full-width chunk is the file's
  too): the converted mel equals the one-shot one;
- inversion: a vocoder renders each window's own samples exactly as a
  one-shot rendering would, so windows are cut at their boundaries. Griffin-Lim
  (or gradient descent) is global within a window and starts from its own
  phase, so two neighbours render their shared frames with unrelated phases.
  Those joins are a short raised-cosine cross-fade placed where the converted
  mel is quietest within the shared frames, away from both renderings' edges:
  a pause between words, in speech. Its gains keep the energy for the
  renderings' measured correlation, after flipping the incoming window's sign
  if they are anti-correlated (a phase-retrieved signal's sign is arbitrary).

Pitch (`pitch`, `pitch_shift`): the F0 the output is rendered at is the
converted mel's own ("model", what the generator made) or the source's F0
contour moved onto the target voice's range (`pitch.map_log_f0` with the
run's `pitch_statistics`): from the source voice's range ("auto": a take
pitched above the voice's usual stays above the target's), or from the
input's own centre ("match", `Converter.for_input`: whatever the input's
key, even a voice the run was not trained on, the output is centred on the
target's), times 2 ** (pitch_shift / 12). An
F0-conditioned vocoder is given that F0 (its oscillator carried across
windows by `excitation.Oscillator`, so the joins stay exact). A renderer
that renders the mel's harmonics (Griffin-Lim, a mel-only vocoder, and an
F0-conditioned one with a noise source, whose noise part renders them) gets
the mel with its harmonics at the wanted F0 (`audio.shift_mel_pitch`,
which keeps the envelope): redrawn at the converted mel's own F0 times the
shift where that is voiced and flattened elsewhere, so a shift leaves the
voicing as it was (`Converter._shifted`), or for "auto" and "match", which
know the contour, redrawn at the wanted F0 where the source is voiced and
dropped where it is not (`Converter._redrawn_at`); a pulse-only
F0-conditioned vocoder follows its pulse train and gets the mel as it is.
The converted mel's own F0 is `pitch.mel_f0` of each chunk after
the one before it, computed once per chunk (`streaming.Windows`), so it
does not depend on the windows: a live stream renders it as offline
conversion does.

Windows are padded to a few sizes and G runs in batches of a few fixed sizes,
so any number of files of any length compile a bounded set of programs.
Reading and writing files is in `file_conversion.py`.
"""
import copy
import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Iterator

import jax
import ml_collections
import numpy as np

from jaxvc import audio
from jaxvc import buckets
from jaxvc import workdirs
from jaxvc.audio import inversion as inversion_lib
from jaxvc.audio import loudness
from jaxvc.audio import pitch as pitch_lib
from jaxvc.melganvc import file_conversion
from jaxvc.melganvc import chunking
from jaxvc.melganvc import pitch_statistics as pitch_statistics_lib
from jaxvc.melganvc import postfilter as postfilter_lib
from jaxvc.melganvc import step as step_lib
from jaxvc.melganvc import streaming
from jaxvc.melganvc.streaming import ConvertedWindow
from jaxvc.melganvc.windows import WindowPlan

# Chunks per G call: short inputs, and the rest (48 is a default window whole).
GENERATOR_BATCHES = (4, 48)
PITCH_MODES = ("model", "auto", "match")
# The modes that map the source's F0 contour with the run's pitch statistics.
MAPPED_PITCH_MODES = ("auto", "match")
# The furthest a shift goes, in semitones either way: an octave, what the
# renderers were measured to follow (docs/results/pitch.md).
MAX_PITCH_SHIFT = 12.0


@functools.partial(jax.jit, static_argnums=0)
def _generate(graphdef, params, stats, chunks: jax.Array) -> jax.Array:
  """G in inference mode; compiled once per architecture and batch size."""
  return step_lib.generator_fn(graphdef, params, stats)(chunks)


def _generator_batch(n_chunks: int) -> int:
  """The smallest of GENERATOR_BATCHES that needs at most four calls, else the
  largest: little padding for short inputs, efficient calls for long ones."""
  return next((b for b in GENERATOR_BATCHES if 4 * b >= n_chunks), GENERATOR_BATCHES[-1])


class Converter:
  """A trained generator with the audio settings it was trained on.

  `generator` maps normalised mel chunks (B, n_mels, chunk_frames) to
  converted chunks of the same shape; `from_workdir`, `from_checkpoint` and
  `from_trained` build it from a training run. Mels become audio through
  `vocoder` (a trained `jaxvc.Vocoder`) if given, else through `inversion`
  ("griffinlim", or "gradient" descent as the original) in `n_iter`
  iterations (default 32 or 500); `tail` is how the last chunk is filled
  (chunking.TAIL_MODES); `chunk_frames` is the generator's width (default:
  the trained one; the network is convolutional, so a narrower one, a
  multiple of 4, cuts a live stream's latency at some cost in quality:
  docs/results/streaming.md); `window_seconds` sizes the offline windows;
  `pitch` ("model", "auto" or "match") and `pitch_shift` (semitones) set the
  output's F0 (see the module's docstring); "auto" and "match" need
  `pitch_statistics` (by domain, `pitch_statistics.load_or_compute`;
  `from_workdir` fetches them), and "match" the input's own (`for_input`,
  which `convert` and `convert_file` call);
  `level_map` (a `postfilter.LevelMap`) maps each converted mel's band levels
  onto the target's (`from_workdir` fetches it where the run's config has
  `postfilter.enabled`).
  """

  def __init__(self, config: ml_collections.ConfigDict,
               generator: Callable[[np.ndarray], jax.Array], *,
               inversion: str = "griffinlim", n_iter: int | None = None, tail: str = "pad",
               window_seconds: float = 10.0, vocoder: inversion_lib.Inversion | None = None,
               pitch: str = "model", pitch_shift: float = 0.0,
               pitch_statistics: dict[str, pitch_lib.LogF0Statistics] | None = None,
               chunk_frames: int | None = None,
               level_map: postfilter_lib.LevelMap | None = None):
    if tail not in chunking.TAIL_MODES:
      raise ValueError(f"tail must be one of {chunking.TAIL_MODES}, got {tail!r}")
    if pitch not in PITCH_MODES:
      raise ValueError(f"pitch must be one of {PITCH_MODES}, got {pitch!r}")
    if not (math.isfinite(pitch_shift) and abs(pitch_shift) <= MAX_PITCH_SHIFT):
      raise ValueError(f"pitch_shift {pitch_shift} semitones: beyond the +-{MAX_PITCH_SHIFT:g} "
                       "(an octave either way) that the renderers follow")
    if pitch in MAPPED_PITCH_MODES and pitch_statistics is None:
      raise ValueError(f"pitch {pitch!r} needs the run's pitch_statistics "
                       "(Converter.from_workdir reads or computes them)")
    self.pitch, self.pitch_shift = pitch, float(pitch_shift)
    self.pitch_statistics = pitch_statistics
    # "match": the source's statistics with the input's centre (`for_input`).
    self._input_statistics: pitch_lib.LogF0Statistics | None = None
    self.config = config
    self.audio = audio.AudioConfig.from_config(config.audio)
    if vocoder is None:
      self.inversion = inversion_lib.iterative(inversion, self.audio, n_iter)
    else:
      inversion_lib.check_matches(vocoder, self.audio, "the MelGAN-VC model")
      self.inversion = vocoder
    self.chunk_frames = chunk_frames or config.data.chunk_frames
    if self.chunk_frames <= 0 or self.chunk_frames % 4:
      raise ValueError(f"chunk_frames {self.chunk_frames}: the generator's width must be a "
                       "positive multiple of 4 (its two stride-2 layers)")
    self.tail = tail
    self._generator = generator
    self.level_map = level_map
    self.plan = WindowPlan.create(self.audio, self.chunk_frames, window_seconds,
                                  *self._inversion_reach)
    self.step = None   # the training step of the checkpoint, when loaded from one

  @classmethod
  def from_generator_state(cls, config, generator: dict, **options) -> "Converter":
    """From a config and `step.generator_state`'s {"params", "stats"}."""
    graphdef = step_lib.graph_definitions(config)["generator"]
    return cls(config, functools.partial(_generate, graphdef, generator["params"],
                                         generator["stats"]), **options)

  @classmethod
  def from_workdir(cls, workdir: str, step: int | None = None, *,
                   postfilter: bool | None = None, **options) -> "Converter":
    """The run's latest checkpoint (or `step`), with the level postfilter if
    `postfilter` (None: as the run's config says, `postfilter.enabled`);
    raises checkpoints.CheckpointError, or ConfigError where the statistics
    it needs cannot be had."""
    config, generator, trained_step = workdirs.load_inference(
        workdir, step, method="melganvc")
    if options.get("pitch") in MAPPED_PITCH_MODES and options.get("pitch_statistics") is None:
      options["pitch_statistics"] = pitch_statistics_lib.load_or_compute(workdir, config)
    converter = cls.from_generator_state(config, generator, **options)
    converter.step = trained_step
    if config.postfilter.enabled if postfilter is None else postfilter:
      converter.level_map = postfilter_lib.load_or_compute(
          workdir, config, trained_step, converter.convert_mel)
    return converter

  def for_input(self, waves: Iterable[np.ndarray]) -> "Converter":
    """This converter for one input, `waves` (its samples at the model's rate
    and loudness, as they will be converted, in one or more pieces): with
    `pitch` "match", mapping the input's F0 from its own centre (the median
    log F0 of its voiced frames) rather than the source voice's. The spread
    stays the source voice's: one sentence's intonation is not a voice's
    range, and a few words would give a spread too narrow to divide by. An
    input with no voiced frame keeps the source voice's centre (what "auto"
    does). Any other `pitch`: this converter, and `waves` is not read."""
    if self.pitch != "match":
      return self
    try:
      centre = pitch_lib.LogF0Statistics.of_waves(waves, self.audio).centre
    except ValueError:   # nothing voiced: nothing to centre on
      centre = self.pitch_statistics["a"].centre
    fitted = copy.copy(self)
    fitted._input_statistics = dataclasses.replace(self.pitch_statistics["a"], centre=centre)
    return fitted

  @classmethod
  def from_checkpoint(cls, path: str, **options) -> "Converter":
    """One checkpoint directory WORKDIR/checkpoints/STEP."""
    return cls.from_workdir(path, **options)

  @property
  def sample_rate(self) -> int:
    return self.audio.sample_rate

  # --------------------------------------------------------------------------
  # Arrays.

  def convert_mel(self, mel: np.ndarray) -> np.ndarray:
    """Normalised mel (n_mels, frames) of any length -> converted, same shape
    (and through the level postfilter, where there is one)."""
    chunks = chunking.to_chunks(np.asarray(mel, np.float32), self.chunk_frames, self.tail)
    converted = buckets.map_in_batches(self._generator, chunks, _generator_batch(len(chunks)))
    converted = chunking.from_chunks(converted, mel.shape[1], self.tail)
    return converted if self.level_map is None else self.level_map(np.asarray(converted))

  def convert(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono `wave` at `sample_rate` -> converted float32 wave at `self.sample_rate`,
    as many samples as `wave` resampled to that rate."""
    wave = np.asarray(wave, np.float32)
    if wave.ndim != 1 or wave.size == 0:
      raise ValueError(f"wave must be mono and non-empty (one axis), got shape {wave.shape}")
    if not np.isfinite(wave).all():
      raise ValueError("wave contains NaN or Inf samples")
    source = audio.resample(wave, sample_rate, self.sample_rate)
    source = loudness.normalise_loudness(source, self.sample_rate, self.audio.loudness_lufs)
    return np.concatenate([w.wave for w in self.for_input([source]).convert_stream([source])])

  def convert_stream(self, blocks: Iterable[np.ndarray]) -> Iterator[ConvertedWindow]:
    """Converts a stream of mono blocks at the model's rate, window by window;
    the yielded waves add up to exactly as many samples as came in. The blocks
    are taken at their level: `convert` and `convert_file` first bring their
    input to the front-end's loudness (`audio.loudness_lufs`). With `pitch`
    "match", on a converter `for_input` made for these blocks."""
    self._check_input_known()
    windows = streaming.Windows(self, self.plan)
    for block in blocks:
      yield from windows.push(block)
    yield from windows.close()

  def stream(self) -> streaming.LiveStream:
    """A live conversion (`streaming.LiveStream`): blocks of any size in, as
    many samples out, `latency` samples late. Its windows are one chunk
    (`WindowPlan.live`); through a vocoder they join exactly, so the output
    is the offline conversion's, delayed. Not with `pitch` "match", which
    needs the whole input first."""
    self._check_input_known()
    return streaming.LiveStream(self, WindowPlan.live(self.audio, self.chunk_frames,
                                                      *self._inversion_reach))

  def _check_input_known(self) -> None:
    if self.pitch == "match" and self._input_statistics is None:
      raise ValueError("pitch 'match' centres on the whole input's F0, so it needs the input "
                       "first (Converter.for_input; convert and convert_file call it); a live "
                       "stream cannot: use 'auto'")

  @property
  def _inversion_reach(self) -> tuple[int | None, int | None]:
    """(frames before, frames after) a sample that its rendering depends on;
    None for an iterative inversion, which depends on every frame."""
    context = self.inversion.context
    return context, getattr(self.inversion, "lookahead", context)

  @property
  def _renders_f0(self) -> bool:
    """Whether the renderer takes the F0 (an F0-conditioned vocoder)."""
    return getattr(self.inversion, "uses_pitch", False)

  @property
  def _renders_mel_harmonics(self) -> bool:
    """Whether the renderer places harmonics where the mel has them: any but
    a pulse-only F0-conditioned vocoder, which follows its pulse train. A
    vocoder with a noise source renders the mel's harmonics through its noise
    part, so the mel must agree with the F0 it is given."""
    return not self._renders_f0 or getattr(self.inversion, "uses_noise_source", False)

  @property
  def _redraws_at_mapped_f0(self) -> bool:
    """Whether the converted mel's harmonics are redrawn at the source
    contour's F0 (`_redrawn_at`)."""
    return self.pitch in MAPPED_PITCH_MODES and self._renders_mel_harmonics

  def _pitched(self, segment: np.ndarray, converted: np.ndarray, first: int,
               own: Callable[[], tuple[np.ndarray, np.ndarray]],
               ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(the mel to render, the (F0, voiced) to render it at or None) for a
    window's `converted` mel, whose frames are `segment`'s from frame
    `first` on, and whose own F0 `own()` gives: see the module's docstring."""
    factor = 2.0 ** (self.pitch_shift / 12)
    if self.pitch == "model":
      # A pulse-only vocoder is given the mel as it is: it follows its pulse
      # train, and the mel unmoved keeps more of the voice (docs/results/
      # pitch.md, "Pitch at conversion").
      mel = self._shifted(converted, factor, own) if self._renders_mel_harmonics else converted
      if not self._renders_f0:
        return mel, None
      f0, voiced = own()
      return mel, (f0 * factor, voiced)
    f0, voiced = np.stack(pitch_lib.track(segment, self.audio))[
        :, first:first + converted.shape[1]]
    voiced = voiced.astype(bool)
    source = self._input_statistics or self.pitch_statistics["a"]
    f0 = pitch_lib.map_log_f0(f0, voiced, source, self.pitch_statistics["b"]) * factor
    mel = self._redrawn_at(converted, f0, voiced, own()[1]) if self._redraws_at_mapped_f0 \
        else converted
    return mel, ((f0, voiced) if self._renders_f0 else None)

  def _redrawn_at(self, mel: np.ndarray, f0: np.ndarray, voiced: np.ndarray,
                own_voiced: np.ndarray) -> np.ndarray:
    """`mel` with the harmonics of the contour (`f0`, `voiced`): redrawn at
    `f0` where the source is voiced, whatever harmonics the mel has there
    (`shift_mel_pitch`'s `harmonics_hz`), and flattened where it is unvoiced
    and the mel voiced (`own_voiced`, its own F0's voicing: `flatten`), so
    that the output is voiced where the source is, at auto's F0.

    A converter's mels have weak harmonics: moved to the wanted F0 (by the
    ratio of the two), less than half the frames where the source is voiced
    came out voiced on the real pair's train carve-out, and the output's
    median missed the wanted one by the frames that did; left in where the
    source is unvoiced, the renderer renders them at the generator's pitch
    (docs/results/pitch.md, "Pitch at conversion"). Each frame on its own:
    windows join as the one-shot conversion does.
    """
    return self._redrawn(mel, f0, voiced, flatten=~voiced & own_voiced)

  def _shifted(self, mel: np.ndarray, factor: float,
               own: Callable[[], tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """`mel` with its F0 times `factor`: its harmonics redrawn at its own F0
    (`own()`) times `factor` where that is voiced, its fine structure
    flattened where it is not. Redrawn rather than moved where the F0 is
    known, as `_redrawn_at` does: a converter's harmonics are weak, and moved
    they rendered an octave up at x1.89 on the real pair's train carve-out,
    redrawn at x2.00. Flattened where no F0 is known, so that a shift moves
    the pitch and leaves the voicing alone: moved there, the weak periodicity
    of onsets and endings was heard (and analysed) as voiced at the shifted
    pitch in frames the unshifted output has unvoiced (docs/results/pitch.md,
    "Pitch at conversion", "A shift keeps the voicing")."""
    if factor == 1.0:
      return mel
    f0, voiced = own()
    return self._redrawn(mel, f0 * factor, voiced, flatten=~voiced)

  def _redrawn(self, mel: np.ndarray, f0: np.ndarray, voiced: np.ndarray,
               flatten: np.ndarray) -> np.ndarray:
    """`mel` with its harmonics redrawn at `f0` where `voiced` and its fine
    structure flattened where `flatten` (which wins); other frames as they
    are (`shift_mel_pitch` at ratio 1)."""
    return np.asarray(audio.shift_mel_pitch(mel, 1.0, self.audio, flatten=flatten,
                                            harmonics_hz=np.where(voiced, f0, 0.0)))

  # --------------------------------------------------------------------------
  # Files.

  def convert_file(self, in_path: str, out_path: str, *, sample_rate: int | None = None,
                   plot: bool = False) -> float:
    """Converts one audio file; returns its duration in seconds (see
    `file_conversion.convert_file`)."""
    return file_conversion.convert_file(self, in_path, out_path, sample_rate=sample_rate,
                                        plot=plot)
