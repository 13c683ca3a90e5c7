r"""Writes MNIST-format IDX files as one's own data: a folder of PNG files
(--format=folder) or a tensorflow-datasets set (--format=tfds), offline.

  python input_data/own/idx_images.py --idx_dir=data/mnist \
    --output_dir=/tmp/mnist_png
  python input_data/own/idx_images.py --idx_dir=FASHION_DIR \
    --class_names=fashion --output_dir=/tmp/fashion_png
  python input_data/own/idx_images.py --idx_dir=data/mnist --format=tfds \
    --output_dir=/tmp/tfds --name=mnist_idx/plain:1.0.0

folder: OUTPUT/{train,test}/CLASS/NNNNN.png (NNNNN: the image's index in
its IDX file), the layout --dataset=folder reads. tfds: the set NAME
written with tfds' store_as_tfds_dataset into OUTPUT (a TFDS data
directory), image and label features, read by --dataset=tfds:NAME. The
same pixels and labels either way: they are what lets a run on them be
compared with --dataset=mnist (or fashion_mnist) --data_source=idx.
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

if __name__ == '__main__':
  sys.path.insert(0, os.path.abspath(os.path.join(
      os.path.dirname(__file__), '..', '..')))
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
from common import files
from input_data import errors
from input_data import idx
# pylint: enable=g-import-not-at-top,wrong-import-position

CLASS_NAMES = {
    'digits': [str(d) for d in range(10)],
    # Zalando's names of the Fashion-MNIST labels 0..9 ('/' is no file name).
    'fashion': ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'],
}
FORMATS = ('folder', 'tfds')


def write_folder(splits, names, output_dir):
  """OUTPUT/SPLIT/CLASS/NNNNN.png of {split: (images [n, h, w], labels)};
  yields each folder as it is finished."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for split, (images, labels) in splits.items():
    for label, name in enumerate(names):
      folder = os.path.join(output_dir, split, name)
      os.makedirs(folder, exist_ok=True)
      for i in np.flatnonzero(labels == label):
        path = os.path.join(folder, '%05d.png' % i)
        data = tf.io.encode_png(images[i][..., None]).numpy()
        files.write_whole(path, data)
      yield folder


def write_tfds(splits, names, output_dir, name):
  """The tfds set name ('NAME[/CONFIG][:VERSION]', version 1.0.0 unless
  given) in the data directory output_dir; yields its directory."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  base, _, version = name.partition(':')
  dataset, _, config = base.partition('/')
  height, width = next(iter(splits.values()))[0].shape[1:]
  features = tfds.features.FeaturesDict({
      'image': tfds.features.Image(shape=(height, width, 1)),
      'label': tfds.features.ClassLabel(names=names)})
  builder = tfds.dataset_builders.store_as_tfds_dataset(
      name=dataset, version=version or '1.0.0', config=config or None,
      features=features, data_dir=output_dir, disable_shuffling=True,
      split_datasets={split: tf.data.Dataset.from_tensor_slices({
          'image': images[..., None], 'label': labels.astype(np.int64)})
                      for split, (images, labels) in splits.items()})
  yield str(builder.data_dir)


def write(idx_dir, output_dir, file_format='folder', class_names='digits',
          name=None):
  """Writes the IDX files of idx_dir as file_format; yields what it wrote."""
  if file_format not in FORMATS:
    raise errors.DataError('--format must be one of %s, got %r' % (
        ', '.join(FORMATS), file_format))
  names = CLASS_NAMES.get(class_names) or class_names.split(',')
  splits = {split: idx.load_mnist(idx_dir, split) for split in ('train',
                                                                'test')}
  classes = 1 + max(int(labels.max()) for _, labels in splits.values())
  if len(names) != classes:
    raise errors.DataError('--class_names gives %d names, the labels of %s '
                           'have %d classes' % (len(names), idx_dir, classes))
  if file_format == 'folder':
    return write_folder(splits, names, output_dir)
  if not name:
    raise errors.DataError('--format=tfds needs --name=NAME[/CONFIG]'
                           '[:VERSION]')
  return write_tfds(splits, names, output_dir, name)


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('idx_dir', None, 'The four IDX files (gzip or not).')
  flags.DEFINE_string('output_dir', None, 'Where to write.')
  flags.DEFINE_enum('format', 'folder', FORMATS, 'folder: PNG files; tfds: a '
                    'tensorflow-datasets set.')
  flags.DEFINE_string('class_names', 'digits', 'digits (0..9), fashion '
                      '(Zalando\'s names), or NAME,NAME,... one per label.')
  flags.DEFINE_string('name', None, '--format=tfds: NAME[/CONFIG][:VERSION].')


def main(argv):
  del argv
  if not FLAGS.idx_dir or not FLAGS.output_dir:
    sys.exit('idx_images.py: --idx_dir and --output_dir are required')
  errors.report_writes('idx_images.py', lambda: write(
      FLAGS.idx_dir, FLAGS.output_dir, FLAGS.format, FLAGS.class_names,
      FLAGS.name))


if __name__ == '__main__':
  define_flags()
  app.run(main)
