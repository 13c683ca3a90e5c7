"""Tests of curves.py on event files written by the runner's summaries."""

import os
import subprocess
import sys

import numpy as np
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

  def test_draw_plots_the_curves_on_log_loss(self):
    from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
    test, train = curves.curves(self._run_dir())
    output = os.path.join(self.create_tempdir().full_path, 'c.png')
    curves.draw([('a', test, train), ('b', test[:1], [])], output)
    left, right = pyplot.gcf().axes
    self.addCleanup(pyplot.close, 'all')
    self.assertAllClose(left.lines[0].get_xydata(), [(250, 2.82), (500, 1.89)])
    self.assertAllClose(left.lines[1].get_xydata(), [(250, 2.82)])
    self.assertAllClose(right.lines[0].get_xydata(), [(250, 0.08), (500, 0.03)])
    self.assertLen(right.lines, 1)  # Run b has no training curve.
    self.assertEqual((left.get_ylabel(), right.get_yscale()),
                     ('test error (%)', 'log'))
    self.assertEqual([t.get_text() for t in left.get_legend().get_texts()],
                     ['a', 'b'])

  def test_command_writes_a_png(self):
    from matplotlib import image  # pylint: disable=g-import-not-at-top
    output = os.path.join(self.create_tempdir().full_path, 'c.png')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'curves.py'),
         '--summary_dir=' + self._run_dir(), '--output=' + output],
        capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    self.assertEqual(proc.stdout.strip(), 'wrote ' + output)
    pixels = image.imread(output)
    self.assertEqual(pixels.shape, (380, 1000, 4))  # 10 x 3.8 in at 100 dpi.
    # Drawn, not blank: axes, ticks, labels and lines (6.4% measured).
    self.assertBetween(np.mean(pixels[..., :3].min(-1) < 0.99), 0.03, 0.3)

  def test_csv_files(self):
    prefix = os.path.join(self.create_tempdir().full_path, 'r', 'caps')
    paths = curves.write_csv(self._run_dir(), prefix)
    self.assertEqual(paths, [prefix + '_validation.csv',
                             prefix + '_training_loss.csv'])
    with open(paths[0]) as f:
      self.assertEqual(f.read(), 'step,test_wrong,test_error_percent\n'
                       '250,282,2.82\n500,189,1.89\n')
    with open(paths[1]) as f:
      self.assertEqual(f.read(), 'step,total_loss\n250,0.080000\n'
                       '500,0.030000\n')

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
