"""TensorBoard scalar, image and histogram summaries without tensorboard.

TensorFlow >= 2.20 no longer installs TensorBoard, and `tf.summary.scalar`
lives there. `tf.summary.write` with a plugin's metadata writes the same
event records, which TensorBoard (installed by whoever views them) reads as
scalars, images and histograms.
"""

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from input_data import pixels

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name='scalars'))
_IMAGE_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name='images'))
_HISTOGRAM_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name='histograms'))
HISTOGRAM_BUCKETS = 30  # TensorBoard's default.
RECONSTRUCTION_IMAGES = 10  # Examples in the reconstruction image.


def write_scalars(writer, step, scalars):
  """Writes {tag: float} at step with writer (a tf.summary file writer)."""
  with writer.as_default(step=step):
    for tag, value in scalars.items():
      tf.summary.write(tag, tf.constant(value, tf.float32),
                       metadata=_SCALAR_METADATA)
  writer.flush()


def write_images(writer, step, tag, images):
  """Writes float images [n, h, w, c] in [0, 1] as PNGs under tag.

  The images plugin's layout: a string tensor [width, height, png, ...].
  """
  images = tf.convert_to_tensor(images)
  pngs = [tf.image.encode_png(tf.cast(tf.round(image * 255.0), tf.uint8))
          for image in tf.clip_by_value(images, 0.0, 1.0)]
  header = [tf.as_string(tf.shape(images)[2]), tf.as_string(tf.shape(images)[1])]
  with writer.as_default(step=step):
    tf.summary.write(tag, tf.stack(header + pngs), metadata=_IMAGE_METADATA)
  writer.flush()


def histogram_buckets(values, buckets=HISTOGRAM_BUCKETS):
  """[k, 3] float64 (left edge, right edge, count) of values, the layout
  TensorBoard's histograms plugin reads; one bucket when all are equal."""
  values = np.asarray(values, np.float64).ravel()
  low, high = values.min(), values.max()
  if low == high:
    return np.array([[low - 0.5, high + 0.5, values.size]], np.float64)
  counts, edges = np.histogram(values, bins=buckets, range=(low, high))
  return np.stack([edges[:-1], edges[1:], counts], axis=1).astype(np.float64)


def write_histograms(writer, step, histograms):
  """Writes {tag: values (any shape)} as TensorBoard histograms."""
  with writer.as_default(step=step):
    for tag, values in histograms.items():
      tf.summary.write(tag, histogram_buckets(values),
                       metadata=_HISTOGRAM_METADATA)
  writer.flush()


def write_variable_summaries(writer, step, variables):
  """The original's verbose `variable_summaries` for {name: variable}:
  scalars name/summaries/{mean,stddev,max,min} and the histogram
  name/summaries/histogram."""
  scalars, histograms = {}, {}
  for name, variable in variables.items():
    value = np.asarray(variable.numpy(), np.float64)
    prefix = name + '/summaries/'
    scalars.update({prefix + 'mean': value.mean(),
                    prefix + 'stddev': value.std(),
                    prefix + 'max': value.max(), prefix + 'min': value.min()})
    histograms[prefix + 'histogram'] = value
  write_scalars(writer, step, scalars)
  write_histograms(writer, step, histograms)


def write_reconstructions(writer, step, model, info, features):
  """The original's 'reconstruction' image of the first examples of
  features (a batch), for models with a decoder."""
  if getattr(model, 'reconstruction', None) is None:
    return
  features = {k: v[:RECONSTRUCTION_IMAGES] for k, v in features.items()}
  grid = reconstruction_grid(features, model.inference(features).remakes,
                             info.height, info.depth)
  write_images(writer, step, 'reconstruction', grid)


def reconstruction_grid(features, remakes, height, depth):
  """The original's 'reconstruction' image: per example, input above target
  above reconstruction, one column per target. [n, 3*h, targets*w, depth]."""
  def to_image(flat):  # depth-major [n, d*h*w] -> [n, h, w, d]
    return pixels.nhwc(flat, height, depth)
  targets = ('recons_image', 'spare_image')
  columns = [tf.concat([to_image(features['images']),
                        to_image(features[key]), to_image(remake)], axis=1)
             for key, remake in zip(targets, remakes)]
  return tf.concat(columns, axis=2)
