"""The interface every reader returns, the training stream they share, and
the generic sources: InMemorySource (the MNIST family) and ExampleSource.

The training pipeline order, and why:
  parse once -> memory  the decoded uint8 split (in-memory sources: as read;
                        smallNORB, CIFAR-10: one element, cached)
  -> positional stream  (index, element seed): each epoch a uniform
                        permutation drawn from (seed, epoch), each element's
                        stateless seed from (seed, position); a resumed run
                        asks for the stream from where it stopped
  -> map(gather + augment, AUTOTUNE)   augmentation after the memory so
                        every epoch draws new distortions; stateless seeds
                        make it reproducible whatever the parallelism
  -> batch -> prefetch
Evaluation: parse -> first eval_size -> preprocess -> batch (the last one
partial) -> prefetch, in file order.
"""

import collections
from typing import Optional, Protocol

import numpy as np
import tensorflow as tf

from input_data import augment
from input_data import errors
from input_data import pixels

DatasetInfo = collections.namedtuple(
    'DatasetInfo', ('height', 'depth', 'num_classes', 'num_targets'))


class DataSource(Protocol):
  """What training and evaluation read: every reader returns one of these.

  Batches are dicts of the original's feature keys (see
  input_data/mnist/mnist_input_record.py); `info` gives their static shape.
  """
  info: DatasetInfo
  # Examples in the split, or None for a stream that does not count them
  # (MultiMNIST shards).
  num_examples: Optional[int]
  # Names the data (files) in error messages.
  describe: str

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    """Endless shuffled, augmented batches (per replica with a
    tf.distribute.InputContext); reproducible for a seed.

    start: the examples this pipeline already gave (a resumed run): every
    source continues exactly the stream of an uninterrupted run (order and
    augmentation are functions of seed and position)."""

  def eval_dataset(self, batch_size, eval_size):
    """The first eval_size examples in order, the last batch partial."""


def synthetic_batch(batch_size, info, seed=0):
  """A batch of the readers' feature dict (NumPy) of random images, for
  timing and tests: labels 0, 1, 2, ... (and a second, other label for two
  targets), images uniform in [0, 1) drawn from seed."""
  rng = np.random.RandomState(seed)
  pixels = info.height * info.height * info.depth
  classes = info.num_classes
  labels_1 = np.arange(batch_size) % classes
  features = {
      'images': rng.rand(batch_size, pixels).astype(np.float32),
      'recons_label': labels_1.astype(np.int64),
      'labels': np.eye(classes, dtype=np.float32)[labels_1],
  }
  features['recons_image'] = features['images']
  if info.num_targets == 2:
    labels_2 = (labels_1 + 1 + np.arange(batch_size) % (classes - 1)) % classes
    features['spare_label'] = labels_2.astype(np.int64)
    features['spare_image'] = rng.rand(batch_size, pixels).astype(np.float32)
    features['labels'] = features['labels'] + np.eye(
        classes, dtype=np.float32)[labels_2]
  return features


def first_examples(source, count):
  """One batch of the first (at most) count examples of a source's split,
  in file order, without augmentation."""
  count = min(count, source.num_examples or count)
  return next(iter(source.eval_dataset(count, count)))


_ENDLESS = 2 ** 62


def positional_stream(n, seed, input_context=None, start=0):
  """(index, element seed [2]) of an endless training stream over n
  in-memory examples, from position `start` of this pipeline's stream.

  Epoch e is a uniform permutation of the pipeline's share of the indices
  (with an InputContext: every num_input_pipelines-th, from its id) drawn
  from (seed, e) alone; the element at position q gets the stateless seed
  (seed, q * pipelines + id). Both are functions of the position, so a run
  resumed at `start` continues the very stream an uninterrupted run reads.
  """
  pipelines, pipeline = pipeline_share(input_context)
  indices = tf.range(pipeline, n, pipelines, dtype=tf.int64)
  share = (n - pipeline + pipelines - 1) // pipelines
  if share < 1:
    raise ValueError('%d examples cannot feed %d input pipelines' %
                     (n, pipelines))
  first_epoch = start // share
  order = tf.data.Dataset.range(first_epoch, _ENDLESS).flat_map(
      lambda epoch: tf.data.Dataset.from_tensor_slices(
          tf.random.experimental.stateless_shuffle(
              indices, seed=tf.stack([tf.constant(seed, tf.int64), epoch]))))
  order = order.skip(start - first_epoch * share)
  seeds = tf.data.Dataset.range(start, _ENDLESS).map(
      lambda q: tf.stack([tf.constant(seed, tf.int64), q * pipelines +
                          pipeline]))
  return tf.data.Dataset.zip(order, seeds)


def pipeline_share(input_context):
  """(number of input pipelines, this one's id)."""
  if input_context is None:
    return 1, 0
  return input_context.num_input_pipelines, input_context.input_pipeline_id


def _shard_order(num_shards, seed, epoch):
  """The shards' order in an epoch: a permutation drawn from (seed, epoch)
  alone (the same in tf.data and eagerly)."""
  return tf.random.experimental.stateless_shuffle(
      tf.range(num_shards, dtype=tf.int64),
      seed=tf.stack([tf.constant(seed, tf.int64),
                     tf.cast(epoch, tf.int64)]))


def locate(paths, seed, start, count):
  """(epoch, shards of it already read, records read of the next one): where
  position `start` is in the stream of positional_shards. count(path) gives
  a shard's records; only the shards before `start` are counted (all of
  them once `start` is past the first epoch)."""
  epoch, left = 0, start
  while True:
    for rank, shard in enumerate(_shard_order(len(paths), seed, epoch)):
      records_in_shard = count(paths[int(shard)])
      if left < records_in_shard:
        return epoch, rank, left
      left -= records_in_shard
    total = sum(count(path) for path in paths)  # All counted by now.
    if total == 0:
      raise errors.DataError('%s: no records' % ', '.join(paths))
    epoch, left = epoch + 1 + left // total, left % total


def positional_shards(paths, seed, window, position):
  """(path, index in the file, serialized record) of an endless training
  stream over record files too large for memory, from `position` (what
  `locate` gives for the examples already read).

  Epoch e reads every shard once, in an order drawn from (seed, e); each
  shard in windows of `window` consecutive records, each window in a
  permutation drawn from (seed, e, shard, window). Like a shuffle buffer of
  `window` records, but every draw is a function of the position: a
  resumed run reads the same records in the same order as one that never
  stopped, and it reopens only one shard to get there.
  """
  epoch, rank, offset = position
  path_list = tf.constant(paths)

  def shards_of(e):  # (epoch, shard) in the epoch's order
    order = _shard_order(len(paths), seed, e)
    return tf.data.Dataset.from_tensor_slices((tf.fill([len(paths)], e),
                                               order))

  def records_of(e, shard):
    path = tf.gather(path_list, shard)
    shard_seed = tf.random.experimental.stateless_fold_in(
        tf.stack([tf.constant(seed, tf.int64), e]), shard)

    def shuffled(w, window_records):  # [n] serialized records
      n = tf.shape(window_records, out_type=tf.int64)[0]
      order = tf.random.experimental.stateless_shuffle(
          tf.range(n), tf.random.experimental.stateless_fold_in(shard_seed,
                                                                w))
      return (tf.fill([n], path), w * window + order,
              tf.gather(window_records, order))
    # One window read ahead while the one before it is consumed.
    return tf.data.TFRecordDataset(path).batch(window).enumerate().map(
        shuffled).prefetch(1).unbatch()

  ds = tf.data.Dataset.range(epoch, _ENDLESS).flat_map(shards_of).skip(rank)
  return ds.flat_map(records_of).skip(offset)


def one_target_features(image, label, num_classes):
  """The feature dict of image float [..., pixels] (depth-major) and its
  label [...]: one example or a batch."""
  label = tf.cast(label, tf.int64)
  return {'images': image, 'labels': tf.one_hot(label, num_classes),
          'recons_image': image, 'recons_label': label}


class ExampleSource:
  """Train/eval pipelines over `make_examples()`, a split small enough to
  hold in memory (see the module doc).

  Training reads the whole split once, as one cached element (decoded
  uint8), then draws the positional stream over it
  (positional_stream): each epoch a uniform permutation, the distribution of
  a shuffle buffer as large as the split, and a resumed run continues the
  very stream of an uninterrupted one.

  Args:
    make_examples: () -> tf.data.Dataset of (image uint8 [h, w, c], label).
    num_examples: size of the split.
    info: DatasetInfo of the preprocessed examples.
    train_fn: (image, seed [2]) -> float image [h', w', c], augmented.
    eval_fn: image -> float image [h', w', c].
    describe: names the files, for error messages.
  """

  def __init__(self, make_examples, num_examples, info, train_fn, eval_fn,
               describe):
    self.make_examples = make_examples
    self.num_examples = num_examples
    self.info = info
    self.train_fn = train_fn
    self.eval_fn = eval_fn
    self.describe = describe

  def _features(self, image, label):
    return one_target_features(augment.depth_major(image), label,
                               self.info.num_classes)

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    # The whole split as one element, read once (within the pipeline, so a
    # damaged file is reported by the loop that reads it) and kept by the
    # cache; each position of the stream gathers its example from it.
    split = self.make_examples().batch(self.num_examples).cache().repeat()

    def example(images_and_labels, position):
      images, labels = images_and_labels  # [n, h, w, c], [n]
      index, element_seed = position
      image = self.train_fn(tf.gather(images, index), element_seed)
      return self._features(image, tf.gather(labels, index))

    ds = tf.data.Dataset.zip(split, positional_stream(
        self.num_examples, seed, input_context, start))
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE)

  def eval_dataset(self, batch_size, eval_size):
    errors.check_eval_size(eval_size, self.describe, self.num_examples)
    ds = self.make_examples().take(eval_size)
    ds = ds.map(lambda image, label: self._features(self.eval_fn(image),
                                                    label),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _uint8_features(images_u8, labels, num_classes, height=None, depth=1):
  """Batched uint8 images [b, pixels] (rows, columns, channels: HWC) and
  labels [b] -> the feature dict (images depth-major)."""
  if depth > 1:  # [b, h*w*c] HWC -> [b, c*h*w] depth-major.
    images_u8 = tf.reshape(tf.transpose(tf.reshape(
        images_u8, [-1, height, height, depth]), [0, 3, 1, 2]),
                           [-1, depth * height * height])
  return one_target_features(pixels.to_unit(images_u8), labels, num_classes)


class InMemorySource:
  """Square images held in memory as uint8: MNIST (records or IDX files),
  Fashion-MNIST, expanded MNIST, affNIST, affine-MNIST (depth 1), and one's
  own images (input_data/own/: any depth and number of classes).

  Training draws a fresh uniform permutation of the whole split every epoch
  (a shuffled index stream: a few MB even for the 1.5M shifted records),
  optionally shifting/flipping each image on the fly.
  """

  def __init__(self, images, labels, height, describe, num_classes=10,
               shift=0, flip=False, depth=1):
    self.images = images  # uint8 [n, h*w*depth], each image HWC
    self.labels = labels  # int [n]
    self.info = DatasetInfo(height, depth, num_classes, 1)
    self.describe = describe
    self.shift = shift
    self.flip = flip

  @property
  def num_examples(self):
    return self.images.shape[0]

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    """Endless shuffled batches of batch_size (per replica if input_context),
    from position `start` of the stream (positional_stream)."""
    n, height, depth = self.num_examples, self.info.height, self.info.depth
    gather = self._gather()
    labels = tf.constant(self.labels)
    shift, flip = self.shift, self.flip
    # [h, w] for depth 1: the MNIST family's graph as it always was.
    shape = [height, height] + ([depth] if depth > 1 else [])

    def example(index, element_seed):
      image = tf.reshape(gather(index), shape)
      seeds = tf.random.experimental.stateless_split(element_seed, 2)
      if shift:
        image = augment.random_shift(image, shift, seeds[0])
      if flip:
        image = augment.random_flip(image, seeds[1])
      return (tf.reshape(image, [height * height * depth]),
              tf.gather(labels, index))

    # Shuffle indices, not images: a permutation costs 8 bytes an example,
    # a new uniform one each epoch. Order and per-element stateless seeds
    # are functions of (seed, position): reproducible whatever the map's
    # parallelism, and a resumed run continues the same stream.
    ds = positional_stream(n, seed, input_context, start)
    ds = ds.map(example, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size, drop_remainder=True)
    ds = ds.map(self._features, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)

  def _gather(self):
    """index (or indices) -> uint8 image(s) [..., pixels]: from a constant
    of the split, or for a np.memmap (a split too large for memory:
    input_data/own/image_cache.py) read from its file as asked for."""
    if not isinstance(self.images, np.memmap):
      images = tf.constant(self.images)
      return lambda index: tf.gather(images, index)
    images, pixels = self.images, self.images.shape[1]

    def gather(index):
      image = tf.numpy_function(lambda i: np.asarray(images[i]), [index],
                                tf.uint8, stateful=False)
      return tf.ensure_shape(image, index.shape.as_list() + [pixels])
    return gather

  def _features(self, images_u8, labels):
    return _uint8_features(images_u8, labels, self.info.num_classes,
                           self.info.height, self.info.depth)

  def eval_dataset(self, batch_size, eval_size):
    """The first eval_size examples, in order, the last batch partial."""
    errors.check_eval_size(eval_size, self.describe, self.num_examples)
    if isinstance(self.images, np.memmap):  # Read a batch at a time.
      gather, labels = self._gather(), tf.constant(self.labels[:eval_size])
      ds = tf.data.Dataset.range(eval_size).batch(batch_size).map(
          lambda index: (gather(index), tf.gather(labels, index)))
    else:
      ds = tf.data.Dataset.from_tensor_slices(
          (self.images[:eval_size], self.labels[:eval_size]))
      ds = ds.batch(batch_size)
    ds = ds.map(self._features)
    return ds.prefetch(tf.data.AUTOTUNE)
