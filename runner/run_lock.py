"""One trainer per run directory.

Two trainers on one summary_dir/train (the same command started twice)
would overwrite each other's checkpoints and interleave their event files.
The trainer (with several workers: the chief) holds an exclusive
`fcntl.flock` on `train/trainer.lock` for its whole run, taken before
anything in the directory is read or written. The operating system releases
it when the holder exits in any way, kill -9 included, so a stale lock never
stops a resume. The file records who holds it, for the one line a second
trainer prints. The validation job and evaluations only read and take no
lock. Where the file system cannot lock (some network file systems), a
warning says so and training goes on unprotected.

Imports no TensorFlow.
"""

import contextlib
import errno
import fcntl
import json
import os
import socket

from absl import logging

from common import files
from runner.errors import ExperimentError

LOCK_FILE = 'trainer.lock'
# flock's answers when a file system has no locks to give.
_CANNOT_LOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


def _holder(path):
  """'pid 12 on host h since 2026-...' from the lock file, or 'unknown'."""
  try:
    with open(path) as f:
      info = json.load(f)
    return 'pid %d on host %s since %s' % (info['pid'], info['host'],
                                           info['since'])
  except (OSError, ValueError, KeyError, TypeError):
    return 'a process that has not said who it is yet'


@contextlib.contextmanager
def hold(train_dir):
  """Holds train_dir's trainer lock for the duration of the block.

  Raises:
    ExperimentError: another process holds it (naming that process).
  """
  os.makedirs(train_dir, exist_ok=True)
  path = os.path.join(train_dir, LOCK_FILE)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      raise ExperimentError(
          '%s is being trained by another trainer (%s): wait for it to end '
          'or stop it, or give another --summary_dir' %
          (train_dir, _holder(path))) from None
    except OSError as e:
      if e.errno not in _CANNOT_LOCK:
        raise
      logging.warning('cannot lock %s (%s): nothing stops a second trainer '
                      'on this run directory', path, e.strerror)
    else:
      os.ftruncate(fd, 0)
      os.pwrite(fd, json.dumps({
          'pid': os.getpid(), 'host': socket.gethostname(),
          'since': files.utc_time()}).encode(), 0)
    yield path
  finally:
    os.close(fd)  # Releases the lock.
