"""Tests of the TF1 Adam and the learning-rate schedule."""

import numpy as np
import tensorflow as tf

from models import capsule_model
from models import hparams as hparams_lib
from models import optimizer as optimizer_lib
from models.layers import cpu_kernels


class LearningRateTest(tf.test.TestCase):

  def test_continuous_decay_with_floor(self):
    h = hparams_lib.default_hparams()
    self.assertAllClose(optimizer_lib.learning_rate(h, 0), 1e-3)
    self.assertAllClose(optimizer_lib.learning_rate(h, 2000), 0.96e-3)
    self.assertAllClose(optimizer_lib.learning_rate(h, 1000), 1e-3 * 0.96 ** 0.5)
    self.assertAllClose(optimizer_lib.learning_rate(h, 10 ** 7), 1e-6)


class AdamTest(tf.test.TestCase):

  def test_first_two_steps_by_hand(self):
    var = tf.Variable([1.0, -2.0])
    adam = optimizer_lib.Adam([var])
    adam.apply_gradients([tf.constant([0.5, 0.0])], 0.1)
    # m = 0.05, v = 0.00025, lr_t = 0.1 sqrt(0.001) / 0.1: a step of 0.1.
    self.assertAllClose(var, [0.9, -2.0])
    adam.apply_gradients([tf.constant([0.5, 0.0])], 0.1)
    m = 0.9 * 0.05 + 0.05
    v = 0.999 * 0.00025 + 0.00025
    lr_t = 0.1 * np.sqrt(1 - 0.999 ** 2) / (1 - 0.9 ** 2)
    self.assertAllClose(var, [0.9 - lr_t * m / (np.sqrt(v) + 1e-8), -2.0])
    self.assertAllClose(adam.beta1_power, 0.9 ** 3)
    self.assertEqual(int(adam.step), 2)

  def test_the_compiled_update_is_the_same(self):
    # The CPU formulation: each variable's update XLA-compiled. Three steps,
    # the middle one skipped (apply false: nothing but the step may change).
    results = []
    compiled_update = cpu_kernels.compiled(optimizer_lib._adam_update)
    traces = compiled_update.experimental_get_tracing_count()
    for compiled in (False, True):
      # Rank 3: a shape no other test compiles the update for.
      var = tf.Variable([[[1.0], [-2.0], [0.25]], [[3.0], [0.0], [-1.0]]])
      adam = optimizer_lib.Adam([var], compiled=compiled)

      @tf.function
      def update(grads, lr, apply, adam=adam):
        adam.apply_gradients(grads, lr, apply)
      values = []
      for grad, apply in (([[0.5, 0.0, -1.0], [2.0, 1e-3, 0.1]], True),
                          ([[np.nan, 1.0, 1.0], [1.0, 1.0, 1.0]], False),
                          ([[-0.5, 0.25, 1.0], [0.0, 4.0, -0.1]], True)):
        update([tf.constant(grad)[:, :, None]], tf.constant(0.01),
               tf.constant(apply))
        values.append([var.numpy(), adam.m[0].numpy(), adam.v[0].numpy()])
      self.assertAllEqual(values[0], values[1])  # The skipped step.
      results.append(values)
    self.assertAllClose(results[0], results[1], rtol=1e-6, atol=0)
    self.assertEqual(compiled_update.experimental_get_tracing_count(),
                     traces + 1)

  def test_epsilon_is_added_to_the_root_of_v(self):
    # A gradient so small that sqrt(v) (3.2e-12) is below epsilon (1e-8):
    # the step is lr_t * m / (sqrt(v) + eps), about lr_t * 1e-3, positive.
    var = tf.Variable([0.0])
    optimizer_lib.Adam([var]).apply_gradients([tf.constant([1e-10])], 0.1)
    m, v = 0.1 * 1e-10, 0.001 * 1e-20
    lr_t = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
    self.assertAllClose(var, [-lr_t * m / (np.sqrt(v) + 1e-8)], rtol=1e-5)
    self.assertLess(float(var[0]), -1e-5)

  def test_the_slots_are_not_trained_and_the_step_is_int64(self):
    adam = optimizer_lib.Adam([tf.Variable([1.0, 2.0])])
    # Nothing that collects trainable variables may pick up the moments or
    # the powers; TF1's global_step, in the authors' checkpoints, is int64.
    self.assertEqual(adam.trainable_variables, ())
    self.assertLen(adam.variables, 5)
    self.assertEqual(adam.step.dtype, tf.int64)

  def test_tf1_slot_names(self):
    m = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1, 10)
    adam = optimizer_lib.Adam(m.trainable_variables)
    names = adam.tf1_variables(m.tf1_variables())
    # The original's TF1 Adam names, literally: the beta powers and two
    # slots per variable of the authors' scopes.
    self.assertCountEqual(names, ['beta1_power', 'beta2_power'] + [
        '%s/%s/%s' % (scope, kind, slot)
        for scope in ('conv1', 'conv_capsule1', 'capsule2', 'recons/recons_1',
                      'recons/recons_2', 'recons/recons_3')
        for kind in ('weights', 'biases') for slot in ('Adam', 'Adam_1')])
    self.assertIs(names['beta1_power'], adam.beta1_power)
    self.assertIs(names['beta2_power'], adam.beta2_power)
    self.assertEqual(names['conv1/weights/Adam'].shape, (9, 9, 1, 256))


if __name__ == '__main__':
  tf.test.main()
