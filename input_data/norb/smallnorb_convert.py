r"""Converts the published smallNORB files to the original's TFRecords.

The official capsule code read `{train,test}duo.tfrecords` but never shipped
the converter. This one reads the published "binary matrix" files (raw or
.gz), e.g. for the training set:
  smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat  uint8 [24300, 2, 96, 96]
  smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat  int32 [24300]
  smallnorb-5x46789x9x18x6x2x96x96-training-info.mat int32 [24300, 4]
and the testing ones (smallnorb-5x01235x9x18x6x2x96x96-testing-*), and writes
{output_dir}/{train,test}duo.tfrecords with features
  height, width, depth (=2), label (category 0..4): int64
  meta: int64 [4] (instance, elevation, azimuth, lighting)
  image_raw: bytes, uint8 [2, 96, 96] (depth-major: the stereo pair)

Binary matrix format (little-endian int32s): magic (0x1E3D4C55 uint8,
0x1E3D4C54 int32), ndim, then max(ndim, 3) dimension sizes, then the data.

  python input_data/norb/smallnorb_convert.py --data_dir=/path/to/smallnorb \
    --output_dir=/tmp/norb
"""

import gzip
import os
import sys

from absl import app
from absl import flags
import numpy as np

if __name__ == '__main__':
  # Run as a script: the repository root on the path, and TensorFlow's C++
  # start-up notices hidden unless the user chose a level (common/quiet.py).
  sys.path.insert(0, os.path.abspath(os.path.join(
      os.path.dirname(__file__), '..', '..')))
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

from input_data import errors
from input_data import idx
from input_data import records
# pylint: enable=g-import-not-at-top,wrong-import-position

MAGIC = {0x1E3D4C55: np.uint8, 0x1E3D4C54: np.int32}
PREFIX = {
    'train': 'smallnorb-5x46789x9x18x6x2x96x96-training-',
    'test': 'smallnorb-5x01235x9x18x6x2x96x96-testing-',
}
OUTPUT = {'train': 'trainduo.tfrecords', 'test': 'testduo.tfrecords'}


def read_matrix(path):
  """One binary matrix file -> numpy array; DataError naming the file."""
  data = idx.read_bytes(path)
  if len(data) < 8:
    raise errors.DataError('%s: truncated binary matrix header' % path)
  magic, ndim = (int(x) for x in np.frombuffer(data, '<i4', 2))
  magic &= 0xFFFFFFFF
  if magic not in MAGIC:
    raise errors.DataError('%s: bad binary matrix magic 0x%08X (expected '
                           '0x1E3D4C55 uint8 or 0x1E3D4C54 int32)' % (path, magic))
  if not 1 <= ndim <= 8:
    raise errors.DataError('%s: bad number of dimensions %d' % (path, ndim))
  header = 8 + 4 * max(ndim, 3)
  if len(data) < header:
    raise errors.DataError('%s: truncated binary matrix header' % path)
  shape = tuple(int(x) for x in np.frombuffer(data, '<i4', ndim, 8))
  dtype = np.dtype(MAGIC[magic]).newbyteorder('<')
  size = int(np.prod(shape)) * dtype.itemsize
  if len(data) - header != size:
    raise errors.DataError('%s: %d data bytes for shape %s, expected %d '
                           '(truncated or padded)' % (path, len(data) - header,
                                                   shape, size))
  return np.frombuffer(data, dtype, offset=header).reshape(shape)


def write_matrix(path, array):
  """Writes a uint8 or int32 array in the binary matrix format (tests)."""
  array = np.asarray(array)
  magic = {np.dtype(np.uint8): 0x1E3D4C55,
           np.dtype(np.int32): 0x1E3D4C54}[array.dtype]
  dims = list(array.shape) + [1] * (3 - array.ndim)
  header = np.array([magic - (1 << 32) if magic >= 1 << 31 else magic,
                     array.ndim] + dims, '<i4')
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wb') as f:
    f.write(header.tobytes() + array.astype(array.dtype.newbyteorder('<'))
            .tobytes())


def load_split(data_dir, split):
  """(images uint8 [n, 2, 96, 96], labels [n], info [n, 4]) of a split."""
  arrays = [read_matrix(idx.find_file(data_dir, PREFIX[split] + kind + '.mat'))
            for kind in ('dat', 'cat', 'info')]
  images, labels, info = arrays
  n = images.shape[0]
  if images.ndim != 4 or images.shape[1] != 2 or images.dtype != np.uint8:
    raise errors.DataError('%s: dat has shape %s, expected [n, 2, h, w] uint8' %
                           (PREFIX[split], images.shape))
  if labels.shape != (n,) or info.shape != (n, 4):
    raise errors.DataError('%s: cat %s / info %s do not match %d images' %
                           (PREFIX[split], labels.shape, info.shape, n))
  if labels.min() < 0 or labels.max() > 4:
    raise errors.DataError('%scat.mat: category out of range 0..4' %
                           PREFIX[split])
  return images, labels, info


def example(image_pair, label, meta):
  """Serialized tf.Example of one stereo pair uint8 [2, h, w]."""
  def int64s(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  return tf.train.Example(features=tf.train.Features(feature={
      'height': int64s([image_pair.shape[1]]),
      'width': int64s([image_pair.shape[2]]),
      'depth': int64s([image_pair.shape[0]]), 'label': int64s([int(label)]),
      'meta': int64s([int(m) for m in meta]),
      'image_raw': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[image_pair.tobytes()]))})).SerializeToString()


def convert(data_dir, output_dir, split):
  """Writes {split}duo.tfrecords; returns its path."""
  images, labels, info = load_split(data_dir, split)
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, OUTPUT[split])
  records.write_records(path, (example(images[i], labels[i], info[i])
                               for i in range(images.shape[0])))
  return path


def convert_tfds(tfds_split, output_dir, split, data_dir=None):
  """The same records from tensorflow-datasets' `smallnorb` (needs it
  downloaded or a network); returns the path written."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  dataset = tfds.load('smallnorb', split=tfds_split, data_dir=data_dir)
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, OUTPUT[split])

  def examples():
    for ex in tfds.as_numpy(dataset):
      pair = np.stack([ex['image'][..., 0], ex['image2'][..., 0]])
      meta = [ex['instance'], ex['label_elevation'], ex['label_azimuth'],
              ex['label_lighting']]
      yield example(pair.astype(np.uint8), ex['label_category'], meta)
  records.write_records(path, examples())
  return path


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('data_dir', None, 'Directory of the published '
                      'smallNORB .mat files (raw or .gz).')
  flags.DEFINE_string('output_dir', None, 'Where to write the records.')
  flags.DEFINE_list('splits', ['train', 'test'], 'Splits to convert.')
  flags.DEFINE_enum('source', 'files', ['files', 'tfds'], 'files: the '
                    'published .mat files; tfds: tensorflow-datasets '
                    '(online, or its data_dir already filled).')


def main(argv):
  del argv
  if not FLAGS.output_dir or (FLAGS.source == 'files' and not FLAGS.data_dir):
    sys.exit('smallnorb_convert.py: --output_dir (and --data_dir for '
             '--source=files) are required')

  def write():
    for split in FLAGS.splits:
      if split not in OUTPUT:
        raise errors.DataError('--splits: %r is not train or test' % split)
      if FLAGS.source == 'tfds':
        yield convert_tfds(split, FLAGS.output_dir, split, FLAGS.data_dir)
      else:
        yield convert(FLAGS.data_dir, FLAGS.output_dir, split)
  errors.report_writes('smallnorb_convert.py', write)


if __name__ == '__main__':
  define_flags()
  app.run(main)
