"""Tests of the .mat reader and the affNIST source.

testdata/tiny_{compressed,plain}.mat were written by scipy 1.17.1's
`savemat` (an independent MATLAB 5 writer), with and without compression:
struct affNISTdata with image uint8 [1600, 3] (image k: pixel (2+k, 30) is
255), label_int uint8 [1, 3] = 7, 0, 9, label_one_of_n double [10, 3],
index double [1, 3] = 1, 2, 3 and name = 'tiny'.
"""

import os
import shutil

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import testdata
from input_data.affnist import affnist_input
from input_data.affnist import matfile

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'testdata')


class MatFileTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters('tiny_compressed.mat', 'tiny_plain.mat')
  def test_reads_scipy_written_files(self, name):
    data = matfile.read_mat(os.path.join(TESTDATA, name))['affNISTdata']
    self.assertEqual(data['image'].shape, (1600, 3))
    self.assertEqual(data['image'].dtype, np.uint8)
    self.assertAllEqual(data['label_int'], [[7, 0, 9]])
    self.assertAllEqual(data['label_one_of_n'][:, 0], np.eye(10)[7])
    self.assertAllEqual(data['index'], [[1.0, 2.0, 3.0]])
    self.assertEqual(data['name'], 'tiny')
    self.assertEqual(data['image'][3 * 40 + 30, 1], 255)

  def test_bad_files_name_the_file(self):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'broken.mat')
    with open(os.path.join(TESTDATA, 'tiny_plain.mat'), 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:1000])
    with self.assertRaisesRegex(errors.DataError,
                                'broken.mat: truncated data element'):
      matfile.read_mat(path)
    with open(path, 'wb') as f:
      f.write(b'x' * 200)
    with self.assertRaisesRegex(errors.DataError, 'broken.mat: not a MATLAB'):
      matfile.read_mat(path)
    with open(os.path.join(TESTDATA, 'tiny_compressed.mat'), 'rb') as f:
      data = bytearray(f.read())
    data[150:160] = b'\xff' * 10  # Inside the zlib stream.
    with open(path, 'wb') as f:
      f.write(bytes(data))
    with self.assertRaisesRegex(errors.DataError, 'broken.mat: corrupt '
                                'compressed element'):
      matfile.read_mat(path)


class AffnistTest(tf.test.TestCase):

  def test_test_mat(self):
    d = self.create_tempdir().full_path
    shutil.copy(os.path.join(TESTDATA, 'tiny_compressed.mat'),
                os.path.join(d, 'test.mat'))
    images, labels = affnist_input.load_affnist(d)
    self.assertEqual(images.shape, (3, 40, 40))
    self.assertAllEqual(labels, [7, 0, 9])
    for k in range(3):
      self.assertEqual(np.argmax(images[k]), (2 + k) * 40 + 30)
    source = affnist_input.affnist_source(d, 'test')
    batch = next(iter(source.eval_dataset(3, 3)))
    self.assertEqual(batch['images'].shape, (3, 1600))
    self.assertAllEqual(batch['recons_label'], [7, 0, 9])

  def test_numbered_batches_in_order(self):
    d = self.create_tempdir().full_path
    for name, fixture in (('2.mat', 'tiny_plain.mat'),
                          ('10.mat', 'tiny_compressed.mat'),
                          ('1.mat', 'tiny_compressed.mat')):
      shutil.copy(os.path.join(TESTDATA, fixture), os.path.join(d, name))
    _, labels = affnist_input.load_affnist(d)
    self.assertAllEqual(labels, [7, 0, 9] * 3)
    with self.assertRaisesRegex(errors.DataError, 'no affNIST test.mat'):
      affnist_input.load_affnist(self.create_tempdir().full_path)

  def test_training_digits_anywhere_in_40x40(self):
    d = testdata.write_mnist(self.create_tempdir().full_path,
                                     n_train=1, n_test=1)
    source = affnist_input.affnist_source(d, 'train')
    self.assertEqual(source.info.height, 40)
    batch = next(iter(source.train_dataset(400, seed=0)))
    images = batch['images'].numpy().reshape(-1, 40, 40)
    # The digit is never cut: every copy keeps all its ink.
    self.assertAllClose(images.sum(axis=(1, 2)), np.full(400, 200 / 255.0))
    rows = np.argmax(images.max(axis=2), axis=1)
    # Bright pixel at row 10 of the digit: rows 10..22 of the 40x40 image.
    self.assertEqual(rows.min(), 10)
    self.assertEqual(rows.max(), 22)


if __name__ == '__main__':
  tf.test.main()
