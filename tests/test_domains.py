"""Domain specs -> waves and cached mels, over folders and mocked TFDS catalog data."""
import dataclasses

import ml_collections
import numpy as np
import pytest
import soundfile as sf

from jaxvc import audio
from jaxvc.audio import mel as mel_lib
from jaxvc._tf import tf
from jaxvc.errors import ConfigError
from jaxvc.data import domains
from jaxvc.data import specs
import tensorflow_datasets as tfds

# Small mels keep the tests fast; the code paths are those of the defaults.
AUDIO = audio.AudioConfig(n_fft=256, win_length=256, hop_length=64, n_mels=32)


def data_config(cache_dir, **changes) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(dict(
      top_db=0.0, cache_dir=str(cache_dir), chunk_frames=8, chunks_per_crop=3,
      short_utterances="pad", shard_mb=64.0), **changes))


def tone(seconds: float, rate: int = 16000, freq: float = 440.0) -> np.ndarray:
  t = np.arange(int(round(seconds * rate))) / rate
  return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("spec, expected", [
    ("demo:speaker_a", specs.Domain("demo", "speaker_a")),
    ("folder:/data/my:voice", specs.Domain("folder", "/data/my:voice")),
    ("tfds:ljspeech", specs.Domain("tfds", "ljspeech")),
    ("tfds:vctk:speaker=p225", specs.Domain("tfds", "vctk", "speaker", "p225")),
    ("tfds:nsynth/full:instrument_family=guitar",
     specs.Domain("tfds", "nsynth/full", "instrument_family", "guitar")),
])
def test_parse(spec, expected):
  assert specs.parse(spec) == expected



def test_a_folder_given_relative_or_absolute_is_the_same_domain(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert specs.same(f"folder:{tmp_path}/voice", "folder:voice")
  assert specs.same("folder:voice/", "folder:./voice")
  assert not specs.same("folder:voice", "folder:other")
  assert not specs.same("demo:voice", "folder:voice")
  assert specs.same("tfds:vctk:speaker=p225", "tfds:vctk:speaker=p225")

@pytest.mark.parametrize("spec", [
    "", "speaker_a", "demo:", "folder:", "wav:/x", "tfds:", "tfds::speaker=p225",
    "tfds:vctk:speaker", "tfds:vctk:=p225", "tfds:vctk:speaker="])
def test_parse_rejects_bad_specs(spec):
  with pytest.raises(ConfigError, match=f"domain {spec!r}: .*expected demo:NAME"):
    specs.parse(spec)


def vctk_examples(self, split, **kwargs):
  """Three utterances at 48 kHz (1, 2, 3 s long); speakers p225, p226, p225."""
  del split, kwargs
  names = self.info.features["speaker"].names
  examples = [(names.index(s), (8000 * tone(i + 1, 48000)).astype(np.int16))
              for i, s in enumerate(["p225", "p226", "p225"])]
  return tf.data.Dataset.from_generator(
      lambda: ({"speaker": s, "speech": w} for s, w in examples),
      output_signature={"speaker": tf.TensorSpec([], tf.int64),
                        "speech": tf.TensorSpec([None], tf.int16)})


def gtzan_examples(self, split, **kwargs):
  """Four clips at 22050 Hz, 1 to 4 s long, labelled jazz, rock, jazz, pop."""
  del split, kwargs
  names = self.info.features["label"].names
  examples = [(names.index(g), (8000 * tone(i + 1, 22050)).astype(np.int64))
              for i, g in enumerate(["jazz", "rock", "jazz", "pop"])]
  return tf.data.Dataset.from_generator(
      lambda: ({"label": g, "audio": w} for g, w in examples),
      output_signature={"label": tf.TensorSpec([], tf.int64),
                        "audio": tf.TensorSpec([None], tf.int64)})


def test_tfds_vctk_speaker_selection(tmp_path):
  with tfds.testing.mock_data(as_dataset_fn=vctk_examples):
    waves = domains.load_waves("tfds:vctk:speaker=p225", "train", AUDIO, data_config(tmp_path))
  assert [w.shape for w in waves] == [(16000,), (48000,)]  # 1 s and 3 s, now at 16 kHz
  assert all(w.dtype == np.float32 for w in waves)
  np.testing.assert_allclose(np.abs(waves[0]).max(), 8000 / 32768 * 0.5, rtol=0.02)


def test_tfds_gtzan_label_by_name_or_index(tmp_path):
  with tfds.testing.mock_data(as_dataset_fn=gtzan_examples):
    jazz = domains.load_waves("tfds:gtzan:label=jazz", "train", AUDIO, data_config(tmp_path))
    index = tfds.builder("gtzan").info.features["label"].str2int("jazz")
    by_index = domains.load_waves(f"tfds:gtzan:label={index}", "train", AUDIO,
                                  data_config(tmp_path))
    everything = domains.load_waves("tfds:gtzan", "train", AUDIO, data_config(tmp_path))
  assert [w.size for w in jazz] == [16000, 48000]  # clips 1 and 3
  assert [w.size for w in by_index] == [16000, 48000]
  assert len(everything) == 4


def test_tfds_nested_feature_selection(tmp_path):
  with tfds.testing.mock_data(num_examples=40):  # random examples, the same every time
    examples = list(tfds.as_numpy(tfds.load("nsynth", split="train")))
    guitar = tfds.builder("nsynth").info.features["instrument"]["family"].str2int("guitar")
    waves = domains.load_waves("tfds:nsynth:instrument_family=guitar", "train", AUDIO,
                               data_config(tmp_path))
  expected = [ex["audio"].size for ex in examples if ex["instrument"]["family"] == guitar]
  assert 0 < len(expected) < 40
  assert [w.size for w in waves] == expected  # nsynth is 16 kHz already


@pytest.mark.parametrize("spec, message", [
    ("tfds:vctk:speakr=p225", r"no feature 'speakr' to select on; the features are "
                              r"accent, gender, id, speaker, text"),
    ("tfds:vctk:speaker=p999", r"speaker has no class 'p999'; the classes are p225, p226"),
    ("tfds:vctk:speech=1", r"no feature 'speech' to select on"),
    ("tfds:no_such_dataset", r"no TFDS dataset of that name"),
])
def test_tfds_bad_selection_is_a_clear_error(tmp_path, spec, message):
  with tfds.testing.mock_data(as_dataset_fn=vctk_examples):
    with pytest.raises(ConfigError, match=message):
      domains.load_waves(spec, "train", AUDIO, data_config(tmp_path))


def test_tfds_empty_selection_is_an_error(tmp_path):
  with tfds.testing.mock_data(as_dataset_fn=vctk_examples):
    with pytest.raises(ConfigError, match="no examples in split 'train'"):
      domains.load_waves("tfds:vctk:speaker=p227", "train", AUDIO, data_config(tmp_path))


def test_tfds_dataset_not_prepared_is_an_error_not_a_download(tmp_path, monkeypatch):
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
  with pytest.raises(ConfigError, match="is not prepared in .*tfds build gtzan"):
    domains.load_waves("tfds:gtzan:label=jazz", "train", AUDIO, data_config(tmp_path))


def test_unknown_demo_voice_lists_the_voices(tmp_path, monkeypatch, demo_corpus):
  monkeypatch.setattr(domains.demo, "ensure_demo_corpus", lambda cache_dir: demo_corpus)
  with pytest.raises(ConfigError, match="no such demo voice; the demo voices are speaker_a"):
    domains.load_waves("demo:speaker_z", "train", AUDIO, data_config(tmp_path))


def test_demo_voice_waves(tmp_path, monkeypatch, demo_corpus):
  monkeypatch.setattr(domains.demo, "ensure_demo_corpus", lambda cache_dir: demo_corpus)
  waves = domains.load_waves("demo:speaker_b", "test", AUDIO, data_config(tmp_path))
  files = sorted((demo_corpus / "speaker_b" / "test").glob("*.wav"))
  expected = [round(sf.info(f).frames * 16000 / sf.info(f).samplerate) for f in files]
  assert sorted(w.size for w in waves) == sorted(expected)
  assert all(w.dtype == np.float32 for w in waves)
  first_two = domains.load_waves("demo:speaker_b", "test", AUDIO, data_config(tmp_path), limit=2)
  assert [w.size for w in first_two] == [w.size for w in waves[:2]]
  # By name: the same waves, keyed by their files' paths in the corpus folder.
  named = domains.load_named_waves("demo:speaker_b", "test", AUDIO, data_config(tmp_path))
  assert sorted(named) == [f"test/{f.name}" for f in files]
  assert sorted(w.size for w in named.values()) == sorted(expected)


def test_silence_is_trimmed(tmp_path):
  (tmp_path / "voice").mkdir()
  quiet = np.full(8000, 1e-3, np.float32)  # 0.5 s at -60 dBFS on each side
  sf.write(tmp_path / "voice" / "a.wav", np.concatenate([quiet, tone(1.0), quiet]), 16000)
  spec = f"folder:{tmp_path / 'voice'}"
  [kept] = domains.load_waves(spec, "train", AUDIO, data_config(tmp_path))
  [trimmed] = domains.load_waves(spec, "train", AUDIO, data_config(tmp_path, top_db=40.0))
  assert kept.size == 32000
  assert 16000 <= trimmed.size < 18000


def write_folder(root, seconds):
  root.mkdir(parents=True)
  for i, s in enumerate(seconds):
    sf.write(root / f"{i:02d}.wav", tone(s, freq=300 + 50 * i), 16000)
  return f"folder:{root}"


@pytest.fixture
def counted_wave_to_mel(monkeypatch):
  """Counts the waves that reach audio.wave_to_mel (from audio.waves_to_mels)."""
  calls = []
  original = mel_lib.wave_to_mel

  def counting(waves, cfg):
    calls.append(waves.shape[0])
    return original(waves, cfg)
  monkeypatch.setattr(mel_lib, "wave_to_mel", counting)
  return calls


def test_mels_are_cached_until_the_audio_config_changes(tmp_path, counted_wave_to_mel):
  spec = write_folder(tmp_path / "voice", [1.0, 1.2, 2.0])
  data = data_config(tmp_path / "cache")

  first = domains.load_mels(spec, "train", AUDIO, data)
  computed = len(counted_wave_to_mel)
  second = domains.load_mels(spec, "train", AUDIO, data)

  assert computed > 0 and len(counted_wave_to_mel) == computed  # a cache hit
  assert sorted(m.shape for m in first) == [(32, AUDIO.n_frames(int(s * 16000)))
                                            for s in [1.0, 1.2, 2.0]]
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a, b)
  assert not list((tmp_path / "cache" / "mels").glob("*.tmp"))

  wider = dataclasses.replace(AUDIO, n_mels=40)
  third = domains.load_mels(spec, "train", wider, data)
  assert len(counted_wave_to_mel) > computed
  assert third[0].shape[0] == 40
  domains.load_mels(spec, "train", AUDIO, data_config(tmp_path / "cache", top_db=20.0))
  assert len(counted_wave_to_mel) > computed + 1  # top_db is part of the key too


def test_an_interrupted_preparation_continues_where_it_stopped(tmp_path, monkeypatch, capsys,
                                                              counted_wave_to_mel):
  spec = write_folder(tmp_path / "voice", [0.6, 0.7, 0.8, 0.9, 1.0])
  data = data_config(tmp_path / "cache", shard_mb=1e-6)  # a shard per utterance
  monkeypatch.setattr(domains, "_BLOCK_SAMPLES", 1)      # and a mel batch per utterance
  original = mel_lib.wave_to_mel

  def interrupted(waves, cfg):
    if len(counted_wave_to_mel) == 3:
      raise KeyboardInterrupt
    return original(waves, cfg)
  monkeypatch.setattr(mel_lib, "wave_to_mel", interrupted)
  with pytest.raises(KeyboardInterrupt):
    domains.mel_store(spec, "train", AUDIO, data)
  assert "train: 3 utterances, 0.0 min of mels prepared so far" in capsys.readouterr().out
  assert len(counted_wave_to_mel) == 3

  monkeypatch.setattr(mel_lib, "wave_to_mel", original)
  resumed = domains.mel_store(spec, "train", AUDIO, data)
  out = capsys.readouterr().out
  assert "continuing an interrupted preparation after 3 utterances" in out
  assert "5 utterances, 0.1 min (mels computed and cached)" in out
  assert len(counted_wave_to_mel) == 5  # the last two utterances' mels only

  fresh = domains.mel_store(spec, "train", AUDIO, data_config(tmp_path / "fresh"))
  assert resumed.num_shards == 5 and fresh.num_shards == 1
  for i in range(5):
    np.testing.assert_array_equal(resumed[i], fresh[i])


def test_an_interrupted_decoding_continues_after_the_last_stored_file(tmp_path, monkeypatch,
                                                                      capsys):
  """Skipped files make utterances and files count differently: the store
  names each utterance's file, so a resumed preparation decodes only the files
  after the last one stored, gives the same store, and reports the whole split."""
  spec = write_folder(tmp_path / "voice", [0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
  root = tmp_path / "voice"
  (root / "bad.wav").write_bytes(b"not audio")
  sf.write(root / "short.wav", tone(0.1), 16000)
  data = data_config(tmp_path / "cache", shard_mb=1e-6)   # a shard per utterance
  monkeypatch.setattr(domains, "_BLOCK_SAMPLES", 1)       # and a mel batch per utterance
  order = domains.audio_folder.list_splits(root)["train"]
  read, decoded = domains.audio_folder.audio.read_source, []

  def read_until_interrupted(path, **kwargs):
    if len(decoded) == 5:
      raise KeyboardInterrupt
    decoded.append(path.name)
    return read(path, **kwargs)
  monkeypatch.setattr(domains.audio_folder.audio, "read_source", read_until_interrupted)
  with pytest.raises(KeyboardInterrupt):
    domains.mel_store(spec, "train", AUDIO, data)
  stored = domains.store.Writer(next((tmp_path / "cache" / "mels").iterdir()), 1).names
  kept = [p for p in order if p not in ("bad.wav", "short.wav")]
  # Mels run one file behind decoding: of the five files read, the last one
  # kept waits for its mel; a skipped file lies before the resume point.
  assert stored == [p for p in order[:5] if p in kept][:-1]
  assert order.index(stored[-1]) + 1 > len(stored)

  decoded.clear()
  monkeypatch.setattr(domains.audio_folder.audio, "read_source",
                      lambda path, **kw: decoded.append(path.name) or read(path, **kw))
  resumed = domains.mel_store(spec, "train", AUDIO, data)
  out = capsys.readouterr().out
  assert decoded == order[order.index(stored[-1]) + 1:]
  assert (f"train: 6 files, 0.1 min; rates 16000 Hz x 6; 0 clipped; "
          f"2 skipped: too short x 1, unreadable audio x 1") in out

  fresh = domains.mel_store(spec, "train", AUDIO, data_config(tmp_path / "fresh"))
  assert resumed.names == fresh.names == kept
  for i in range(len(fresh)):
    np.testing.assert_array_equal(resumed[i], fresh[i])
  assert resumed.meta == fresh.meta


def test_a_folder_is_prepared_again_when_its_content_changes(tmp_path, capsys):
  spec = write_folder(tmp_path / "voice", [0.6, 0.7])
  data = data_config(tmp_path / "cache")
  assert len(domains.mel_store(spec, "train", AUDIO, data)) == 2
  assert "train: 2 files, 0.0 min; rates 16000 Hz x 2" in capsys.readouterr().out
  assert len(domains.mel_store(spec, "train", AUDIO, data)) == 2
  assert "rates" not in capsys.readouterr().out   # the report comes with a preparation only
  sf.write(tmp_path / "voice" / "new.wav", tone(0.8), 16000)
  assert len(domains.mel_store(spec, "train", AUDIO, data)) == 3


def test_split_slices_and_names_of_a_folder(tmp_path):
  root = tmp_path / "voice"
  for split, count in [("train", 10), ("test", 2)]:
    write_folder(root / split, [0.6] * count)
  (root / "transcripts.tsv").write_text("00\tFirst.\n")
  spec, data = f"folder:{root}", data_config(tmp_path / "cache")
  first = domains.mel_store(spec, "train[:80%]", AUDIO, data)
  rest = domains.mel_store(spec, "train[80%:]", AUDIO, data)
  assert len(first) == 8 and len(rest) == 2
  assert sorted(first.names + rest.names) == [f"train/{i:02d}.wav" for i in range(10)]
  named = domains.load_named_waves(spec, "train[80%:]", AUDIO, data)
  assert list(named) == rest.names
  np.testing.assert_array_equal(domains.load_waves(spec, "train[80%:]", AUDIO, data, limit=1)[0],
                                named[rest.names[0]])
  assert domains.load_transcripts(spec, "test", data) == {
      "test/00.wav": "First."}
  with pytest.raises(domains.audio_folder.AudioFolderError,
                     match=r"voice: split 'valid': no such split; the folder's splits are "
                           r"train \(10 files\), test \(2 files\)"):
    domains.mel_store(spec, "valid", AUDIO, data)


def test_a_catalog_dataset_has_no_names_or_transcripts(tmp_path):
  with tfds.testing.mock_data(as_dataset_fn=vctk_examples):
    data = data_config(tmp_path)
    assert domains.load_named_waves("tfds:vctk:speaker=p225", "train", AUDIO, data) is None
    assert domains.load_transcripts("tfds:vctk:speaker=p225", "train", data) == {}
