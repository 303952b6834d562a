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
    return cls(hop=hop, chunk=chunk, window=window, context=chunk * context_chunks,
               margin=hop * half_window, fade=fade, fade_reach=fade_reach,
               join_margin=join_margin)

  @property
  def exact(self) -> bool:
    """Whether windows join by a cut (an exact inversion) rather than a fade."""
    return self.fade == 0

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
