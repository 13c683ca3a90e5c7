"""Tests of curves.py on event files written by the runner's summaries."""

import os
import subprocess
import sys

import tensorflow as tf

import curves
from runner import summaries

ROOT = os.path.dirname(os.path.abspath(__file__))


class CurvesTest(tf.test.TestCase):

  def _run_dir(self):
    run = self.create_tempdir().full_path
    train = tf.summary.create_file_writer(os.path.join(run, 'train'))
    test = tf.summary.create_file_writer(os.path.join(run, 'test'))
    for step, loss, wrong in ((250, 0.08, 282), (500, 0.03, 189)):
      summaries.write_scalars(train, step, {'total_loss': loss})
      summaries.write_scalars(test, step, {'wrong_prediction': wrong,
                                           'correct_prediction': 10000 - wrong})
    return run

  def test_curves_from_event_files(self):
    test, train = curves.curves(self._run_dir())
    self.assertAllClose(test, [(250, 2.82), (500, 1.89)])
    self.assertAllClose(train, [(250, 0.08), (500, 0.03)])

  def test_command_writes_a_png(self):
    try:
      import matplotlib  # pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
      self.skipTest('matplotlib is not installed')
    output = os.path.join(self.create_tempdir().full_path, 'c.png')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'curves.py'),
         '--summary_dir=' + self._run_dir(), '--output=' + output],
        capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    with open(output, 'rb') as f:
      self.assertEqual(f.read(8), b'\x89PNG\r\n\x1a\n')

  def test_no_events_is_one_line(self):
    empty = self.create_tempdir().full_path
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'curves.py'),
         '--summary_dir=' + empty], capture_output=True, text=True,
        timeout=300, env=env)  # The quiet start: only our line.
    self.assertNotEqual(proc.returncode, 0)
    self.assertEqual(proc.stderr.strip().splitlines(), [
        'curves.py: %s: no test or train event files with the scalars '
        'wrong_prediction or total_loss' % empty])


if __name__ == '__main__':
  tf.test.main()
