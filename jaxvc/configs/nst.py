"""Spectrogram neural style transfer: `python -m jaxvc.infer stylize`.

The defaults are Ulyanov & Lebedev's audio style transfer: log(1 + |STFT|) at
22050 Hz, one wide random 1-D conv, L-BFGS from small noise, then Griffin-Lim.
"""
import ml_collections

from jaxvc import config as config_lib


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0                    # random weights, initial noise

  # "log_stft": log(1 + |STFT|) with `stft`; "mel": the normalised log-mel of `audio`.
  c.representation = "log_stft"
  c.stft = ml_collections.ConfigDict(dict(sample_rate=22050, n_fft=2048, hop_length=512))
  c.audio = config_lib.audio()

  # "conv1d": one wide random conv over time (Ulyanov & Lebedev);
  # "cnn2d": a random CNN over the spectrogram image (Gatys et al.);
  # "critic", "siamese": the conv stack of a trained MelGAN-VC network.
  c.features = "conv1d"
  c.conv1d = ml_collections.ConfigDict(dict(filters=4096, width=11))
  c.cnn2d = ml_collections.ConfigDict(dict(
      channels=(32, 64, 128, 256),
      kernel_size=3,
      content_layer=3,          # a deep block
      style_layers=(0, 1, 2),   # shallow blocks
      style_weights=(1.0, 1.0, 1.0),
  ))
  # Trained features need representation="mel" and use the workdir's audio settings.
  c.trained = ml_collections.ConfigDict(dict(
      workdir="",               # a jaxvc.train workdir or WORKDIR/checkpoints/STEP
      content_layer=2,          # of the three encoder blocks
      style_layers=(0, 1),
      style_weights=(1.0, 1.0),
  ))

  c.content_weight = 1e-2       # alpha
  c.style_weight = 1.0          # beta
  c.optimizer = "lbfgs"         # "lbfgs" (zoom linesearch) or "adam"
  c.num_steps = 300
  c.learning_rate = 0.01        # Adam's; L-BFGS takes its step from the linesearch
  c.init = "noise"              # "noise" (init_scale * N(0, 1)) or "content"
  c.init_scale = 1e-3
  c.griffin_lim_iters = 100
  # A jaxvc vocoder workdir that renders the result instead of Griffin-Lim;
  # needs representation="mel" with the audio settings it was trained on.
  c.vocoder = ""
  return c
