"""Tests of runner/tflite.py and to_tflite.py on the shipped checkpoint."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from input_data import idx
from models import conv_model
from models import hparams as hparams_lib
from models import testing as model_testing
from runner import export
from runner import testing
from runner import tflite

N = 40  # Real test digits; the shipped model gets all 40 right.


class TFLiteTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tf.compat.v1.test.get_temp_dir()
    cls.saved_dir = testing.export_shipped(os.path.join(cls.tmp, 'shipped'))
    cls.saved = export.Served(cls.saved_dir)
    cls.images, cls.labels = testing.mnist_digits(N)
    cls.reference = export.predict_in_batches(cls.saved, cls.images)

  def test_float32_serves_the_saved_models_outputs(self):
    lite = tflite.TFLiteModel(content=tflite.convert(self.saved_dir))
    self.assertEqual(lite.input_shape, (28, 28, 1))
    for batch in (N, 7):  # Two batch sizes: the input is resized per call.
      out = export.predict_in_batches(lite, self.images, batch)
      self.assertCountEqual(out, self.reference)
      for key in ('scores', 'capsules', 'reconstructions'):
        self.assertAllClose(out[key], self.reference[key], atol=1e-5)
      self.assertAllEqual(out['classes'], self.reference['classes'])
    self.assertAllEqual(out['classes'][:, 0], self.labels)

  def test_dynamic_quantisation_is_a_quarter_and_predicts_the_same(self):
    full = tflite.convert(self.saved_dir)
    small = tflite.convert(self.saved_dir, 'dynamic')
    self.assertLess(len(small), 0.26 * len(full))  # int8 weights.
    out = export.predict_in_batches(tflite.TFLiteModel(content=small),
                                    self.images)
    self.assertAllEqual(out['classes'], self.reference['classes'])
    difference = np.abs(out['scores'] - self.reference['scores']).max()
    self.assertBetween(difference, 1e-5, 0.05)  # Changed, a little.

  def test_baseline_converts(self):
    tf.random.set_seed(4)
    model = conv_model.ConvModel(hparams_lib.HParams(), 28, 1, 10,
                                 **model_testing.TINY['baseline'])
    directory = export.export_saved_model(
        model, os.path.join(self.create_tempdir().full_path, 'baseline'))
    lite = tflite.TFLiteModel(content=tflite.convert(directory))
    out = lite(self.images[:5])
    self.assertCountEqual(out, ['scores', 'classes'])
    self.assertAllClose(out['scores'],
                        export.Served(directory)(self.images[:5])['scores'],
                        atol=1e-5)

  def test_unknown_quantisation(self):
    with self.assertRaisesRegex(ValueError, 'quantize must be one of'):
      tflite.convert(self.saved_dir, 'int4')

  def test_command_converts_and_reports_agreement(self):
    data = self.create_tempdir().full_path
    images, labels = testing.mnist_digits(12)
    idx.write_idx(os.path.join(data, 't10k-images-idx3-ubyte'), images[..., 0])
    idx.write_idx(os.path.join(data, 't10k-labels-idx1-ubyte'), labels)
    output = os.path.join(self.create_tempdir().full_path, 'm.tflite')
    proc = subprocess.run(
        [sys.executable, os.path.join(testing.ROOT, 'to_tflite.py'),
         '--saved_model=' + self.saved_dir, '--output=' + output,
         '--data_dir=' + data], capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    self.assertIn('wrote %s: %s bytes (float32 weights)' % (
        output, format(os.path.getsize(output), ',')), proc.stdout)
    self.assertIn('on 12 test images of %s: predicted classes differ on 0; '
                  % data, proc.stdout)
    self.assertIn('wrong: TFLite 0 (0.00%), SavedModel 0 (0.00%)',
                  proc.stdout)

  def test_command_refuses_what_is_not_a_saved_model(self):
    proc = subprocess.run(
        [sys.executable, os.path.join(testing.ROOT, 'to_tflite.py'),
         '--saved_model=' + testing.MNIST, '--output=/tmp/never.tflite'],
        capture_output=True, text=True, timeout=300, env=testing.quiet_env())
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr.strip().splitlines(), [
        'to_tflite.py: --saved_model=%s is not a SavedModel directory (no '
        'saved_model.pb)' % testing.MNIST])


if __name__ == '__main__':
  tf.test.main()
