"""The neural vocoder's config: every key with its default, and its checks.

Defaults follow Vocos (Siuzdak 2023) scaled to jaxvc's 16 kHz mel at hop 192:
a frame-rate ConvNeXt backbone with an inverse-STFT head, multi-period and
multi-resolution discriminators, hinge losses, feature matching and a mel L1
term weighted 45, AdamW (0.8, 0.9) with cosine decay. Config files
(`jaxvc/configs/vocoder*.py`) start from `defaults()`.
"""
import ml_collections

from jaxvc import audio
from jaxvc import config as config_lib
from jaxvc.data import specs
from jaxvc.errors import ConfigError
from jaxvc.errors import require


def defaults() -> ml_collections.ConfigDict:
  c = config_lib.trainer()
  c.method = "vocoder"
  c.audio = config_lib.audio()

  c.data = ml_collections.ConfigDict(dict(
      # The audio the vocoder learns: `demo:NAME`, `folder:PATH` or `tfds:...`.
      domain="demo:speaker_b",
      train_split="train",
      eval_split="test",
      batch_size=16,              # global, over every device of every host
      segment_frames=64,          # mel frames per training segment (x hop samples)
      top_db=40.0,                # silence trimming; 0 keeps silence
      shard_mb=64.0,               # prepared utterances are stored on disk in shards of this size
      cache_dir="",               # "" -> $JAXVC_CACHE or ~/.cache/jaxvc
      prefetch=4,
  ))

  c.model = ml_collections.ConfigDict(dict(
      dim=384,                    # ConvNeXt channels
      intermediate_dim=1152,      # the blocks' pointwise expansion (3x, as Vocos)
      num_layers=8,
      kernel_size=7,              # depthwise conv width, and the input conv's
      n_fft=768,                  # the inverse-STFT head's frame (4 hops, as Vocos)
      # Condition on the F0 (jaxvc.audio.pitch): log-F0 and voicing as inputs, and a
      # filtered pulse train at F0 added to the output (generator.py, excitation.py).
      pitch=False,
      # With pitch: the free (Vocos) part's phase from a noise source, so that
      # the harmonic source is the only periodic one (harmonic plus noise).
      noise_source=False,
      # Convolutions that see only the past: a sample then depends on the mel
      # up to the inverse STFT's half frame ahead, not the whole receptive
      # field, which is what a live stream must wait for (WindowPlan.live).
      causal=False,
  ))

  c.discriminator = ml_collections.ConfigDict(dict(
      periods=(2, 3, 5, 7, 11),   # multi-period (HiFi-GAN)
      period_channels=(16, 64, 256, 512),
      # Multi-resolution: (n_fft, hop) of each magnitude spectrogram judged.
      resolutions=((512, 128), (1024, 256), (256, 64)),
      resolution_channels=32,
  ))

  c.loss = ml_collections.ConfigDict(dict(
      mel_weight=45.0,            # L1 of log mel magnitudes
      adversarial_weight=1.0,     # multi-period hinge term
      resolution_weight=0.1,      # multi-resolution terms (adversarial and features), as Vocos
      feature_weight=1.0,         # feature matching, as Vocos (HiFi-GAN uses 2)
      gan_start_step=0,           # train the generator on reconstruction alone until this step
      # Multi-resolution STFT loss (Parallel WaveGAN's), in every phase; 0 = Vocos.
      stft_weight=0.0,
      stft_resolutions=((256, 64), (512, 128), (1024, 256)),   # (n_fft, hop) pairs
  ))

  c.optim = ml_collections.ConfigDict(dict(
      learning_rate=5e-4,
      b1=0.8,
      b2=0.9,
      weight_decay=0.01,          # AdamW's (PyTorch's default, which Vocos keeps)
      warmup_steps=0,
  ))
  return c


def check(config: ml_collections.ConfigDict) -> None:
  """Rejects vocoder settings that cannot train, before any compute."""
  d, m = config.data, config.model
  cfg = audio.AudioConfig.from_config(config.audio)
  require(d.segment_frames >= 8, "data.segment_frames", f"{d.segment_frames} must be at least 8")
  require(d.shard_mb > 0, "data.shard_mb", f"{d.shard_mb} must be positive")
  for key in ("dim", "intermediate_dim", "num_layers"):
    require(m[key] > 0, f"model.{key}", f"{m[key]} must be positive")
  require(m.kernel_size > 0 and m.kernel_size % 2 == 1, "model.kernel_size",
          f"{m.kernel_size} must be odd and positive")
  require(not m.get("noise_source", False) or m.get("pitch", False), "model.noise_source",
          "needs model.pitch (the harmonic source makes the periodic part)")
  require(m.n_fft >= cfg.hop_length and m.n_fft % 2 == 0, "model.n_fft",
          f"{m.n_fft} must be even and at least the hop ({cfg.hop_length})")
  disc = config.discriminator
  require(len(disc.periods) > 0 and min(disc.periods) > 1, "discriminator.periods",
          f"{disc.periods} must be periods of 2 samples or more")
  require(len(disc.period_channels) > 0 and min(disc.period_channels) > 0,
          "discriminator.period_channels", f"{disc.period_channels} must be positive")
  require(all(len(r) == 2 and 0 < r[1] <= r[0] for r in disc.resolutions),
          "discriminator.resolutions", f"{disc.resolutions} must be (n_fft, hop) pairs")
  segment = d.segment_frames * cfg.hop_length
  require(all(r[0] <= segment for r in disc.resolutions), "discriminator.resolutions",
          f"an n_fft exceeds the {segment}-sample segment")
  require(all(len(r) == 2 and 0 < r[1] <= r[0] <= segment for r in config.loss.stft_resolutions),
          "loss.stft_resolutions",
          f"{config.loss.stft_resolutions} must be (n_fft, hop) pairs within the {segment}-sample segment")
  for key in ("mel_weight", "adversarial_weight", "resolution_weight", "feature_weight",
              "stft_weight"):
    require(config.loss[key] >= 0, f"loss.{key}", f"{config.loss[key]} must not be negative")
  require(config.loss.gan_start_step >= 0, "loss.gan_start_step", "must not be negative")
  require(config.optim.learning_rate > 0, "optim.learning_rate", "must be positive")
  require(config.optim.warmup_steps >= 0, "optim.warmup_steps", "must not be negative")
  try:
    specs.parse(d.domain)
  except ConfigError as e:
    raise ConfigError(f"config.data.domain: {e}") from None
