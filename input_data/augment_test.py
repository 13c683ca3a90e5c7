"""Tests of the distortion ops, eagerly and inside tf.data."""

import numpy as np
import tensorflow as tf

from input_data import augment


class AugmentTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.image = tf.constant(
        np.arange(6 * 6 * 2).reshape(6, 6, 2).astype(np.uint8))

  def test_distort_shape_standardized_and_reproducible(self):
    out = augment.distort(self.image, 4, tf.constant([1, 2]), flip=True)
    self.assertEqual(out.shape, (4, 4, 2))
    self.assertAllClose(tf.reduce_mean(out), 0.0, atol=1e-5)
    self.assertAllClose(tf.math.reduce_std(out), 1.0, atol=1e-3)
    self.assertAllEqual(out, augment.distort(self.image, 4,
                                             tf.constant([1, 2]), flip=True))
    self.assertNotAllClose(out, augment.distort(self.image, 4,
                                                tf.constant([3, 2]), flip=True))

  def test_distort_in_tf_data_equals_eager(self):
    ds = tf.data.Dataset.range(3).map(
        lambda i: augment.distort(self.image, 4, tf.stack([i, i + 7])))
    for i, out in enumerate(ds):
      self.assertAllClose(out, augment.distort(
          self.image, 4, tf.constant([i, i + 7], tf.int64)))

  def test_centre_crop_is_the_middle(self):
    out = augment.centre(self.image, 2)
    middle = tf.cast(self.image[2:4, 2:4], tf.float32)
    self.assertAllClose(out, tf.image.per_image_standardization(middle))
    ds = tf.data.Dataset.from_tensors(self.image).map(
        lambda x: augment.centre(x, 2))
    self.assertAllClose(next(iter(ds)), out)

  def test_depth_major(self):
    image = tf.constant([[[1, 10], [2, 20]]])  # [1, 2, 2]: h=1, w=2, c=2
    self.assertAllEqual(augment.depth_major(image), [1, 2, 10, 20])
    # h=2, w=2: each channel row by row, not column by column.
    image = tf.reshape(tf.range(8), [2, 2, 2])
    self.assertAllEqual(augment.depth_major(image), [0, 2, 4, 6, 1, 3, 5, 7])

  def test_crop_last_as_smallnorb(self):
    # Colour changes on the whole image, then the crop: the same shape and
    # standardization, other values than cropping first.
    # (Channels that differ by more than a constant, or the two orders agree.)
    image = tf.constant(np.random.RandomState(0).randint(
        0, 256, [6, 6, 2]).astype(np.uint8))
    seed = tf.constant([1, 2])
    last = augment.distort(image, 4, seed, crop_first=False)
    self.assertEqual(last.shape, (4, 4, 2))
    self.assertAllClose(tf.reduce_mean(last), 0.0, atol=1e-5)
    self.assertNotAllClose(last, augment.distort(image, 4, seed))


class OnTheFlyTest(tf.test.TestCase):
  """The MNIST family's shift and flip."""

  def test_random_shift_eagerly_and_in_tf_data(self):
    image = tf.constant(np.pad([[9]], 2).astype(np.uint8))  # 5x5, centre 9
    eager = []
    for i in range(50):
      shifted = augment.random_shift(image, 2, tf.constant([i, 0]))
      self.assertEqual(int(tf.reduce_sum(tf.cast(shifted, tf.int32))), 9)
      eager.append(int(tf.argmax(tf.reshape(shifted, [-1]))))
    in_data = [int(tf.argmax(tf.reshape(x, [-1]))) for x in
               tf.data.Dataset.range(50).map(
                   lambda i: augment.random_shift(image, 2, tf.stack([i, 0])))]
    self.assertEqual(eager, in_data)

  def test_shifts_cover_every_offset_up_to_the_maximum(self):
    image = tf.constant(np.pad([[9]], 2).astype(np.uint8))  # 5x5, centre 9
    image = tf.pad(image, [[2, 2], [2, 2]])  # 9x9: room for every shift.
    positions = {int(tf.argmax(tf.reshape(augment.random_shift(
        image, 2, tf.constant([i, 5])), [-1]))) for i in range(300)}
    # The centre (4, 4) moved by (dy, dx) in [-2, 2]^2: 25 places.
    self.assertEqual(positions, {(4 + dy) * 9 + 4 + dx for dy in range(-2, 3)
                                 for dx in range(-2, 3)})

  def test_flip_eagerly_and_in_tf_data(self):
    image = tf.constant([[1, 2, 3]], tf.uint8)
    outs = {tuple(augment.random_flip(image, tf.constant([i, 1]))[0].numpy())
            for i in range(20)}
    self.assertEqual(outs, {(1, 2, 3), (3, 2, 1)})
    ds = tf.data.Dataset.range(20).map(
        lambda i: augment.random_flip(image, tf.stack([i, 1])))
    self.assertEqual({tuple(x[0].numpy()) for x in ds}, outs)


if __name__ == '__main__':
  tf.test.main()
