r"""Writes the published file formats from tensorflow-datasets.

For users who are online (or whose tfds data_dir is filled): the readers of
this project read the published formats, and this writes them from tfds:
  mnist, fashion_mnist -> the four IDX files (gzip), canonical names
  cifar10              -> cifar-10-batches-bin/data_batch_{1..5}.bin,
                          test_batch.bin
  smallnorb            -> {train,test}duo.tfrecords (smallnorb_convert.py)

  python input_data/tfds_export.py --dataset=cifar10 --output_dir=/tmp/cifar
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

if __name__ == '__main__':
  # Run as a script: the repository root on the path, and TensorFlow's C++
  # start-up notices hidden unless the user chose a level (common/quiet.py).
  sys.path.insert(0, os.path.abspath(os.path.join(
      os.path.dirname(__file__), '..')))
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
from common import files
from input_data import errors
from input_data import idx
from input_data.cifar10 import cifar10_input
from input_data.norb import smallnorb_convert
# pylint: enable=g-import-not-at-top,wrong-import-position

DATASETS = ('mnist', 'fashion_mnist', 'cifar10', 'smallnorb')


def tfds_arrays(name, split, data_dir=None):
  """(images uint8 [n, h, w, c], labels int64 [n]) of a tfds split."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  images, labels = [], []
  for batch in tfds.as_numpy(tfds.load(name, split=split, data_dir=data_dir,
                                       batch_size=10000)):
    images.append(batch['image'])
    labels.append(batch['label'])
  return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def write_idx_files(name, output_dir, data_dir=None):
  """The four (gzip) IDX files of mnist or fashion_mnist; returns paths."""
  os.makedirs(output_dir, exist_ok=True)
  paths = []
  for split, (image_name, label_name) in idx.MNIST_FILES.items():
    images, labels = tfds_arrays(name, split, data_dir)
    for file_name, array in ((image_name, images[..., 0]),
                             (label_name, labels)):
      path = os.path.join(output_dir, file_name + '.gz')
      idx.write_idx(path, array)
      paths.append(path)
  return paths


def write_cifar10_bin(output_dir, data_dir=None):
  """cifar-10-batches-bin under output_dir; returns the paths."""
  directory = os.path.join(output_dir, 'cifar-10-batches-bin')
  os.makedirs(directory, exist_ok=True)
  paths = []
  for split, names in (('train', cifar10_input.TRAIN_FILES),
                       ('test', cifar10_input.TEST_FILES)):
    images, labels = tfds_arrays('cifar10', split, data_dir)
    planes = images.transpose(0, 3, 1, 2).reshape(images.shape[0], -1)
    records = np.concatenate([labels.astype(np.uint8)[:, None], planes], 1)
    for name, part in zip(names, np.array_split(records, len(names))):
      path = os.path.join(directory, name)
      paths.append(files.write_whole(path, part.tobytes()))
  return paths


def export(dataset, output_dir, data_dir=None):
  if dataset in ('mnist', 'fashion_mnist'):
    return write_idx_files(dataset, output_dir, data_dir)
  if dataset == 'cifar10':
    return write_cifar10_bin(output_dir, data_dir)
  if dataset == 'smallnorb':
    return [smallnorb_convert.convert_tfds(split, output_dir, split, data_dir)
            for split in ('train', 'test')]
  raise errors.DataError('--dataset must be one of %s, got %r' %
                         (', '.join(DATASETS), dataset))


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('dataset', None, ', '.join(DATASETS))
  flags.DEFINE_string('output_dir', None, 'Where to write the files.')
  flags.DEFINE_string('tfds_data_dir', None, 'tensorflow-datasets data_dir.')


def main(argv):
  del argv
  if not FLAGS.dataset or not FLAGS.output_dir:
    sys.exit('tfds_export.py: --dataset and --output_dir are required')
  errors.report_writes('tfds_export.py', lambda: export(
      FLAGS.dataset, FLAGS.output_dir, FLAGS.tfds_data_dir))


if __name__ == '__main__':
  define_flags()
  app.run(main)
