"""The tensorflow-datasets paths, on tfds.testing.mock_data (no network)."""

import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from input_data import errors
from input_data import idx
from input_data import tfds_export
from input_data.cifar10 import cifar10_input
from input_data.mnist import mnist_shift
from input_data.norb import norb_input_record


def _mock(num_examples=4):
  return tfds.testing.mock_data(num_examples=num_examples,
                                policy=tfds.testing.MockPolicy.USE_CODE)


class TfdsExportTest(tf.test.TestCase):

  def test_mnist_idx_files_and_generator(self):
    out = self.create_tempdir().full_path
    with _mock():
      images, labels = tfds_export.tfds_arrays('fashion_mnist', 'train')
      paths = tfds_export.export('fashion_mnist', out)
      records = mnist_shift.generate(None, out, 'test', shift=1,
                                     tfds_dataset='mnist')
    self.assertLen(paths, 4)
    read_images, read_labels = idx.load_mnist(out, 'train')
    self.assertAllEqual(read_images, images[..., 0])
    self.assertAllEqual(read_labels, labels)
    count = sum(1 for _ in tf.data.TFRecordDataset(records[0]))
    self.assertEqual(count, 4 * 9)

  def test_cifar10_binary_files(self):
    out = self.create_tempdir().full_path
    with _mock(num_examples=10):
      images, labels = tfds_export.tfds_arrays('cifar10', 'test')
      tfds_export.export('cifar10', out)
    source = cifar10_input.cifar10_source(out, 'train')
    self.assertEqual(source.num_examples, 10)
    with open(os.path.join(out, 'cifar-10-batches-bin', 'test_batch.bin'),
              'rb') as f:
      first = f.read(cifar10_input.RECORD_BYTES)
    image, label = cifar10_input.parse_record(first)
    self.assertAllEqual(image, images[0])
    self.assertEqual(int(label), labels[0])

  def test_a_file_that_cannot_be_written_leaves_no_temporary_file(self):
    out = self.create_tempdir().full_path
    directory = os.path.join(out, 'cifar-10-batches-bin')
    os.makedirs(os.path.join(directory, 'test_batch.bin'))  # Not a file.
    with _mock(num_examples=10):
      with self.assertRaises(OSError):
        tfds_export.export('cifar10', out)
    self.assertEqual(sorted(os.listdir(directory)),
                     ['data_batch_%d.bin' % i for i in range(1, 6)] +
                     ['test_batch.bin'])

  def test_smallnorb_records(self):
    out = self.create_tempdir().full_path
    with _mock(num_examples=3):
      tfds_export.export('smallnorb', out)
      expected = list(tfds.as_numpy(tfds.load('smallnorb', split='test')))
    # Each record as read by hand: the stereo pair depth-major, the
    # category, and (instance, elevation, azimuth, lighting).
    for record, ex in zip(tf.data.TFRecordDataset(
        os.path.join(out, 'testduo.tfrecords')), expected):
      feature = tf.train.Example.FromString(record.numpy()).features.feature
      pair = np.frombuffer(feature['image_raw'].bytes_list.value[0],
                           np.uint8).reshape(2, 96, 96)
      self.assertAllEqual(pair[0], ex['image'][..., 0])
      self.assertAllEqual(pair[1], ex['image2'][..., 0])
      self.assertEqual(feature['label'].int64_list.value[0],
                       ex['label_category'])
      self.assertEqual(list(feature['meta'].int64_list.value), [
          ex['instance'], ex['label_elevation'], ex['label_azimuth'],
          ex['label_lighting']])
    source = norb_input_record.norb_source(out, 'test')
    self.assertEqual(source.num_examples, 3)
    self.assertEqual(source.info.depth, 2)
    batch = next(iter(source.eval_dataset(3, 3)))
    self.assertEqual(batch['images'].shape, (3, 2 * 32 * 32))
    self.assertTrue(np.all(batch['recons_label'].numpy() < 5))

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(errors.DataError, "got 'imagenet'"):
      tfds_export.export('imagenet', self.create_tempdir().full_path)


if __name__ == '__main__':
  tf.test.main()
