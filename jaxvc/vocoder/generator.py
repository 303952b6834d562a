"""The vocoder's generator: a frame-rate ConvNeXt with an inverse-STFT head (Vocos).

Why this architecture: every layer runs at the mel's frame rate (83 frames a
second here), and the waveform appears only in the last step, an inverse STFT
of a predicted magnitude and phase. Upsampling generators (HiFi-GAN, MelGAN)
run their later layers at up to the sample rate, 192x more positions per
layer; at equal quality the frame-rate model costs far fewer FLOPs on a CPU
and its matmuls are large and dense on accelerators. The comparison measured
for jaxvc is in docs/results (vocoder design).

With `model.pitch` the generator is also given the F0 (`excitation.py`): the
log-F0 and the voicing join the mel as input channels, and a second head
predicts a complex gain per frequency bin and frame for the STFT of a pulse
train at that F0 (a source-filter model in the STFT domain), added to the
Vocos spectrum. The harmonics then lie where the F0 puts them; the network
shapes them and supplies the noise. With `model.noise_source` as well, the
Vocos part keeps its predicted magnitude but takes its phase from a noise
source (`excitation.noise_phases`): a harmonic-plus-noise model (NSF, DDSP),
in which the only periodicity is the harmonic source's. Without it the
predicted phases of frames given as unvoiced repeat from frame to frame, a
buzz at the frame rate, most of all on a converter's mels
(docs/results/tuning.md, "A noise source for the aperiodic part").

Receptive field: `receptive_field(config)` mel frames before and after a
sample decide it, so rendering a long mel in windows with that much context
on each side gives the one-shot result (`inference.Vocoder`). With
`model.causal` the convolutions see only the past, so a live stream waits
only for the inverse STFT's half frame ahead (and the F0's next frame).
"""
import math

from flax import nnx
import jax
import jax.numpy as jnp

from jaxvc import audio
from jaxvc import layers
from jaxvc.vocoder import excitation

MAX_MAGNITUDE = 1e2   # the head's exp(magnitude) is clipped here, as Vocos


def time_padding(width: int, causal: bool) -> tuple[int, int]:
  """Frames padded (before, after) for a conv of `width` that keeps the
  length: centred, or with `causal` all before (each frame sees only the past)."""
  return (width - 1, 0) if causal else (width // 2, width // 2)


def depthwise_conv1d(x: jax.Array, kernel: jax.Array, causal: bool = False) -> jax.Array:
  """Depthwise conv over time keeping the length: (B, T, C) * (width, C) -> (B, T, C)."""
  width = kernel.shape[0]
  x = jnp.pad(x, ((0, 0), time_padding(width, causal), (0, 0)))
  frames = x.shape[1] - width + 1
  return sum(x[:, j:j + frames] * kernel[j] for j in range(width))


class ConvNeXtBlock(nnx.Module):
  """Depthwise conv, LayerNorm, pointwise expand, GELU, project, layer scale, residual."""

  def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float, *,
               causal: bool = False, rngs: nnx.Rngs):
    fan_in = kernel_size
    self.causal = causal
    self.dw_kernel = nnx.Param(jax.random.uniform(
        rngs.params(), (kernel_size, dim), minval=-1, maxval=1) / math.sqrt(fan_in))
    self.dw_bias = nnx.Param(jnp.zeros((dim,)))
    self.norm = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
    self.expand = nnx.Linear(dim, intermediate_dim, rngs=rngs)
    self.project = nnx.Linear(intermediate_dim, dim, rngs=rngs)
    self.scale = nnx.Param(jnp.full((dim,), layer_scale, jnp.float32))

  def __call__(self, x: jax.Array) -> jax.Array:
    h = depthwise_conv1d(x, self.dw_kernel[...], self.causal) + self.dw_bias[...]
    h = self.project(jax.nn.gelu(self.expand(self.norm(h)), approximate=False))
    return x + self.scale[...] * h


class Generator(nnx.Module):
  """Normalised mel (B, n_mels, T) [and pitch rows (B, 4, T)] -> waveform (B, T * hop)."""

  def __init__(self, cfg: audio.AudioConfig, *, dim: int, intermediate_dim: int,
               num_layers: int, kernel_size: int, n_fft: int, pitch: bool = False,
               causal: bool = False, noise_source: bool = False, rngs: nnx.Rngs):
    if noise_source and not pitch:
      raise ValueError("a noise source needs the harmonic source (pitch) for the periodic part")
    self.cfg = cfg
    self.n_fft = n_fft
    self.kernel_size = kernel_size
    self.pitch = pitch
    self.causal = causal
    self.noise_source = noise_source
    channels = cfg.n_mels + (2 if pitch else 0)
    self.embed = nnx.Param(jax.nn.initializers.lecun_normal()(
        rngs.params(), (kernel_size, channels, dim)))
    self.embed_bias = nnx.Param(jnp.zeros((dim,)))
    self.embed_norm = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
    self.blocks = nnx.List([ConvNeXtBlock(dim, intermediate_dim, kernel_size, 1 / num_layers,
                                          causal=causal, rngs=rngs) for _ in range(num_layers)])
    self.final_norm = nnx.LayerNorm(dim, epsilon=1e-6, rngs=rngs)
    # Log-magnitude [and phase, unless the noise source gives it] per bin.
    bins = n_fft // 2 + 1
    self.head = nnx.Linear(dim, bins if noise_source else 2 * bins, rngs=rngs)
    # Log-gain and phase of the filter applied to the pulse train's STFT.
    self.harmonic_head = nnx.Linear(dim, n_fft + 2, rngs=rngs) if pitch else None

  def _require_pitch(self, pitch: jax.Array | None) -> None:
    if self.pitch != (pitch is not None):
      raise ValueError("this vocoder was trained with model.pitch: it needs the F0 (pitch rows)"
                       if self.pitch else "this vocoder takes no F0 (model.pitch is off)")

  def spectrum(self, mel: jax.Array, pitch: jax.Array | None = None) -> jax.Array:
    """The predicted complex spectrum (B, n_fft // 2 + 1, T)."""
    self._require_pitch(pitch)
    if pitch is not None:
      mel = jnp.concatenate([mel, excitation.log_f0_channels(pitch)], axis=1)
    x = jnp.swapaxes(mel, 1, 2)   # (B, T, channels): mel bins are channels
    pad = time_padding(self.kernel_size, self.causal)
    x = layers.conv(x, self.embed[...], (1,), (pad,)) + self.embed_bias[...]
    x = self.embed_norm(x)
    for block in self.blocks:
      x = block(x)
    if self.noise_source:
      log_magnitude = self.head(self.final_norm(x))
      phase = excitation.noise_phases(pitch, log_magnitude.shape[-1])
    else:
      log_magnitude, phase = jnp.split(self.head(self.final_norm(x)), 2, axis=-1)
    magnitude = jnp.minimum(jnp.exp(log_magnitude), MAX_MAGNITUDE)
    spectrum = magnitude * jnp.exp(1j * phase)
    if pitch is not None:
      log_gain, gain_phase = jnp.split(self.harmonic_head(self.final_norm(x)), 2, axis=-1)
      gain = jnp.minimum(jnp.exp(log_gain), MAX_MAGNITUDE) * jnp.exp(1j * gain_phase)
      spectrum = spectrum + gain * jnp.swapaxes(self.source_spectrum(pitch), 1, 2)
    return jnp.swapaxes(spectrum, 1, 2)

  def source_spectrum(self, pitch: jax.Array) -> jax.Array:
    """The pulse train's STFT (B, n_fft // 2 + 1, T) on the head's frames, scaled
    so that a harmonic of amplitude 1 peaks near 1 (a Hann window sums to n_fft / 2)."""
    hop, frames = self.cfg.hop_length, pitch.shape[-1]
    wave = excitation.excitation(pitch, hop, self.cfg.sample_rate)
    spec = audio.stft(wave, n_fft=self.n_fft, hop_length=hop, win_length=self.n_fft)
    return spec[..., :frames] / (self.n_fft / 4)

  def __call__(self, mel: jax.Array, pitch: jax.Array | None = None) -> jax.Array:
    frames = mel.shape[-1]
    return audio.istft(self.spectrum(mel, pitch), n_fft=self.n_fft,
                       hop_length=self.cfg.hop_length, win_length=self.n_fft,
                       length=frames * self.cfg.hop_length)


def uses_pitch(config) -> bool:
  """Whether the vocoder is F0-conditioned (configs saved before model.pitch are not)."""
  return bool(config.model.get("pitch", False))


def uses_noise_source(config) -> bool:
  """Whether the aperiodic part's phase is noise (configs saved before
  model.noise_source have none)."""
  return bool(config.model.get("noise_source", False))


def uses_causal(config) -> bool:
  """Whether the convolutions see only the past (configs saved before model.causal do not)."""
  return bool(config.model.get("causal", False))


def receptive_field(config) -> tuple[int, int]:
  """Mel frames (before, after) a sample's frame that can change it: the
  convolutions' reach (centred, or with model.causal all before), then the
  inverse STFT's half frame. With the F0, a spectrum frame also hears the
  pulse train over its analysis frame, which the pitch rows of that frame's
  span and of the next frame decide."""
  m, hop = config.model, config.audio.hop_length
  half_frame = -(-m.n_fft // (2 * hop))
  reach = (1 + m.num_layers) * (m.kernel_size // 2)   # the input conv and each block's
  before, after = reach, reach
  if uses_causal(config):
    before, after = (1 + m.num_layers) * (m.kernel_size - 1), 0
  if uses_pitch(config):
    before, after = max(before, half_frame + 1), max(after, half_frame + 1)
  return before + half_frame, after + half_frame


def context_frames(config) -> int:
  """Mel frames on either side of a sample's frame that can change it (the
  larger side of `receptive_field`): a window rendered with that much mel on
  each side gives the one-shot samples."""
  return max(receptive_field(config))


def create(config) -> Generator:
  """The generator a vocoder config describes, from `config.seed`."""
  m = config.model
  return layers.created(lambda: Generator(
      audio.AudioConfig.from_config(config.audio), dim=m.dim,
      intermediate_dim=m.intermediate_dim, num_layers=m.num_layers,
      kernel_size=m.kernel_size, n_fft=m.n_fft, pitch=uses_pitch(config),
      causal=uses_causal(config), noise_source=uses_noise_source(config),
      rngs=nnx.Rngs(config.seed)))
