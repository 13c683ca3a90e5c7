"""tf.data readers of MNIST-like data: shifted MNIST records, IDX files with
shifts made on the fly, Fashion-MNIST, and MultiMNIST shards.

Every pipeline yields dicts of the original's keys, batched:
  images        float32 [batch, depth*height*width], depth-major, in [0, 1]
  labels        float32 [batch, classes], one-hot (two-hot for two targets)
  recons_image  float32 like images: the digit to reconstruct
  recons_label  int64 [batch]
  spare_image, spare_label   the second digit (two targets only)
Static facts (height, depth, num_classes, num_targets) are in `DatasetInfo`.

Single-digit splits are held by the generic `source.InMemorySource` (also
affNIST's reader); the shift and flip made on the fly are in `augment.py`.

Record features read (see mnist_shift.py, which writes them):
  single digit: height, width, depth, label (int64), image_raw (uint8 bytes)
  MultiMNIST:   height, width, depth, label_1, label_2 (int64),
                image_raw_1, image_raw_2, merged_raw (uint8 bytes)
"""

import os

import numpy as np
import tensorflow as tf

from input_data import augment
from input_data import errors
from input_data import pixels
from input_data import records
from input_data import source
from input_data.mnist import splits

DatasetInfo = source.DatasetInfo

_SINGLE_FEATURES = {
    'height': tf.io.FixedLenFeature([], tf.int64),
    'width': tf.io.FixedLenFeature([], tf.int64),
    'depth': tf.io.FixedLenFeature([], tf.int64),
    'label': tf.io.FixedLenFeature([], tf.int64),
    'image_raw': tf.io.FixedLenFeature([], tf.string),
}
_MULTI_FEATURES = {
    'height': tf.io.FixedLenFeature([], tf.int64),
    'width': tf.io.FixedLenFeature([], tf.int64),
    'depth': tf.io.FixedLenFeature([], tf.int64),
    'label_1': tf.io.FixedLenFeature([], tf.int64),
    'label_2': tf.io.FixedLenFeature([], tf.int64),
    'image_raw_1': tf.io.FixedLenFeature([], tf.string),
    'image_raw_2': tf.io.FixedLenFeature([], tf.string),
    'merged_raw': tf.io.FixedLenFeature([], tf.string),
}


def load_single_records(path):
  """All records of a single-digit file into memory.

  Returns:
    (images uint8 [n, h*w*d], labels int64 [n], (height, width, depth)).
  """
  height, width, depth = records.first_record_shape(path, _SINGLE_FEATURES)
  num_pixels = height * width * depth

  def parse(serialized):
    parsed = tf.io.parse_example(serialized, _SINGLE_FEATURES)
    images = tf.map_fn(lambda r: records.decode_image(r, num_pixels),
                       parsed['image_raw'], fn_output_signature=tf.uint8)
    return images, parsed['label']
  images, labels = [], []
  try:
    for image_batch, label_batch in (tf.data.TFRecordDataset(path)
                                     .batch(8192).map(parse)):
      images.append(image_batch.numpy())
      labels.append(label_batch.numpy())
  except tf.errors.OpError as e:
    raise errors.DataError('%s: corrupt record (%s)' %
                           (path, e.message.splitlines()[0])) from e
  return np.concatenate(images), np.concatenate(labels), (height, width, depth)


def _two_target_features(serialized, num_pixels, num_classes, where=()):
  parsed = tf.io.parse_single_example(serialized, _MULTI_FEATURES)

  def image(key):
    return pixels.to_unit(records.decode_image(parsed[key], num_pixels, key,
                                               where))
  return {
      'images': image('merged_raw'),
      'labels': (tf.one_hot(parsed['label_1'], num_classes) +
                 tf.one_hot(parsed['label_2'], num_classes)),
      'recons_image': image('image_raw_1'), 'recons_label': parsed['label_1'],
      'spare_image': image('image_raw_2'), 'spare_label': parsed['label_2'],
  }


class MultiMnistSource:
  """MultiMNIST pairs streamed from `PREFIX@N` shards (too many for memory).

  Training reads source.positional_shards: every shard once an epoch in a
  new order, each in shuffled windows of `window` records (the generator
  already spread the pairs randomly over the shards); a resumed run counts
  the records of the shards it had read, once, to continue where it
  stopped.
  """

  WINDOW = 100000  # Records shuffled together: about 400 MB of 36x36 pairs.

  num_examples = None  # Not counted: the paper's sets have 10M-60M pairs.

  def __init__(self, pattern, window=WINDOW):
    self.describe = pattern
    self.paths = records.expand_pattern(pattern)
    height, width, depth = records.first_record_shape(self.paths[0],
                                                      _MULTI_FEATURES)
    if height != width or depth != 1:
      raise errors.DataError('%s: %dx%dx%d images, expected square, depth 1' %
                             (self.paths[0], height, width, depth))
    self.info = DatasetInfo(height, 1, 10, 2)
    self.window = window
    self._counts = {}  # Records of each shard a resume passed.

  def _count(self, path):
    """Records in the shard. A damaged shard raises the reader's op error,
    as the training loop would meet it: the runner names the record."""
    if path not in self._counts:
      self._counts[path] = records.records_in(path)
    return self._counts[path]

  def _parse(self, ds):
    """(path, index, record) -> features; a record of the wrong size names
    its shard file, its index there and the feature."""
    num_pixels = self.info.height ** 2
    return ds.map(lambda path, index, record: _two_target_features(
        record, num_pixels, 10, ('record', index, 'of', path)),
                  num_parallel_calls=tf.data.AUTOTUNE)

  def locate_damage(self):
    """Where the first record that does not read or parse is (see
    records.locate_damage), or None."""
    num_pixels = self.info.height ** 2
    return records.locate_damage(self.paths, lambda record: (
        _two_target_features(record, num_pixels, 10)))

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    pipelines, pipeline = source.pipeline_share(input_context)
    paths = self.paths[pipeline::pipelines]  # This pipeline's shards.
    if not paths:
      raise errors.DataError('%s: %d shards cannot feed %d input pipelines' %
                             (self.describe, len(self.paths), pipelines))
    position = source.locate(paths, seed, start, self._count)
    ds = source.positional_shards(paths, seed, self.window, position)
    ds = self._parse(ds).batch(batch_size, drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)

  def eval_dataset(self, batch_size, eval_size):
    # Counted (up to eval_size) before the pass: a short test set fails now,
    # not after a whole evaluation of it.
    available = records.count_records(self.paths, limit=eval_size)
    errors.check_eval_size(eval_size, self.describe, available)
    # In file order, numbered within each file.
    ds = tf.data.Dataset.from_tensor_slices(self.paths).flat_map(
        records.numbered_records).take(eval_size)
    return self._parse(ds).batch(batch_size).prefetch(tf.data.AUTOTUNE)


class MultiMnistOnTheFlySource:
  """MultiMNIST pairs made in tf.data with the generator's rules.

  Each base image (a uniform permutation of the split per epoch) is paired
  with a partner drawn uniformly from the images of another label; both are
  padded by `pad`, shifted by their own uniform (dy, dx) in [-shift, shift]
  and merged = min(a + b, 255): each pair has the generator's distribution.
  What is not reproduced is how the generator ties the pairs of one base
  together (one shift of the base in all of them, distinct partners): here
  every pair is drawn afresh, which only adds variety. The paper's 60M
  training pairs need no disk. Evaluation pairs are a fixed function of
  `eval_seed`.
  """

  def __init__(self, images, labels, describe, shift=4, pad=4, eval_seed=0):
    self.describe = describe
    images = splits.pad_images(images, pad)  # [n, h, w] uint8
    self.height = images.shape[1]
    self.images = images.reshape(images.shape[0], -1)
    self.labels = labels.astype(np.int64)
    self.shift = shift
    self.eval_seed = eval_seed
    self.info = DatasetInfo(self.height, 1, 10, 2)
    # Images sorted by label, to draw "any image of another label" in O(1).
    self.order = np.argsort(self.labels, kind='stable')
    counts = np.bincount(self.labels, minlength=10)
    self.counts = counts.astype(np.int64)
    self.starts = (np.cumsum(counts) - counts).astype(np.int64)

  @property
  def num_examples(self):
    return self.images.shape[0]

  def _pair(self, index, seed):
    """Features of the pair based on image `index`, drawn with seed [2]."""
    images, labels = tf.constant(self.images), tf.constant(self.labels)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    label_1 = tf.gather(labels, index)
    count, start = (tf.gather(tf.constant(self.counts), label_1),
                    tf.gather(tf.constant(self.starts), label_1))
    # Uniform over the n - count images of other labels: skip own block.
    r = tf.random.stateless_uniform([], seeds[0], 0, self.num_examples - count,
                                    dtype=tf.int64)
    r = tf.where(r >= start, r + count, r)
    partner = tf.gather(tf.constant(self.order), r)
    h = self.height

    def shifted(i, s):
      image = tf.reshape(tf.gather(images, i), [h, h])
      return tf.reshape(augment.random_shift(image, self.shift, s), [h * h])
    a, b = shifted(index, seeds[1]), shifted(partner, seeds[2])
    merged = tf.minimum(tf.cast(a, tf.int32) + tf.cast(b, tf.int32), 255)
    label_2 = tf.gather(labels, partner)
    return {
        'images': pixels.to_unit(merged),
        'labels': tf.one_hot(label_1, 10) + tf.one_hot(label_2, 10),
        'recons_image': pixels.to_unit(a),
        'recons_label': label_1,
        'spare_image': pixels.to_unit(b),
        'spare_label': label_2,
    }

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    ds = source.positional_stream(self.num_examples, seed, input_context,
                                  start)
    ds = ds.map(self._pair, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE)

  def eval_dataset(self, batch_size, eval_size):
    # One pair per image of the split, as every source gives each example
    # once: more pairs per digit come from the generator's records.
    errors.check_eval_size(eval_size, self.describe, self.num_examples)
    # Pair k is based on image k with seed (eval_seed, k): a fixed set.
    ds = tf.data.Dataset.range(eval_size).map(
        lambda k: self._pair(k,
                             tf.stack([tf.constant(self.eval_seed,
                                                   tf.int64), k])),
        num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def mnist_source(data_dir, split, num_targets=1, validate=False,
                 data_source='records', shift=2, flip=False):
  """The MNIST-family source the experiment asked for.

  Args:
    data_dir: records directory; for data_source='idx' the IDX directory;
      for MultiMNIST records a `PREFIX@N` shard pattern (the original's
      convention).
    split: 'train' or 'test'.
    num_targets: 1 (MNIST) or 2 (MultiMNIST: records, or with
      data_source='idx' pairs made on the fly, shift 4 after padding 4).
    validate: read the held-out split files (valid_train / valid_test).
    data_source: 'records' (the generator's files) or 'idx' (shifts made on
      the fly).
    shift: training shift of the records' names / of the on-the-fly shifts.
    flip: random horizontal flips on the fly (Fashion-MNIST).
  """
  if split not in ('train', 'test'):
    raise ValueError('split must be train or test, got %r' % (split,))
  record_split = ('valid_' + split) if validate else split
  if num_targets == 2 and data_source == 'idx':
    images, labels = splits.load_split(data_dir, record_split)
    return MultiMnistOnTheFlySource(images, labels, describe=data_dir)
  if num_targets == 2:
    return MultiMnistSource(data_dir)
  if data_source == 'idx':
    images, labels = splits.load_split(data_dir, record_split)
    height = images.shape[1]
    return source.InMemorySource(images.reshape(images.shape[0], -1),
                                 labels.astype(np.int64), height,
                                 describe=data_dir,
                                 shift=shift if split == 'train' else 0,
                                 flip=flip and split == 'train')
  if data_source != 'records':
    raise ValueError('data_source must be records or idx, got %r' %
                     (data_source,))
  path = os.path.join(data_dir, splits.record_name(
      record_split, shift if split == 'train' else 0, False))
  if not os.path.isfile(path):
    raise errors.DataError('%s: no such file (make it with input_data/mnist/'
                           'mnist_shift.py --split=%s --shift=%d)' %
                           (path, record_split, shift if split == 'train' else 0))
  images, labels, (height, width, depth) = load_single_records(path)
  if height != width or depth != 1:
    raise errors.DataError('%s: %dx%dx%d images, expected square, depth 1' %
                           (path, height, width, depth))
  return source.InMemorySource(images, labels, height, describe=path)
