"""The vocoder's held-out evaluation and samples, run by the trainer on the lead host.

Every eval renders the mels of the first EVAL_UTTERANCES held-out utterances
(copy-synthesis: original -> mel -> vocoder) and compares them with the
originals: the L1 of log mels (the training loss's term) and the
multi-resolution STFT distance, beside the same figures for Griffin-Lim on
the same mels, computed once. Both need only the core install; MCD and DNSMOS
are measured offline by `tools/evaluate.py`.
"""
import jax
import numpy as np

from jaxvc import audio
from jaxvc import methods
from jaxvc import plotting
from jaxvc.audio import inversion
from jaxvc.evaluation import metrics
from jaxvc.vocoder import input_pipeline
from jaxvc.vocoder import losses
from jaxvc.vocoder import step as step_lib
from jaxvc.vocoder.inference import Vocoder

_mel_l1 = jax.jit(losses.mel_l1, static_argnums=2)   # one program per utterance length

EVAL_UTTERANCES = 8          # held-out utterances rendered for the eval metrics
SAMPLE_SECONDS = 4.0         # length of the audio sample logged to TensorBoard


def copy_synthesis_scores(render, waves: list[np.ndarray], mels: list[np.ndarray],
                          cfg: audio.AudioConfig) -> dict[str, float]:
  """Mean log-mel L1 and STFT distance of `render(mel)` against each wave."""
  l1, distance = [], []
  for wave, mel in zip(waves, mels, strict=True):
    rendered = np.asarray(render(mel))[:wave.size]
    l1.append(float(_mel_l1(rendered, wave, cfg)))
    distance.append(metrics.stft_distance(rendered, wave, cfg.sample_rate))
  return dict(mel_l1=float(np.mean(l1)), stft_distance=float(np.mean(distance)))


class Evaluator:
  """Holds the held-out waves and their mels; evaluates and samples a train state."""

  def __init__(self, config):
    self.config = config
    self.audio = audio.AudioConfig.from_config(config.audio)
    self.waves = input_pipeline.domain_waves(config, config.data.eval_split)[:EVAL_UTTERANCES]
    self.mels = [np.asarray(audio.wave_to_mel(w, self.audio)) for w in self.waves]
    griffin_lim = copy_synthesis_scores(inversion.GriffinLim(self.audio), self.waves,
                                        self.mels, self.audio)
    self.baseline = {f"eval/griffinlim_{k}": v for k, v in griffin_lim.items()}

  def _vocoder(self, state) -> Vocoder:
    return Vocoder(self.config, jax.device_get(step_lib.generator_state(state))["params"])

  def evaluate(self, state) -> dict[str, float]:
    scores = copy_synthesis_scores(self._vocoder(state), self.waves, self.mels, self.audio)
    return {**{f"eval/{k}": v for k, v in scores.items()}, **self.baseline}

  def samples(self, state) -> methods.Samples:
    """A held-out clip rendered from its mel, and the mels of original over rendering."""
    frames = int(SAMPLE_SECONDS * self.audio.sample_rate / self.audio.hop_length)
    mel = self.mels[0][:, :frames]
    wave = self._vocoder(state)(mel)
    rendered = np.asarray(audio.wave_to_mel(wave, self.audio))[:, :mel.shape[1]]
    return methods.Samples(
        audio={"sample/copy_synthesis": (wave, self.audio.sample_rate)},
        images={"sample/original_over_rendered": plotting.mel_image([mel, rendered])})
