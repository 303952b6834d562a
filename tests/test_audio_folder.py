"""A folder of synthesised audio files: its splits, their order and slices,
decoding with skips and the preparation's report."""
import io
import logging

import numpy as np
import pytest
import soundfile as sf

from jaxvc import files
from jaxvc.data import audio_folder
from jaxvc.data import transcripts

RATE = 16000


def tone(seconds: float, rate: int = RATE, freq: float = 440.0) -> np.ndarray:
  t = np.arange(int(seconds * rate)) / rate
  return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, wave, rate=RATE, **kwargs):
  path.parent.mkdir(parents=True, exist_ok=True)
  sf.write(path, wave, rate, **kwargs)


def decoded(root, split="train", rate=RATE, summary=None):
  """{relative path: wave} of a split, and its summary."""
  summary = summary if summary is not None else audio_folder.Summary()
  paths = audio_folder.select(root, audio_folder.list_splits(root), split)
  return {d.path: d.wave for d in audio_folder.decode(root, paths, rate, summary)}, summary


def test_split_folders_become_splits(tmp_path):
  root = tmp_path / "voice"
  write(root / "train" / "0000.wav", tone(1.0))
  write(root / "train" / "0001.wav", tone(1.5, rate=22050), 22050)
  write(root / "test" / "0002.wav", tone(0.75))
  write(root / "stray.wav", tone(1.0))  # outside the split folders: not used

  splits = audio_folder.list_splits(root)

  assert {k: sorted(v) for k, v in splits.items()} == {
      "train": ["train/0000.wav", "train/0001.wav"], "test": ["test/0002.wav"]}
  train, _ = decoded(root)
  assert train["train/0001.wav"].dtype == np.float32
  assert train["train/0001.wav"].shape == (24000,)   # resampled from 22050 Hz
  np.testing.assert_allclose(train["train/0000.wav"], tone(1.0), atol=1e-4)


def test_without_split_folders_everything_is_train(tmp_path):
  root = tmp_path / "voice"
  write(root / "a.wav", tone(1.0))
  write(root / "deeper" / "b.flac", tone(1.0))
  write(root / "deeper" / "still" / "c.ogg", tone(1.0))
  (root / "notes.txt").write_text("not audio")
  splits = audio_folder.list_splits(root)
  assert list(splits) == ["train"]
  assert sorted(splits["train"]) == ["a.wav", "deeper/b.flac", "deeper/still/c.ogg"]


def test_files_are_in_a_fixed_order_unlike_their_names():
  names = [f"train/{i:04d}.wav" for i in range(100)]
  order = audio_folder.hash_order(names)
  assert sorted(order) == names and order != names
  assert audio_folder.hash_order(reversed(names)) == order   # not the listing's order
  # Pinned: a change of the order changes every carve-out, so it must be deliberate.
  assert audio_folder.hash_order(["a.wav", "b.wav", "c.wav", "d.wav"]) == [
      "c.wav", "a.wav", "b.wav", "d.wav"]
  # A file added keeps the others' order.
  assert [n for n in audio_folder.hash_order(names + ["train/new.wav"])
          if n != "train/new.wav"] == order
  # The last 10% is spread over the folder, not the last names.
  carve_out = sorted(int(n[6:10]) for n in order[90:])
  assert carve_out[0] < 50 and carve_out[-1] - carve_out[0] > 50


def test_split_slicing_is_tfds_syntax_over_files():
  splits = {"train": [f"t{i}" for i in range(581)], "test": [f"s{i}" for i in range(103)]}
  select = lambda spec: audio_folder.select("/voice", splits, spec)   # noqa: E731
  assert select("train") == splits["train"] and select("test") == splits["test"]
  assert select("train[:90%]") == splits["train"][:523]      # TFDS rounds to the closest
  assert select("train[90%:]") == splits["train"][523:]
  assert select("train[:10]") == splits["train"][:10]
  assert select("test[-3:]") == splits["test"][-3:]
  assert select("train+test") == splits["train"] + splits["test"]


@pytest.mark.parametrize("spec, reason", [
    ("validation", "no such split"),
    ("train[:abc]", "Unrecognized split format"),
    ("train[:1000]", "Requested slice [:1000] incompatible with 581 examples;"),
])
def test_a_bad_split_names_the_folder_and_its_splits(spec, reason):
  splits = {"train": ["a"] * 581, "test": ["b"] * 103}
  with pytest.raises(audio_folder.AudioFolderError) as error:
    audio_folder.select("/data/voice", splits, spec)
  message = str(error.value)
  assert message.startswith(f"/data/voice: split {spec!r}: {reason}"), message
  assert message.endswith("the folder's splits are train (581 files), test (103 files)")
  assert "\n" not in message


def test_decoding_shows_progress(tmp_path, monkeypatch, capsys):
  for i in range(3):
    write(tmp_path / "voice" / f"{i}.wav", tone(1.0))
  monkeypatch.setattr(audio_folder, "PROGRESS_SECONDS", 0.0)   # a line before every file
  root = tmp_path / "voice"
  paths = audio_folder.list_splits(root)["train"]
  list(audio_folder.decode(root, paths, RATE, audio_folder.Summary(), start=1, label="voice"))
  assert capsys.readouterr().out.splitlines() == ["voice: decoded 1 of 3 files",
                                                  "voice: decoded 2 of 3 files"]


def test_the_report_says_minutes_rates_clipping_and_skips(tmp_path):
  """Real recordings come at several rates and depths, clipped or unusable:
  each split's preparation says so in one line."""
  root = tmp_path / "voice"
  write(root / "a.wav", tone(30.0))
  write(root / "b.wav", tone(15.0, rate=22050), 22050)
  write(root / "c.wav", tone(15.0, rate=11025), 11025, subtype="PCM_U8")   # 8-bit, 11 kHz
  write(root / "d.wav", np.clip(4 * tone(1.0), -1.0, 1.0))   # cut flat at full scale
  write(root / "e.wav", tone(0.1))                # too short
  (root / "f.wav").write_bytes(b"not audio")      # unreadable
  _, summary = decoded(root)
  assert summary.line() == (
      "4 files, 1.0 min; rates 11025 Hz x 1, 16000 Hz x 2, 22050 Hz x 1; "
      "1 clipped (e.g. d.wav); 2 skipped: too short x 1, unreadable audio x 1")
  again = audio_folder.Summary.from_json(summary.to_json())   # as a store keeps it
  assert again == summary and again.line() == summary.line()


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

  kept, summary = decoded(root)

  assert set(kept) == {"good.wav", "pcm8.wav", "stereo48k.wav"}
  assert kept["stereo48k.wav"].shape == (RATE,)
  assert 0.45 < np.abs(kept["pcm8.wav"]).max() < 0.55  # scaled, not raw bytes
  for name, reason in reasons.items():
    lines = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(lines) == 1 and reason in lines[0], (name, lines)
  assert summary.line().endswith("7 skipped: unreadable audio x 4, contains NaN or Inf "
                                 "samples x 1, silent x 1, too short x 1")


def test_only_bad_files_is_an_error(tmp_path):
  root = tmp_path / "voice"
  bad_files(root / "train")
  write(root / "test" / "good.wav", tone(1.0))
  with pytest.raises(audio_folder.AudioFolderError,
                     match=r"voice: no usable audio in train \(all 7 files skipped"):
    list(audio_folder.decode(root, audio_folder.list_splits(root)["train"], RATE,
                             audio_folder.Summary(), label="train"))


def test_missing_or_audio_free_folders_are_errors(tmp_path):
  with pytest.raises(audio_folder.AudioFolderError, match="nowhere: audio folder not found"):
    audio_folder.list_splits(tmp_path / "nowhere")
  (tmp_path / "texts").mkdir()
  (tmp_path / "texts" / "a.txt").write_text("words")
  with pytest.raises(audio_folder.AudioFolderError, match="texts: no audio files"):
    audio_folder.list_splits(tmp_path / "texts")


def test_the_fingerprint_changes_with_the_content(tmp_path):
  root = tmp_path / "voice"
  write(root / "a.wav", tone(1.0))
  first = audio_folder.fingerprint(root)
  assert audio_folder.fingerprint(root) == first
  write(root / "b.wav", tone(1.0))
  second = audio_folder.fingerprint(root)
  write(root / "b.wav", tone(1.5))   # the same name, other content
  assert len({first, second, audio_folder.fingerprint(root)}) == 3


def test_a_folder_on_a_gcs_bucket(tmp_path, gcs_bucket):
  """`folder:gs://...`: listed, fingerprinted and decoded through epath, the
  same waves as the same files on disk, a new fingerprint when a file is added."""
  from etils import epath
  local, remote = tmp_path / "voice", epath.Path(f"{gcs_bucket}/folders/voice")
  write(local / "train" / "0000.wav", tone(1.0))
  write(local / "train" / "0001.flac", tone(1.5, freq=300), format="FLAC")
  (local / "train" / "0001.txt").write_text("Seven yellow baskets.\n")
  write(local / "test" / "0002.wav", tone(0.75))
  for file in local.rglob("*.*"):
    (remote / file.relative_to(local).as_posix()).write_bytes(file.read_bytes())

  assert audio_folder.list_splits(str(remote)) == audio_folder.list_splits(local)
  for split in ("train", "test"):
    want, _ = decoded(local, split)
    got, _ = decoded(str(remote), split)
    assert list(got) == list(want)
    for name in want:
      np.testing.assert_array_equal(got[name], want[name])
  remote_root = files.location(str(remote))
  assert transcripts.find(remote_root, ["train/0001.flac"]) == {
      "train/0001.flac": "Seven yellow baskets."}
  before = audio_folder.fingerprint(str(remote))
  (remote / "train" / "0003.wav").write_bytes((local / "train" / "0000.wav").read_bytes())
  assert audio_folder.fingerprint(str(remote)) != before
