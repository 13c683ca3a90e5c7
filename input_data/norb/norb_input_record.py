"""smallNORB from the original's `{train,test}duo.tfrecords`.

Record features (written by smallnorb_convert.py):
  height, width, depth (=2, the stereo pair), label (0..4): int64
  meta: int64 [4];  image_raw: bytes, uint8 [depth, height, width]
Preprocessing as the original: resize 96 -> 48; training: random 32x32 crop,
brightness +-63, contrast 0.2..1.8; test: central 32x32 crop; then
per-image standardization. Output 32x32x2 depth-major, 5 classes.
"""

import os

import tensorflow as tf

from input_data import augment
from input_data import idx
from input_data import records
from input_data import source

RESIZE = 48
CROP_SIZE = 32
FILES = {'train': 'trainduo.tfrecords', 'test': 'testduo.tfrecords'}
FEATURES = {
    'height': tf.io.FixedLenFeature([], tf.int64),
    'width': tf.io.FixedLenFeature([], tf.int64),
    'depth': tf.io.FixedLenFeature([], tf.int64),
    'label': tf.io.FixedLenFeature([], tf.int64),
    'meta': tf.io.FixedLenFeature([4], tf.int64),
    'image_raw': tf.io.FixedLenFeature([], tf.string),
}


def parse_record(serialized, height, width, depth):
  """-> (image uint8 [height, width, depth], label int64)."""
  parsed = tf.io.parse_single_example(serialized, FEATURES)
  image = records.decode_image(parsed['image_raw'], height * width * depth)
  image = tf.transpose(tf.reshape(image, [depth, height, width]), [1, 2, 0])
  return image, parsed['label']


def _resize(image):
  return tf.image.resize(tf.cast(image, tf.float32), [RESIZE, RESIZE])


def norb_source(data_dir, split):
  """An ExampleSource of smallNORB 'train' or 'test' records."""
  if split not in FILES:
    raise ValueError('split must be train or test, got %r' % (split,))
  path = os.path.join(data_dir, FILES[split])
  if not os.path.isfile(path):
    raise idx.DataError('%s: no such file (make it with input_data/norb/'
                        'smallnorb_convert.py)' % path)
  height, width, depth = records.first_record_shape(path, FEATURES)

  def make_examples():
    return tf.data.TFRecordDataset(path).map(
        lambda s: parse_record(s, height, width, depth),
        num_parallel_calls=tf.data.AUTOTUNE)
  return source.ExampleSource(
      make_examples, records.count_records([path]),
      source.DatasetInfo(CROP_SIZE, depth, 5, 1),
      train_fn=lambda image, seed: augment.distort(_resize(image), CROP_SIZE,
                                                   seed),
      eval_fn=lambda image: augment.centre(_resize(image), CROP_SIZE),
      describe=path)
