"""Files written whole or not at all, and the time stamps the runs write.

A file is written under a temporary name beside it, `NAME.tmp-PID`, and
renamed over NAME when complete: a failed or interrupted write (a full
disk, an exception, kill -9 before the rename) leaves NAME as it was, and
the temporary file is removed (but for kill -9). Imports no TensorFlow.
"""

import contextlib
import datetime
import os


@contextlib.contextmanager
def replaced_together(paths):
  """Yields a temporary path for each of paths, to write however the caller
  likes; when the block ends without an error they are renamed over the
  paths, else removed."""
  temporaries = ['%s.tmp-%d' % (path, os.getpid()) for path in paths]
  try:
    yield temporaries
    for temporary, path in zip(temporaries, paths):
      os.replace(temporary, path)
  finally:
    for temporary in temporaries:
      if os.path.lexists(temporary):
        os.remove(temporary)


@contextlib.contextmanager
def replaced(path):
  """replaced_together of one path: yields its temporary path."""
  with replaced_together([path]) as (temporary,):
    yield temporary


def write_whole(path, content):
  """Writes content (str or bytes) to path atomically; returns path."""
  with replaced(path) as temporary:
    with open(temporary, 'wb' if isinstance(content, bytes) else 'w') as f:
      f.write(content)
  return path


def utc_time():
  """Now, as the run record, the lock file and results.jsonl write it."""
  return datetime.datetime.now(datetime.timezone.utc).strftime(
      '%Y-%m-%d %H:%M:%S UTC')
