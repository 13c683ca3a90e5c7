"""Tests of runner/stop_signals.py: what a signal or the budget records."""

import os
import signal
import threading
from unittest import mock

from absl.testing import absltest

from runner import stop_signals


class StopRequestTest(absltest.TestCase):

  def test_signals_are_recorded_while_installed_only(self):
    stop = stop_signals.StopRequest()
    before = signal.getsignal(signal.SIGTERM)
    with stop.installed():
      self.assertFalse(stop.due())
      os.kill(os.getpid(), signal.SIGTERM)
      self.assertTrue(stop.due())
      self.assertEqual(stop.reason, 'SIGTERM')
      os.kill(os.getpid(), signal.SIGINT)  # The first request is kept.
      self.assertEqual(stop.reason, 'SIGTERM')
      self.assertEqual(stop.exit_status(), 0)
    self.assertIs(signal.getsignal(signal.SIGTERM), before)

  def test_a_second_ctrl_c_stops_at_once(self):
    stop = stop_signals.StopRequest()
    with stop.installed():
      os.kill(os.getpid(), signal.SIGINT)
      self.assertEqual((stop.reason, stop.exit_status()), ('SIGINT', 130))
      with self.assertRaises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)

  def test_the_budget(self):
    with mock.patch.object(stop_signals.time, 'monotonic', return_value=100.0):
      stop = stop_signals.StopRequest(max_secs=30)
    for now, due in ((129.9, False), (130.0, True)):
      with mock.patch.object(stop_signals.time, 'monotonic', return_value=now):
        self.assertEqual(stop.due(), due)
    self.assertEqual((stop.reason, stop.exit_status()),
                     ('--max_train_secs=30', 0))
    self.assertFalse(stop_signals.StopRequest().due())  # No budget.

  def test_outside_the_main_thread_nothing_is_installed(self):
    stop = stop_signals.StopRequest()
    seen = []

    def work():
      with stop.installed():
        seen.append(signal.getsignal(signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    self.assertEqual(seen, [before])


if __name__ == '__main__':
  absltest.main()
