"""jaxvc.audio.pitch: frames as the mel's, accuracy on signals of known F0,
voicing, octave errors, batching and jit's static settings."""
import dataclasses

import numpy as np
import pytest

from jaxvc import audio
from jaxvc.audio import pitch

CFG = audio.AudioConfig()
SR, HOP = CFG.sample_rate, CFG.hop_length


def harmonics(f0: np.ndarray, amplitudes) -> np.ndarray:
  """A wave of F0 per sample `f0` with harmonics k = 1, 2, ... of `amplitudes`
  (those above 7.2 kHz left out), 0.3 at its peak."""
  phase = 2 * np.pi * np.cumsum(f0) / SR
  wave = sum(np.where(k * f0 < 0.45 * SR, a, 0.0) * np.sin(k * phase)
             for k, a in enumerate(amplitudes, start=1))
  return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def scores(f0_hz, voiced, truth_hz, truth_voiced, scored):
  """(gross error %, fine error cents RMS, voicing error %) over `scored` frames."""
  both = scored & voiced & truth_voiced
  ratio = f0_hz[both] / truth_hz[both]
  fine = np.abs(ratio - 1) <= 0.2
  return (100 * np.mean(~fine), np.sqrt(np.mean((1200 * np.log2(ratio[fine])) ** 2)),
          100 * np.mean(voiced[scored] != truth_voiced[scored]))


@pytest.fixture(scope="module")
def sweep():
  """Two 1.5 s harmonic glides, 60 -> 800 Hz and 800 -> 120 Hz, between
  gaps of silence and of noise; (wave, truth Hz and voiced per frame, scored
  frames: those more than 3 frames from a voicing change)."""
  rng = np.random.default_rng(0)
  gap = int(0.3 * SR)
  up = np.geomspace(60, 800, int(1.5 * SR))
  down = np.geomspace(800, 120, int(1.5 * SR))
  amplitudes = [1 / k for k in range(1, 130)]
  noise = 0.02 * rng.standard_normal(gap)
  wave = np.concatenate([np.zeros(gap), harmonics(up, amplitudes), noise,
                         harmonics(down, amplitudes), np.zeros(gap)]).astype(np.float32)
  truth = np.concatenate([np.zeros(gap), up, np.zeros(gap), down, np.zeros(gap)])
  at = np.minimum(np.arange(CFG.n_frames(wave.size)) * HOP, wave.size - 1)
  truth_hz, truth_voiced = truth[at], truth[at] > 0
  change = np.flatnonzero(np.diff(truth_voiced.astype(int)))
  scored = np.abs(np.arange(at.size)[:, None] - change[None, :]).min(axis=1) > 3
  return wave, truth_hz, truth_voiced, scored


def analyse(wave, settings=pitch.PitchSettings()):
  f0_hz, voiced = pitch.f0(wave, CFG, settings)
  return np.asarray(f0_hz), np.asarray(voiced)


@pytest.mark.parametrize("samples", [1, HOP - 1, HOP, 5 * HOP + 7, 16000])
def test_frames_are_the_mels(samples):
  wave = np.zeros(samples, np.float32)
  f0_hz, voiced = pitch.f0(wave, CFG)
  mel = audio.wave_to_mel(wave, CFG)
  assert f0_hz.shape == voiced.shape == (mel.shape[-1],) == (CFG.n_frames(samples),)
  assert f0_hz.dtype == np.float32 and voiced.dtype == bool


def test_frame_t_is_at_sample_t_hop():
  """A tone stepping from 150 to 300 Hz at sample s reads 300 from frame
  s / hop on, within a frame."""
  step = 100 * HOP
  f0 = np.where(np.arange(2 * step) < step, 150.0, 300.0)
  f0_hz, voiced = analyse(harmonics(f0, [1, 0.5, 0.3]))
  assert voiced[10:-10].all()
  first_high = np.argmax(f0_hz > 225)
  assert abs(first_high - 100) <= 1
  np.testing.assert_allclose(f0_hz[20:95], 150, rtol=0.005)
  np.testing.assert_allclose(f0_hz[106:190], 300, rtol=0.005)


@pytest.mark.parametrize("snr_db", [None, 20, 10])
def test_a_harmonic_sweep_is_tracked(sweep, snr_db):
  wave, truth_hz, truth_voiced, scored = sweep
  if snr_db is not None:
    power = np.mean(wave[truth_voiced.repeat(HOP)[:wave.size]] ** 2)
    noise = np.random.default_rng(1).standard_normal(wave.size) * np.sqrt(
        power / 10 ** (snr_db / 10))
    wave = (wave + noise).astype(np.float32)
  gross, fine_cents, voicing = scores(*analyse(wave), truth_hz, truth_voiced, scored)
  assert gross <= 2 and voicing <= 5
  assert fine_cents < 15


def test_silence_and_white_noise_are_unvoiced():
  rng = np.random.default_rng(0)
  for wave in (np.zeros(2 * SR), 1e-4 * rng.standard_normal(2 * SR),
               0.3 * rng.standard_normal(2 * SR), 0.03 * rng.standard_normal(2 * SR)):
    f0_hz, voiced = analyse(wave.astype(np.float32))
    assert not voiced.any()
    assert (f0_hz == 0).all()


def test_no_octave_errors_on_a_low_male_voice():
  """70-110 Hz with the fundamental weaker than its 2nd to 4th harmonics (a
  first formant near 300 Hz): every voiced frame within 20% of the truth, the
  classic errors being half or twice it."""
  t = np.arange(3 * SR) / SR
  f0 = 90 + 20 * np.sin(2 * np.pi * 0.7 * t)
  amplitudes = [0.4, 1.0, 1.0, 0.8, *[1 / k for k in range(5, 100)]]
  wave = harmonics(f0, amplitudes)
  wave += 0.01 * np.random.default_rng(2).standard_normal(wave.size).astype(np.float32)
  f0_hz, voiced = analyse(wave)
  truth = f0[np.minimum(np.arange(f0_hz.size) * HOP, f0.size - 1)]
  assert voiced[3:-3].all()
  np.testing.assert_allclose(f0_hz[3:-3], truth[3:-3], rtol=0.02)


def test_batched_equals_one_by_one(sweep):
  wave = sweep[0]
  batch = np.stack([wave, wave[::-1].copy(), 0.1 * wave]).reshape(3, 1, -1)
  f0_hz, voiced = analyse(batch)
  assert f0_hz.shape == voiced.shape == (3, 1, CFG.n_frames(wave.size))
  for row, one in zip(f0_hz[:, 0], batch[:, 0]):
    alone, alone_voiced = analyse(one)
    np.testing.assert_allclose(row, alone, rtol=1e-5)
  np.testing.assert_array_equal(voiced[:, 0], np.stack([analyse(w)[1] for w in batch[:, 0]]))


def test_settings_are_static():
  """New settings compile a new program and change the result; the same
  settings again do not compile."""
  wave = harmonics(np.full(SR, 100.0), [1, 0.5, 0.3])
  analyse(wave)
  compiled = pitch.f0._cache_size()
  analyse(wave, pitch.PitchSettings())
  assert pitch.f0._cache_size() == compiled
  narrow = pitch.PitchSettings(fmin=150.0)
  f0_hz, _ = analyse(wave, narrow)
  assert pitch.f0._cache_size() == compiled + 1
  assert not np.any(np.abs(f0_hz - 100) < 10)      # 100 Hz is out of its range
  with pytest.raises(dataclasses.FrozenInstanceError):
    narrow.fmin = 50.0


def test_speech_is_voiced_where_it_should_be(clip_16k):
  """The demo's low male voice: most frames voiced, at a male pitch."""
  f0_hz, voiced = analyse(clip_16k)
  assert 0.3 < voiced.mean() < 0.9
  assert 70 < np.median(f0_hz[voiced]) < 160


def test_log_f0_statistics_are_robust_to_an_octave_error(monkeypatch):
  """Median and scaled MAD: one frame read an octave low moves neither much."""
  tracks = iter([(np.array([200.0, 0.0, 210.0, 190.0, 100.0]), None),
                 (np.array([205.0, 195.0]), None)])
  monkeypatch.setattr(pitch, "track", lambda w, cfg: (lambda hz: (hz, hz > 0))(next(tracks)[0]))
  stats = pitch.LogF0Statistics.of_waves([None, None], pitch.AudioConfig())
  assert stats.voiced_frames == 6 and stats.median_hz == pytest.approx(200, rel=0.02)
  assert stats.spread < 0.1 < np.log([200, 210, 190, 100, 205, 195]).std()
  monkeypatch.undo()
  with pytest.raises(ValueError, match="no voiced frame"):
    pitch.LogF0Statistics.of_waves([np.zeros(16000, np.float32)], pitch.AudioConfig())


@pytest.fixture(scope="module")
def clip_16k(speech):
  wave, rate = speech
  assert rate == SR
  return np.asarray(wave, np.float32)
