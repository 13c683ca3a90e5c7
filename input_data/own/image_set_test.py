"""Tests of input_data/own/image_set.py: square, channels, holdout, source."""

import numpy as np
import tensorflow as tf

from input_data.own import image_set


def _set(labels, keys=None):
  labels = np.asarray(labels, np.int64)
  images = np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * (
      np.ones([1, 4, 4, 1], np.uint8))
  keys = keys or ['k%d' % i for i in range(len(labels))]
  return image_set.ImageSet(images, labels, keys, ['a', 'b', 'c'], 'set')


class SquareAndChannelsTest(tf.test.TestCase):

  def test_a_side_already_of_the_size_is_cropped_not_resized(self):
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    square = image_set.to_square(tf.constant(image), 4).numpy()
    self.assertAllEqual(square, image[:, 1:5])  # The centre columns.
    tall = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    self.assertAllEqual(image_set.to_square(tf.constant(tall), 2).numpy(),
                        tall[1:3])

  def test_resized_keeping_the_aspect_then_cropped(self):
    # 2x4 of a constant 100 -> 4x8 (shorter side 4), centre 4x4: 100s.
    image = np.full([2, 4, 3], 100, np.uint8)
    self.assertAllEqual(image_set.to_square(tf.constant(image), 4).numpy(),
                        np.full([4, 4, 3], 100, np.uint8))
    # Columns 0 0 0 0 200 200 200 200 halved by the antialiased triangle
    # filter (half-width 2 input pixels): output column j is centred on
    # input 2j + 0.5, weights 1/4, 3/4, 3/4, 1/4 (sum 2). The centre crop
    # keeps columns 1 (25: a quarter of 200 over 2) and 2 (175).
    image = np.zeros([4, 8, 3], np.uint8)
    image[:, 4:] = 200
    square = image_set.to_square(tf.constant(image), 2).numpy()
    self.assertEqual(square.shape, (2, 2, 3))
    self.assertAllEqual(square[:, :, 0], [[25, 175], [25, 175]])

  def test_to_rgb_of_each_channel_count(self):
    grey = np.array([[[7]]], np.uint8)
    self.assertAllEqual(image_set.to_rgb(tf.constant(grey)), [[[7, 7, 7]]])
    self.assertAllEqual(image_set.to_rgb(tf.constant([[[7, 255]]],
                                                     tf.uint8)),
                        [[[7, 7, 7]]])
    self.assertAllEqual(image_set.to_rgb(tf.constant([[[1, 2, 3, 9]]],
                                                     tf.uint8)),
                        [[[1, 2, 3]]])

  def test_channels_from_the_data_and_luma(self):
    rgb = np.zeros([2, 1, 1, 3], np.uint8)
    rgb[0] = 90
    rgb[1] = [255, 0, 0]
    grey = np.array([True, False])
    self.assertEqual(image_set.to_channels(rgb[:1], grey[:1], 0, 'x').shape,
                     (1, 1, 1, 1))
    self.assertEqual(image_set.to_channels(rgb, grey, 0, 'x').shape,
                     (2, 1, 1, 3))
    # ITU-R 601: 0.299 * 255 = 76.2.
    self.assertAllEqual(image_set.to_channels(rgb, grey, 1, 'x')[:, 0, 0, 0],
                        [90, 76])

  def test_the_shift_is_the_originals_scaled(self):
    self.assertEqual([image_set.default_shift(s) for s in (14, 28, 32, 40,
                                                           96)],
                     [1, 2, 2, 3, 7])


class HoldoutTest(tf.test.TestCase):

  def test_stratified_and_a_function_of_the_keys(self):
    labels = [0] * 10 + [1] * 4 + [2] * 1
    kept, held = image_set.holdout(_set(labels), 0.2, 'test')
    # round(0.2 x 10) = 2, round(0.8) = 1 (at least one), a class of one
    # image keeps it.
    self.assertAllEqual(np.bincount(held.labels, minlength=3), [2, 1, 0])
    self.assertAllEqual(np.bincount(kept.labels, minlength=3), [8, 3, 1])
    self.assertEmpty(set(kept.keys) & set(held.keys))
    # The same keys held out whatever the order they come in.
    order = np.random.RandomState(0).permutation(len(labels))
    shuffled = _set(np.asarray(labels)[order], ['k%d' % i for i in order])
    self.assertCountEqual(image_set.holdout(shuffled, 0.2, 'test')[1].keys,
                          held.keys)
    # Another salt, another draw.
    self.assertNotEqual(
        sorted(image_set.holdout(_set(labels), 0.5, 'validate')[1].keys),
        sorted(image_set.holdout(_set(labels), 0.5, 'test')[1].keys))

  def test_a_class_of_two_keeps_one(self):
    kept, held = image_set.holdout(_set([0, 0, 1, 1, 1]), 0.9, 'test')
    self.assertAllEqual(np.bincount(kept.labels), [1, 1])
    self.assertAllEqual(np.bincount(held.labels), [1, 2])


class MakeSourceTest(tf.test.TestCase):

  def test_rgb_images_are_served_depth_major(self):
    images = np.zeros([2, 2, 2, 3], np.uint8)
    images[0, :, :, 1] = 255  # Green.
    images[1, 0, 1, 2] = 51  # One blue pixel at row 0, column 1.
    data = image_set.ImageSet(images, np.array([0, 1]), ['a', 'b'],
                              ['x', 'y'], 'tiny')
    test = image_set.make_source(data, 'test')
    self.assertEqual(tuple(test.info), (2, 3, 2, 1))
    self.assertEqual(test.class_names, ('x', 'y'))
    batch = next(iter(test.eval_dataset(2, 2)))['images'].numpy()
    # [red plane, green plane, blue plane], each 2x2 row-major.
    self.assertAllClose(batch[0], [0] * 4 + [1] * 4 + [0] * 4)
    self.assertAllClose(batch[1], [0] * 9 + [0.2, 0, 0])
    train = image_set.make_source(data, 'train', max_shift=0)
    features = next(iter(train.train_dataset(2, seed=0)))
    self.assertCountEqual([tuple(np.round(row, 3)) for row in
                           features['images'].numpy()],
                          [tuple(np.round(row, 3)) for row in batch])


if __name__ == '__main__':
  tf.test.main()
