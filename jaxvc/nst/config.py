"""Style transfer's config checks, in one function (the keys are in `jaxvc/configs/nst.py`).

`check` rejects every setting that cannot run before any compute, naming the
key; the rest of the package assumes a checked config.
"""
import ml_collections

from jaxvc import audio
from jaxvc.errors import require

REPRESENTATIONS = ("log_stft", "mel")
TRAINED = ("critic", "siamese")
FEATURES = ("conv1d", "cnn2d", *TRAINED)
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content")


def _check_layers(group: str, n_layers: int, cfg: ml_collections.ConfigDict) -> None:
  in_range = lambda i: -n_layers <= i < n_layers
  require(in_range(cfg.content_layer), f"{group}.content_layer",
          f"{cfg.content_layer} is not a layer of {n_layers}")
  require(len(cfg.style_layers) > 0 and all(map(in_range, cfg.style_layers)),
          f"{group}.style_layers", f"{cfg.style_layers} must be layers of {n_layers}")
  require(len(cfg.style_weights) == len(cfg.style_layers), f"{group}.style_weights",
          f"{len(cfg.style_weights)} weights for {len(cfg.style_layers)} style layers")
  require(all(w >= 0 for w in cfg.style_weights), f"{group}.style_weights",
          f"{cfg.style_weights} must be non-negative")


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first setting that cannot run."""
  require(config.features in FEATURES, "features",
          f"{config.features!r} is not one of {FEATURES}")
  require(config.representation in REPRESENTATIONS, "representation",
          f"{config.representation!r} is not one of {REPRESENTATIONS}")
  if config.representation == "mel":
    bins = audio.AudioConfig.from_config(config.audio).n_mels
  else:
    for key in ("sample_rate", "n_fft", "hop_length"):
      require(config.stft[key] > 0, f"stft.{key}", f"{config.stft[key]} must be positive")
    require(config.stft.hop_length <= config.stft.n_fft, "stft.hop_length",
            f"{config.stft.hop_length} exceeds n_fft={config.stft.n_fft}")
    bins = config.stft.n_fft // 2 + 1
  if config.features == "conv1d":
    c = config.conv1d
    require(c.filters > 0, "conv1d.filters", f"{c.filters} must be positive")
    require(c.width > 0, "conv1d.width", f"{c.width} must be positive")
  elif config.features == "cnn2d":
    c = config.cnn2d
    require(len(c.channels) > 0 and min(c.channels) > 0, "cnn2d.channels",
            f"{c.channels} must be positive channel counts")
    require(c.kernel_size > 0, "cnn2d.kernel_size", f"{c.kernel_size} must be positive")
    _check_layers("cnn2d", len(c.channels), c)
    require(bins >= 2 ** (len(c.channels) - 1), "cnn2d.channels",
            f"{len(c.channels)} blocks pool {bins} frequency rows to nothing")
  else:
    require(config.representation == "mel", "representation",
            f"trained {config.features} features need 'mel', not {config.representation!r}")
    require(bool(config.trained.workdir), "trained.workdir",
            "must name a jaxvc training workdir")
    _check_layers("trained", 3, config.trained)
  for key in ("content_weight", "style_weight"):
    require(config[key] >= 0, key, f"{config[key]} must be non-negative")
  require(config.optimizer in OPTIMIZERS, "optimizer",
          f"{config.optimizer!r} is not one of {OPTIMIZERS}")
  require(config.num_steps > 0, "num_steps", f"{config.num_steps} must be positive")
  require(config.learning_rate > 0, "learning_rate", f"{config.learning_rate} must be positive")
  require(config.init in INITS, "init", f"{config.init!r} is not one of {INITS}")
  require(config.init_scale >= 0, "init_scale", f"{config.init_scale} must be non-negative")
  require(not config.vocoder or config.representation == "mel", "vocoder",
          f"a vocoder renders mels; set representation='mel', not {config.representation!r}")
  require(config.griffin_lim_iters > 0, "griffin_lim_iters",
          f"{config.griffin_lim_iters} must be positive")
