"""Dynamic loss scaling, for float16 convolutions (--mixed_precision)."""

import tensorflow as tf


class DynamicLossScale(tf.Module):
  """Dynamic loss scaling for float16 convolutions.

  The loss is multiplied by `scale` before the backward pass and the
  gradients divided by it after, so that small float16 gradients survive
  (unscaled, one step of models/steps_test.py's tiny model left 62% of its
  primary capsules' kernel unchanged: their gradients flushed to zero). A
  step whose scaled gradients overflow is skipped and the scale halved;
  after `growth_steps` applied steps in a row the scale doubles. The
  defaults are Keras LossScaleOptimizer's (2^15, 2000). Not needed for
  bfloat16, which has float32's exponent range.
  """

  def __init__(self, initial_scale=2.0 ** 15, growth_steps=2000):
    super().__init__(name='loss_scale')
    self.growth_steps = growth_steps
    self.scale = tf.Variable(initial_scale, trainable=False, name='scale')
    self.good_steps = tf.Variable(0, dtype=tf.int64, trainable=False,
                                  name='good_steps')

  def update(self, applied, overflow):
    """After a step (cross-replica context): grow or halve the scale."""
    grow = tf.logical_and(applied, self.good_steps + 1 >= self.growth_steps)
    new_scale = tf.where(grow, self.scale * 2.0, tf.where(
        overflow, tf.maximum(self.scale / 2.0, 1.0), self.scale))
    new_good = tf.where(tf.logical_and(applied, tf.logical_not(grow)),
                        self.good_steps + 1, tf.zeros_like(self.good_steps))
    return tf.group(self.scale.assign(new_scale),
                    self.good_steps.assign(new_good))


def loss_scale_for(conv_dtype):
  """A fresh DynamicLossScale for float16 convolutions, else None."""
  if conv_dtype is not None and tf.as_dtype(conv_dtype) == tf.float16:
    return DynamicLossScale()
  return None
