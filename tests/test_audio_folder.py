"""A folder of synthesised audio files prepared as a TFDS dataset."""
import io
import logging
import os

import numpy as np
import pytest
import soundfile as sf

from jaxvc.data import audio_folder
import tensorflow_datasets as tfds

RATE = 16000


def tone(seconds: float, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
  t = np.arange(int(seconds * rate)) / rate
  return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, wave, rate=RATE, **kwargs):
  path.parent.mkdir(parents=True, exist_ok=True)
  sf.write(path, wave, rate, **kwargs)


def examples(builder, split):
  return {ex["path"].decode(): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}


def test_split_folders_become_splits_with_transcripts(tmp_path):
  root = tmp_path / "voice"
  write(root / "train" / "0000.wav", tone(1.0))
  write(root / "train" / "0001.wav", tone(1.5, rate=22050), 22050)
  (root / "train" / "0001.txt").write_text("Seven yellow baskets.\n")
  write(root / "test" / "0002.wav", tone(0.75))
  write(root / "stray.wav", tone(1.0))  # outside the split folders: not used

  builder = audio_folder.prepare(root, RATE, tmp_path / "cache")

  assert set(builder.info.splits) == {"train", "test"}
  assert builder.info.features["audio"].sample_rate == RATE
  train = examples(builder, "train")
  assert set(train) == {"train/0000.wav", "train/0001.wav"}
  assert train["train/0001.wav"]["transcript"] == b"Seven yellow baskets."
  assert train["train/0000.wav"]["transcript"] == b""
  resampled = train["train/0001.wav"]["audio"]
  assert resampled.dtype == np.float32 and resampled.shape == (24000,)
  np.testing.assert_allclose(train["train/0000.wav"]["audio"], tone(1.0), atol=1e-4)
  assert set(examples(builder, "test")) == {"test/0002.wav"}


def test_decoding_a_folder_shows_progress(tmp_path, monkeypatch, capsys):
  for i in range(3):
    write(tmp_path / "voice" / f"{i}.wav", tone(1.0))
  monkeypatch.setattr(audio_folder, "PROGRESS_SECONDS", 0.0)   # a line before every file
  audio_folder.prepare(tmp_path / "voice", RATE, tmp_path / "cache")
  lines = capsys.readouterr().out.splitlines()
  assert [line.split(": ")[-1] for line in lines if "decoded" in line] == [
      f"decoded {i} of 3 files" for i in range(3)]
  assert lines[-1].endswith("prepared (train 3 files)")


def test_preparation_reports_minutes_rates_clipping_and_skips(tmp_path, capsys):
  """Real recordings come at several rates and depths, clipped or unusable:
  each split's preparation says so in one line."""
  root = tmp_path / "voice"
  write(root / "a.wav", tone(30.0))
  write(root / "b.wav", tone(15.0, rate=22050), 22050)
  write(root / "c.wav", tone(15.0, rate=11025), 11025, subtype="PCM_U8")   # 8-bit, 11 kHz
  clipped = np.clip(4 * tone(1.0), -1.0, 1.0)    # cut flat at full scale
  write(root / "d.wav", clipped)
  write(root / "e.wav", tone(0.1))                # too short
  (root / "f.wav").write_bytes(b"not audio")      # unreadable
  audio_folder.prepare(root, RATE, tmp_path / "cache")
  line = next(l for l in capsys.readouterr().out.splitlines() if ": train: 4 files" in l)
  assert line.endswith(
      "train: 4 files, 1.0 min; rates 11025 Hz x 1, 16000 Hz x 2, 22050 Hz x 1; "
      "1 clipped (e.g. d.wav); 2 skipped: too short x 1, unreadable audio x 1"), line


def test_an_interrupted_preparation_resumes_after_its_last_whole_batch(tmp_path, monkeypatch,
                                                                      capsys):
  root = tmp_path / "voice"
  for i in range(5):
    write(root / f"{i}.wav", tone(1.0, freq=200 + 50 * i))
  write(root / "5.wav", tone(0.1))   # too short: skipped, and still skipped on resume
  monkeypatch.setattr(audio_folder, "RESUME_BATCH", 2)
  load, decoded = audio_folder.audio.read_source, []

  def load_until_interrupted(path, *args, **kwargs):
    if len(decoded) == 3:
      raise KeyboardInterrupt   # in the second batch: the first one is kept
    decoded.append(os.path.basename(path))
    return load(path, *args, **kwargs)
  monkeypatch.setattr(audio_folder.audio, "read_source", load_until_interrupted)
  with pytest.raises(KeyboardInterrupt):
    audio_folder.prepare(root, RATE, tmp_path / "cache")
  decoded.clear()
  monkeypatch.setattr(audio_folder.audio, "read_source",
                      lambda path, *a, **k: decoded.append(os.path.basename(path)) or load(path, *a, **k))
  resumed = audio_folder.prepare(root, RATE, tmp_path / "cache")

  assert decoded == ["2.wav", "3.wav", "4.wav", "5.wav"]
  assert "train: resuming, 2 of 6 files decoded before" in capsys.readouterr().out
  fresh = audio_folder.prepare(root, RATE, tmp_path / "fresh")
  want, got = examples(fresh, "train"), examples(resumed, "train")
  assert sorted(got) == sorted(want) == [f"{i}.wav" for i in range(5)]
  for name in want:
    np.testing.assert_array_equal(got[name]["audio"], want[name]["audio"])
  assert not (tmp_path / "cache" / "audio_folder" / os.listdir(tmp_path / "cache" / "audio_folder")[0]
              / "decoding").exists()


def test_without_split_folders_everything_is_train(tmp_path):
  root = tmp_path / "voice"
  write(root / "a.wav", tone(1.0))
  write(root / "deeper" / "b.flac", tone(1.0))
  write(root / "deeper" / "still" / "c.ogg", tone(1.0))
  (root / "notes.txt").write_text("not audio")

  builder = audio_folder.prepare(root, RATE, tmp_path / "cache")

  assert set(builder.info.splits) == {"train"}
  assert set(examples(builder, "train")) == {"a.wav", "deeper/b.flac", "deeper/still/c.ogg"}


def test_split_slicing(tmp_path):
  root = tmp_path / "voice"
  for i in range(6):
    write(root / f"{i}.wav", tone(0.6, freq=200 + 100 * i))
  builder = audio_folder.prepare(root, RATE, tmp_path / "cache")

  first, rest = examples(builder, "train[:50%]"), examples(builder, "train[50%:]")

  assert len(first) == len(rest) == 3
  assert set(first) | set(rest) == set(examples(builder, "train"))


def test_reprepared_when_the_folder_changes(tmp_path):
  root, cache = tmp_path / "voice", tmp_path / "cache"
  write(root / "a.wav", tone(1.0))
  assert audio_folder.prepare(root, RATE, cache).info.splits["train"].num_examples == 1
  again = audio_folder.prepare(root, RATE, cache)
  assert again.info.splits["train"].num_examples == 1

  write(root / "b.wav", tone(1.0))
  changed = audio_folder.prepare(root, RATE, cache)

  assert changed.info.splits["train"].num_examples == 2
  assert changed.data_dir != again.data_dir
  builds = os.listdir(os.path.dirname(os.path.dirname(changed.data_dir)))
  assert builds == [os.path.basename(os.path.dirname(changed.data_dir))]  # stale one gone


def test_a_folder_on_a_gcs_bucket(tmp_path, gcs_bucket):
  """`folder:gs://...`: listed, fingerprinted and decoded through epath, the
  same examples as the same files on disk, re-prepared when a file is added."""
  from etils import epath
  local, remote = tmp_path / "voice", epath.Path(f"{gcs_bucket}/folders/voice")
  write(local / "train" / "0000.wav", tone(1.0))
  write(local / "train" / "0001.flac", tone(1.5, freq=300), format="FLAC")
  (local / "train" / "0001.txt").write_text("Seven yellow baskets.\n")
  write(local / "test" / "0002.wav", tone(0.75))
  for file in local.rglob("*.*"):
    (remote / file.relative_to(local).as_posix()).write_bytes(file.read_bytes())

  on_disk = audio_folder.prepare(local, RATE, tmp_path / "cache")
  in_bucket = audio_folder.prepare(str(remote), RATE, tmp_path / "cache")

  assert in_bucket.data_dir != on_disk.data_dir
  for split in ("train", "test"):
    want, got = examples(on_disk, split), examples(in_bucket, split)
    assert sorted(got) == sorted(want)
    for name in want:
      np.testing.assert_array_equal(got[name]["audio"], want[name]["audio"])
      assert got[name]["transcript"] == want[name]["transcript"]
  (remote / "train" / "0003.wav").write_bytes((local / "train" / "0000.wav").read_bytes())
  changed = audio_folder.prepare(str(remote), RATE, tmp_path / "cache")
  assert changed.info.splits["train"].num_examples == 3


def test_a_new_sample_rate_is_a_separate_dataset(tmp_path):
  root, cache = tmp_path / "voice", tmp_path / "cache"
  write(root / "a.wav", tone(1.0))
  low = audio_folder.prepare(root, 8000, cache)
  high = audio_folder.prepare(root, RATE, cache)
  assert next(iter(examples(low, "train").values()))["audio"].shape == (8000,)
  assert next(iter(examples(high, "train").values()))["audio"].shape == (16000,)


def bad_files(root):
  """Writes one file per kind of bad input; returns {name: reason in the log}."""
  root.mkdir(parents=True, exist_ok=True)
  (root / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(5000))
  (root / "empty.wav").write_bytes(b"")
  header = io.BytesIO()
  sf.write(header, tone(1.0), RATE, format="WAV", subtype="PCM_16")
  (root / "truncated.wav").write_bytes(header.getvalue()[:30])
  (root / "text.wav").write_text("hello, this is not audio\n" * 20)
  write(root / "silent.wav", np.zeros(RATE, np.float32))
  with_nan = tone(1.0)
  with_nan[100] = np.nan
  write(root / "nan.wav", with_nan, subtype="FLOAT")
  write(root / "short.wav", tone(0.1))
  return {"corrupt.wav": "unreadable", "empty.wav": "unreadable",
          "truncated.wav": "unreadable", "text.wav": "unreadable",
          "silent.wav": "silent", "nan.wav": "NaN", "short.wav": "too short"}


def test_bad_files_are_skipped_with_their_reasons(tmp_path, caplog):
  root = tmp_path / "voice"
  reasons = bad_files(root)
  write(root / "good.wav", tone(1.0))
  write(root / "pcm8.wav", tone(1.0), subtype="PCM_U8")
  stereo48 = np.stack([tone(1.0, rate=48000), tone(1.0, rate=48000, freq=220)], axis=1)
  write(root / "stereo48k.wav", stereo48, 48000)
  caplog.set_level(logging.INFO)

  builder = audio_folder.prepare(root, RATE, tmp_path / "cache")

  kept = examples(builder, "train")
  assert set(kept) == {"good.wav", "pcm8.wav", "stereo48k.wav"}
  assert kept["stereo48k.wav"]["audio"].shape == (RATE,)
  assert 0.45 < np.abs(kept["pcm8.wav"]["audio"]).max() < 0.55  # scaled, not raw bytes
  for name, reason in reasons.items():
    lines = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(lines) == 1 and reason in lines[0], (name, lines)
  assert any("split train: skipped 7 of 10 files" in r.getMessage() for r in caplog.records)


def test_only_bad_files_is_an_error(tmp_path):
  root = tmp_path / "voice"
  bad_files(root / "train")
  write(root / "test" / "good.wav", tone(1.0))
  cache = tmp_path / "cache"
  with pytest.raises(audio_folder.AudioFolderError, match=r"no usable audio in split 'train'"):
    audio_folder.prepare(root, RATE, cache)
  assert not list(cache.rglob("*.tfrecord*"))  # nothing half-written left behind


def test_missing_or_audio_free_folders_are_errors(tmp_path):
  with pytest.raises(audio_folder.AudioFolderError, match="audio folder not found"):
    audio_folder.prepare(tmp_path / "nowhere", RATE, tmp_path / "cache")
  (tmp_path / "texts").mkdir()
  (tmp_path / "texts" / "a.txt").write_text("words")
  with pytest.raises(audio_folder.AudioFolderError, match="no audio files"):
    audio_folder.prepare(tmp_path / "texts", RATE, tmp_path / "cache")
