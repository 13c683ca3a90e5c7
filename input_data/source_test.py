"""Tests of input_data/source.py's own functions: the synthetic batch, the
first examples, the positional stream and the generic ExampleSource.

The readers' tests (input_data/mnist/mnist_input_record_test.py, the CIFAR-10
and smallNORB tests) check these through the sources they return; these
check each function against values worked out by hand.
"""

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import source as source_lib


def _stream(n, seed, start, count, pipelines=1, pipeline=0):
  """The first `count` (index, element seed) pairs, as lists."""
  context = (None if pipelines == 1 else tf.distribute.InputContext(
      num_input_pipelines=pipelines, input_pipeline_id=pipeline))
  out = list(source_lib.positional_stream(n, seed, context, start)
             .take(count).as_numpy_iterator())
  return [int(i) for i, _ in out], [s.tolist() for _, s in out]


class SyntheticBatchTest(tf.test.TestCase):

  def test_one_target(self):
    info = source_lib.DatasetInfo(2, 1, 3, 1)
    features = source_lib.synthetic_batch(4, info, seed=5)
    self.assertCountEqual(features,
                          ['images', 'labels', 'recons_image', 'recons_label'])
    # Uniform images drawn from the seed: NumPy's generator of that seed.
    self.assertAllEqual(features['images'],
                        np.random.RandomState(5).rand(4, 4).astype(np.float32))
    self.assertEqual(features['images'].dtype, np.float32)
    self.assertAllEqual(features['recons_image'], features['images'])
    self.assertAllEqual(features['recons_label'], [0, 1, 2, 0])
    self.assertEqual(features['recons_label'].dtype, np.int64)
    self.assertAllEqual(features['labels'],
                        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    self.assertEqual(features['labels'].dtype, np.float32)
    # By default, seed 0.
    self.assertAllEqual(source_lib.synthetic_batch(4, info)['images'],
                        np.random.RandomState(0).rand(4, 4).astype(np.float32))

  def test_two_targets_have_a_second_other_label(self):
    info = source_lib.DatasetInfo(2, 1, 3, 2)
    features = source_lib.synthetic_batch(4, info, seed=1)
    # (label + 1 + position % 2) % 3 for labels 0, 1, 2, 0.
    self.assertAllEqual(features['spare_label'], [1, 0, 0, 2])
    self.assertEqual(features['spare_label'].dtype, np.int64)
    self.assertAllEqual(features['labels'],
                        [[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 1]])
    self.assertEqual(features['labels'].dtype, np.float32)
    rng = np.random.RandomState(1)
    rng.rand(4, 4)  # The first images.
    self.assertAllEqual(features['spare_image'],
                        rng.rand(4, 4).astype(np.float32))


class FirstExamplesTest(tf.test.TestCase):

  def test_at_most_the_split_in_file_order(self):
    images = np.arange(3 * 4, dtype=np.uint8).reshape(3, 4)
    source = source_lib.InMemorySource(images, np.array([7, 8, 9]), 2, 'd',
                                       num_classes=10)
    self.assertAllEqual(source_lib.first_examples(source, 5)['recons_label'],
                        [7, 8, 9])
    first = source_lib.first_examples(source, 2)
    self.assertAllEqual(first['recons_label'], [7, 8])
    self.assertAllClose(first['images'], images[:2] / 255.0)


class PositionalStreamTest(tf.test.TestCase):

  def test_each_epoch_is_a_permutation_and_seeds_follow_the_position(self):
    indices, seeds = _stream(3, 4, 0, 9)
    for epoch in range(3):
      self.assertCountEqual(indices[3 * epoch:3 * epoch + 3], [0, 1, 2])
    self.assertEqual(seeds, [[4, q] for q in range(9)])
    # By default, from the start.
    default = list(source_lib.positional_stream(3, 4).take(9)
                   .as_numpy_iterator())
    self.assertEqual([int(i) for i, _ in default], indices)
    # Another seed, other epochs' orders (of 20 epochs, some differ).
    self.assertNotEqual(_stream(3, 5, 0, 60)[0], _stream(3, 4, 0, 60)[0])

  def test_a_resumed_stream_continues_the_uninterrupted_one(self):
    indices, seeds = _stream(3, 4, 0, 12)
    for start in (1, 3, 5, 7):
      resumed = _stream(3, 4, start, 12 - start)
      self.assertEqual(resumed, (indices[start:], seeds[start:]), start)

  def test_pipelines_read_their_share(self):
    # 5 examples, 2 pipelines: pipeline 1 reads indices 1 and 3 (a share of
    # 2 an epoch), pipeline 0 reads 0, 2 and 4; element q of pipeline p has
    # the seed (seed, 2q + p).
    ones, one_seeds = _stream(5, 3, 0, 6, pipelines=2, pipeline=1)
    for epoch in range(3):
      self.assertCountEqual(ones[2 * epoch:2 * epoch + 2], [1, 3])
    self.assertEqual(one_seeds, [[3, 1], [3, 3], [3, 5], [3, 7], [3, 9],
                                 [3, 11]])
    zeros, zero_seeds = _stream(5, 3, 0, 6, pipelines=2, pipeline=0)
    self.assertCountEqual(zeros[:3], [0, 2, 4])
    self.assertCountEqual(zeros[3:], [0, 2, 4])
    self.assertEqual(zero_seeds[:2], [[3, 0], [3, 2]])
    # Resumed within their second epochs, both go on as before.
    self.assertEqual(_stream(5, 3, 3, 3, pipelines=2, pipeline=1),
                     (ones[3:], one_seeds[3:]))
    self.assertEqual(_stream(5, 3, 4, 2, pipelines=2, pipeline=0),
                     (zeros[4:], zero_seeds[4:]))

  def test_the_index_dtype_draws_the_same_permutation(self):
    # Why int64 indices are not part of the stream's definition (an
    # equivalent mutant in docs/development.md): int32 ones draw the same.
    for n in (5, 100, 1000):
      self.assertAllEqual(
          tf.random.experimental.stateless_shuffle(
              tf.range(n, dtype=tf.int64), seed=[3, 1]),
          tf.random.experimental.stateless_shuffle(tf.range(n), seed=[3, 1]))

  def test_too_few_examples_for_the_pipelines(self):
    with self.assertRaisesRegex(
        ValueError, '^1 examples cannot feed 2 input pipelines$'):
      _stream(1, 0, 0, 1, pipelines=2, pipeline=1)


class LocateTest(tf.test.TestCase):

  def test_where_a_position_is_among_the_shards(self):
    counts = {'a': 2, 'b': 0, 'c': 3}  # 5 records an epoch.
    paths = sorted(counts)
    counted = []

    def count(path):
      counted.append(path)
      return counts[path]

    for start, epoch in ((0, 0), (4, 0), (5, 1), (12, 2), (5 * 40 + 3, 40)):
      found_epoch, rank, offset = source_lib.locate(paths, 7, start, count)
      self.assertEqual(found_epoch, epoch, start)
      # The shards before `rank` in the epoch's order, and `offset` records
      # of the next: exactly `start` records in all.
      order = [paths[int(i)] for i in tf.random.experimental.stateless_shuffle(
          tf.range(3, dtype=tf.int64), seed=[7, epoch])]
      self.assertEqual(5 * epoch + sum(counts[p] for p in order[:rank]) +
                       offset, start)
      self.assertLess(offset, counts[order[rank]])
    # Past the first epoch, each shard counted once more, not per epoch.
    self.assertLessEqual(len(counted), 5 * 6)

  def test_shards_without_records(self):
    with self.assertRaisesRegex(errors.DataError, '^a, b: no records$'):
      source_lib.locate(['a', 'b'], 0, 3, {'a': 0, 'b': 0}.get)


class ExampleSourceTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    # Three 2x2 two-channel images; pixel (y, x, c) of image i is
    # 100 i + 10 (2 y + x) + c.
    self.images = np.array(
        [[[[100 * i + 10 * (2 * y + x) + c for c in range(2)]
           for x in range(2)] for y in range(2)] for i in range(3)],
        np.uint8)
    self.labels = np.array([2, 0, 1])

    def make_examples():
      return tf.data.Dataset.from_tensor_slices((self.images, self.labels))

    self.source = source_lib.ExampleSource(
        make_examples, 3, source_lib.DatasetInfo(2, 2, 3, 1),
        # Training: the seed's first component added, to see it passed on.
        lambda image, seed: tf.cast(image, tf.float32) + tf.cast(
            seed[1], tf.float32) / 1000.0,
        lambda image: tf.cast(image, tf.float32), 'three images')

  def test_evaluation_in_file_order_depth_major_last_batch_partial(self):
    batches = list(self.source.eval_dataset(2, 3).as_numpy_iterator())
    self.assertEqual([len(b['labels']) for b in batches], [2, 1])
    # Depth-major: every pixel of channel 0, then of channel 1.
    self.assertAllEqual(batches[0]['images'][0], [0, 10, 20, 30, 1, 11, 21,
                                                  31])
    self.assertAllEqual(batches[1]['images'][0], [200, 210, 220, 230, 201,
                                                  211, 221, 231])
    self.assertAllEqual(batches[0]['recons_label'], [2, 0])
    self.assertAllEqual(batches[0]['labels'], [[0, 0, 1], [1, 0, 0]])
    self.assertAllEqual(batches[0]['recons_image'], batches[0]['images'])
    with self.assertRaisesRegex(
        errors.DataError, r'^--eval_size=4 but three images holds only 3 '
        'examples: pass --eval_size=3$'):
      self.source.eval_dataset(2, 4)
    self.assertLen(list(self.source.eval_dataset(2, 2)), 1)

  def test_training_follows_the_positional_stream(self):
    ds = self.source.train_dataset(2, 6)
    self.assertEqual(ds.element_spec['images'].shape.as_list(), [2, 8])
    batches = list(ds.take(3).as_numpy_iterator())
    indices, seeds = _stream(3, 6, 0, 6)
    for position in range(6):
      batch, row = batches[position // 2], position % 2
      index = indices[position]
      self.assertEqual(batch['recons_label'][row], self.labels[index])
      self.assertAllClose(batch['images'][row][:4],
                          100 * index + np.array([0, 10, 20, 30]) +
                          seeds[position][1] / 1000.0)
    resumed = next(iter(self.source.train_dataset(2, 6, start=2)))
    self.assertAllEqual(resumed['images'], batches[1]['images'])
    # The second of two input pipelines reads its share: index 1 alone.
    share = self.source.train_dataset(2, 6, tf.distribute.InputContext(
        num_input_pipelines=2, input_pipeline_id=1))
    for batch in share.take(3):
      self.assertAllEqual(batch['recons_label'], [0, 0])


if __name__ == '__main__':
  tf.test.main()
