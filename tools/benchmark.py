"""Measures jaxvc's speed on this machine and prints the figures.

Every number is measured here, none typed in. Each benchmark is a function
that takes no arguments and returns a dict of figures; `BENCHMARKS`
lists them in the order they run. `--only NAME` runs a subset, `--json OUT`
writes every figure with the machine description.

  python tools/benchmark.py [--only matmul pipeline ...] [--json OUT]
"""
import argparse
import contextlib
import dataclasses
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxvc import files
from jaxvc.evaluation.machine import machine


def timeit(fn: Callable[[], object], *, repeats: int = 5, warmup: int = 1) -> float:
  """Median wall time of `fn()` in seconds; `fn` must block until done."""
  for _ in range(warmup):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return float(np.median(times))


@functools.cache  # the peak other benchmarks divide by: measured once a run
def bench_matmul() -> dict:
  """The machine's fp32 matmul peak: the best of a few square sizes."""
  best = 0.0
  for n in (1024, 2048, 3072):
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    matmul = jax.jit(lambda x: x @ x)
    seconds = timeit(lambda: matmul(a).block_until_ready(), repeats=5)
    best = max(best, 2 * n**3 / seconds)
  return dict(matmul_fp32_gflops=best / 1e9)


def time_train_step(method, config, local_batch: dict, *, chain: int = 1) -> tuple[float, float]:
  """(median seconds, flops) of the trainer's jitted step (`train.data_parallel`,
  metrics totalled on the devices) on one batch, repeated; with `chain`, the
  seconds of one step in a run of that many dispatched before waiting."""
  from jaxvc import train
  parallel = train.data_parallel(method, config)
  batch = parallel.place_batch(local_batch)
  state = parallel.init()
  train_step = parallel.make_step(state, batch)
  step, totals = train_step.step, train_step.fresh_totals()
  flops = step.lower(state, totals, batch).compile().cost_analysis()["flops"]
  holder = [state, totals]

  def run():
    for _ in range(chain):
      holder[0], holder[1] = step(holder[0], holder[1], batch)
    jax.block_until_ready(holder[1])

  return timeit(run, repeats=5, warmup=2) / chain, flops


def _melganvc_batch(config) -> dict:
  rng = np.random.default_rng(0)
  crop = config.data.chunk_frames * config.data.chunks_per_crop
  shape = (config.critic_updates, config.data.batch_size, config.audio.n_mels, crop)
  return {k: np.tanh(rng.normal(size=shape)).astype(np.float32) for k in "ab"}


def bench_training() -> dict:
  """One MelGAN-VC train step at the original defaults (batch 16, 72-frame
  critic input): a generator/siamese+critic update and two critic-only updates."""
  from jaxvc.melganvc.method import METHOD
  config = METHOD.defaults()
  seconds, flops = time_train_step(METHOD, config, _melganvc_batch(config))
  peak = bench_matmul()["matmul_fp32_gflops"] * 1e9
  crops = 2 * config.critic_updates * config.data.batch_size   # both domains
  return dict(cycle_seconds=seconds, crops_per_second=crops / seconds,
              gflop_per_cycle=flops / 1e9, fraction_of_matmul_peak=flops / seconds / peak)


def bench_training_loop() -> dict:
  """The trainer's loop around the step (issue 13): `train_and_evaluate` on the
  demo corpus with small networks (so that the overhead shows), nothing logged,
  evaluated or saved between the first and the last step; the per-step wall
  time is the difference of a long and a short run over their step difference,
  which cancels start-up, compilation and the final eval and checkpoint. Beside
  it the bare jitted step on one resident batch, 20 dispatched before waiting
  as the loop does. Each length runs twice and the second counts: the first
  compiles into the benchmark's persistent compilation cache (see `main`) and
  the second reads it, so that neither counted run compiles (whose seconds
  vary more than 200 steps take); both trace, which the difference cancels."""
  from jaxvc import config as config_lib
  from jaxvc import train
  from jaxvc.melganvc.method import METHOD
  short, long = 20, 220
  config = config_lib.from_file("melganvc_demo", [
      "--config.model.generator_channels=32", "--config.model.critic_channels=32",
      "--config.model.siamese_channels=32", "--config.eval_quality_utterances=0"])
  for key in ("log_every", "eval_every", "sample_every", "checkpoint_every"):
    config[key] = 10**6
  walls = {}
  for steps in (short, short, long, long):
    config.num_steps = steps
    with tempfile.TemporaryDirectory() as workdir:
      start = time.perf_counter()
      train.train_and_evaluate(config, workdir)
      walls[steps] = time.perf_counter() - start
  loop = (walls[long] - walls[short]) / (long - short)
  bare, _ = time_train_step(METHOD, config, _melganvc_batch(config), chain=20)
  return dict(loop_seconds_per_step=loop, bare_step_seconds=bare,
              loop_overhead_fraction=loop / bare - 1)


def _speech_mel(seconds: int):
  """`seconds` of espeak speech (one sentence repeated) as the default mel."""
  import soxr
  from jaxvc import audio
  from jaxvc.data import demo
  cfg = audio.AudioConfig()
  sentence, rate = demo.render("The quiet gardener carried seven yellow baskets across the bridge.",
                               "speaker_a")
  wave = np.resize(soxr.resample(sentence, rate, cfg.sample_rate), seconds * cfg.sample_rate)
  return np.asarray(audio.wave_to_mel(wave, cfg)), cfg


def bench_inversion() -> dict:
  """60 s of 16 kHz speech from its mel: jaxvc.audio.mel_to_wave (compiled) and
  librosa.feature.inverse.mel_to_audio, both 32 Griffin-Lim iterations."""
  import librosa
  from jaxvc import audio
  mel, cfg = _speech_mel(60)
  ours = timeit(lambda: audio.mel_to_wave(mel, cfg, n_iter=32).block_until_ready(), repeats=5)
  mel_power = np.asarray(audio.denormalise_mel(mel, cfg))
  theirs = timeit(lambda: librosa.feature.inverse.mel_to_audio(
      mel_power, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
      win_length=cfg.win_length, fmin=cfg.fmin, fmax=cfg.fmax, power=cfg.power, n_iter=32),
      repeats=1, warmup=0)
  return dict(mel_to_wave_60s_seconds=ours, librosa_mel_to_audio_60s_seconds=theirs)


def bench_pipeline() -> dict:
  """Steady-state tf.data throughput in 192x72 crops (n_mels x chunk_frames *
  chunks_per_crop) per second, every crop read from disk (`jaxvc.data.store`):
  the default config on the demo corpus, the crops of both domains counted
  (the first run builds the corpus and its mel stores); and one domain of
  1000 synthetic utterances of 310 frames (238 MB, 4 shards of 64 MB) just
  written to a temporary folder, so in the page cache (a first epoch from a
  cold disk is bounded by the disk instead)."""
  from jaxvc.data import crops
  from jaxvc.data import store
  from jaxvc.melganvc import config as melganvc_config
  from jaxvc.melganvc import input_pipeline
  config = melganvc_config.defaults()
  n = 200
  batches = input_pipeline.create_train_dataset(config).as_numpy_iterator()
  demo = n * config.data.batch_size * 2 / timeit(lambda: [next(batches) for _ in range(n)],
                                                 repeats=5)
  del batches  # tf.data's reader threads stop before the interpreter exits
  with tempfile.TemporaryDirectory() as folder:
    rng = np.random.default_rng(0)
    mels = (rng.uniform(-1, 1, (192, 310)).astype(np.float32) for _ in range(1000))
    stored = store.write(folder, mels)
    crop_at = crops.cropper(stored, config.data.chunk_frames * config.data.chunks_per_crop,
                            (0, 0))
    batches = crops.global_batches({"a": crop_at}, batch_size=64).as_numpy_iterator()
    large = n * 64 / timeit(lambda: [next(batches) for _ in range(n)], repeats=5)
    del batches
    shards = stored.num_shards
  return dict(crops_per_s_both_domains=demo, crops_per_s_large_domain=large,
              large_domain_shards=shards)


@contextlib.contextmanager
def _patched(owner, **attributes):
  """`owner`'s attributes replaced for the duration (the stages timed inside a run)."""
  saved = {name: getattr(owner, name) for name in attributes}
  for name, value in attributes.items():
    setattr(owner, name, value)
  try:
    yield
  finally:
    for name, value in saved.items():
      setattr(owner, name, value)


def bench_conversion() -> dict:
  """60 s of espeak speech converted end to end by Converter.convert_file: a
  22.05 kHz 16-bit wav read and resampled, mel, G at the default 256 channels
  with fresh weights, Griffin-Lim 32 iterations, a 16 kHz wav written. The
  mel, generator and inversion stages are timed inside the run (windows
  included); the rest is reading, resampling, joining and writing. librosa's
  mel_to_audio, also 32 iterations, inverts the same mel for comparison. The
  same file with the pitch options through Griffin-Lim, which redraw the
  converted mel's harmonics: `--pitch-shift 12` (the mel's own F0 per
  chunk) and `--pitch auto` (the source's F0 contour)."""
  import librosa
  import soundfile as sf
  from jaxvc import audio
  from jaxvc.audio import pitch
  from jaxvc.data import demo
  from jaxvc.data import sentences
  from jaxvc.melganvc import config as melganvc_config
  from jaxvc.melganvc import step
  from jaxvc.melganvc import streaming
  from jaxvc.melganvc.inference import Converter
  config = melganvc_config.defaults()
  generator = step.generator_state(step.init_state(config))
  conv = Converter.from_generator_state(config, generator)
  seconds = 60
  parts, rate = [], None
  for text in sentences.sentences(60):
    wave, rate = demo.render(text, "speaker_a")
    parts.append(wave)
    if sum(p.size for p in parts) >= seconds * rate:
      break
  speech = np.concatenate(parts)[:seconds * rate]
  stages = dict.fromkeys(("mel", "generator", "inversion"), 0.0)

  def timed(stage, fn):
    def run(*a):
      start = time.perf_counter()
      out = fn(*a)
      stages[stage] += time.perf_counter() - start
      return out
    return run

  conv.convert_mel = timed("generator", conv.convert_mel)
  repeats = 5
  statistics = pitch.LogF0Statistics(centre=np.log(100.0), spread=0.2, voiced_frames=1000)
  with_pitch = {}
  with tempfile.TemporaryDirectory() as tmp:
    source, target = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
    sf.write(source, speech, rate, subtype="PCM_16")
    with _patched(streaming.Windows, _source_mel=timed("mel", streaming.Windows._source_mel),
                  _invert=timed("inversion", streaming.Windows._invert)):
      conv.convert_file(source, target)   # compiles
      stages.update(dict.fromkeys(stages, 0.0))
      end_to_end = timeit(lambda: conv.convert_file(source, target), repeats=repeats, warmup=0)
      cpu = time.process_time()   # all threads: the work, whatever else runs on the machine
      conv.convert_file(source, target)
      cpu = time.process_time() - cpu
    for name, options in (("pitch_shift_12", dict(pitch_shift=12.0)),
                          ("pitch_auto", dict(pitch="auto", pitch_statistics=dict(
                              a=statistics, b=dataclasses.replace(
                                  statistics, centre=np.log(220.0)))))):
      pitched = Converter.from_generator_state(config, generator, **options)
      pitched.convert_file(source, target)   # compiles
      with_pitch[f"convert_file_60s_{name}_seconds"] = timeit(
          lambda: pitched.convert_file(source, target), repeats=3, warmup=0)
  stages = {k: v / (repeats + 1) for k, v in stages.items()}
  cfg = conv.audio
  mel_power = np.asarray(audio.denormalise_mel(
      audio.wave_to_mel(audio.resample(speech, rate, cfg.sample_rate), cfg), cfg))
  theirs = timeit(lambda: librosa.feature.inverse.mel_to_audio(
      mel_power, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
      win_length=cfg.win_length, fmin=cfg.fmin, fmax=cfg.fmax, power=cfg.power, n_iter=32),
      repeats=1, warmup=0)
  return dict(convert_file_60s_seconds=end_to_end, real_time_factor=end_to_end / seconds,
              convert_file_60s_cpu_seconds=cpu,
              **{f"{k}_seconds": v for k, v in stages.items()},
              io_and_joins_seconds=end_to_end - sum(stages.values()),
              librosa_mel_to_audio_60s_seconds=theirs, **with_pitch)


def bench_folder_conversion() -> dict:
  """Issue 13's compile-once target: a folder of 40 short demo utterances
  (speaker_a's first train sentences) against one file of the same audio
  joined, each converted by `python -m jaxvc.infer convert` in a fresh process
  (the default generator with fresh weights, Griffin-Lim 32). The folder runs
  twice on one persistent compilation cache, cold then warm; the long file on
  a cold cache of its own. Throughput is audio seconds per second of the
  process's wall time less its start-up (imports and model load: the faster of
  two conversions of a 0.5 s file on one cache); the targets are the
  folder's throughput at >= 50% of the long file's cold and >= 90% warm."""
  import shutil
  import subprocess
  import sys
  import soundfile as sf
  from jaxvc import workdirs
  from jaxvc.data import demo
  from jaxvc.melganvc import config as melganvc_config
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

  def convert(source: str, target: str, cache: str) -> float:
    env = dict(os.environ, JAXVC_COMPILATION_CACHE=cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jaxvc.infer", "convert", "--workdir", workdir,
                    "--input", source, "--output", target, "--overwrite"],
                   cwd=repo, env=env, check=True, capture_output=True)
    return time.perf_counter() - start

  with tempfile.TemporaryDirectory() as tmp:
    workdir = workdirs.write_untrained(os.path.join(tmp, "run"), melganvc_config.defaults())
    corpus = demo.ensure_demo_corpus()
    files = sorted((corpus / "speaker_a" / "train").glob("*.wav"))[:40]
    folder = os.path.join(tmp, "folder")
    os.makedirs(folder)
    for f in files:
      shutil.copy(f, folder)
    waves = [sf.read(f, dtype="float32") for f in files]
    rate = waves[0][1]
    seconds = sum(w.size for w, _ in waves) / rate
    long_file = os.path.join(tmp, "long.wav")
    sf.write(long_file, np.concatenate([w for w, _ in waves]), rate)
    short_file = os.path.join(tmp, "short.wav")
    sf.write(short_file, waves[0][0][:rate // 2], rate)
    caches = {name: os.path.join(tmp, f"xla_{name}") for name in ("folder", "long", "short")}
    folder_cold = convert(folder, os.path.join(tmp, "out"), caches["folder"])
    folder_warm = convert(folder, os.path.join(tmp, "out"), caches["folder"])
    long_cold = convert(long_file, os.path.join(tmp, "long_out.wav"), caches["long"])
    start_up = min(convert(short_file, os.path.join(tmp, "short_out.wav"), caches["short"])
                   for _ in range(2))
  throughput = lambda wall: seconds / max(wall - start_up, 1e-9)
  return dict(audio_seconds=seconds, start_up_seconds=start_up,
              folder_cold_seconds=folder_cold, folder_warm_seconds=folder_warm,
              long_file_seconds=long_cold,
              folder_cold_fraction_of_long=throughput(folder_cold) / throughput(long_cold),
              folder_warm_fraction_of_long=throughput(folder_warm) / throughput(long_cold))


def bench_style_transfer() -> dict:
  """Spectrogram style transfer at the configs/nst.py defaults (Ulyanov & Lebedev):
  one loss-and-gradient evaluation at 1025 bins x 430 frames, 4096 filters of
  width 11, targets precomputed; the whole stylization of a 10 s espeak clip
  (300 L-BFGS steps, Griffin-Lim), first call, compiles included; and 4 pairs
  of 2-3 s clips at 30 steps as one vmapped batch against one by one, compiled.
  Process CPU seconds beside wall seconds tell how much a busy machine slowed
  the wall clock."""
  from flax import nnx
  from jaxvc import audio
  from jaxvc import config as config_lib
  from jaxvc.cli.stylize import DEFAULT_CONFIG
  from jaxvc.data import demo
  from jaxvc.data import sentences
  from jaxvc.nst import extractors
  from jaxvc.nst import losses
  from jaxvc.nst import transfer
  config = config_lib.from_file(DEFAULT_CONFIG)
  spectrogram, net = extractors.build(config)
  rate = spectrogram.sample_rate
  texts = iter(sentences.sentences(40))

  def speech(voice, seconds):
    parts = []
    while sum(p.size for p in parts) < seconds * rate:
      wave, wave_rate = demo.render(next(texts), voice)
      parts.append(audio.resample(wave, wave_rate, rate))
    return np.concatenate(parts)[:int(seconds * rate)]

  def clock(fn, repeats=1, warmup=1):
    """(median wall, mean process CPU) seconds of fn() after `warmup` calls."""
    for _ in range(warmup):
      fn()
    cpu = time.process_time()
    wall = timeit(fn, repeats=repeats, warmup=0)
    return wall, (time.process_time() - cpu) / repeats

  content, style = speech("speaker_a", 10.0), speech("speaker_b", 10.0)
  frames = 430
  c, s = (np.asarray(spectrogram.analyse(w))[:, :frames] for w in (content, style))
  mask = np.ones(frames, np.float32)
  graphdef, weights = nnx.split(net)
  targets = jax.jit(lambda w: losses.compute_targets(nnx.merge(graphdef, w), c, mask, s, mask))(weights)
  loss_and_grad = jax.jit(lambda w, t, x: jax.value_and_grad(losses.objective(
      nnx.merge(graphdef, w), t, mask, config.content_weight, config.style_weight))(x))
  flops = loss_and_grad.lower(weights, targets, c).compile().cost_analysis()["flops"]
  wall, cpu = clock(lambda: jax.block_until_ready(loss_and_grad(weights, targets, c)), repeats=5)
  peak = bench_matmul()["matmul_fp32_gflops"] * 1e9
  figures = dict(loss_and_grad_seconds=wall, loss_and_grad_cpu_seconds=cpu,
                 gflop_per_loss_and_grad=flops / 1e9, fraction_of_matmul_peak=flops / wall / peak)

  styler = transfer.StyleTransfer(config)
  results = []
  wall, cpu = clock(lambda: results.append(styler([content], [style])), warmup=0)
  figures.update(stylize_10s_seconds=wall, stylize_10s_cpu_seconds=cpu,
                 stylize_10s_loss_ratio=float(results[0][0].losses[-1] / results[0][0].losses[0]))

  config.num_steps = 30
  styler = transfer.StyleTransfer(config)
  contents = [speech("speaker_a", t) for t in (2.0, 2.3, 2.6, 3.0)]
  styles = [speech("speaker_b", t) for t in (3.0, 2.0, 2.5, 2.2)]
  batch = clock(lambda: styler(contents, styles))
  singles = [clock(lambda i=i: styler(contents[i:i + 1], styles[i:i + 1])) for i in range(4)]
  figures.update(batch_of_4_seconds=batch[0], batch_of_4_cpu_seconds=batch[1],
                 four_singles_seconds=sum(w for w, _ in singles),
                 four_singles_cpu_seconds=sum(c for _, c in singles))
  return figures


def bench_vocoder_synthesis() -> dict:
  """60 s of speech from its mel by jaxvc.Vocoder (fresh weights: the cost does
  not depend on them) at configs/vocoder_demo.py's and configs/vocoder.py's
  sizes, in 12 s windows with their receptive field as context, against
  jaxvc.audio.mel_to_wave's Griffin-Lim (32 iterations) in the same process.
  An F0-conditioned vocoder is given the speech's F0 (as a conversion gives
  it), its pulse train included in the time."""
  from flax import nnx
  from jaxvc import audio
  from jaxvc import config as config_lib
  from jaxvc.audio import pitch
  from jaxvc.vocoder import generator
  from jaxvc.vocoder.inference import Vocoder
  seconds = 60
  mel, cfg = _speech_mel(seconds)
  figures = dict(griffinlim_32_60s_seconds=timeit(
      lambda: audio.mel_to_wave(mel, cfg, n_iter=32).block_until_ready(), repeats=3))
  for name in ("vocoder_demo", "vocoder"):
    config = config_lib.from_file(name)
    vocoder = Vocoder(config, nnx.split(generator.create(config))[1])
    f0 = pitch.mel_f0(mel, cfg) if vocoder.uses_pitch else ()
    t = timeit(lambda: vocoder(mel, *f0), repeats=3)
    figures.update({f"{name}_60s_seconds": t, f"{name}_real_time_factor": t / seconds,
                    f"{name}_vs_griffinlim": t / figures["griffinlim_32_60s_seconds"]})
  return figures


STREAM_BLOCK_MS = 20
# Live setups: name -> (vocoder config or None for Griffin-Lim, model.causal,
# generator width or None for the trained one).
STREAM_SETUPS = {
    "vocoder_demo": ("vocoder_demo", False, None),
    "vocoder_demo_causal_chunk16": ("vocoder_demo", True, 16),
    "griffinlim": (None, False, None),
}


def stream_figures(setup: str, seconds: int = 60) -> dict:
  """One live stream (`Converter.stream`) of `seconds` of espeak speech in
  STREAM_BLOCK_MS blocks, at the demo sizes with fresh weights (the cost does
  not depend on them): G at configs/melganvc_demo.py's width, rendered as
  STREAM_SETUPS[setup] says: configs/vocoder_demo.py (F0-conditioned, given
  the converted mel's F0 as `--pitch model` does), the same with
  model.causal and the generator 16 frames wide (the low-latency setup), or
  Griffin-Lim (32 iterations). A block that completes a window (one generator chunk) pays
  for converting and rendering it; the others only queue samples. So the
  budget that decides whether the stream keeps up is the window's duration
  (the next window's samples are in by then), and the worst window's compute
  is what a sound card's buffer must add to the algorithmic latency to never
  run dry. Figures after the first second (compilation and warm-up)."""
  from flax import nnx
  from jaxvc import audio
  from jaxvc import config as config_lib
  from jaxvc.melganvc import step
  from jaxvc.melganvc.inference import Converter
  from jaxvc.vocoder import generator
  from jaxvc.vocoder.inference import Vocoder
  mel, cfg = _speech_mel(seconds)
  wave = np.asarray(audio.mel_to_wave(mel, cfg, n_iter=32))   # speech at the model's rate
  config = config_lib.from_file("melganvc_demo")
  vocoder_name, causal, chunk_frames = STREAM_SETUPS[setup]
  options = dict(chunk_frames=chunk_frames)
  if vocoder_name is not None:
    vocoder_config = config_lib.from_file(vocoder_name)
    vocoder_config.model.causal = causal
    options["vocoder"] = Vocoder(vocoder_config, nnx.split(generator.create(vocoder_config))[1])
  conv = Converter.from_generator_state(config, step.generator_state(step.init_state(config)),
                                        **options)
  block = cfg.sample_rate * STREAM_BLOCK_MS // 1000
  stream = conv.stream()
  _, times = stream.push_all(wave, block)
  block_seconds = block / cfg.sample_rate
  settled = np.asarray(times[cfg.sample_rate // block:])
  worst = float(settled.max())
  return dict(latency_ms=1e3 * stream.latency_seconds, block_ms=1e3 * block_seconds,
              window_ms=1e3 * stream.window_seconds,
              real_time_factor=float(settled.sum() / (settled.size * block_seconds)),
              mean_block_ms=1e3 * float(settled.mean()), worst_window_ms=1e3 * worst,
              windows_over_budget=int((settled > stream.window_seconds).sum()),
              latency_with_worst_compute_ms=1e3 * (stream.latency_seconds + worst))


def bench_streaming() -> dict:
  """Live conversion at the demo sizes (`stream_figures`) in each of
  STREAM_SETUPS, each in a fresh process pinned to one core and to two
  (taskset), so the figures say what a one-core budget buys."""
  import subprocess
  import sys
  figures = {}
  cores = os.sched_getaffinity(0)
  for renderer in STREAM_SETUPS:
    for n in (1, 2):
      if n > len(cores):
        continue
      pinned = ",".join(str(c) for c in sorted(cores)[:n])
      done = subprocess.run(["taskset", "-c", pinned, sys.executable, __file__, "--stream-worker",
                             renderer], capture_output=True, text=True, check=True)
      result = json.loads(done.stdout.strip().splitlines()[-1])
      figures.update({f"{renderer}_{n}core_{k}": v for k, v in result.items()
                      if n == 1 or k not in ("latency_ms", "block_ms", "window_ms")})
  return figures


def bench_export() -> dict:
  """The exported models (`python -m jaxvc.infer export`, fresh weights) on the
  60 s speech mel, each in its runtime against the same function jitted by JAX
  in this process: MelGAN-VC's default generator (256 channels, the mel
  padded to whole chunks) as a SavedModel run by TensorFlow and as TFLite run
  by LiteRT (XNNPACK, its default CPU delegate); configs/vocoder_demo.py's
  F0-conditioned vocoder as a SavedModel, given the mel with its context of
  silence and the pitch rows of the speech's F0."""
  import tensorflow as tf
  from ai_edge_litert.interpreter import Interpreter
  from jaxvc import config as config_lib
  from jaxvc import export
  from jaxvc import workdirs
  from jaxvc.audio import pitch
  from jaxvc.melganvc import config as melganvc_config
  from jaxvc.vocoder import excitation
  from jaxvc.vocoder.inference import Vocoder
  mel, cfg = _speech_mel(60)
  width = melganvc_config.defaults().data.chunk_frames
  chunked = np.pad(mel, ((0, 0), (0, -mel.shape[1] % width)), constant_values=-1.0)[None]
  figures = {}
  with tempfile.TemporaryDirectory() as tmp:
    generator_run = workdirs.write_untrained(os.path.join(tmp, "g"), melganvc_config.defaults())
    vocoder_run = workdirs.write_untrained(os.path.join(tmp, "v"),
                                           config_lib.from_file("vocoder_demo"))
    start = time.perf_counter()
    export.export(generator_run, os.path.join(tmp, "sm"), "savedmodel", vocoder=vocoder_run)
    figures["export_savedmodel_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    export.export(generator_run, os.path.join(tmp, "tfl"), "tflite")
    figures["export_tflite_seconds"] = time.perf_counter() - start
    config, generator, _ = workdirs.load_inference(generator_run, method="melganvc")
    g_jax = jax.jit(export.generator_model(config, generator).fn)
    g_tf = tf.saved_model.load(os.path.join(tmp, "sm", "generator")).signatures["serving_default"]
    lite = Interpreter(model_path=os.path.join(tmp, "tfl", "generator.tflite"))
    [inp], [out] = lite.get_input_details(), lite.get_output_details()
    lite.resize_tensor_input(inp["index"], chunked.shape)
    lite.allocate_tensors()

    def g_lite():
      lite.set_tensor(inp["index"], chunked)
      lite.invoke()
      return lite.get_tensor(out["index"])

    jax_seconds = timeit(lambda: g_jax(chunked).block_until_ready(), repeats=3)
    figures.update(generator_jax_seconds=jax_seconds,
                   generator_savedmodel_seconds=timeit(
                       lambda: g_tf(mel=tf.constant(chunked))["converted"].numpy(), repeats=3),
                   generator_tflite_seconds=timeit(g_lite, repeats=3))
    for name in ("savedmodel", "tflite"):
      figures[f"generator_{name}_vs_jax"] = figures[f"generator_{name}_seconds"] / jax_seconds
    vocoder = Vocoder.from_workdir(vocoder_run)
    c = vocoder.context
    padded = np.pad(mel, ((0, 0), (c, c)), constant_values=-1.0)[None]
    inputs = [padded]
    if vocoder.uses_pitch:
      f0, voiced = pitch.mel_f0(mel, cfg)
      inputs.append(excitation.pad_rows(vocoder.pitch_rows(mel[None], f0[None], voiced[None]), c, c))
    v_config, v_state, _ = workdirs.load_inference(vocoder_run, method="vocoder")
    v_jax = jax.jit(export.vocoder_model(v_config, v_state["params"]).fn)
    v_tf = tf.saved_model.load(os.path.join(tmp, "sm", "vocoder")).signatures["serving_default"]
    names = ("mel", "pitch")[:len(inputs)]
    jax_seconds = timeit(lambda: v_jax(*inputs).block_until_ready(), repeats=3)
    tf_seconds = timeit(lambda: v_tf(**{k: tf.constant(x) for k, x in zip(names, inputs)})[
        "wave"].numpy(), repeats=3)
    figures.update(vocoder_jax_seconds=jax_seconds, vocoder_savedmodel_seconds=tf_seconds,
                   vocoder_savedmodel_vs_jax=tf_seconds / jax_seconds)
  return figures


def _hifigan_generator(cfg, channels: int, key):
  """HiFi-GAN's generator (Kong et al. 2020) re-made for the cost comparison:
  upsampling 8 x 6 x 2 x 2 = hop 192 by transposed convs (kernel 2x stride),
  channels halving at each, multi-receptive-field resblocks (kernels 3, 7, 11,
  dilations 1, 3, 5). Returns (params, mel (1, n_mels, T) -> wave)."""
  rates, kernels, res_kernels, dilations = (8, 6, 2, 2), (16, 12, 4, 4), (3, 7, 11), (1, 3, 5)
  keys = iter(jax.random.split(key, 200))
  init = lambda *shape: 0.01 * jax.random.normal(next(keys), shape, jnp.float32)
  params = dict(pre=init(7, cfg.n_mels, channels), ups=[], res=[], post=None)
  c = channels
  for r, k in zip(rates, kernels):
    params["ups"].append(init(k, c, c // 2))
    c //= 2
    params["res"].append([[(init(rk, c, c), init(rk, c, c)) for _ in dilations]
                          for rk in res_kernels])
  params["post"] = init(7, c, 1)

  def conv(x, w, dilation=1):
    pad = dilation * (w.shape[0] - 1) // 2
    return jax.lax.conv_general_dilated(x, w, (1,), [(pad, pad)], rhs_dilation=(dilation,),
                                        dimension_numbers=("NWC", "WIO", "NWC"))

  def forward(params, mel):
    x = conv(jnp.swapaxes(mel, 1, 2), params["pre"])
    for (r, k), up, blocks in zip(zip(rates, kernels), params["ups"], params["res"]):
      x = jax.lax.conv_transpose(jax.nn.leaky_relu(x, 0.1), up, (r,),
                                 [(k - (k - r) // 2 - 1, k - (k - r + 1) // 2 - 1)],
                                 dimension_numbers=("NWC", "WIO", "NWC"))
      total = 0
      for block in blocks:
        h = x
        for d, (w1, w2) in zip(dilations, block):
          h = h + conv(jax.nn.leaky_relu(conv(jax.nn.leaky_relu(h, 0.1), w1, d), 0.1), w2)
        total = total + h
      x = total / len(blocks)
    return jnp.tanh(conv(jax.nn.leaky_relu(x, 0.1), params["post"]))[..., 0]
  return params, forward


def bench_vocoder_design() -> dict:
  """The generator designs weighed for jaxvc's vocoder, on 4 s of mel: the
  chosen frame-rate ConvNeXt + inverse STFT (Vocos) at configs/vocoder_demo.py's
  and configs/vocoder.py's sizes, against HiFi-GAN's upsampling generator at
  its V2 (128 channels) and V1 (512) sizes. GFLOP per second of audio by XLA's
  cost analysis and wall seconds per second of audio, forward only, fresh
  weights (an F0-conditioned config with a steady 150 Hz F0); quality at
  equal training was not compared."""
  from flax import nnx
  from jaxvc import config as config_lib
  from jaxvc.vocoder import excitation
  from jaxvc.vocoder import generator
  from jaxvc.vocoder import step
  seconds = 4
  mel, cfg = _speech_mel(seconds)
  mel = jnp.asarray(mel[None, :, :seconds * cfg.sample_rate // cfg.hop_length])
  designs = {}
  for name in ("vocoder_demo", "vocoder"):
    config = config_lib.from_file(name)
    graphdef, params = nnx.split(generator.create(config))
    rows = ()
    if generator.uses_pitch(config):
      frames = mel.shape[-1]
      rows = (excitation.pitch_rows(np.full((1, frames), 150.0), np.ones((1, frames), bool),
                                    cfg.hop_length, cfg.sample_rate, xp=np),)
    designs[f"vocos_{name}"] = (params, lambda p, m, g=graphdef, r=rows:
                                step.generator_fn(g, p)(m, *r))
  for name, channels in (("hifigan_v2", 128), ("hifigan_v1", 512)):
    designs[name] = _hifigan_generator(cfg, channels, jax.random.key(0))
  figures = {}
  for name, (params, forward) in designs.items():
    fn = jax.jit(forward)
    flops = fn.lower(params, mel).compile().cost_analysis()["flops"]
    t = timeit(lambda: fn(params, mel).block_until_ready(), repeats=3)
    n_params = sum(x.size for x in jax.tree.leaves(params))
    figures.update({f"{name}_gflop_per_audio_second": flops / 1e9 / seconds,
                    f"{name}_seconds_per_audio_second": t / seconds,
                    f"{name}_million_params": n_params / 1e6})
  return figures


def bench_vocoder_training() -> dict:
  """One vocoder train step at configs/vocoder_demo.py's sizes (batch 8 segments
  of 32 frames, 0.38 s each): the GAN step (discriminators then generator) and
  the reconstruction-only step (generator on the mel and STFT losses, all that
  the demo config's CPU schedule runs), with the audio seconds a second of
  training sees and the GAN step's fraction of the matmul peak."""
  from jaxvc import config as config_lib
  from jaxvc.vocoder.method import METHOD
  figures = {}
  for phase, gan_start in (("gan", 0), ("warmup", 10**9)):
    config = config_lib.from_file("vocoder_demo", [f"--config.loss.gan_start_step={gan_start}"])
    samples = config.data.segment_frames * config.audio.hop_length
    wave = 0.1 * np.random.default_rng(0).normal(size=(config.data.batch_size, samples))
    seconds, flops = time_train_step(METHOD, config, {"wave": wave.astype(np.float32)})
    audio_seconds = config.data.batch_size * samples / config.audio.sample_rate
    figures.update({f"{phase}_step_seconds": seconds, f"{phase}_steps_per_second": 1 / seconds,
                    f"{phase}_audio_seconds_per_second": audio_seconds / seconds,
                    f"{phase}_gflop_per_step": flops / 1e9})
    if phase == "gan":
      peak = bench_matmul()["matmul_fp32_gflops"] * 1e9
      figures["gan_fraction_of_matmul_peak"] = flops / seconds / peak
  return figures


BENCHMARKS: dict[str, Callable[[], dict]] = {
    "matmul": bench_matmul,
    "training": bench_training,
    "training_loop": bench_training_loop,
    "inversion": bench_inversion,
    "pipeline": bench_pipeline,
    "conversion": bench_conversion,
    "folder_conversion": bench_folder_conversion,
    "style_transfer": bench_style_transfer,
    "streaming": bench_streaming,
    "vocoder_synthesis": bench_vocoder_synthesis,
    "vocoder_design": bench_vocoder_design,
    "vocoder_training": bench_vocoder_training,
    "export": bench_export,
}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=None)
  parser.add_argument("--json", help="also write every figure to this JSON file")
  parser.add_argument("--stream-worker", metavar="SETUP", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.stream_worker:   # one pinned process of bench_streaming
    print(json.dumps(stream_figures(args.stream_worker)))
    return
  # A persistent compilation cache of this run's own, empty at its start:
  # every figure is timed after a warm-up, so the cache changes none, but a
  # program built twice (the training loop's repeated runs) compiles once.
  with tempfile.TemporaryDirectory(prefix="jaxvc-benchmark-xla-") as cache:
    jax.config.update("jax_compilation_cache_dir", cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    run(args)


def run(args: argparse.Namespace) -> None:
  results = dict(machine=machine())
  print(json.dumps(results["machine"]))
  for name in args.only or BENCHMARKS:
    figures = BENCHMARKS[name]()
    results[name] = dict(about=" ".join(BENCHMARKS[name].__doc__.split()), **figures)
    print(f"{name}: " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()),
          flush=True)
  if args.json:
    files.write_text(args.json, json.dumps(results, indent=2))


if __name__ == "__main__":
  main()
