"""Pixel layouts shared by the readers, the runner and the tools.

The original's models take each image as a depth-major flat vector,
[batch, depth * height * width] in [0, 1] (the records' bytes times
float32(1/255)); TensorFlow's image summaries and PNG files want NHWC,
[batch, height, width, depth].
"""

import numpy as np
import tensorflow as tf


def nhwc(flat, height, depth):
  """[n, depth*h*w] depth-major (tensor or array) -> [n, h, w, depth]."""
  return tf.transpose(tf.reshape(flat, [-1, depth, height, height]),
                      [0, 2, 3, 1])


def write_png(path, image, scale=2):
  """Writes a float image [h, w, c] in [0, 1], each pixel scale x scale."""
  image = np.repeat(np.repeat(np.clip(image, 0, 1), scale, 0), scale, 1)
  tf.io.write_file(path, tf.io.encode_png(
      np.round(image * 255).astype(np.uint8)))
  return path


def to_unit(images_u8):
  """uint8 pixels -> float32 in [0, 1] exactly as the original: times
  float32(1/255), which differs from dividing by 255 in the last bit for
  half of the 256 values."""
  return tf.cast(images_u8, tf.float32) * (1.0 / 255)
