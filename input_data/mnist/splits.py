"""The MNIST splits of the original generator, its record names, and padding.

Shared by the generator (mnist_shift.py) and the readers: the generator's
splits are train, test, valid_train (train images 10000..60000) and
valid_test (train images 0..10000); records are named
`{multi}{split}_{shift}shifted_mnist.tfrecords`.
"""

import numpy as np

from input_data import errors
from input_data import idx
from input_data import tfds_export

SPLITS = ('train', 'test', 'valid_train', 'valid_test')
VALIDATION_SIZE = 10000  # valid_test = train images [0, 10000).


def record_name(split, shift, multi_targets):
  """File name (shards: prefix) the generator writes and the readers read."""
  return '%s%s_%dshifted_mnist.tfrecords' % ('multi' if multi_targets else '',
                                             split, shift)


def load_split(data_dir, split, tfds_dataset=None):
  """(images, labels) uint8 of one generator split.

  From the IDX files in data_dir, or with tfds_dataset ('mnist' or
  'fashion_mnist') from tensorflow-datasets (data_dir is then its data_dir).
  """
  if split not in SPLITS:
    raise errors.DataError('--split must be one of %s, got %r' % (SPLITS, split))
  base = 'test' if split == 'test' else 'train'
  if tfds_dataset:
    images, labels = tfds_export.tfds_arrays(tfds_dataset, base, data_dir)
    images, labels = images[..., 0], labels.astype(np.uint8)
  else:
    images, labels = idx.load_mnist(data_dir, base)
  if split == 'valid_train':
    return images[VALIDATION_SIZE:], labels[VALIDATION_SIZE:]
  if split == 'valid_test':
    return images[:VALIDATION_SIZE], labels[:VALIDATION_SIZE]
  return images, labels


def pad_images(images, pad):
  """[n, h, w] -> [n, h + 2 pad, w + 2 pad], zeros around."""
  return np.pad(images, ((0, 0), (pad, pad), (pad, pad))) if pad else images
