"""A data source over a finite dataset of (image, label) examples.

The pipeline order, and why:
  parse -> cache       decoded uint8 examples kept in memory after epoch 1
  -> shuffle(all)      a uniform order over the whole split, new each epoch
  -> repeat
  -> zip(seeds) -> map(preprocess, AUTOTUNE)   augmentation after the cache
                       so every epoch draws new distortions; stateless seeds
                       make it reproducible whatever the parallelism
  -> batch -> prefetch
Evaluation: parse -> first eval_size -> preprocess -> batch (the last one
partial) -> prefetch, in file order.
"""

import collections
from typing import Optional, Protocol

import tensorflow as tf

from input_data import augment
from input_data import errors

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

    start: the examples this pipeline already gave (a resumed run). The
    in-memory sources continue exactly the stream of an uninterrupted run
    (order and augmentation are functions of seed and position); the
    streamed ones (records read through a shuffle buffer) start a new
    order from (seed, start)."""

  def eval_dataset(self, batch_size, eval_size):
    """The first eval_size examples in order, the last batch partial."""


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
  pipelines, pipeline = 1, 0
  if input_context is not None:
    pipelines = input_context.num_input_pipelines
    pipeline = input_context.input_pipeline_id
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


def resumed_seed(seed, start):
  """The shuffle seed of a stream that cannot start at a position (records
  through a shuffle buffer): a new order for each resume."""
  return seed * 1000003 + start


def shuffled_with_seeds(ds, buffer_size, seed, input_context=None,
                        cache=False):
  """The training prefix of the streamed sources: (shard) -> (cache) ->
  shuffle(buffer_size) -> repeat, each element paired with its own
  stateless seed [2] for the augmentation that follows."""
  if input_context is not None:
    ds = ds.shard(input_context.num_input_pipelines,
                  input_context.input_pipeline_id)
  if cache:
    ds = ds.cache()
  ds = ds.shuffle(buffer_size, seed=seed,
                  reshuffle_each_iteration=True).repeat()
  return tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed=seed).batch(2))


def one_target_features(image, label, num_classes):
  """The feature dict of image float [..., pixels] (depth-major) and its
  label [...]: one example or a batch."""
  label = tf.cast(label, tf.int64)
  return {'images': image, 'labels': tf.one_hot(label, num_classes),
          'recons_image': image, 'recons_label': label}


class ExampleSource:
  """Train/eval pipelines over `make_examples()` (see the module doc).

  Args:
    make_examples: () -> tf.data.Dataset of (image uint8 [h, w, c], label).
    num_examples: size of the split (the shuffle buffer).
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
    ds = shuffled_with_seeds(self.make_examples(), self.num_examples,
                             resumed_seed(seed, start), input_context,
                             cache=True)
    ds = ds.map(lambda example, s: self._features(
        self.train_fn(example[0], s), example[1]),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE)

  def eval_dataset(self, batch_size, eval_size):
    if eval_size > self.num_examples:
      raise errors.too_few_examples(eval_size, self.describe,
                                    self.num_examples)
    ds = self.make_examples().take(eval_size)
    ds = ds.map(lambda image, label: self._features(self.eval_fn(image),
                                                    label),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
