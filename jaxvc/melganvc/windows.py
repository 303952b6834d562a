"""How a stream of any length is cut into windows for conversion: one frozen value.

Window k owns the frames [kW, (k+1)W) and renders them with C frames of
context on each side. W and C are whole generator chunks, so every window
starts on the file's chunk grid and the generator sees exactly the chunks of
a one-shot conversion; an interior window (W + 2C frames) fills one padded
size (`jaxvc.buckets.bucket` chunks) exactly, so it compiles once.

C is set by the inversion. An exact one (a vocoder, whose receptive field is
`context` frames) needs C >= that, and neighbours are cut at the boundary. An
iterative one (Griffin-Lim) renders two neighbours' shared frames with
unrelated phases, so they are cross-faded over `fade` samples at a quiet frame
within the shared frames, at least `join_margin` frames clear of both
renderings' edges; C is then about half a second and large enough for that.

A live stream (`WindowPlan.live`) is cut into windows of one chunk, with C as
small as the inversion allows, so that it waits for as little audio as it
can; `latency` is then what it must wait for.
"""
import dataclasses

from jaxvc import buckets
from jaxvc.audio.settings import AudioConfig

CONTEXT_SECONDS = 0.5        # rendered on each side of a window for a cross-fade
FADE_HOPS = 4                # cross-fade length at a join


def _ceil_div(a: int, b: int) -> int:
  return -(-a // b)


@dataclasses.dataclass(frozen=True)
class WindowPlan:
  """Sizes of a streaming conversion, in frames unless named samples."""
  hop: int            # samples per frame
  chunk: int          # generator width
  window: int         # W: frames each window owns
  context: int        # C: frames rendered beyond them on each side
  margin: int         # samples beyond a window's frames that its mel needs
  fade: int           # samples of a cross-fade at a join; 0: exact joins, cut
  fade_reach: int     # frames a fade centred on a frame touches on either side
  join_margin: int    # frames a join keeps from both renderings' edges
  join_reach: int     # frames either side of a boundary where its join may lie

  @classmethod
  def create(cls, cfg: AudioConfig, chunk_frames: int, window_seconds: float,
             inversion_context: int | None) -> "WindowPlan":
    """The plan for `cfg`, windows of about `window_seconds`, and an inversion
    whose windows are exact beyond `inversion_context` frames (None: never)."""
    hop, chunk = cfg.hop_length, chunk_frames
    half_window = _ceil_div(cfg.n_fft // 2, hop)
    if inversion_context is None:
      fade = FADE_HOPS * hop
      fade_reach = _ceil_div(fade // 2 + cfg.n_fft // 2, hop)
      join_margin = fade_reach + half_window
      needed = max(round(CONTEXT_SECONDS * cfg.sample_rate / hop), 2 * join_margin + 1)
    else:
      fade = fade_reach = join_margin = 0
      needed = max(inversion_context, 1)
    context_chunks = _ceil_div(needed, chunk)
    chunk_seconds = chunk * hop / cfg.sample_rate
    target = max(round(window_seconds / chunk_seconds), 4 * context_chunks)
    window = chunk * (buckets.bucket(target + 2 * context_chunks) - 2 * context_chunks)
    context = chunk * context_chunks
    return cls(hop=hop, chunk=chunk, window=window, context=context,
               margin=hop * half_window, fade=fade, fade_reach=fade_reach,
               join_margin=join_margin, join_reach=max(0, context - join_margin))

  @classmethod
  def live(cls, cfg: AudioConfig, chunk_frames: int,
           inversion_context: int | None) -> "WindowPlan":
    """The plan of a live stream: windows of one chunk, and the least context
    that keeps a conversion the same as offline (exact joins for a vocoder,
    room for a quiet join for an iterative inversion)."""
    plan = cls.create(cfg, chunk_frames, 0.0, inversion_context)
    if plan.exact:
      return dataclasses.replace(plan, window=chunk_frames)
    # Joins as far apart as the window, so that two fades never overlap.
    reach = (chunk_frames - _ceil_div(plan.fade, plan.hop) - 1) // 2
    if reach < 0:
      raise ValueError(f"a chunk of {chunk_frames} frames is too short for a live stream's "
                       f"cross-fades ({plan.fade} samples)")
    context = chunk_frames * _ceil_div(reach + plan.join_margin, chunk_frames)
    return dataclasses.replace(plan, window=chunk_frames, context=context, join_reach=reach)

  @property
  def latency(self) -> int:
    """Samples from a sample's arrival to when its converted sample is ready
    at the latest (the stream's algorithmic latency): a window is rendered
    once its own frames, C frames beyond and the analysis margin are in. A
    cut emits from the window's start; a fade from its quiet frame, which
    can lie `join_reach` frames before it, and its first half-fade."""
    frames = self.window + self.context + (0 if self.exact else self.join_reach)
    return frames * self.hop + self.margin + self.fade // 2

  @property
  def exact(self) -> bool:
    """Whether windows join by a cut (an exact inversion) rather than a fade."""
    return self.fade == 0

  def samples_needed(self, k: int) -> int:
    """Samples of the stream that window k needs (unless the stream ends first)."""
    return (k * self.window + self.window + self.context) * self.hop + self.margin

  def samples_done(self, k: int) -> int:
    """Samples that no window after k needs."""
    return ((k + 1) * self.window - self.context) * self.hop - self.margin

  def span(self, k: int, n_frames: float) -> tuple[int, int, bool]:
    """(first, end) frames window k renders, and whether it is the last, for a
    stream of `n_frames` frames (math.inf while its end is unknown)."""
    core = k * self.window
    last = n_frames <= core + self.window + self.context
    start = max(0, core - self.context)
    stop = n_frames if last else core + self.window + self.context
    return start, int(stop), last

  def padded_frames(self, frames: int) -> int:
    """Frames a window of `frames` is padded to: a bucket of whole chunks."""
    return self.chunk * buckets.bucket(_ceil_div(frames, self.chunk))
