"""The classification losses of the original: margin, softmax, sigmoid."""

import tensorflow as tf


def _margin_loss(labels, raw_logits, margin=0.4, downweight=0.5):
  """Per-element margin loss of the original (its `_margin_loss`).

  Args:
    labels: [batch, classes] one-hot (two-hot for two targets).
    raw_logits: [batch, classes] capsule lengths in [0, 1].
    margin: margin around 0.5 (0.4: positives want >= 0.9, negatives <= 0.1).
    downweight: factor of the negative cost.

  Returns:
    [batch, classes] cost; the original's batch loss is its mean.
  """
  logits = raw_logits - 0.5
  positive_cost = labels * tf.cast(tf.less(logits, margin),
                                   tf.float32) * tf.pow(logits - margin, 2)
  negative_cost = (1 - labels) * tf.cast(
      tf.greater(logits, -margin), tf.float32) * tf.pow(logits + margin, 2)
  return 0.5 * positive_cost + downweight * 0.5 * negative_cost


def classification_loss_elements(logits, labels, loss_type):
  """Unreduced classification loss of the original for each loss_type."""
  if loss_type == 'sigmoid':
    # labels / 2: the original's two-hot MultiMNIST targets sum to 1.
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=labels / 2.0, logits=logits)
  if loss_type == 'softmax':
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  if loss_type == 'margin':
    return _margin_loss(labels=labels, raw_logits=logits)
  raise ValueError('loss_type must be margin, softmax or sigmoid, got %r' %
                   (loss_type,))
