"""MelGAN-VC's config: every key with the original's default, and its checks.

Config files (`jaxvc/configs/melganvc_*.py`) start from `defaults()` and
change only what their use case needs.
"""
import ml_collections

from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc.data import specs
from jaxvc.errors import ConfigError
from jaxvc.errors import require
from jaxvc.melganvc import losses


def defaults() -> ml_collections.ConfigDict:
  """The original MelGAN-VC training setup (Pasini 2019)."""
  c = config_lib.trainer()
  c.method = "melganvc"
  c.audio = config_lib.audio()

  c.data = ml_collections.ConfigDict(dict(
      # A domain is `demo:NAME`, `folder:PATH` or `tfds:NAME[:FEATURE=VALUE]`.
      domain_a="demo:speaker_a",
      domain_b="demo:speaker_b",
      train_split="train",
      eval_split="test",
      batch_size=16,            # global, over every device of every host
      chunk_frames=24,          # generator width
      chunks_per_crop=3,        # the critic judges this many chunks joined
      top_db=40.0,              # silence trimming; 0 keeps silence
      short_utterances="pad",   # "pad" or "skip" utterances under one crop
      shard_mb=64.0,             # prepared utterances are stored on disk in shards of this size
      cache_dir="",             # "" -> $JAXVC_CACHE or ~/.cache/jaxvc
      prefetch=4,
  ))

  c.model = ml_collections.ConfigDict(dict(
      generator_channels=256,
      critic_channels=512,
      siamese_channels=256,
      siamese_dim=128,
  ))

  c.loss = ml_collections.ConfigDict(dict(
      adversarial_weight=1.0,   # weight of the critic's term in the generator loss
      travel_weight=10.0,       # weight of TraVeL + margin
      identity_weight=0.5,
      margin=2.0,               # delta of the siamese margin loss
      pairing="thirds",         # "thirds" (MelGAN-VC) or "batch" (TraVeLGAN)
      r1_weight=0.0,            # gamma/2 of an R1 penalty on the critic's real crops; 0 = off
  ))

  # Differentiable augmentation of the critic's real and translated crops
  # (`melganvc/augment.py`); all 0 = off, as the original.
  c.augment = ml_collections.ConfigDict(dict(
      time_shift=0,             # frames, either way
      mask_frames=0,            # one masked span of this many frames
      gain=0.0,                 # offset in the normalised mel domain, either way
  ))

  # Band-limited sources (`augment.band_limit`): each source crop, and each
  # target crop the identity term translates, loses everything above a cutoff
  # drawn from [min_hz, max_hz] with this probability, so that the generator
  # learns to give the target's full bandwidth to an 8 or 11 kHz recording.
  # 0 = off, as the original.
  c.band_limit = ml_collections.ConfigDict(dict(
      probability=0.0,
      min_hz=3400.0,            # a telephone's upper edge
      max_hz=6000.0,            # above an 11 kHz recording's 5.5 kHz
  ))

  c.optim = ml_collections.ConfigDict(dict(
      learning_rate=2e-4,
      b1=0.5,
      b2=0.999,
      critic_lr_multiplier=1.0,  # the critic's learning rate over the generator's
  ))
  # Decay of an exponential moving average of the generator's weights, which
  # eval, samples and conversion then use; 0 = off (the original converts with
  # the raw weights).
  c.generator_ema = 0.0
  c.critic_updates = 3          # critic updates per generator/siamese update
  # Held-out source utterances converted to audio in every eval and scored for
  # speaker similarity (and MCD against parallel targets) when the eval extra
  # is installed; 0 turns it off.
  c.eval_quality_utterances = 8
  # The language (an espeak-ng voice: "en", "cs", ...) of domain a's
  # transcripts: those utterances then also get the phone error rate
  # (`evaluation.intelligibility`), converted and unconverted. "" = off.
  c.eval_language = ""
  # A jaxvc vocoder workdir that renders the TensorBoard samples ("" -> Griffin-Lim);
  # it must have been trained on the same config.audio.
  c.vocoder = ""
  # Conversion (not training): each band of a converted mel mapped onto the
  # target's levels (`postfilter.py`), from the first `utterances` of each
  # domain's train split. The in-loop evaluation converts without it.
  c.postfilter = ml_collections.ConfigDict(dict(
      enabled=False,
      utterances=60,
  ))
  return c


def check(config: ml_collections.ConfigDict) -> None:
  """Rejects MelGAN-VC settings that cannot train, before any compute."""
  d = config.data
  require(d.chunk_frames > 0 and d.chunk_frames % 4 == 0, "data.chunk_frames",
          f"{d.chunk_frames} must be a positive multiple of 4 (two stride-2 layers)")
  require(d.chunks_per_crop >= 2, "data.chunks_per_crop",
          f"{d.chunks_per_crop} must be at least 2 (TraVeL compares the first and last chunk)")
  require(d.shard_mb > 0, "data.shard_mb", f"{d.shard_mb} must be positive")
  require(d.short_utterances in specs.SHORT_UTTERANCES, "data.short_utterances",
          f"{d.short_utterances!r} must be {' or '.join(map(repr, specs.SHORT_UTTERANCES))}")
  require(config.loss.pairing in losses.PAIRINGS, "loss.pairing",
          f"{config.loss.pairing!r} must be {' or '.join(map(repr, losses.PAIRINGS))}")
  for key in ("adversarial_weight", "travel_weight", "identity_weight", "r1_weight"):
    require(config.loss[key] >= 0, f"loss.{key}", f"{config.loss[key]} must not be negative")
  require(config.critic_updates >= 1, "critic_updates", "must be at least 1")
  require(config.eval_quality_utterances >= 0, "eval_quality_utterances",
          f"{config.eval_quality_utterances} must not be negative")
  require(config.optim.learning_rate > 0, "optim.learning_rate", "must be positive")
  require(config.optim.critic_lr_multiplier > 0, "optim.critic_lr_multiplier", "must be positive")
  require(0 <= config.generator_ema < 1, "generator_ema",
          f"{config.generator_ema} must be in [0, 1) (0 turns the average off)")
  a = config.augment
  require(a.time_shift >= 0 and a.mask_frames >= 0 and a.gain >= 0, "augment",
          "time_shift, mask_frames and gain must not be negative")
  require(a.mask_frames < d.chunk_frames * d.chunks_per_crop, "augment.mask_frames",
          f"{a.mask_frames} must be shorter than a crop "
          f"({d.chunk_frames * d.chunks_per_crop} frames)")
  b = config.band_limit
  require(0 <= b.probability <= 1, "band_limit.probability", f"{b.probability} must be in [0, 1]")
  require(0 < b.min_hz <= b.max_hz <= config.audio.sample_rate / 2, "band_limit",
          f"need 0 < min_hz <= max_hz <= sample_rate / 2, got {b.min_hz}, {b.max_hz}")
  require(config.postfilter.utterances > 0, "postfilter.utterances",
          f"{config.postfilter.utterances} must be positive")
  for key in ("domain_a", "domain_b"):
    try:
      specs.parse(d[key])
    except ConfigError as e:
      raise ConfigError(f"config.data.{key}: {e}") from None
  audio.AudioConfig.from_config(config.audio)
