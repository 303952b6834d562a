"""How a stream of any length is cut into windows for conversion: one frozen value.

Window k converts the frames [kW - L - C, (k+1)W): every chunk of them is a
chunk of the one-shot conversion, since W and L + C are whole generator
chunks, so the window starts and ends on the file's chunk grid. It owns the
frames [kW - L, (k+1)W - L) of the output (the first window from frame 0):
C frames of context before them, L frames of lookahead after. An interior
window (W + L + C frames) fills one padded size (`jaxvc.buckets.bucket`
chunks) exactly, so it compiles once.

L and C are set by the inversion. An exact one (a vocoder, whose receptive
field is `context` frames before a sample and `lookahead` after) needs at
least that much of each, and neighbours are cut at the boundary: a window
waits only for its own chunks, and L need not be a whole chunk. An iterative
one (Griffin-Lim) renders two neighbours' shared frames with unrelated
phases, so they are cross-faded over `fade` samples at a quiet frame within
`join_reach` frames of the boundary, at least `join_margin` frames clear of
both renderings' edges; L = C is then about half a second.

A live stream (`WindowPlan.live`) is cut into windows of one chunk, with L
and C as small as the inversion allows, so that it waits for as little audio
as it can; `latency` is then what it must wait for: a window's chunk, its
lookahead and the analysis margin.
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
  context: int        # C: frames rendered before them
  lookahead: int      # L: frames rendered after them
  margin: int         # samples beyond a window's frames that its mel needs
  fade: int           # samples of a cross-fade at a join; 0: exact joins, cut
  fade_reach: int     # frames a fade centred on a frame touches on either side
  join_margin: int    # frames a join keeps from both renderings' edges
  join_reach: int     # frames either side of a boundary where its join may lie

  @classmethod
  def create(cls, cfg: AudioConfig, chunk_frames: int, window_seconds: float,
             inversion_context: int | None,
             inversion_lookahead: int | None = None) -> "WindowPlan":
    """The plan for `cfg`, windows of about `window_seconds`, and an inversion
    whose windows are exact with `inversion_context` frames before and
    `inversion_lookahead` (default: as many) after (None: never)."""
    hop, chunk = cfg.hop_length, chunk_frames
    half_window = _ceil_div(cfg.n_fft // 2, hop)
    if inversion_context is None:
      fade = FADE_HOPS * hop
      fade_reach = _ceil_div(fade // 2 + cfg.n_fft // 2, hop)
      join_margin = fade_reach + half_window
      needed = max(round(CONTEXT_SECONDS * cfg.sample_rate / hop), 2 * join_margin + 1)
      lookahead = chunk * _ceil_div(needed, chunk)
      context, join_reach = lookahead, lookahead - join_margin
    else:
      fade = fade_reach = join_margin = join_reach = 0
      lookahead = max(inversion_context if inversion_lookahead is None else inversion_lookahead, 1)
      context = chunk * _ceil_div(lookahead + max(inversion_context, 1), chunk) - lookahead
    around = (context + lookahead) // chunk   # chunks rendered beyond a window's own
    chunk_seconds = chunk * hop / cfg.sample_rate
    target = max(round(window_seconds / chunk_seconds), 2 * around)
    window = chunk * (buckets.bucket(target + around) - around)
    return cls(hop=hop, chunk=chunk, window=window, context=context, lookahead=lookahead,
               margin=hop * half_window, fade=fade, fade_reach=fade_reach,
               join_margin=join_margin, join_reach=join_reach)

  @classmethod
  def live(cls, cfg: AudioConfig, chunk_frames: int, inversion_context: int | None,
           inversion_lookahead: int | None = None) -> "WindowPlan":
    """The plan of a live stream: windows of one chunk, and the least context
    and lookahead that keep a conversion the same as offline (exact joins
    for a vocoder, room for a quiet join for an iterative inversion)."""
    plan = cls.create(cfg, chunk_frames, 0.0, inversion_context, inversion_lookahead)
    if plan.exact:
      return dataclasses.replace(plan, window=chunk_frames)
    # Joins as far apart as the window, so that two fades never overlap.
    reach = (chunk_frames - _ceil_div(plan.fade, plan.hop) - 1) // 2
    if reach < 0 or chunk_frames - reach < plan.fade_reach:   # the first join's fade from frame 0
      raise ValueError(f"a chunk of {chunk_frames} frames is too short for a live stream's "
                       f"cross-fades ({plan.fade} samples)")
    context = chunk_frames * _ceil_div(reach + plan.join_margin, chunk_frames)
    return dataclasses.replace(plan, window=chunk_frames, context=context, lookahead=context,
                               join_reach=reach)

  @property
  def latency(self) -> int:
    """Samples from a sample's arrival to when its converted sample is ready
    at the latest (the stream's algorithmic latency): a window is rendered
    once its chunks and the analysis margin are in, L frames after the end
    of its own. A cut emits from the window's start; a fade from its quiet
    frame, which can lie `join_reach` frames before it, and its first half-fade."""
    frames = self.window + self.lookahead + (0 if self.exact else self.join_reach)
    return frames * self.hop + self.margin + self.fade // 2

  @property
  def exact(self) -> bool:
    """Whether windows join by a cut (an exact inversion) rather than a fade."""
    return self.fade == 0

  def own_start(self, k: int) -> int:
    """The first frame window k owns (the boundary with window k - 1)."""
    return max(0, k * self.window - self.lookahead)

  def samples_needed(self, k: int) -> int:
    """Samples of the stream that window k needs (unless the stream ends first)."""
    return (k + 1) * self.window * self.hop + self.margin

  def samples_done(self, k: int) -> int:
    """Samples that no window after k needs."""
    return (self.own_start(k + 1) - self.context) * self.hop - self.margin

  def span(self, k: int, n_frames: float) -> tuple[int, int, bool]:
    """(first, end) frames window k renders, and whether it is the last, for a
    stream of `n_frames` frames (math.inf while its end is unknown)."""
    stop = (k + 1) * self.window
    last = n_frames <= stop
    start = max(0, self.own_start(k) - self.context)
    return start, int(n_frames if last else stop), last

  def padded_frames(self, frames: int) -> int:
    """Frames a window of `frames` is padded to: a bucket of whole chunks."""
    return self.chunk * buckets.bucket(_ceil_div(frames, self.chunk))
