"""tools/results.py: tables from reports, loss curves from event files, the whole run."""
import json
import math

import matplotlib.image
import numpy as np
import pytest

from jaxvc import monitoring
from test_converter import tiny_config, write_workdir
from test_vocoder import tiny_config as tiny_vocoder_config

MACHINE = dict(cpu="Test CPU 3000", cores=2, devices=["TFRT_CPU_0"], backend="cpu", jax="0.10.2")


@pytest.fixture(scope="module")
def results(load_tool):
  """tools/results.py as a module."""
  return load_tool("results")


def report(n_utterances: int) -> dict:
  """A results.json-shaped report with known averages."""
  scores = dict(mcd_db=7.134, f0_rmse_cents=41.6, f0_correlation=0.874, voicing_error=0.123,
                target_similarity=0.8, source_similarity=0.5, wer=0.25, cer=0.1,
                dnsmos_sig=3.1, dnsmos_ovrl=2.504, converted_log_f0_mean=math.log(200.0),
                converted_log_f0_median=math.log(205.0), target_log_f0_mean=math.log(220.0),
                target_log_f0_median=math.log(225.0), source_log_f0_mean=math.log(110.0))
  systems = {name: dict(files={}, skipped=[], averages=dict(scores)) for name in
             ("source", "vocoded", "neural_vocoded", "melganvc_baseline", "melganvc",
              "melganvc_neural", "style_transfer")}
  del systems["style_transfer"]["averages"]["wer"]
  systems["style_transfer"]["averages"]["cer"] = math.nan
  return dict(test_sentences=30,
              utterances=[dict(key=f"{270 + i:04d}") for i in range(n_utterances)],
              workdir="runs/demo", checkpoint_step=1000, griffin_lim_iters=32,
              vocoder="runs/vocoder", vocoder_step=7000,
              baseline="runs/old", baseline_step=1000,
              style_transfer=dict(num_steps=300, optimizer="lbfgs", features="conv1d",
                                  representation="log_stft"),
              machine=MACHINE, seconds=dict(style_transfer=n_utterances * 40.0), systems=systems)


def table_rows(markdown: str) -> list[list[str]]:
  return [[c.strip() for c in line.strip("|").split("|")]
          for line in markdown.splitlines() if line.startswith("|")]


def test_results_table_rows_cells_and_caption(results):
  markdown = results.results_markdown(report(4))
  header, rule, *rows = table_rows(markdown)
  assert header[0] == "system" and len(header) == 1 + len(results.COLUMNS)
  assert set(rule) == {"---", "---:"}
  assert [r[0] for r in rows] == list(results.SYSTEMS.values())
  assert rows[0][1:] == ["7.13", "42", "0.87", "12%", "0.800", "0.500", "25%", "10%", "3.10",
                          "–", "2.50", "–", "200", "205"]
  assert rows[6][7:9] == ["–", "–"]  # missing and NaN figures
  caption = markdown.split("\n\n")[1]
  for expected in ("the first 4 of the 30 test sentences", "style transfer takes 40 s a sentence",
                   "step 1000", "target 220 Hz and 225 Hz, source 110 Hz",
                   "`jaxvc.audio.pitch`", "300 lbfgs steps",
                   "the vocoder `runs/vocoder` at step 7000",
                   "(c0) the run `runs/old` at step 1000",
                   "Test CPU 3000, 2 cores, JAX 0.10.2 on cpu"):
    assert expected in caption
  # Without --vocoder, its rows and its sentence are left out.
  griffin_lim_only = report(4)
  griffin_lim_only.update(vocoder=None, vocoder_step=None, baseline=None, baseline_step=None)
  for name in ("neural_vocoded", "melganvc_neural", "melganvc_baseline"):
    del griffin_lim_only["systems"][name]
  markdown = results.results_markdown(griffin_lim_only)
  assert len(table_rows(markdown)) == 2 + 4 and "vocoder `" not in markdown
  assert "(c0)" not in markdown
  assert "all 30 test sentences" in results.results_markdown(report(30))
  assert "a sentence here" not in results.results_markdown(report(30))


def real_report() -> dict:
  """A real.json-shaped report: the source at 0.6 to the target, the ceilings
  at 0.9, the conversions at 0.75 (Griffin-Lim) and 0.8 (vocoder)."""
  sims = dict(source=0.6, target=0.92, vocoded=0.9, neural_vocoded=0.9, melganvc=0.75,
              melganvc_neural=0.8)
  systems = {name: dict(files={}, skipped=[], averages=dict(
      target_similarity=sim, source_similarity=0.7, dnsmos_ovrl=2.0, phone_error_rate=0.7,
      converted_log_f0_median=math.log(250.0))) for name, sim in sims.items()}
  return dict(domain_a="folder:/data/he", domain_b="folder:/data/she", utterances_per_speaker=40,
              workdir="runs/real", checkpoint_step=2000, griffin_lim_iters=32,
              vocoder="runs/voc", vocoder_step=12000, machine=MACHINE, language="cs",
              content_columns=["phone_error_rate"], systems=systems,
              train_split="train", eval_split="train[90%:]", eval_trained_on=True, postfilter=True,
              curve=[dict(step=250, converted=0.7, to_source=0.65, unconverted=0.6, ceiling=0.88),
                     dict(step=500, converted=0.75, phone_error_rate=0.814)])


def test_real_pair_table_way_to_the_ceiling_and_curve(results):
  report = real_report()
  assert results.way_to_ceiling(report, "melganvc", "vocoded") == pytest.approx(0.5)
  assert results.way_to_ceiling(report, "melganvc_neural", "neural_vocoded") == pytest.approx(
      2 / 3)
  markdown = results.real_markdown(report)
  header, rule, *rows = table_rows(markdown)[:8]
  assert header[-1] == "phone error rate ↓" and len(header) == 1 + len(results.REAL_COLUMNS) + 1
  assert [r[0] for r in rows] == list(results.REAL_SYSTEMS.values())
  assert rows[4][1:] == ["0.750", "0.700", "–", "–", "2.00", "–", "250", "70%"]
  for expected in ("Griffin-Lim: 50%, vocoder: 67%", "first 40 test utterances",
                   "vocoder `runs/voc` at step 12000", "--limit 40 --language cs",
                   "`runs/real` at step 2000, through the level postfilter"):
    assert expected in markdown
  assert "| 250 | 0.700 | 0.650 | 0.600 | 0.880 | – | – |" in markdown
  assert "| 500 | 0.750 | – | – | – | 81% | – |" in markdown
  assert "on `train[90%:]`, which it trained on" in markdown   # the recipe's default run
  assert "(Griffin-Lim, without the level postfilter, on `train[90%:]`" in markdown
  report.update(train_split="train[:90%]", eval_trained_on=False)
  assert "on `train[90%:]`, held out of its training split `train[:90%]`" in (
      results.real_markdown(report))
  del report["systems"]["neural_vocoded"]
  assert results.way_to_ceiling(report, "melganvc_neural", "neural_vocoded") is None
  assert "vocoder: " not in results.real_markdown(report).split("Of the way")[1][:40]
  # A system none of whose files could be scored (all skipped) has no figures.
  report["systems"]["melganvc"].update(files={}, averages={})
  assert results.way_to_ceiling(report, "melganvc", "vocoded") is None
  assert "| (c) MelGAN-VC + Griffin-Lim | – |" in results.real_markdown(report)


def test_whether_a_run_trained_on_its_evaluation_is_read_from_the_folder(results, demo_corpus):
  voice = demo_corpus / "speaker_a"
  assert results._shares_files(voice, "train[90%:]", "train")
  assert not results._shares_files(voice, "train[90%:]", "train[:90%]")
  assert results._shares_files(voice, "train[90%:]", "train[:95%]")
  assert not results._shares_files(voice, "test", "train")


def test_real_pair_needs_folders_with_a_test_split(results, tmp_path):
  with pytest.raises(ValueError, match="folder: domains"):
    results.folder_of("demo:speaker_a")
  with pytest.raises(ValueError, match="no test/ folder"):
    results.folder_of(f"folder:{tmp_path}")
  (tmp_path / "test").mkdir()
  assert results.folder_of(f"folder:{tmp_path}") == tmp_path


def test_real_pair_transcripts_by_stem_from_a_table_or_beside_the_file(results, tmp_path):
  (tmp_path / "test").mkdir()
  paths = [tmp_path / "test" / f"{stem}.wav" for stem in ("a1", "b.2", "c3")]
  (tmp_path / "transcripts.tsv").write_text("a1\tfrom the table\nb.2\ttable too\n")
  (tmp_path / "test" / "b.2.txt").write_text("beside the file\n")
  assert results.real_transcripts(tmp_path, paths) == {"a1": "from the table",
                                                        "b.2": "beside the file"}


def test_copy_synthesis_table_rows_cells_and_caption(results):
  scores = dict(mcd_db=4.016, f0_rmse_cents=23.4, f0_correlation=0.951, voicing_error=0.052,
                target_similarity=0.9268, dnsmos_sig=3.276, dnsmos_bak=2.489,
                dnsmos_ovrl=2.2316, dnsmos_p808=3.019, wer=0.75, cer=math.nan)
  systems = {"griffinlim": dict(label="Griffin-Lim, 32 iterations", averages=scores),
             "vocoder_14000": dict(label="vocoder, step 14000 (GAN)",
                                   averages=dict(scores, dnsmos_ovrl=2.5))}
  vocoder = dict(workdir="runs/v", step=14000, pitch=False, gan_start_step=12000,
                 num_steps=14000, stft_weight=45.0)
  report = dict(test_set="the demo corpus's speaker_b", domain="demo:speaker_b",
                test_sentences=30, utterances=["0270", "0271"], vocoders=[vocoder],
                steps=[12000, 14000], out="docs/results", machine=MACHINE, systems=systems)
  markdown = results.copy_synthesis_markdown(report)
  header, rule, *rows = table_rows(markdown)
  assert header[0] == "inversion" and len(header) == 1 + len(results.COPY_COLUMNS)
  assert set(rule) == {"---", "---:"}
  assert rows[0] == ["Griffin-Lim, 32 iterations", "4.02", "23", "0.95", "5%", "0.927", "3.28",
                     "2.49", "2.23", "3.02", "75%", "–"]
  assert rows[1][0] == "vocoder, step 14000 (GAN)" and rows[1][8] == "2.50"
  caption = markdown.split("\n\n")[1]
  for expected in ("the first 2 of the 30 test utterances of the demo corpus's speaker_b",
                   "`runs/v`", "12000 steps on the mel L1 and the multi-resolution STFT loss alone",
                   "to step 14000", "--vocoder runs/v --steps 12000 14000 --limit 2",
                   "Test CPU 3000, 2 cores"):
    assert expected in caption
  assert "F0-conditioned)" not in caption
  pitched = dict(vocoder, workdir="runs/p", gan_start_step=14000, stft_weight=0.0, pitch=True)
  both = results.copy_synthesis_markdown(dict(report, vocoders=[vocoder, pitched], steps=None))
  assert "`runs/p` (14000 steps on the mel L1, no GAN steps, F0-conditioned)" in both
  assert "--vocoder runs/v runs/p --limit 2" in both


def test_copy_synthesis_arguments_are_checked(results, capsys):
  for argv in (["--copy-synthesis"], [], ["--workdir", "w", "--steps", "5"]):
    with pytest.raises(SystemExit) as e:
      results.main(argv)
    assert e.value.code == 2
  assert "--copy-synthesis needs --vocoder" in capsys.readouterr().err


def test_loss_curves_from_event_files(results, tmp_path):
  """Scalars as tf.summary writes them; a resumed run's repeated step keeps its last value."""
  writer = monitoring.SummaryWriter(str(tmp_path), enabled=True)
  for step in (25, 50, 75):
    writer.scalars(step, {"train/critic_loss": step / 100, "train/identity": 1.0})
  writer.image(50, "sample/source_over_converted", np.zeros((8, 8, 3), np.uint8))
  writer.flush()
  resumed = monitoring.SummaryWriter(str(tmp_path), enabled=True)
  resumed.scalars(75, {"train/critic_loss": 7.0})
  resumed.scalars(250, {"train/critic_loss": 8.0, "eval/stats_distance_converted": 0.5,
                        "eval/stats_distance_source": 1.0})
  resumed.flush()
  tags = [tag for _, lines in results.LOSS_PANELS for tag in lines]
  curves = results.read_scalars(str(tmp_path), tags)
  assert set(curves) == {"train/critic_loss", "train/identity", "eval/stats_distance_converted",
                         "eval/stats_distance_source"}
  steps, values = curves["train/critic_loss"]
  np.testing.assert_array_equal(steps, [25, 50, 75, 250])
  np.testing.assert_allclose(values, [0.25, 0.5, 7.0, 8.0])

  png = tmp_path / "out" / "losses.png"
  png.parent.mkdir()
  results.plot_losses(curves, png)
  image = matplotlib.image.imread(png)
  assert image.ndim == 3 and image.std() > 0 and png.stat().st_size < 100_000
  assert [p.name for p in png.parent.iterdir()] == ["losses.png"]  # no temporaries


def test_benchmark_table(results):
  figures = dict(machine=MACHINE, matmul=dict(matmul_fp32_gflops=123.456789),
                 pipeline=dict(crops_per_s_both_domains=34814.95),
                 training=dict(about="One MelGAN-VC train step, measured.", cycle_seconds=0.5,
                               crops_per_second=192.0),
                 retired=dict(steps=7))
  markdown = results.benchmark_markdown(json.loads(json.dumps(figures)))
  assert table_rows(markdown)[2:] == [["matmul", "matmul_fp32_gflops", "123.5"],
                                      ["pipeline", "crops_per_s_both_domains", "34,815"],
                                      ["training", "cycle_seconds", "0.5"],
                                      ["training", "crops_per_second", "192"],
                                      ["retired", "steps", "7"]]
  assert "*Machine: Test CPU 3000, 2 cores, JAX 0.10.2 on cpu." in markdown
  assert "- **training**: One MelGAN-VC train step, measured." in markdown
  assert "**retired**" not in markdown


def test_benchmark_figures_alone(results, tmp_path):
  """`--benchmark-json FILE` without a run: docs' benchmark.json and .md only."""
  bench = tmp_path / "bench.json"
  bench.write_text(json.dumps(dict(machine=MACHINE, matmul=dict(matmul_fp32_gflops=50.0))))
  assert results.main(["--benchmark-json", str(bench), "--out", str(tmp_path / "docs")]) == 0
  assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["benchmark.json",
                                                                   "benchmark.md"]
  assert json.loads((tmp_path / "docs" / "benchmark.json").read_text()) == json.loads(
      bench.read_text())
  assert table_rows((tmp_path / "docs" / "benchmark.md").read_text())[2:] == [
      ["matmul", "matmul_fp32_gflops", "50"]]


def test_each_test_sentence_is_styled_by_another_train_sentence(results, demo_corpus):
  utterances = results.scored_utterances(demo_corpus, limit=2)
  assert [u.key for u in utterances] == ["0009", "0010"]
  for u in utterances:
    assert u.source == demo_corpus / "speaker_a" / "test" / f"{u.key}.wav"
    assert u.target == demo_corpus / "speaker_b" / "test" / f"{u.key}.wav"
    assert u.style.parent == demo_corpus / "speaker_b" / "train" and u.style.stem != u.key
  assert len({u.style for u in utterances}) == 2
  assert len(results.scored_utterances(demo_corpus, limit=10)) == 3


@pytest.mark.slow
def test_one_sentence_end_to_end(results, tmp_path):
  """A tiny untrained workdir, one sentence, 2 style transfer steps: every file,
  and the scores that do not depend on training."""
  workdir = write_workdir(tmp_path / "run", tiny_config())
  writer = monitoring.SummaryWriter(workdir, enabled=True)
  for step in (1, 2):
    writer.scalars(step, {"train/critic_loss": 1.0 / step, "train/generator_loss": -step})
  writer.flush()
  vocoder = write_workdir(tmp_path / "vocoder", tiny_vocoder_config())
  bench = tmp_path / "bench.json"
  bench.write_text(json.dumps(dict(machine=MACHINE, matmul=dict(matmul_fp32_gflops=50.0))))
  out = tmp_path / "docs"
  assert results.main([
      "--workdir", workdir, "--out", str(out), "--limit", "1",
      "--vocoder", vocoder,
      "--audio", str(tmp_path / "audio"),
      "--benchmark-json", str(bench), "--config.num_steps=2", "--config.conv1d.filters=64",
      "--config.griffin_lim_iters=4"]) == 0
  assert sorted(p.name for p in out.iterdir()) == [
      "benchmark.json", "benchmark.md", "losses.png", "results.json", "results.md",
      "spectrograms.png"]
  rendered = sorted(set(results.SYSTEMS) - {"melganvc_baseline"})   # no --baseline run given
  assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == rendered
  for png in ("losses.png", "spectrograms.png"):
    assert (out / png).stat().st_size < 100_000 and matplotlib.image.imread(out / png).std() > 0
  report = json.loads((out / "results.json").read_text())
  assert report["checkpoint_step"] == 0 and len(report["utterances"]) == 1
  systems = report["systems"]
  assert all(len(s["files"]) + len(s["skipped"]) == 1 for s in systems.values())
  scores = {name: s["averages"] for name, s in systems.items()}
  assert scores["source"]["source_similarity"] > 0.9
  assert scores["vocoded"]["target_similarity"] > scores["source"]["target_similarity"] + 0.1
  assert scores["vocoded"]["mcd_db"] < scores["source"]["mcd_db"]
  assert len(table_rows((out / "results.md").read_text())) == 2 + len(rendered)

  # The vocoder alone: Griffin-Lim and the vocoder's one checkpoint, on one utterance.
  assert results.main(["--copy-synthesis", "--vocoder", vocoder, "--out", str(out),
                       "--limit", "1", "--audio", str(tmp_path / "copy")]) == 0
  report = json.loads((out / "vocoder_copy_synthesis.json").read_text())
  assert list(report["systems"])[0] == "griffinlim" and len(report["systems"]) == 2
  assert [v["step"] for v in report["vocoders"]] == [0]
  griffin_lim = report["systems"]["griffinlim"]["averages"]
  assert griffin_lim["mcd_db"] < scores["source"]["mcd_db"]
  assert griffin_lim["target_similarity"] > scores["source"]["target_similarity"] + 0.1
  assert len(table_rows((out / "vocoder.md").read_text())) == 2 + 2


@pytest.mark.slow
def test_real_pair_end_to_end(results, demo_corpus, tmp_path):
  """--real on two folders (the demo corpus's speakers, laid out as a real
  corpus is: train/ and test/ with transcripts): an untrained workdir and
  vocoder, one utterance each; every system rendered and scored, the curve
  read from the run's events, the tables written."""
  config = tiny_config()
  config.data.update(domain_a=f"folder:{demo_corpus}/speaker_a",
                     domain_b=f"folder:{demo_corpus}/speaker_b",
                     train_split="train", eval_split="train[50%:]")
  workdir = write_workdir(tmp_path / "run", config)
  writer = monitoring.SummaryWriter(workdir, enabled=True)
  for step, similarity in ((250, 0.6), (500, 0.7)):
    writer.scalars(step, {"eval/target_similarity": similarity, "eval/phone_error_rate": 0.5})
  writer.flush()
  vocoder = write_workdir(tmp_path / "vocoder",
                          tiny_vocoder_config(domain=f"folder:{demo_corpus}/speaker_b"))
  out, audio_dir = tmp_path / "docs", tmp_path / "audio"
  assert results.main(["--real", "--workdir", workdir, "--vocoder", vocoder, "--limit", "1",
                       "--language", "en-us", "--out", str(out), "--audio", str(audio_dir)]) == 0
  assert sorted(p.name for p in out.iterdir()) == ["real.json", "real.md"]
  assert sorted(p.name for p in audio_dir.iterdir()) == sorted(results.REAL_SYSTEMS)
  report = json.loads((out / "real.json").read_text())
  assert (report["checkpoint_step"], report["vocoder_step"]) == (0, 0)
  assert report["eval_trained_on"] and report["content_columns"] == ["phone_error_rate"]
  assert not report["postfilter"] and "postfilter" not in (out / "real.md").read_text()
  assert [(row["step"], row["converted"]) for row in report["curve"]] == [
      (250, pytest.approx(0.6)), (500, pytest.approx(0.7))]
  scores = {name: s["averages"] for name, s in report["systems"].items()}
  assert sorted(scores) == sorted(results.REAL_SYSTEMS)
  assert scores["source"]["source_similarity"] > 0.9
  assert scores["target"]["target_similarity"] > scores["source"]["target_similarity"] + 0.1
  assert scores["vocoded"]["target_similarity"] > scores["source"]["target_similarity"] + 0.1
  # The untrained generator's Griffin-Lim rendering holds no speech: skipped,
  # with the file and the reason, and left out of the figures that need it.
  [skipped] = report["systems"]["melganvc"]["skipped"]
  assert "melganvc/0009.wav: no speech found" in skipped and scores["melganvc"] == {}
  assert report["way_to_ceiling"]["griffin_lim"] is None
  assert report["way_to_ceiling"]["vocoder"] is not None
  assert all(0 <= s["phone_error_rate"] <= 2 for s in scores.values() if s)
  markdown = (out / "real.md").read_text()
  assert len(table_rows(markdown)) == 2 + len(results.REAL_SYSTEMS) + 2 + 2
  assert "`train[50%:]`, which it trained on" in markdown
