"""The level postfilter: each band of a conversion mapped onto the target's
levels; its statistics kept in the workdir by step; on where the config says."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

import jaxvc
from jaxvc import infer
from jaxvc.errors import ConfigError
from jaxvc.melganvc import postfilter
from test_converter import clip  # noqa: F401  (a fixture)
from test_converter import tiny_config
from test_converter import write_workdir

BANDS = 8


def band_levels(rng, centre, spread, frames=4000) -> np.ndarray:
  """A normalised mel (BANDS, frames): each band's levels around `centre`."""
  return np.clip(centre + spread * rng.standard_normal((BANDS, frames)), -1, 1).astype(np.float32)


def test_conversions_take_the_targets_levels_band_by_band():
  rng = np.random.default_rng(0)
  # Conversions sit in a narrower range than the target, higher in some bands.
  target = band_levels(rng, np.linspace(-0.6, 0.2, BANDS)[:, None], 0.25)
  converted = band_levels(rng, np.linspace(-0.3, 0.1, BANDS)[:, None], 0.1)
  level_map = postfilter.LevelMap.between([converted[:, :2000], converted[:, 2000:]], [target])
  mapped = level_map(band_levels(rng, np.linspace(-0.3, 0.1, BANDS)[:, None], 0.1))
  for q in (0.1, 0.5, 0.9):
    np.testing.assert_allclose(np.quantile(mapped, q, axis=1), np.quantile(target, q, axis=1),
                               atol=0.03)
  assert mapped.dtype == np.float32 and np.all(np.abs(mapped) <= 1)
  # The same levels on both sides: nothing moves.
  same = postfilter.LevelMap.between([target], [target])
  np.testing.assert_allclose(same(target), target, atol=1e-4)
  # A band stuck at the floor in every conversion maps without dividing by zero.
  floor = np.full((BANDS, 100), -1.0, np.float32)
  assert np.isfinite(postfilter.LevelMap.between([floor], [target])(floor)).all()
  with pytest.raises(ValueError, match="a mel of 3 bands, the map has 8"):
    level_map(np.zeros((3, 10), np.float32))


def test_the_map_is_piecewise_linear_through_the_quantiles_in_numpy_and_jax():
  """As np.interp band by band (ends held), batched, and the same under jit."""
  rng = np.random.default_rng(1)
  converted = band_levels(rng, np.linspace(-0.3, 0.1, BANDS)[:, None], 0.1)
  converted[0] = -1.0   # a band at the floor: repeated quantiles
  level_map = postfilter.LevelMap.between(
      [converted], [band_levels(rng, np.linspace(-0.6, 0.2, BANDS)[:, None], 0.25)])
  mel = np.stack([band_levels(rng, 0.0, 0.5, 300), band_levels(rng, -0.2, 0.3, 300)])
  ramp = np.arange(len(postfilter.QUANTILES), dtype=np.float32) * 1e-6
  expected = np.stack([[np.interp(row, c + ramp, t) for row, c, t in
                        zip(m, level_map.converted, level_map.target)] for m in mel])
  np.testing.assert_allclose(level_map(mel), expected, atol=1e-5)
  np.testing.assert_allclose(level_map(mel[1]), expected[1], atol=1e-5)
  in_jax = jax.jit(lambda m: level_map(m, xp=jnp))(mel)
  np.testing.assert_allclose(np.asarray(in_jax), expected, atol=1e-5)


@pytest.fixture
def folder_run(demo_corpus, tmp_path):
  config = tiny_config()
  config.data.update(domain_a=f"folder:{demo_corpus}/speaker_a",
                     domain_b=f"folder:{demo_corpus}/speaker_b",
                     cache_dir=str(tmp_path / "cache"))
  config.postfilter.utterances = 3
  return config, write_workdir(tmp_path / "run", config)


def test_statistics_are_kept_by_step_and_redone_for_other_data(folder_run, tmp_path):
  config, workdir = folder_run
  converter = jaxvc.Converter.from_workdir(workdir, postfilter=False)
  assert converter.level_map is None   # the default config's: off
  level_map = postfilter.load_or_compute(workdir, config, 0, converter.convert_mel)
  path = tmp_path / "run" / postfilter.FILE
  saved = json.loads(path.read_text())
  assert sorted(saved) == ["converted at step 0", "provenance", "target"]
  assert saved["provenance"]["utterances"] == 3
  np.testing.assert_array_equal(np.asarray(saved["target"], np.float32), level_map.target)
  assert level_map.target.shape == (config.audio.n_mels, len(postfilter.QUANTILES))
  # Read back, not recomputed: a marked file comes back as it was.
  saved["target"][0][0] = 0.5
  path.write_text(json.dumps(saved))
  filtered = jaxvc.Converter.from_workdir(workdir, postfilter=True)
  assert filtered.level_map.target[0, 0] == 0.5
  mel = np.random.default_rng(1).uniform(-1, 0, (config.audio.n_mels, 50)).astype(np.float32)
  np.testing.assert_allclose(filtered.convert_mel(mel),
                             filtered.level_map(converter.convert_mel(mel)), atol=1e-6)
  # Another step: its conversions' quantiles beside the first's; the target's
  # are kept, not computed again (the mark stays).
  postfilter.load_or_compute(workdir, config, 7, converter.convert_mel)
  saved = json.loads(path.read_text())
  assert sorted(saved) == ["converted at step 0", "converted at step 7", "provenance", "target"]
  assert saved["target"][0][0] == 0.5
  # Other data starts the file again.
  config.postfilter.utterances = 2
  postfilter.load_or_compute(workdir, config, 0, converter.convert_mel)
  assert sorted(json.loads(path.read_text())) == ["converted at step 0", "provenance", "target"]
  # Data that cannot be read: one line saying why and what to do.
  config.data.domain_b = f"folder:{tmp_path}/nowhere"
  with pytest.raises(ConfigError, match=r"postfilter.json has no postfilter target "
                                        r"and the run's voices cannot be read.*domain_b.*turn "
                                        r"the postfilter off"):
    postfilter.load_or_compute(workdir, config, 0, converter.convert_mel)


def test_the_runs_config_turns_it_on(folder_run, tmp_path):
  config, _ = folder_run
  config.postfilter.enabled = True
  workdir = write_workdir(tmp_path / "on", config)
  assert jaxvc.Converter.from_workdir(workdir).level_map is not None
  assert jaxvc.Converter.from_workdir(workdir, postfilter=False).level_map is None


def test_the_command_line_turns_it_on_for_a_run_without_it(folder_run, clip, tmp_path):
  _, workdir = folder_run
  wave, rate = clip
  sf.write(tmp_path / "in.wav", wave, rate)
  convert = ["convert", "--workdir", workdir, "--input", str(tmp_path / "in.wav"), "--iters", "2"]
  assert infer.main([*convert, "--output", str(tmp_path / "off.wav")]) == 0
  assert not (tmp_path / "run" / postfilter.FILE).exists()
  assert infer.main([*convert, "--output", str(tmp_path / "on.wav"), "--postfilter", "on"]) == 0
  assert "converted at step 0" in json.loads((tmp_path / "run" / postfilter.FILE).read_text())
  assert not np.allclose(sf.read(tmp_path / "on.wav")[0], sf.read(tmp_path / "off.wav")[0])
