"""Pitch at conversion: the shift and the automatic key through Griffin-Lim and
through an F0-conditioned vocoder, the voices' F0 statistics kept in the
workdir, and the options a user can get wrong."""
import json

from flax import nnx
import numpy as np
import pytest
import soundfile as sf

import jaxvc
from jaxvc import audio
from jaxvc.audio import pitch
from jaxvc.errors import ConfigError
from jaxvc.melganvc import file_conversion
from jaxvc.melganvc import pitch_statistics
from jaxvc.vocoder import generator as generator_lib
from jaxvc.vocoder import inference as vocoder_inference
from test_converter import tiny_config
from test_converter import write_workdir
from test_vocoder import tiny_config as tiny_vocoder_config

CFG = audio.AudioConfig()
LOW = pitch.LogF0Statistics(centre=np.log(110.0), spread=0.2, voiced_frames=1000)
HIGH = pitch.LogF0Statistics(centre=np.log(220.0), spread=0.1, voiced_frames=1000)


def identity(chunks):
  return chunks


def median_f0(wave) -> float:
  hz, voiced = pitch.track(wave, CFG)
  return float(np.median(hz[voiced]))


def untrained_vocoder(noise_source: bool) -> vocoder_inference.Vocoder:
  c = tiny_vocoder_config()
  c.model.update(pitch=True, noise_source=noise_source)
  return vocoder_inference.Vocoder(c, nnx.split(generator_lib.create(c))[1], window_frames=64)


@pytest.fixture(scope="module")
def pitch_vocoder():
  return untrained_vocoder(noise_source=False)


@pytest.fixture(scope="module")
def noise_vocoder():
  return untrained_vocoder(noise_source=True)


class RecordingVocoder:
  """A vocoder that keeps the mels it is given to render."""

  def __init__(self, vocoder):
    self.vocoder, self.mels = vocoder, []

  def __getattr__(self, name):
    return getattr(self.vocoder, name)

  def render(self, mel, rows=None):
    self.mels.append(np.asarray(mel))
    return self.vocoder.render(mel, rows)


def automatic_key(**options) -> jaxvc.Converter:
  return jaxvc.Converter(tiny_config(), identity, pitch="auto",
                         pitch_statistics=dict(a=LOW, b=HIGH), **options)


def test_map_log_f0_moves_the_range_and_keeps_the_contour():
  f0 = np.array([100.0, 0.0, 121.0, 90.0])
  voiced = f0 > 0
  mapped = pitch.map_log_f0(f0, voiced, LOW, HIGH)
  assert mapped[1] == 0
  expected = np.exp(HIGH.centre + 0.5 * (np.log(f0[voiced]) - LOW.centre))
  np.testing.assert_allclose(mapped[voiced], expected)
  assert pitch.map_log_f0(np.array([110.0]), np.array([True]), LOW, HIGH)[0] == pytest.approx(220)


def test_automatic_key_through_an_f0_vocoder_joins_windows_exactly(pitch_vocoder, speech):
  """Windows of 3 s over 14 s render what the vocoder renders of the whole
  mel at the whole source's mapped and shifted F0: the oscillator is carried
  across."""
  wave, rate = speech
  medium = np.tile(wave, 4)[:14 * rate + 77]
  conv = automatic_key(window_seconds=3.0, vocoder=pitch_vocoder, pitch_shift=-2)
  out = np.concatenate([w.wave for w in conv.convert_stream([medium])])
  mel = np.asarray(audio.wave_to_mel(medium, CFG))
  hz, voiced = pitch.track(medium, CFG)
  f0 = pitch.map_log_f0(hz, voiced, LOW, HIGH) * 2 ** (-2 / 12)
  one_shot = pitch_vocoder(mel, f0, voiced)[:medium.size]
  assert out.shape == one_shot.shape
  np.testing.assert_allclose(out, one_shot, atol=2e-4 * np.abs(one_shot).max())


def test_automatic_key_moves_the_mel_where_its_harmonics_are_rendered(
    speech, pitch_vocoder, noise_vocoder):
  """Griffin-Lim and a vocoder with a noise source render the mel's
  harmonics, so `auto` moves them to its F0; a pulse-only vocoder follows
  its pulse train and is given the mel as it is."""
  wave, rate = speech
  hz, voiced = pitch.track(wave, CFG)
  wanted = float(np.median(pitch.map_log_f0(hz, voiced, LOW, HIGH)[voiced]))
  assert median_f0(wave) < 0.7 * wanted   # a move of about an octave
  assert median_f0(automatic_key().convert(wave, rate)) == pytest.approx(wanted, rel=0.05)
  mel = np.asarray(audio.wave_to_mel(wave, CFG))
  for vocoder in (noise_vocoder, pitch_vocoder):
    recorder = RecordingVocoder(vocoder)
    automatic_key(vocoder=recorder, window_seconds=30.0).convert(wave, rate)
    (given,) = recorder.mels
    given = given[0, :, :mel.shape[1]]
    if vocoder.uses_noise_source:
      given_hz, given_voiced = pitch.mel_f0(given, CFG)
      assert float(np.median(given_hz[given_voiced])) == pytest.approx(wanted, rel=0.05)
    else:
      np.testing.assert_allclose(given, mel, atol=1e-6)


def test_automatic_key_renders_unvoiced_where_the_source_is():
  """A generator that puts harmonics everywhere (a steady 200 Hz tone), a
  source that is noise for its first second and a 110 Hz tone for its
  second: `auto` flattens the harmonics where the source is unvoiced, and
  moves the rest to the source's F0 mapped onto the target's range."""
  t = np.arange(CFG.sample_rate) / CFG.sample_rate
  tone = lambda f0: sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 30)).astype(
      np.float32) * 0.1
  source = np.concatenate([0.05 * np.random.RandomState(0).randn(CFG.sample_rate), tone(110.0)])
  config = tiny_config()
  width = config.data.chunk_frames
  made = np.asarray(audio.wave_to_mel(tone(200.0), CFG))[:, 10:10 + width]
  generator = lambda chunks: np.broadcast_to(made, chunks.shape)
  halves = lambda wave: [pitch.track(part, CFG) for part in np.split(wave, 2)]
  plain = jaxvc.Converter(config, generator).convert(source, CFG.sample_rate)
  auto = jaxvc.Converter(config, generator, pitch="auto", pitch_statistics=dict(a=LOW, b=HIGH)
                         ).convert(source, CFG.sample_rate)
  (_, plain_noise), _ = halves(plain)
  (_, auto_noise), (hz, voiced) = halves(auto)
  assert plain_noise[10:-10].mean() > 0.8 and auto_noise[10:-10].mean() < 0.2
  assert float(np.median(hz[voiced])) == pytest.approx(220.0, rel=0.05)


def test_a_mel_redrawn_at_the_automatic_key_joins_windows_exactly(noise_vocoder, speech):
  """Each frame's harmonics are redrawn on their own: 3 s windows render the
  one window's."""
  wave, rate = speech
  medium = np.tile(wave, 4)[:14 * rate + 77]
  out_3s, out_30s = (
      np.concatenate([w.wave for w in automatic_key(
          vocoder=noise_vocoder, window_seconds=seconds, pitch_shift=-2).convert_stream([medium])])
      for seconds in (3.0, 30.0))
  np.testing.assert_allclose(out_3s, out_30s, atol=2e-4 * np.abs(out_30s).max())


def test_matched_key_centres_the_input_on_the_targets_key(speech, tmp_path, monkeypatch):
  """`match` maps from the input's own median, `auto` from the source
  voice's: for an input 1.3 times under the voice's usual, `auto` keeps it
  under the target's key (the spreads are equal), `match` lands on it; a
  file converts as the array does (its F0 read first), and a file read in
  blocks (a huge one, read twice) as one read whole."""
  wave, rate = speech
  own = median_f0(wave)
  usual = pitch.LogF0Statistics(centre=np.log(own * 1.3), spread=0.1, voiced_frames=1000)
  target = pitch.LogF0Statistics(centre=np.log(180.0), spread=0.1, voiced_frames=1000)
  keyed = lambda mode: jaxvc.Converter(tiny_config(), identity, pitch=mode,
                                       pitch_statistics=dict(a=usual, b=target))
  assert median_f0(keyed("auto").convert(wave, rate)) == pytest.approx(180 / 1.3, rel=0.05)
  matched = keyed("match").convert(wave, rate)
  assert median_f0(matched) == pytest.approx(180, rel=0.05)
  sf.write(tmp_path / "in.wav", wave, rate)
  keyed("match").convert_file(str(tmp_path / "in.wav"), str(tmp_path / "out.wav"))
  assert median_f0(sf.read(tmp_path / "out.wav", dtype="float32")[0]) == pytest.approx(
      median_f0(matched), rel=0.01)
  monkeypatch.setattr(file_conversion, "STREAM_ABOVE_SAMPLES", 0)
  keyed("match").convert_file(str(tmp_path / "in.wav"), str(tmp_path / "blocks.wav"))
  np.testing.assert_allclose(sf.read(tmp_path / "blocks.wav", dtype="float32")[0],
                             sf.read(tmp_path / "out.wav", dtype="float32")[0], atol=2e-3)
  # Without the input first (a live stream), one line saying why.
  for start in (lambda c: c.stream(), lambda c: next(c.convert_stream([wave]))):
    with pytest.raises(ValueError, match="pitch 'match' centres on the whole input's F0"):
      start(keyed("match"))
  # An input with nothing voiced keeps the source voice's centre.
  silence = np.zeros(rate, np.float32)
  assert keyed("match").for_input([silence])._input_statistics == usual
  assert keyed("auto").for_input(iter(())) is not None   # not read: `auto` needs nothing


@pytest.mark.parametrize("semitones", [12, -5])
def test_shift_through_griffin_lim_moves_the_median_f0(speech, semitones):
  wave, rate = speech
  plain = jaxvc.Converter(tiny_config(), identity).convert(wave, rate)
  shifted = jaxvc.Converter(tiny_config(), identity, pitch_shift=semitones).convert(wave, rate)
  assert median_f0(shifted) / median_f0(plain) == pytest.approx(2 ** (semitones / 12), rel=0.03)


def test_a_shift_keeps_the_voicing(speech):
  """A shift through Griffin-Lim redraws the frames where the mel's own F0
  is known at that F0 times the factor, and flattens the others (their fine
  structure is not moved: a shift moves the pitch, not the voicing)."""
  wave, _ = speech
  mel = np.asarray(audio.wave_to_mel(wave, CFG))
  hz, voiced = (np.asarray(x)[:mel.shape[1]] for x in pitch.track(wave, CFG))
  own = lambda: (hz, voiced)
  shifted = jaxvc.Converter(tiny_config(), identity, pitch_shift=12)._shifted(mel, 2.0, own)
  np.testing.assert_allclose(shifted[:, ~voiced], np.asarray(audio.shift_mel_pitch(
      mel, 1.0, CFG, flatten=True))[:, ~voiced], atol=1e-5)
  np.testing.assert_allclose(shifted[:, voiced], np.asarray(audio.shift_mel_pitch(
      mel, 1.0, CFG, harmonics_hz=2 * hz))[:, voiced], atol=1e-5)


def test_unvoiced_input_is_converted_unchanged_in_pitch(pitch_vocoder, noise_vocoder):
  noise = 0.05 * np.random.RandomState(0).randn(CFG.sample_rate).astype(np.float32)
  for options in (dict(vocoder=pitch_vocoder), dict(vocoder=noise_vocoder), dict()):
    conv = automatic_key(pitch_shift=3, **options)
    out = conv.convert(noise, CFG.sample_rate)
    assert out.shape == noise.shape and np.isfinite(out).all()


def test_bad_pitch_options_are_value_errors():
  with pytest.raises(ValueError, match="pitch must be one of"):
    jaxvc.Converter(tiny_config(), identity, pitch="high")
  with pytest.raises(ValueError, match=r"pitch_shift 13 semitones: beyond the \+-12"):
    jaxvc.Converter(tiny_config(), identity, pitch_shift=13)
  with pytest.raises(ValueError, match="needs the run's pitch_statistics"):
    jaxvc.Converter(tiny_config(), identity, pitch="auto")


def test_statistics_are_computed_once_saved_and_redone_for_other_data(demo_corpus, tmp_path):
  config = tiny_config()
  config.data.update(domain_a=f"folder:{demo_corpus}/speaker_a",
                     domain_b=f"folder:{demo_corpus}/speaker_b",
                     cache_dir=str(tmp_path / "cache"))
  workdir = write_workdir(tmp_path / "run", config)
  stats = pitch_statistics.load_or_compute(workdir, config)
  saved = json.loads((tmp_path / "run" / pitch_statistics.FILE).read_text())
  assert saved["a"]["centre"] == stats["a"].centre and saved["provenance"]["split"] == "train"
  # The demo's two voices: speaker_b is the higher one.
  assert stats["b"].median_hz > stats["a"].median_hz and stats["a"].voiced_frames > 100
  # A checkpoint directory finds its run's file; nothing is recomputed.
  (tmp_path / "run" / pitch_statistics.FILE).write_text(
      json.dumps(dict(saved, a=dict(saved["a"], centre=1.0))))
  assert pitch_statistics.load_or_compute(
      str(tmp_path / "run" / "checkpoints" / "0"), config)["a"].centre == 1.0
  converter = jaxvc.Converter.from_workdir(workdir, pitch="auto")
  assert converter.pitch_statistics["a"].centre == 1.0
  # Other data: computed again; data that cannot be read: one line saying why.
  config.data.train_split = "train[:50%]"
  assert pitch_statistics.load_or_compute(workdir, config)["a"].centre != 1.0
  config.data.domain_b = f"folder:{tmp_path}/nowhere"
  (tmp_path / "run" / pitch_statistics.FILE).unlink()
  with pytest.raises(ConfigError, match=r"pitch_statistics.json has no F0 statistics of domain b "
                                        r"and the run's voices cannot be read.*domain_b"):
    pitch_statistics.load_or_compute(workdir, config)


def test_matched_factor_compares_the_same_frames(load_tool):
  """A shift that doubles every frame, whose output the analysis calls voiced
  in more (lower) frames: the pooled medians' ratio is under 2, the
  frame-by-frame factor exactly 2."""
  check = load_tool("pitch_conversion_check")
  plain = (np.array([200.0, 210.0, 220.0, 0, 0, 0, 0]), np.array([1, 1, 1, 0, 0, 0, 0], bool))
  shifted = (np.array([400.0, 420.0, 440.0, 250.0, 260.0, 270.0, 280.0]), np.ones(7, bool))
  assert check._pooled_median([shifted]) / check._pooled_median([plain]) < 1.5
  assert check.matched_factor([shifted], [plain]) == pytest.approx(2.0)


def test_paired_difference_cancels_the_spread_between_utterances(load_tool):
  """Utterances far apart, a setting 0.05 below plain on each but one: the
  mean difference and a standard error far smaller than the utterances'
  spread; one utterance cannot give an error."""
  check = load_tool("pitch_conversion_check")
  plain = np.array([1.0, 2.0, 3.0, 4.0])
  mean, error = check.paired_difference(plain - [0.05, 0.05, 0.05, 0.01], plain)
  assert mean == pytest.approx(-0.04)
  assert error == pytest.approx(0.01)
  with pytest.raises(ValueError, match="two utterances"):
    check.paired_difference([1.0], [1.0])
