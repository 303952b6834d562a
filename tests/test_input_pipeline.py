"""The training pipeline: crops as a pure function of (seed, domain, example index)."""
import collections

import numpy as np
import pytest
import soundfile as sf

from jaxvc.melganvc import config as melganvc_config
from jaxvc import config as config_lib
from jaxvc.melganvc import input_pipeline
from jaxvc.errors import ConfigError
from jaxvc.data import domains
from jaxvc.data import store
from test_domains import AUDIO, data_config, write_folder

CROP = 8 * 3
# Frames of each synthetic utterance: 1, 2 and 3 crop slots, with room to move.
LENGTHS = {"a": [CROP, 2 * CROP + 5, 3 * CROP + 11], "b": [CROP + 3, 2 * CROP]}


def synthetic_mels(root):
  """A mel_store whose utterance u of a domain holds 1000 * u + frame, so a
  crop shows where it came from; stored in shards of about two utterances."""

  def mel_store(spec, split, audio_cfg, data_cfg):
    del split, data_cfg
    name = spec.removeprefix("folder:")
    mels = [np.broadcast_to(1000.0 * u + np.arange(n, dtype=np.float32), (audio_cfg.n_mels, n))
            for u, n in enumerate(LENGTHS[name])]
    return store.write(root / f"{name}{audio_cfg.n_mels}", mels, shard_bytes=2 * 16 * 4 * CROP)
  return mel_store


def small_config(**data):
  config = melganvc_config.defaults()
  config.audio.update(n_fft=256, win_length=256, hop_length=64, n_mels=16)
  config.data.update(dict(domain_a="folder:a", domain_b="folder:b", batch_size=4,
                          chunk_frames=8, chunks_per_crop=3), **data)
  return config


@pytest.fixture
def synthetic(monkeypatch, tmp_path):
  monkeypatch.setattr(domains, "mel_store", synthetic_mels(tmp_path))


def batches(config, n, **kwargs):
  ds = input_pipeline.create_train_dataset(config, **kwargs)
  return list(ds.take(n).as_numpy_iterator())


def where(crop):
  """(utterance, start frame) of a synthetic crop, checking that it is one slice."""
  first = crop[0, 0]
  np.testing.assert_array_equal(crop, np.broadcast_to(first + np.arange(crop.shape[1]), crop.shape))
  return int(first // 1000), int(first % 1000)


def test_crops_are_slices_of_one_utterance(synthetic):
  for batch in batches(small_config(), 6):
    for name in "ab":
      assert batch[name].shape == (4, 16, CROP) and batch[name].dtype == np.float32
      for crop in batch[name]:
        utterance, start = where(crop)
        assert start + CROP <= LENGTHS[name][utterance]


def test_each_epoch_visits_every_crop_slot_once(synthetic):
  slots = sum(n // CROP for n in LENGTHS["a"])  # 6: one epoch is 6 examples
  crops = np.concatenate([b["a"] for b in batches(small_config(batch_size=2), 6)])
  offsets = set()
  for epoch in range(2):
    visits = collections.Counter(where(c)[0] for c in crops[epoch * slots:(epoch + 1) * slots])
    assert visits == {0: 1, 1: 2, 2: 3}
    offsets |= {where(c)[1] for c in crops[epoch * slots:(epoch + 1) * slots]}
  assert len(offsets) > 3  # crops start at random offsets, not on a grid


def test_resuming_at_batch_k_continues_the_same_stream(synthetic):
  config = small_config()
  uninterrupted = batches(config, 8)
  resumed = batches(config, 3, start_batch=5)
  for expected, got in zip(uninterrupted[5:], resumed):
    for name in "ab":
      np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.parametrize("process_count", [2, 4])
def test_processes_together_yield_the_global_batch(synthetic, process_count):
  config = small_config()
  single = batches(config, 3, start_batch=2)
  per_process = [batches(config, 3, start_batch=2, process_index=p, process_count=process_count)
                 for p in range(process_count)]
  for step, expected in enumerate(single):
    for name in "ab":
      local = [parts[step][name] for parts in per_process]
      assert local[0].shape[0] == 4 // process_count
      np.testing.assert_array_equal(np.concatenate(local), expected[name])


def test_seeds_and_domains_draw_different_streams(synthetic, monkeypatch):
  config = small_config(domain_b="folder:a")  # the same utterances on both sides
  seed0 = np.concatenate([b["a"] for b in batches(config, 4)])
  both = batches(config, 4)
  b_side = np.concatenate([b["b"] for b in both])
  config.seed = 1
  seed1 = np.concatenate([b["a"] for b in batches(config, 4)])
  assert not np.array_equal(seed0, seed1)
  assert not np.array_equal(seed0, b_side)


def test_batch_size_must_divide_over_processes(synthetic):
  with pytest.raises(ConfigError, match="data.batch_size: 4 does not divide over 3 processes"):
    input_pipeline.create_train_dataset(small_config(), process_count=3)


def test_bad_domain_is_an_error_naming_its_key(tmp_path):
  with pytest.raises(ConfigError, match=r"data.domain_a \(split 'train'\): "
                                        r"domain 'speaker_a': expected demo:NAME"):
    input_pipeline.create_train_dataset(small_config(domain_a="speaker_a"))
  with pytest.raises(ConfigError, match=r"data.domain_a \(split 'train'\): "
                                        r".*nowhere: audio folder not found"):
    input_pipeline.create_train_dataset(small_config(
        domain_a=f"folder:{tmp_path / 'nowhere'}", cache_dir=str(tmp_path)))


def tone_folder(root, freqs, seconds=1.0):
  for split in ("train", "test"):
    (root / split).mkdir(parents=True)
    for i, freq in enumerate(freqs):
      t = np.arange(int(seconds * 16000)) / 16000
      sf.write(root / split / f"{i}.wav", 0.5 * np.sin(2 * np.pi * freq * t), 16000)
  return f"folder:{root}"


def test_real_audio_end_to_end(tmp_path):
  config = small_config(domain_a=tone_folder(tmp_path / "low", [220, 330]),
                        domain_b=tone_folder(tmp_path / "high", [1760, 2640, 3520]),
                        cache_dir=str(tmp_path / "cache"))
  [batch] = batches(config, 1)
  for name in "ab":
    assert batch[name].shape == (4, 16, CROP) and batch[name].dtype == np.float32
    assert -1 <= batch[name].min() and batch[name].max() <= 1
    assert batch[name].std() > 0.1
  low_band, high_band = slice(0, 8), slice(8, 16)
  assert batch["a"][:, low_band].mean() > batch["a"][:, high_band].mean()
  assert batch["b"][:, high_band].mean() > batch["b"][:, low_band].mean()

  evaluation = input_pipeline.create_eval_mels(config)
  assert [len(evaluation["a"]), len(evaluation["b"])] == [2, 3]
  assert all(m.shape == (16, 251) for m in evaluation["a"] + evaluation["b"])


def test_short_utterances_padded_or_an_error_naming_the_domain(synthetic):
  crop = 40 * 3  # longer than every synthetic utterance
  [batch] = batches(small_config(chunk_frames=40), 1)
  for crop_a in batch["a"]:
    utterance = int(crop_a[0, 0] // 1000)
    n = LENGTHS["a"][utterance]
    assert (crop_a[:, n:] == -1).all() and crop_a.shape == (16, crop)  # padded with silence
  with pytest.raises(ConfigError, match="data.domain_a: every utterance of split 'train' is "
                                        "shorter than one crop \\(120 frames\\)"):
    input_pipeline.create_train_dataset(small_config(chunk_frames=40, short_utterances="skip"))


def fitted_mels(spec, data):
  """A folder domain's held-out mels as `domain_mels` gives them: fitted to the crop."""
  return input_pipeline.fit_to_crop(domains.load_mels(spec, "train", AUDIO, data), data, spec)


def test_short_utterances_padded_with_silence_or_skipped(tmp_path):
  spec = write_folder(tmp_path / "voice", [0.6, 1.0, 0.55])
  lengths = [AUDIO.n_frames(int(s * 16000)) for s in [0.6, 1.0, 0.55]]  # 151, 251, 138

  padded = fitted_mels(spec, data_config(tmp_path, chunk_frames=60))
  skipped = fitted_mels(spec, data_config(tmp_path, chunk_frames=60, short_utterances="skip"))

  crop = 60 * 3
  by_length = sorted(padded, key=lambda m: (m == -1).all(axis=0).sum())  # 251, 151, 138 real frames
  assert [m.shape[1] for m in by_length] == [lengths[1], crop, crop]
  for mel, n in zip(by_length[1:], (151, 138)):
    assert (mel[:, n:] == -1).all() and (mel[:, n - 1] > -1).any()
  assert [m.shape[1] for m in skipped] == [lengths[1]]


def test_all_short_or_bad_policy_is_an_error(tmp_path):
  spec = write_folder(tmp_path / "voice", [0.6])
  with pytest.raises(ConfigError, match="every utterance is shorter than one crop"):
    fitted_mels(spec, data_config(tmp_path, chunk_frames=100, short_utterances="skip"))
  with pytest.raises(ConfigError, match="data.short_utterances: must be 'pad' or 'skip'"):
    fitted_mels(spec, data_config(tmp_path, short_utterances="drop"))
