"""Tests of dynamic loss scaling."""

import tensorflow as tf

from models import loss_scale as loss_scale_lib


class DynamicLossScaleTest(tf.test.TestCase):

  def test_grows_after_growth_steps_halves_on_overflow_floor_one(self):
    scale = loss_scale_lib.DynamicLossScale(initial_scale=2.0, growth_steps=2)
    yes, no = tf.constant(True), tf.constant(False)
    history = []
    for applied, overflow in ((yes, no), (yes, no), (no, yes), (no, yes),
                              (no, yes), (yes, no), (no, no), (yes, no)):
      scale.update(applied, overflow)
      history.append((float(scale.scale), int(scale.good_steps)))
    self.assertEqual(history, [(2.0, 1), (4.0, 0), (2.0, 0), (1.0, 0),
                               (1.0, 0), (1.0, 1), (1.0, 0), (1.0, 1)])

  def test_its_state_is_not_trained_and_keeps_its_dtypes(self):
    scale = loss_scale_lib.DynamicLossScale()
    # Nothing that collects trainable variables may train the scale; the
    # dtypes are those of the checkpoints written so far (a resume reads them).
    self.assertEqual(scale.trainable_variables, ())
    self.assertEqual((scale.scale.dtype, scale.good_steps.dtype),
                     (tf.float32, tf.int64))
    # Keras LossScaleOptimizer's defaults: 2^15, doubled after 2000 steps.
    self.assertEqual((float(scale.scale), scale.growth_steps),
                     (2.0 ** 15, 2000))

  def test_only_float16_gets_one(self):
    self.assertIsInstance(loss_scale_lib.loss_scale_for('float16'),
                          loss_scale_lib.DynamicLossScale)
    for dtype in (None, 'bfloat16', tf.float32):
      self.assertIsNone(loss_scale_lib.loss_scale_for(dtype))


if __name__ == '__main__':
  tf.test.main()
