"""`python -m jaxvc.infer stylize`: files in, wav + png + json out, clear errors."""
import json

import matplotlib.image
import numpy as np
import pytest
import soundfile as sf

from jaxvc import infer

SMALL = ["--config.conv1d.filters=64", "--config.num_steps=4", "--config.griffin_lim_iters=4"]


@pytest.fixture(scope="module")
def wavs(speech, tmp_path_factory):
  """content.wav (1 s of speech), style.wav (0.7 s of a buzzing chord), silent.wav."""
  wave, rate = speech
  folder = tmp_path_factory.mktemp("stylize")
  t = np.arange(int(0.7 * rate)) / rate
  chord = 0.1 * sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (196.0, 247.0, 294.0))
  files = dict(content=wave[:rate], style=chord, silent=np.zeros(rate))
  for name, data in files.items():
    sf.write(folder / f"{name}.wav", data.astype(np.float32), rate)
  return {name: str(folder / f"{name}.wav") for name in files}


def stylize(*args):
  return infer.main(["stylize", *args, *SMALL])


def assert_outputs(stem, *, seconds, content, style):
  wave, rate = sf.read(f"{stem}.wav")
  assert rate == 22050 and wave.shape == (round(seconds * 22050),)
  assert 0 < np.abs(wave).max() <= 1
  image = matplotlib.image.imread(f"{stem}.png")
  assert image.ndim == 3 and image.shape[0] > 300
  with open(f"{stem}.json") as f:
    record = json.load(f)
  assert record["content"].endswith(content) and record["style"].endswith(style)
  assert len(record["loss"]) == 5 and record["loss"][-1] < record["loss"][0]
  assert record["config"]["num_steps"] == 4


def test_one_pair_writes_wav_png_and_json(wavs, tmp_path, capsys):
  out = tmp_path / "out" / "result.wav"
  assert stylize("--content", wavs["content"], "--style", wavs["style"], "--output", str(out)) == 0
  assert_outputs(tmp_path / "out" / "result", seconds=1.0, content="content.wav",
                 style="style.wav")
  assert sorted(p.name for p in out.parent.iterdir()) == ["result.json", "result.png",
                                                           "result.wav"]  # no temporaries
  assert "wrote" in capsys.readouterr().out


def test_a_manifest_is_one_batch_with_outputs_per_row(wavs, tmp_path):
  manifest = tmp_path / "pairs.tsv"
  manifest.write_text("content\tstyle\toutput\n"
                      f"{wavs['content']}\t{wavs['style']}\ta.wav\n"
                      f"{wavs['style']}\t{wavs['content']}\tsub/b.wav\n")
  assert stylize("--manifest", str(manifest)) == 0
  assert_outputs(tmp_path / "a", seconds=1.0, content="content.wav", style="style.wav")
  assert_outputs(tmp_path / "sub" / "b", seconds=0.7, content="style.wav", style="content.wav")


@pytest.mark.parametrize("case,expected", [
    ("missing", "missing.wav: no such file"),
    ("silent", "silent.wav: silent"),
    ("short", "short.wav: too short"),
    ("not_wav", "out.mp3: the output must be a .wav file"),
    ("bad_setting", "config.features: 'vgg' is not one of"),
    ("unknown_key", "no config key"),
    ("no_style", "give --content, --style and --output, or --manifest"),
    ("bad_row", "pairs.csv:2: expected 3 fields content,style,output"),
])
def test_bad_input_gives_one_clear_line(case, expected, wavs, tmp_path, capsys):
  out = str(tmp_path / "out.wav")
  pair = ["--content", wavs["content"], "--style", wavs["style"], "--output", out]
  manifest = tmp_path / "pairs.csv"
  manifest.write_text(f"{wavs['content']},{wavs['style']},a.wav\n{wavs['content']},b.wav\n")
  short = tmp_path / "short.wav"
  sf.write(short, np.ones(2000, np.float32) * 0.5, 16000)
  args = dict(
      missing=["--content", str(tmp_path / "missing.wav"), *pair[2:]],
      silent=["--content", wavs["silent"], *pair[2:]],
      short=[*pair[:2], "--style", str(short), *pair[4:]],
      not_wav=[*pair[:4], "--output", str(tmp_path / "out.mp3")],
      bad_setting=[*pair, "--config.features=vgg"],
      unknown_key=[*pair, "--config.optim.lr=1"],
      no_style=pair[:2] + pair[4:],
      bad_row=["--manifest", str(manifest)],
  )[case]
  assert stylize(*args) == 1
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and expected in err, err
  assert not (tmp_path / "out.wav").exists()
