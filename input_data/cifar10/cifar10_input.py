"""CIFAR-10 from the published binary version (cifar-10-batches-bin).

Files data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test),
in data_dir or in data_dir/cifar-10-batches-bin. Each record: 1 label byte
(0..9) then 3072 pixel bytes, depth-major [3, 32, 32] (red, green, blue
planes, rows top to bottom). 10000 records a file.

Training: random 24x24 crop, random left-right flip, brightness +-63,
contrast 0.2..1.8, per-image standardization (the original's distortions);
test: central 24x24 crop, standardization. Output 24x24x3 depth-major.
"""

import os

import tensorflow as tf

from input_data import augment
from input_data import errors
from input_data import source

IMAGE_SIZE = 32
CROP_SIZE = 24
RECORD_BYTES = 1 + 3 * IMAGE_SIZE * IMAGE_SIZE
TRAIN_FILES = ['data_batch_%d.bin' % i for i in range(1, 6)]
TEST_FILES = ['test_batch.bin']


def _find_files(data_dir, names):
  for directory in (data_dir, os.path.join(data_dir, 'cifar-10-batches-bin')):
    paths = [os.path.join(directory, n) for n in names]
    if all(os.path.isfile(p) for p in paths):
      return paths
  missing = [n for n in names if not os.path.isfile(os.path.join(data_dir, n))]
  raise errors.DataError('%s: missing %s (the CIFAR-10 binary version, '
                         'cifar-10-batches-bin)' % (data_dir, ', '.join(missing)))


def _check_sizes(paths):
  total = 0
  for path in paths:
    size = os.path.getsize(path)
    if size == 0 or size % RECORD_BYTES:
      raise errors.DataError('%s: %d bytes is not a whole number of %d-byte '
                             'CIFAR-10 records (truncated or not CIFAR-10 '
                             'binary)' % (path, size, RECORD_BYTES))
    total += size // RECORD_BYTES
  return total


def parse_record(record):
  """One 3073-byte record -> (image uint8 [32, 32, 3], label int64)."""
  data = tf.io.decode_raw(record, tf.uint8)
  label = tf.cast(data[0], tf.int64)
  tf.debugging.assert_less(label, tf.constant(10, tf.int64),
                           message='CIFAR-10 label byte out of range 0..9')
  image = tf.reshape(data[1:], [3, IMAGE_SIZE, IMAGE_SIZE])
  return tf.transpose(image, [1, 2, 0]), label


def cifar10_source(data_dir, split):
  """An ExampleSource of CIFAR-10 'train' or 'test'."""
  if split not in ('train', 'test'):
    raise ValueError('split must be train or test, got %r' % (split,))
  paths = _find_files(data_dir, TRAIN_FILES if split == 'train'
                      else TEST_FILES)
  num_examples = _check_sizes(paths)

  def make_examples():
    return tf.data.FixedLengthRecordDataset(paths, RECORD_BYTES).map(
        parse_record, num_parallel_calls=tf.data.AUTOTUNE)
  return source.ExampleSource(
      make_examples, num_examples,
      source.DatasetInfo(CROP_SIZE, 3, 10, 1),
      train_fn=lambda image, seed: augment.distort(image, CROP_SIZE, seed,
                                                   flip=True),
      eval_fn=lambda image: augment.centre(image, CROP_SIZE),
      describe=', '.join(paths))
