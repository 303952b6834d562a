"""One training run per workdir: an exclusive lock on `WORKDIR/train.lock`.

Two `jaxvc.train` processes on one workdir (a command started twice by
mistake) would race on orbax's temporary folders, and one crashes mid-save.
The lock is `flock(2)` on an open file: the kernel drops it when the process
ends however it ends, so a killed run leaves no stale lock behind, and the
file's text (who holds it) is only for the message. Only the lead process of
a run takes it (the hosts of a multi-host run share the workdir by design).
A workdir that is a URL (gs://) has no such lock: object stores have no
advisory locks, and a run on a pod is started by one launcher, not by hand.
"""
import datetime
import fcntl
import os
import socket

from jaxvc import files
from jaxvc.errors import ConfigError

LOCK_FILE = "train.lock"


class RunLock:
  """Held from `__enter__` to `__exit__`; ConfigError naming the holder if taken."""

  def __init__(self, workdir: str):
    self.workdir = workdir
    self.path = None if files.is_url(workdir) else os.path.join(workdir, LOCK_FILE)
    self._fd = None

  def __enter__(self) -> "RunLock":
    if self.path is None:
      return self
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
      os.close(fd)
      raise ConfigError(
          f"workdir {self.workdir}: another training run holds its lock {self.path} "
          f"({holder}); stop it or use another --workdir") from None
    started = datetime.datetime.now().isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"jaxvc.train pid {os.getpid()} on {socket.gethostname()}, "
                  f"since {started}\n".encode(), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc_info) -> None:
    if self._fd is not None:
      # The file stays, emptied: deleting it could race with another run
      # that has just opened it and is taking the lock.
      os.ftruncate(self._fd, 0)
      os.close(self._fd)   # releases the lock
      self._fd = None
