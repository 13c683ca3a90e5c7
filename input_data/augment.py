"""Image distortions of the original readers, with stateless random seeds.

Each op takes an image and a stateless seed [2] so a pipeline is
reproducible for a given --seed whatever its parallelism. The MNIST family
is shifted (and Fashion-MNIST flipped) on the fly, [h, w] uint8; smallNORB
and CIFAR-10 are distorted as [h, w, c], on the 0..255 scale where the
original applied brightness (max_delta 63).
"""

import tensorflow as tf


def split_seed(seed, num):
  """num independent stateless seeds [num, 2] from one seed [2]."""
  return tf.random.experimental.stateless_split(seed, num)


def distort(image, crop_size, seed, flip=False, crop_first=True,
            brightness=63.0, contrast=(0.2, 1.8)):
  """The original training distortions, then per-image standardization.

  Random crop to crop_size x crop_size (all channels), optional left-right
  flip, random brightness (+- brightness), random contrast in the range, and
  per-image standardization. The original's readers differ in where the
  crop falls: CIFAR-10 crops first (crop_first, the default); smallNORB
  adjusts brightness and contrast on the whole image and crops last, which
  matters because contrast scales each channel about its mean over the
  image it is given.
  """
  seeds = split_seed(seed, 4)
  image = tf.cast(image, tf.float32)
  size = [crop_size, crop_size, image.shape[-1]]
  if crop_first:
    image = tf.image.stateless_random_crop(image, size, seeds[0])
  if flip:
    image = tf.image.stateless_random_flip_left_right(image, seeds[1])
  image = tf.image.stateless_random_brightness(image, brightness, seeds[2])
  image = tf.image.stateless_random_contrast(image, contrast[0], contrast[1],
                                             seeds[3])
  if not crop_first:
    image = tf.image.stateless_random_crop(image, size, seeds[0])
  return tf.image.per_image_standardization(image)


def centre(image, crop_size):
  """The original evaluation path: central crop and standardization."""
  image = tf.image.resize_with_crop_or_pad(tf.cast(image, tf.float32),
                                           crop_size, crop_size)
  return tf.image.per_image_standardization(image)


def depth_major(image):
  """[h, w, c] -> [c*h*w] in the original's depth-major order."""
  return tf.reshape(tf.transpose(image, [2, 0, 1]), [-1])


def random_shift(image, max_shift, seed):
  """image [h, w] (or [h, w, c], all channels alike) moved by a uniform
  (dy, dx) in [-max_shift, max_shift]^2, zeros moved in.

  The same distribution as drawing uniformly from the (2s+1)^2 copies that
  mnist_shift.py writes. `seed` is a stateless seed [2].
  """
  offset = tf.random.stateless_uniform([2], seed, -max_shift, max_shift + 1,
                                       dtype=tf.int32)
  channels = [[0, 0]] * (image.shape.rank - 2)  # [] for [h, w]
  padded = tf.pad(image, [[max_shift, max_shift], [max_shift, max_shift]] +
                  channels)
  begin = max_shift - offset
  if channels:
    begin = tf.concat([begin, tf.zeros([len(channels)], tf.int32)], 0)
  return tf.slice(padded, begin, image.shape)


def random_flip(image, seed):
  """image [h, w] (or [h, w, c]) mirrored left-right with probability 1/2."""
  flip = tf.random.stateless_uniform([], seed) < 0.5
  return tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
