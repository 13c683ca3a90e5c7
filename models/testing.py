"""Small fixtures shared by the tests."""

import numpy as np
import tensorflow as tf


def split_cpu(num_devices=2):
  """Splits the CPU into logical devices so tests can run several replicas.

  Must run before TensorFlow initialises its devices (at import of a test
  module); later calls find the split already made and do nothing.
  """
  cpu = tf.config.list_physical_devices('CPU')[0]
  if len(tf.config.get_logical_device_configuration(cpu) or []) >= num_devices:
    return
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def feature_batch(batch_size, image_size=28, depth=1, num_classes=10,
                  num_targets=1, seed=0):
  """A batch of the features dict the models read, random but fixed."""
  rng = np.random.RandomState(seed)
  pixels = image_size * image_size * depth
  labels_1 = np.arange(batch_size) % num_classes
  labels_2 = (labels_1 + 1 + np.arange(batch_size) % (num_classes - 1)) % num_classes
  features = {
      'images': rng.rand(batch_size, pixels).astype(np.float32),
      'recons_label': labels_1.astype(np.int64),
      'labels': np.eye(num_classes, dtype=np.float32)[labels_1],
  }
  features['recons_image'] = features['images']
  if num_targets == 2:
    features['spare_label'] = labels_2.astype(np.int64)
    features['spare_image'] = rng.rand(batch_size, pixels).astype(np.float32)
    features['labels'] = features['labels'] + np.eye(
        num_classes, dtype=np.float32)[labels_2]
  return features
