"""Tests of the shifted MNIST / MultiMNIST generator on tiny IDX files."""

import os

import numpy as np
import tensorflow as tf

from input_data import idx
from input_data import testdata
from input_data.mnist import mnist_shift



def read_records(path, keys):
  out = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    feature = example.features.feature
    out.append({k: (feature[k].int64_list.value[0] if feature[k].int64_list.value
                    else feature[k].bytes_list.value[0]) for k in keys})
  return out


class ShiftTest(tf.test.TestCase):

  def test_shift_image_by_hand(self):
    image = np.arange(9, dtype=np.uint8).reshape(3, 3)
    self.assertAllEqual(mnist_shift.shift_image(image, 1, -1),
                        [[0, 0, 0], [1, 2, 0], [4, 5, 0]])
    self.assertAllEqual(mnist_shift.shift_image(image, 0, 0), image)

  def test_all_shifts_row_major(self):
    image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    copies = mnist_shift.all_shifts(image, 1)[0]
    self.assertEqual(copies.shape, (9, 4, 4))
    order = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    for copy, (dy, dx) in zip(copies, order):
      self.assertAllEqual(copy, mnist_shift.shift_image(image[0], dy, dx))

  def test_single_digit_records_byte_exact(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    paths = mnist_shift.generate(d, out, 'test', shift=1, pad=0,
                                 multi_targets=False, num_pairs=0,
                                 max_shard=0, seed=0)
    self.assertEqual(paths, [os.path.join(out,
                                          'test_1shifted_mnist.tfrecords')])
    records = read_records(paths[0], ('height', 'width', 'depth', 'label',
                                      'image_raw'))
    self.assertLen(records, 10 * 9)
    images, _ = idx.load_mnist(d, 'test')
    r = records[9 * 3 + 5]  # Image 3, shift (dy, dx) = (0, 1).
    self.assertEqual((r['height'], r['width'], r['depth'], r['label']),
                     (28, 28, 1, 3))
    self.assertEqual(r['image_raw'],
                     mnist_shift.shift_image(images[3], 0, 1).tobytes())
    self.assertFalse([f for f in os.listdir(out) if '.tmp-' in f])

  def test_pad_and_validation_split_names(self):
    d = testdata.write_mnist(self.create_tempdir().full_path, n_train=10005)
    out = self.create_tempdir().full_path
    (path,) = mnist_shift.generate(d, out, 'valid_train', 0, 2, False, 0, 0, 0)
    self.assertEndsWith(path, 'valid_train_0shifted_mnist.tfrecords')
    records = read_records(path, ('height', 'label'))
    self.assertLen(records, 5)  # Train images 10000..10004.
    self.assertEqual(records[0]['height'], 32)
    self.assertEqual(records[0]['label'], 0)  # Image 10000: label 0.

  def test_multi_mnist_rules(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    paths = mnist_shift.generate(d, out, 'train', shift=2, pad=4,
                                 multi_targets=True, num_pairs=3,
                                 max_shard=25, seed=1)
    self.assertEqual([os.path.basename(p) for p in paths], [
        'multitrain_2shifted_mnist.tfrecords-0000%d-of-00003' % i
        for i in range(3)])
    keys = ('height', 'label_1', 'label_2', 'image_raw_1', 'image_raw_2',
            'merged_raw')
    pairs = [r for p in paths for r in read_records(p, keys)]
    self.assertBetween(len(pairs), 50, 60)  # <= 3 per image, 20 images.
    base_images, _ = idx.load_mnist(d, 'train')
    padded = np.pad(base_images, ((0, 0), (4, 4), (4, 4)))
    for r in pairs:
      self.assertEqual(r['height'], 36)
      self.assertNotEqual(r['label_1'], r['label_2'])
      a = np.frombuffer(r['image_raw_1'], np.uint8).reshape(36, 36)
      b = np.frombuffer(r['image_raw_2'], np.uint8).reshape(36, 36)
      merged = np.frombuffer(r['merged_raw'], np.uint8).reshape(36, 36)
      self.assertAllEqual(merged, np.minimum(a.astype(int) + b, 255))
      # Image 1 is a base image of its label shifted within [-2, 2].
      shifts = [(i, dy, dx) for i in np.flatnonzero(
          np.arange(20) % 10 == r['label_1']) for dy in range(-2, 3)
                for dx in range(-2, 3)
                if np.array_equal(mnist_shift.shift_image(padded[i], dy, dx),
                                  a)]
      self.assertNotEmpty(shifts)

  def test_multi_is_reproducible_with_a_seed(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    digests = []
    for seed in (5, 5, 6):
      out = self.create_tempdir().full_path
      (path,) = mnist_shift.generate(d, out, 'test', 1, 4, True, 2, 0, seed)
      with open(path, 'rb') as f:
        digests.append(f.read())
    self.assertEqual(digests[0], digests[1])
    self.assertNotEqual(digests[0], digests[2])

  def test_choose_partners_never_same_label(self):
    labels = np.array([0, 0, 0, 1])
    partners = mnist_shift.choose_partners(labels, 2, np.random.RandomState(0))
    for i, row in enumerate(partners):
      for p in row[row >= 0]:
        self.assertNotEqual(labels[p], labels[i])

  def test_bad_split(self):
    with self.assertRaisesRegex(idx.DataError, '--split must be one of'):
      mnist_shift.load_split(self.create_tempdir().full_path, 'dev')


if __name__ == '__main__':
  tf.test.main()
