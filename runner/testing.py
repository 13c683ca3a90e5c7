"""Readers of the event files the runner writes, for tests (testonly)."""

import tensorflow as tf


def read_scalars(event_dir):
  """{tag: [(step, value)]} of the scalars written in event_dir."""
  found = {}
  for path in sorted(tf.io.gfile.glob(event_dir + '/events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == 'scalars':
          found.setdefault(value.tag, []).append(
              (event.step, float(tf.make_ndarray(value.tensor))))
  return found


def read_images(event_dir, tag):
  """[(step, [uint8 image arrays])] of an image tag in event_dir."""
  found = []
  for path in sorted(tf.io.gfile.glob(event_dir + '/events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.tag == tag:
          pngs = tf.make_ndarray(value.tensor)[2:]
          found.append((event.step, [tf.image.decode_png(p).numpy()
                                     for p in pngs]))
  return found


def read_histograms(event_dir):
  """{tag: [(step, [k, 3] buckets)]} of the histograms in event_dir."""
  found = {}
  for path in sorted(tf.io.gfile.glob(event_dir + '/events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.metadata.plugin_data.plugin_name == 'histograms':
          found.setdefault(value.tag, []).append(
              (event.step, tf.make_ndarray(value.tensor)))
  return found
