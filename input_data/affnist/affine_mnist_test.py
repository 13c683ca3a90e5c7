"""Tests of input_data/affnist/affine_mnist.py: the affine-MNIST stand-in."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import idx
from input_data.affnist import affine_mnist
from input_data.affnist import affnist_input

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MNIST = os.path.join(ROOT, 'data', 'mnist')


class WarpTest(tf.test.TestCase):

  def test_rotation_by_hand(self):
    # A pixel at (x, y) = (30, 10): from the centre (19.5, 19.5) it is 10.5
    # right and 9.5 up. Turned 90 degrees counter-clockwise it is 9.5 left
    # and 10.5 up: (10, 9), i.e. row 9, column 10.
    image = np.zeros([40, 40])
    image[10, 30] = 200.0
    matrix, offset = affine_mnist.forward_map(
        affine_mnist.linear_part(90.0, 0.0, 1.0, 1.0), [0.0, 0.0])
    expected = np.zeros([40, 40])
    expected[9, 10] = 200.0
    self.assertAllClose(affine_mnist.warp(image, matrix, offset), expected,
                        atol=1e-9)

  def test_scale_and_translation_by_hand(self):
    # Horizontal scale 2, translation (1, -2): source pixel (x, y) = (21, 19)
    # lands at (19.5 + 2 * 1.5 + 1, 19 - 2) = (23.5, 17). Output row 17 reads
    # the source row 19 at x = 19.5 + (q - 20.5) / 2: columns 22..25 at
    # 20.25, 20.75, 21.25, 21.75, i.e. 1/4, 3/4, 3/4, 1/4 of the pixel.
    image = np.zeros([40, 40])
    image[19, 21] = 100.0
    matrix, offset = affine_mnist.forward_map(
        affine_mnist.linear_part(0.0, 0.0, 2.0, 1.0), [1.0, -2.0])
    out = affine_mnist.warp(image, matrix, offset)
    self.assertAllClose(out[17, 22:26], [25.0, 75.0, 75.0, 25.0], atol=1e-9)
    self.assertAllClose(out.sum(), 200.0, atol=1e-9)  # Nothing else.

  def test_shear_moves_rows_in_proportion_to_their_height(self):
    # x += 0.2 * y about the centre (y measured from row 19.5): row 24 moves
    # 0.9 right (90% into the next column), row 29 moves 1.9.
    image = np.zeros([40, 40])
    image[24, 10] = 50.0
    image[29, 10] = 50.0
    matrix, offset = affine_mnist.forward_map(
        affine_mnist.linear_part(0.0, 0.2, 1.0, 1.0), [0.0, 0.0])
    out = affine_mnist.warp(image, matrix, offset)
    self.assertAllClose(out[24, 10:12], [5.0, 45.0], atol=1e-9)
    self.assertAllClose(out[29, 11:13], [5.0, 45.0], atol=1e-9)


class GenerateTest(tf.test.TestCase):

  def test_records_the_transforms_that_made_each_image(self):
    out = self.create_tempdir().full_path
    affine_mnist.generate(MNIST, out, seed=3, limit=60)
    images, labels = affine_mnist.load(out)
    rows = affine_mnist.read_transforms(out)
    digits, mnist_labels = idx.load_mnist(MNIST, 'test')
    self.assertEqual(images.shape, (60, 40, 40))
    self.assertAllEqual(labels, mnist_labels[:60])
    self.assertEqual([r['index'] for r in rows], list(range(60)))
    for row, image, digit in zip(rows, images, digits):
      self.assertBetween(row['rotation_deg'], -20, 20)
      self.assertBetween(row['shear'], -0.2, 0.2)
      self.assertBetween(row['scale_x'], 0.8, 1.2)
      self.assertBetween(row['scale_y'], 0.8, 1.2)
      a = affine_mnist.linear_part(row['rotation_deg'], row['shear'],
                                   row['scale_x'], row['scale_y'])
      self.assertAllClose([[row['m11'], row['m12']], [row['m21'], row['m22']]],
                          a, atol=1e-7)
      # The recorded map remakes the image from the centred digit.
      remade = affine_mnist.warp(np.pad(digit, 6).astype(np.float64),
                                 a, [row['m1'], row['m2']])
      self.assertLessEqual(np.abs(remade - image).max(), 0.5 + 1e-4)
      # No ink was cut: every ink pixel of the centred digit maps to at
      # least one pixel inside the image.
      ys, xs = np.nonzero(np.pad(digit, 6))
      mapped = a @ np.stack([xs, ys]) + np.array([[row['m1']], [row['m2']]])
      self.assertBetween(mapped.min(), 1 - 1e-6, 38 + 1e-6)
      self.assertBetween(mapped.max(), 1 - 1e-6, 38 + 1e-6)
    # The draws span the ranges (60 draws of each).
    self.assertGreater(max(r['rotation_deg'] for r in rows), 15)
    self.assertLess(min(r['rotation_deg'] for r in rows), -15)
    translations = [abs(r['translate_x']) for r in rows]
    self.assertGreater(max(translations), 4)

  def test_seeded(self):
    a, b, c = (self.create_tempdir().full_path for _ in range(3))
    for out, seed in ((a, 1), (b, 1), (c, 2)):
      affine_mnist.generate(MNIST, out, seed=seed, limit=5)
    self.assertAllEqual(affine_mnist.load(a)[0], affine_mnist.load(b)[0])
    self.assertNotAllEqual(affine_mnist.load(a)[0], affine_mnist.load(c)[0])

  def test_sources_of_the_two_40x40_test_sets(self):
    out = self.create_tempdir().full_path
    affine_mnist.generate(MNIST, out, seed=0, limit=4)
    images, labels = affine_mnist.load(out)
    for name in os.listdir(MNIST):  # Training digits beside them.
      os.symlink(os.path.join(MNIST, name), os.path.join(out, name))
    batch = next(iter(affnist_input.affine_mnist_source(
        out, 'test').eval_dataset(4, 4)))
    self.assertAllClose(batch['images'].numpy().reshape(4, 40, 40),
                        images / 255.0, atol=1e-6)
    self.assertAllEqual(batch['recons_label'], labels)
    digits, _ = idx.load_mnist(MNIST, 'test')
    centred = next(iter(affnist_input.expanded_mnist_source(
        out, 'test').eval_dataset(2, 2)))['images'].numpy()
    self.assertAllClose(centred.reshape(2, 40, 40)[:, 6:34, 6:34],
                        digits[:2] / 255.0, atol=1e-6)
    self.assertEqual(centred.reshape(2, 40, 40)[:, :6].sum(), 0)

  def test_wrong_files_are_one_line(self):
    out = self.create_tempdir().full_path
    idx.write_idx(os.path.join(out, affine_mnist.IMAGES),
                  np.zeros([3, 28, 28], np.uint8))
    idx.write_idx(os.path.join(out, affine_mnist.LABELS),
                  np.zeros([3], np.uint8))
    with self.assertRaisesRegex(errors.DataError,
                                r'affine-MNIST images must be \[n, 40, 40\]'):
      affine_mnist.load(out)
    with self.assertRaisesRegex(errors.DataError, 'no such file'):
      affine_mnist.load(self.create_tempdir().full_path)

  def test_command(self):
    out = self.create_tempdir().full_path
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'input_data', 'affnist',
                                      'affine_mnist.py'),
         '--data_dir=' + out], capture_output=True, text=True, timeout=120)
    self.assertEqual(proc.returncode, 1)
    self.assertIn('affine_mnist.py: %s' % os.path.join(
        out, 't10k-images-idx3-ubyte'), proc.stderr)


if __name__ == '__main__':
  tf.test.main()
