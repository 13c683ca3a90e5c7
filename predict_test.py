"""End-to-end tests of predict.py on the shipped checkpoint's SavedModel."""

import io
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

import predict
from runner import export
from runner import testing
from runner import tflite


def paper(image, size, margins):
  """A digit as pen on paper: inverted, resized to size, with white margins
  ((top, bottom), (left, right)); uint8 [h, w, 1]."""
  resized = tf.image.resize(255.0 - image.astype(np.float32), size).numpy()
  return np.clip(np.pad(resized, list(margins) + [(0, 0)],
                        constant_values=255), 0, 255).astype(np.uint8)


class PredictTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.saved_dir = testing.export_shipped(
        os.path.join(tf.compat.v1.test.get_temp_dir(), 'shipped'))
    cls.model = predict.load_model(cls.saved_dir)

  def write_digits(self, folder):
    """Real test digits 0-11 as PNGs, and 12-14 as pen-on-paper images
    (JPEG, PNG, and a PNG with a transparent ground); {path: label}."""
    images, labels = testing.mnist_digits(15)
    written = {}
    for i in range(12):
      written[os.path.join(folder, 'd%02d.png' % i)] = (
          tf.io.encode_png(images[i]), labels[i])
    written[os.path.join(folder, 'p12.jpg')] = (tf.io.encode_jpeg(paper(
        images[12], [84, 70], [(10, 30), (40, 5)]), quality=90), labels[12])
    written[os.path.join(folder, 'p13.png')] = (tf.io.encode_png(paper(
        images[13], [56, 56], [(0, 0), (0, 0)])), labels[13])
    alpha = images[14]  # Black ink, opaque where the digit is.
    rgba = np.concatenate([np.zeros([28, 28, 3], np.uint8), alpha], axis=-1)
    written[os.path.join(folder, 'p14.png')] = (tf.io.encode_png(rgba),
                                                labels[14])
    for path, (data, _) in written.items():
      tf.io.write_file(path, data)
    return {path: label for path, (_, label) in written.items()}

  def predict(self, files, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    failed = predict.predict_files(self.model, files, out=out, err=err,
                                   **kwargs)
    return failed, out.getvalue().splitlines(), err.getvalue().splitlines()

  def test_real_and_pen_on_paper_digits(self):
    labels = self.write_digits(self.create_tempdir().full_path)
    failed, lines, errors = self.predict(sorted(labels))
    self.assertEqual((failed, errors), (0, []))
    predicted = {}
    for line in lines:
      path, rest = line.split(': ')
      predicted[path] = int(rest.split(' ')[0])
      score = float(rest.split('(score ')[1].rstrip(')'))
      self.assertBetween(score, 0.5, 1.0)
    self.assertEqual(predicted, labels)
    # The real digits pass unchanged: the SavedModel's own classes.
    images, _ = testing.mnist_digits(12)
    self.assertEqual([predicted[p] for p in sorted(labels)[:12]],
                     export.Served(self.saved_dir)(images)['classes'][:, 0]
                     .tolist())

  def test_bad_files_are_one_line_each_and_the_rest_are_predicted(self):
    folder = self.create_tempdir().full_path
    labels = self.write_digits(folder)
    bad = {'empty.png': b'', 'text.jpg': b'hello',
           'blank.png': tf.io.encode_png(np.full([9, 9, 1], 40,
                                                 np.uint8)).numpy(),
           # A real 300 x 200 PNG, above the limit given.
           'large.png': tf.io.encode_png(np.zeros([200, 300, 1],
                                                  np.uint8)).numpy()}
    for name, data in bad.items():
      with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)
    files = sorted(os.path.join(folder, n) for n in bad) + sorted(labels)
    failed, lines, errors = self.predict(files, max_pixels=59999)
    self.assertEqual(failed, 4)
    self.assertIn('%s: 300 x 200 pixels, more than --max_pixels=59999: not '
                  'decoded (raise --max_pixels to read it)' % os.path.join(
                      folder, 'large.png'), errors)
    self.assertLen(lines, len(labels))
    self.assertEqual([e.split(': ')[0] for e in errors],
                     sorted(os.path.join(folder, n) for n in bad))

  def test_command_line_with_reconstructions_and_tflite(self):
    folder = self.create_tempdir().full_path
    labels = self.write_digits(folder)
    open(os.path.join(folder, 'empty.png'), 'wb').close()
    command = [sys.executable, os.path.join(testing.ROOT, 'predict.py'),
               '--model=' + self.saved_dir, '--write_reconstructions', folder]
    for _ in range(2):  # The second run must not read the reconstructions.
      proc = subprocess.run(command, capture_output=True, text=True,
                            timeout=300, env=testing.quiet_env())
      self.assertEqual(proc.returncode, 1)  # For empty.png.
      self.assertEqual(proc.stderr.splitlines(),
                       [os.path.join(folder, 'empty.png') + ': empty file'])
      self.assertLen(proc.stdout.splitlines(), len(labels))
    written = tf.io.decode_png(tf.io.read_file(
        os.path.join(folder, 'p12' + predict.SUFFIX)))
    self.assertEqual(written.shape, (28 * 4, (28 * 2 + 1) * 4, 1))
    # The same from a .tflite file.
    lite = os.path.join(folder, 'model.tflite')
    with open(lite, 'wb') as f:
      f.write(tflite.convert(self.saved_dir))
    proc = subprocess.run(command[:2] + ['--model=' + lite, folder],
                          capture_output=True, text=True, timeout=300,
                          env=testing.quiet_env())
    self.assertEqual(proc.returncode, 1)
    self.assertEqual([line.split(': ')[0] for line in proc.stdout.splitlines()],
                     sorted(labels))
    self.assertEqual([int(line.split(': ')[1].split(' ')[0])
                      for line in proc.stdout.splitlines()],
                     [labels[path] for path in sorted(labels)])

  def test_a_model_path_that_is_not_a_model(self):
    with self.assertRaisesRegex(ValueError, '^--model=%s is not a SavedModel '
                                'directory' % testing.MNIST):
      predict.load_model(testing.MNIST)


if __name__ == '__main__':
  tf.test.main()
