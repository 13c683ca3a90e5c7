"""Tests of the IDX reader on files written in the published format."""

import gzip
import hashlib
import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import idx


class IdxTest(tf.test.TestCase, parameterized.TestCase):

  def _dir(self):
    return self.create_tempdir().full_path

  @parameterized.parameters('', '.gz')
  def test_round_trip_raw_and_gzip(self, suffix):
    path = os.path.join(self._dir(), 'x-idx3-ubyte' + suffix)
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    idx.write_idx(path, images)
    self.assertAllEqual(idx.read_idx(path, 3), images)

  def test_header_bytes_are_the_published_layout(self):
    path = os.path.join(self._dir(), 'l')
    idx.write_idx(path, np.array([7, 2], np.uint8))
    with open(path, 'rb') as f:
      self.assertEqual(f.read(), bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 2]))

  @parameterized.parameters(
      (bytes([0, 0, 9, 1, 0, 0, 0, 1, 5]), 'bad IDX magic number 00000901'),
      (bytes([0, 0, 8, 3, 0, 0, 0, 1]), 'truncated IDX header'),
      (bytes([0, 0, 8, 1, 0, 0, 0, 3, 5]), '1 data bytes for shape \\(3,\\)'),
      (b'', 'bad IDX magic number in an empty file'))
  def test_bad_files_name_the_file(self, data, message):
    path = os.path.join(self._dir(), 'bad-idx1-ubyte')
    with open(path, 'wb') as f:
      f.write(data)
    rank = 3 if data[3:4] == bytes([3]) else 1
    with self.assertRaisesRegex(errors.DataError, 'bad-idx1-ubyte: ' + message):
      idx.read_idx(path, rank)

  def test_wrong_rank(self):
    path = os.path.join(self._dir(), 'l')
    idx.write_idx(path, np.zeros([2], np.uint8))
    with self.assertRaisesRegex(errors.DataError, 'IDX rank 1, expected 3'):
      idx.read_idx(path, 3)

  def test_damaged_gzip(self):
    path = os.path.join(self._dir(), 'x.gz')
    with open(path, 'wb') as f:
      f.write(gzip.compress(b'\0\0\x08\x01\0\0\0\x05abcde')[:15])
    with self.assertRaisesRegex(errors.DataError, 'x.gz: cannot be read'):
      idx.read_idx(path, 1)

  def _mnist_dir(self, n_train=3, n_test=2):
    d = self._dir()
    for split, n in (('train', n_train), ('test', n_test)):
      images, labels = idx.MNIST_FILES[split]
      idx.write_idx(os.path.join(d, images + '.gz'),
                    np.full([n, 28, 28], 7, np.uint8))
      idx.write_idx(os.path.join(d, labels), np.arange(n) % 10)
    return d

  def test_load_mnist_and_checksums(self):
    d = self._mnist_dir()
    images, labels = idx.load_mnist(d, 'train')
    self.assertEqual(images.shape, (3, 28, 28))
    self.assertAllEqual(labels, [0, 1, 2])
    with open(os.path.join(d, 't10k-labels-idx1-ubyte'), 'rb') as f:
      good = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(d, idx.SHA256SUMS), 'w') as f:
      f.write('%s  t10k-labels-idx1-ubyte\n' % good)
      f.write('%s  t10k-images-idx3-ubyte\n' % ('0' * 64))
    with self.assertRaisesRegex(errors.DataError,
                                't10k-images-idx3-ubyte.gz: SHA-256'):
      idx.load_mnist(d, 'test')

  def test_missing_file_and_count_mismatch(self):
    d = self._mnist_dir()
    os.remove(os.path.join(d, 'train-labels-idx1-ubyte'))
    with self.assertRaisesRegex(errors.DataError,
                                'train-labels-idx1-ubyte: no such file'):
      idx.load_mnist(d, 'train')
    idx.write_idx(os.path.join(d, 'train-labels-idx1-ubyte'), [1, 2])
    with self.assertRaisesRegex(errors.DataError, '3 images but 2 labels'):
      idx.load_mnist(d, 'train')

  def test_shipped_mnist_matches_its_checksums(self):
    data_dir = os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), 'data', 'mnist')
    images, labels = idx.load_mnist(data_dir, 'test')  # Verifies SHA-256.
    self.assertEqual(images.shape, (10000, 28, 28))
    self.assertAllEqual(labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])


if __name__ == '__main__':
  tf.test.main()
