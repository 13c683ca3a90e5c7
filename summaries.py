"""TensorBoard scalar summaries without the tensorboard package.

TensorFlow >= 2.20 no longer installs TensorBoard, and `tf.summary.scalar`
lives there. `tf.summary.write` with the scalars plugin's metadata writes the
same event records, which TensorBoard (installed by whoever views them)
reads as scalars.
"""

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name='scalars'))


def write_scalars(writer, step, scalars):
  """Writes {tag: float} at step with writer (a tf.summary file writer)."""
  with writer.as_default(step=step):
    for tag, value in scalars.items():
      tf.summary.write(tag, tf.constant(value, tf.float32),
                       metadata=_SCALAR_METADATA)
  writer.flush()


def read_scalars(event_dir):
  """{tag: [(step, value)]} of the scalars written in event_dir (for tests)."""
  found = {}
  for path in sorted(tf.io.gfile.glob(event_dir + '/events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        found.setdefault(value.tag, []).append(
            (event.step, float(tf.make_ndarray(value.tensor))))
  return found
