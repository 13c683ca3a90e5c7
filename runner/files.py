"""Files written whole or not at all, and the time stamps the runner writes.

`write_whole` writes under a temporary name beside the file and renames it
when complete: a failed or interrupted write (a full disk, kill -9) leaves
the file as it was. Imports no TensorFlow.
"""

import datetime
import os


def write_whole(path, content):
  """Writes content (str or bytes) to path atomically; returns path."""
  temporary = '%s.tmp-%d' % (path, os.getpid())
  try:
    with open(temporary, 'wb' if isinstance(content, bytes) else 'w') as f:
      f.write(content)
    os.replace(temporary, path)
  finally:
    if os.path.lexists(temporary):
      os.remove(temporary)
  return path


def utc_time():
  """Now, as the run record, the lock file and results.jsonl write it."""
  return datetime.datetime.now(datetime.timezone.utc).strftime(
      '%Y-%m-%d %H:%M:%S UTC')
