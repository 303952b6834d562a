"""Training progress for people: TensorBoard event files and a console line.

Why TensorFlow's summary writer and not `clu.metric_writers`: clu's TensorBoard
writer is this same `tf.summary` writer behind an interface, and clu is still
published as 0.0.x; the whole writer here is a few lines over an API that
TensorBoard itself reads, with tf.data already installed. `periodic_actions`
would replace `Progress` and the trainer's `_due` cadence, which are simpler
than its hooks for a loop that fetches metrics only at log steps.
"""
import collections
import datetime
import pathlib
import tempfile
import time

import numpy as np

from jaxvc import files


class SummaryWriter:
  """TensorBoard scalars, audio and images; a no-op on all but process 0.

  A logdir on a remote store (`files.is_url`) is written through
  `etils.epath`, like the rest of the workdir, not through TensorFlow's own
  filesystems: the events are written to a local staging folder and each
  flush uploads the event files that grew. That is what TensorFlow's GCS file
  does on each flush anyway (objects cannot be appended to), and it lets the
  workdir live wherever epath and orbax reach.
  """

  def __init__(self, logdir: str, enabled: bool):
    self._writer = None
    self._staging = self._remote = None
    self._uploaded: dict[str, int] = {}
    if enabled:
      # TensorFlow is imported here, where events are written, not with the
      # module: `jaxvc.train` and a bare step (tests/parallel_run.py) start without it.
      from jaxvc._tf import tf  # noqa: PLC0415
      self._summary = tf.summary
      if files.is_url(logdir):
        self._staging = tempfile.TemporaryDirectory(prefix="jaxvc-events-")
        self._remote = files.location(logdir)
        logdir = self._staging.name
      self._writer = tf.summary.create_file_writer(logdir)

  def scalars(self, step: int, values: dict) -> None:
    if self._writer:
      with self._writer.as_default(step=step):
        for name, value in values.items():
          self._summary.scalar(name, float(value))

  def audio(self, step: int, name: str, wave: np.ndarray, sample_rate: int) -> None:
    if self._writer:
      with self._writer.as_default(step=step):
        self._summary.audio(name, np.clip(wave, -1, 1)[None, :, None], sample_rate)

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    if self._writer:
      with self._writer.as_default(step=step):
        self._summary.image(name, image[None])

  def flush(self) -> None:
    if self._writer:
      self._writer.flush()
      if self._remote is not None:
        self._upload()

  def _upload(self) -> None:
    for file in sorted(pathlib.Path(self._staging.name).iterdir()):
      size = file.stat().st_size
      if self._uploaded.get(file.name) != size:
        (self._remote / file.name).write_bytes(file.read_bytes())
        self._uploaded[file.name] = size


class Progress:
  """One console line per log interval: step, losses, steps/s and ETA."""

  def __init__(self, total_steps: int, start_step: int, window: int = 5):
    self._total = total_steps
    self._marks = collections.deque([(start_step, time.perf_counter())], maxlen=window + 1)

  def line(self, step: int, metrics: dict) -> tuple[str, float]:
    """The console line for `step` and the measured steps per second."""
    self._marks.append((step, time.perf_counter()))
    (first_step, first_time), _ = self._marks[0], self._marks[-1]
    rate = (step - first_step) / max(self._marks[-1][1] - first_time, 1e-9)
    eta = datetime.timedelta(seconds=round((self._total - step) / rate)) if rate > 0 else "?"
    losses = " ".join(f"{k}={float(v):.3f}" for k, v in metrics.items())
    return f"step {step}/{self._total} | {losses} | {rate:.2f} steps/s | ETA {eta}", rate
