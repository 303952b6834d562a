"""Spectrogram neural style transfer (Ulyanov & Lebedev 2016, after Gatys et al.).

A fixed CNN maps a spectrogram to feature maps. The generated spectrogram G
minimises

  alpha * sum (F(G) - F(C))^2 + beta * sum_l w_l sum (Gram_l(G) - Gram_l(S))^2

over the content C's deep features and the style S's shallow-layer Grams, by
L-BFGS (or Adam); Griffin-Lim, or a trained vocoder (`config.vocoder`), turns
G back into audio. The extractor is split
once; the optimization is one jitted pure function of the spectrograms, vmapped
over pairs padded to equal length, with masks keeping padding out of every
loss and Gram so a padded pair gives the unpadded result. Inside it, each
pair's L-BFGS linesearch runs in turn (see `_lbfgs`).

  config.py        the checks, in one function
  spectrograms.py  log-STFT or log-mel, analysis and synthesis
  extractors.py    the fixed CNNs
  losses.py        Grams, content and style losses
  optimize.py      the jitted L-BFGS / Adam program
  transfer.py      StyleTransfer: audio in, audio out
"""
import dataclasses
from collections.abc import Sequence

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxvc.nst import config as nst_config
from jaxvc.nst import extractors
from jaxvc.nst import optimize
from jaxvc.vocoder import inference as vocoder_inference


def pad_frames(specs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  """(bins, frames_i) spectrograms -> zero-padded (n, bins, frames) and (n, frames) masks."""
  frames = max(s.shape[-1] for s in specs)
  batch = np.zeros((len(specs), specs[0].shape[0], frames), np.float32)
  masks = np.zeros((len(specs), frames), np.float32)
  for i, s in enumerate(specs):
    batch[i, :, :s.shape[-1]] = s
    masks[i, :s.shape[-1]] = 1.0
  return batch, masks


@dataclasses.dataclass(frozen=True)
class Result:
  """One stylized pair: the audio, the spectrograms and the loss per iteration."""
  wave: np.ndarray
  spectrogram: np.ndarray          # G, (bins, content frames)
  content_spectrogram: np.ndarray
  style_spectrogram: np.ndarray
  losses: np.ndarray               # total loss at iterates 0..num_steps


class StyleTransfer:
  """A configured style transfer: representation, extractor split once, settings."""

  def __init__(self, config: ml_collections.ConfigDict):
    nst_config.check(config)
    self.settings = optimize.Settings.from_config(config)
    self.config = config
    self.representation, net = extractors.build(config)
    self.vocoder = (vocoder_inference.from_config_key(config, self.representation.cfg,
                                              "the style transfer")
                    if config.vocoder else None)   # checked: a vocoder implies a mel
    self.min_frames = net.min_frames
    self._graphdef, self._weights = nnx.split(net)

  @property
  def min_seconds(self) -> float:
    """The shortest clip whose (centred) spectrogram has `min_frames` frames."""
    return (self.min_frames - 1) * self.representation.hop_seconds

  def _init(self, content: np.ndarray) -> np.ndarray:
    if self.config.init == "content":
      return content
    noise = jax.random.normal(jax.random.key(self.config.seed), content.shape, jnp.float32)
    return self.config.init_scale * np.asarray(noise)

  def __call__(self, contents: Sequence[np.ndarray], styles: Sequence[np.ndarray]) -> list[Result]:
    """Stylizes each content wave with its style wave (both at the representation's rate).

    All pairs run as one vmapped program. Raises ValueError for a
    spectrogram shorter than `min_frames`.
    """
    analyse = lambda w: np.asarray(self.representation.analyse(w))
    content_specs = [analyse(w) for w in contents]
    style_specs = [analyse(w) for w in styles]
    for spec in content_specs + style_specs:
      if spec.shape[-1] < self.min_frames:
        raise ValueError(f"a clip of {spec.shape[-1]} frames is shorter than the "
                         f"{self.min_frames} the features need")
    content, content_mask = pad_frames(content_specs)
    style, style_mask = pad_frames(style_specs)
    init, _ = pad_frames([self._init(s) for s in content_specs])
    specs, losses = optimize.stylize_spectrograms(
        self._graphdef, self._weights, content, content_mask, style, style_mask, init,
        settings=self.settings)
    results = []
    for i, (c, s) in enumerate(zip(content_specs, style_specs)):
      spec = np.asarray(specs[i, :, :c.shape[-1]])
      if self.vocoder is None:
        wave = self.representation.synthesise(
            spec, length=len(contents[i]), n_iter=self.config.griffin_lim_iters)
      else:
        wave = self.vocoder(spec)[:len(contents[i])]
      results.append(Result(np.asarray(wave), spec, c, s, np.asarray(losses[i])))
    return results
