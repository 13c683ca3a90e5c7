"""Correct counts with the original's set semantics, and its `evaluate`."""

import tensorflow as tf

from models.layers import losses


def correct_counts(logits, labels, num_targets):
  """Per-example correctness with the original's set semantics.

  Correct: the set of the top-k labels equals the set of the top-k scores
  (k = num_targets); almost correct: at least one of them was found.

  Returns:
    (correct, almost_correct): [batch] bool.
  """
  _, targets = tf.math.top_k(labels, k=num_targets)  # [batch, k]
  _, predictions = tf.math.top_k(logits, k=num_targets)  # [batch, k]
  # found[b, t]: target t of example b is among the predictions.
  found = tf.reduce_any(
      tf.equal(targets[:, :, None], predictions[:, None, :]), axis=2)
  num_missed = num_targets - tf.reduce_sum(tf.cast(found, tf.int32), axis=1)
  return tf.equal(num_missed, 0), tf.less(num_missed, num_targets)


def evaluate(logits, labels, num_targets, scope=None, loss_type='margin'):
  """Classification loss and correct counts of one batch (the original's).

  Args:
    logits: [batch, classes] class scores.
    labels: [batch, classes] one-hot or two-hot float labels.
    num_targets: 1 or 2, objects per image.
    scope: the original's tower name scope, whose TF1 'losses' collection
      (the reconstruction losses) it added to the classification loss.
      TensorFlow 2 has no collections: accepted for the original's calls and
      unused; the reconstruction losses are added by
      `Model.per_example_losses`.
    loss_type: 'margin', 'softmax' or 'sigmoid'.

  Returns:
    (classification_loss, correct_sum, almost_correct_sum): the loss is the
    mean over batch (and classes, for margin and sigmoid), the sums are float32
    counts over the batch.
  """
  del scope  # See above.
  classification_loss = tf.reduce_mean(
      losses.classification_loss_elements(logits, labels, loss_type))
  correct, almost_correct = correct_counts(logits, labels, num_targets)
  correct_sum = tf.reduce_sum(tf.cast(correct, tf.float32))
  almost_correct_sum = tf.reduce_sum(tf.cast(almost_correct, tf.float32))
  return classification_loss, correct_sum, almost_correct_sum
