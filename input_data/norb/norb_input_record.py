"""smallNORB from the original's `{train,test}duo.tfrecords`.

Record features (written by smallnorb_convert.py):
  height, width, depth (=2, the stereo pair), label (0..4): int64
  meta: int64 [4];  image_raw: bytes, uint8 [depth, height, width]
Preprocessing as the original: resize 96 -> 48 with TF1's bilinear
`resize_images` (no half-pixel centres: 96 -> 48 takes every other pixel);
training: brightness +-63, then contrast 0.2..1.8, both on the whole 48x48
image, then a random 32x32 crop; test: central 32x32 crop; then per-image
standardization. Output 32x32x2 depth-major, 5 classes.
"""

import os

import tensorflow as tf

from input_data import augment
from input_data import errors
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


def resize(image, size=RESIZE):
  """image [h, w, c] -> float32 [size, size, c] as TF1's default
  `tf.image.resize_images` (bilinear, align_corners=False, no half-pixel
  centres: output pixel i samples input i * h / size). TF2's
  `tf.image.resize` samples at half-pixel centres and gives other pixels."""
  return tf.compat.v1.image.resize_bilinear(
      tf.cast(image, tf.float32)[None], [size, size], align_corners=False,
      half_pixel_centers=False)[0]


def norb_source(data_dir, split):
  """An ExampleSource of smallNORB 'train' or 'test' records."""
  if split not in FILES:
    raise ValueError('split must be train or test, got %r' % (split,))
  path = os.path.join(data_dir, FILES[split])
  if not os.path.isfile(path):
    raise errors.DataError('%s: no such file (make it with input_data/norb/'
                           'smallnorb_convert.py)' % path)
  height, width, depth = records.first_record_shape(path, FEATURES)

  def make_examples():
    return tf.data.TFRecordDataset(path).map(
        lambda s: parse_record(s, height, width, depth),
        num_parallel_calls=tf.data.AUTOTUNE)
  return source.ExampleSource(
      make_examples, records.count_records([path]),
      source.DatasetInfo(CROP_SIZE, depth, 5, 1),
      train_fn=lambda image, seed: augment.distort(resize(image), CROP_SIZE,
                                                   seed, crop_first=False),
      eval_fn=lambda image: augment.centre(resize(image), CROP_SIZE),
      describe=path)
