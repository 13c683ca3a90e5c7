"""Readers of the event files the runner writes (curves.py, the tests)."""

import tensorflow as tf


def _values(event_dir, keep):
  """(step, summary value) of every value in event_dir that keep accepts."""
  for path in sorted(tf.io.gfile.glob(event_dir + '/events.out.tfevents.*')):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if keep(value):
          yield event.step, value


def _by_plugin(event_dir, plugin, convert):
  found = {}
  for step, value in _values(
      event_dir, lambda v: v.metadata.plugin_data.plugin_name == plugin):
    found.setdefault(value.tag, []).append(
        (step, convert(tf.make_ndarray(value.tensor))))
  return found


def read_scalars(event_dir):
  """{tag: [(step, value)]} of the scalars written in event_dir."""
  return _by_plugin(event_dir, 'scalars', float)


def read_histograms(event_dir):
  """{tag: [(step, [k, 3] buckets)]} of the histograms in event_dir."""
  return _by_plugin(event_dir, 'histograms', lambda buckets: buckets)


def read_images(event_dir, tag):
  """[(step, [uint8 image arrays])] of an image tag in event_dir."""
  return [(step, [tf.image.decode_png(png).numpy()
                  for png in tf.make_ndarray(value.tensor)[2:]])
          for step, value in _values(event_dir, lambda v: v.tag == tag)]
