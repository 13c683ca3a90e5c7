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

  def train_dataset(self, batch_size, seed, input_context=None):
    """Endless shuffled, augmented batches (per replica with a
    tf.distribute.InputContext); reproducible for a seed."""

  def eval_dataset(self, batch_size, eval_size):
    """The first eval_size examples in order, the last batch partial."""


def first_examples(source, count):
  """One batch of the first (at most) count examples of a source's split,
  in file order, without augmentation."""
  count = min(count, source.num_examples or count)
  return next(iter(source.eval_dataset(count, count)))


def shuffled_with_seeds(ds, buffer_size, seed, input_context=None,
                        cache=False):
  """The training prefix every source shares: (shard) -> (cache) ->
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

  def train_dataset(self, batch_size, seed, input_context=None):
    ds = shuffled_with_seeds(self.make_examples(), self.num_examples, seed,
                             input_context, cache=True)
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
