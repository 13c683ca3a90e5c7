"""Stopping a run at a step of its choosing: on SIGTERM (a preemptible
machine going away, a job scheduler's end of time), on Ctrl-C (SIGINT), or
at a wall-clock budget.

A handler only records the request; the loop that holds a StopRequest
looks at it between its compiled steps (training) or its evaluations (the
validation job), so the step in flight finishes, and the loop saves what it
has and says so in one line. A second Ctrl-C stops at once
(KeyboardInterrupt). Exit statuses: 0 for SIGTERM and the budget (a
scheduled stop: the same command resumes), 130 for Ctrl-C (the shell's
128 + SIGINT).
"""

import contextlib
import signal
import threading
import time

EXIT_STATUS = {'SIGTERM': 0, 'SIGINT': 128 + signal.SIGINT}


class StopRequest:
  """What asked the run to stop, if anything: `reason` is 'SIGTERM',
  'SIGINT' or '--max_train_secs=N' (N > 0 given: that many seconds after
  this object was made), else None."""

  def __init__(self, max_secs=0):
    self.reason = None
    self._deadline = time.monotonic() + max_secs if max_secs else None
    self._budget = max_secs

  def _handle(self, signum, frame):
    del frame
    if signum == signal.SIGINT and self.reason == 'SIGINT':
      raise KeyboardInterrupt  # The second Ctrl-C: at once.
    self.reason = self.reason or signal.Signals(signum).name

  @contextlib.contextmanager
  def installed(self):
    """Handles SIGTERM and SIGINT while the block runs (main thread only:
    elsewhere signals cannot be handled, and nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
      yield self
      return
    previous = {s: signal.signal(s, self._handle)
                for s in (signal.SIGTERM, signal.SIGINT)}
    try:
      yield self
    finally:
      for signum, handler in previous.items():
        signal.signal(signum, handler)

  def due(self):
    """Whether the run should stop now (and why: `reason`)."""
    if (self.reason is None and self._deadline is not None and
        time.monotonic() >= self._deadline):
      self.reason = '--max_train_secs=%g' % self._budget
    return self.reason is not None

  def exit_status(self):
    """The process's exit status for this stop (0 unless Ctrl-C)."""
    return EXIT_STATUS.get(self.reason, 0)
