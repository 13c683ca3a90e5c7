"""Tests of the compiled training and evaluation steps: replicas, loops,
XLA, mixed precision and loss scaling inside a step."""

import numpy as np
import tensorflow as tf

from models import capsule_model
from models import hparams as hparams_lib
from models import loss_scale as loss_scale_lib
from models import optimizer as optimizer_lib
from models import steps as steps_lib
from models import testing


class DistributedStepTest(tf.test.TestCase):

  def _train(self, strategy, features, steps=2):
    with strategy.scope():
      tf.random.set_seed(5)
      m = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1, 10,
                                     **testing.TINY['capsule'])
      adam = optimizer_lib.Adam(m.trainable_variables)
    step = testing.make_train_step(m, adam, strategy, global_batch_size=8)
    batches = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(features).repeat())
    iterator = iter(batches)
    losses = [float(step(next(iterator))['total_loss']) for _ in range(steps)]
    return losses, [v.numpy() for v in m.trainable_variables], int(adam.step.numpy())

  def test_two_replicas_equal_one_at_the_same_global_batch(self):
    features = testing.feature_batch(8)
    one = self._train(tf.distribute.get_strategy(), features)
    two = self._train(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']),
                      features)
    self.assertAllClose(one[0], two[0], rtol=1e-5)
    for a, b in zip(one[1], two[1]):
      self.assertAllClose(a, b, atol=1e-5)
    self.assertEqual(one[2], 2)
    self.assertEqual(two[2], 2)

  def test_a_loop_of_steps_equals_the_steps_one_by_one(self):
    features = [testing.feature_batch(8, seed=i) for i in range(3)]
    for strategy in (tf.distribute.get_strategy(),
                     tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])):
      results = []
      for loop in (False, True):
        with strategy.scope():
          tf.random.set_seed(5)
          m = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                         10, **testing.TINY['capsule'])
          adam = optimizer_lib.Adam(m.trainable_variables)
        dataset = tf.data.Dataset.from_tensor_slices(
            {k: np.stack([f[k] for f in features]) for k in features[0]})
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        args = (m, adam, strategy, 8)
        if loop:
          sums = steps_lib.make_train_loop(*args)(iterator, tf.constant(3))
        else:
          step = testing.make_train_step(*args)
          each = [step(next(iterator)) for _ in range(3)]
          sums = {k: sum(s[k] for s in each) for k in each[0]}
        results.append((sums, [v.numpy() for v in m.trainable_variables],
                        int(adam.step.numpy())))
      (one, w_one, n_one), (loop, w_loop, n_loop) = results
      self.assertEqual((n_one, n_loop), (3, 3))
      self.assertEqual(float(loop['examples']), 24.0)
      for k in one:
        self.assertAllClose(one[k], loop[k], rtol=1e-5, msg=k)
      for a, b in zip(w_one, w_loop):
        self.assertAllClose(a, b, atol=1e-6)

  def test_eval_step_sums_and_logits(self):
    m = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1, 10)
    eval_step = steps_lib.make_eval_step(m, tf.distribute.get_strategy())
    features = testing.feature_batch(5)
    sums, logits = eval_step(features)
    self.assertEqual(logits.shape, (5, 10))
    self.assertEqual(float(sums['examples']), 5.0)
    correct = np.sum(np.argmax(logits, 1) == features['recons_label'])
    self.assertEqual(float(sums['correct']), correct)


def _capsule_model(seed, widths):
  """The MNIST capsule model (default hparams, widths as given), its
  weights drawn after tf.random.set_seed(seed)."""
  tf.random.set_seed(seed)
  return capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1, 10,
                                    **widths)


class StepMathTest(tf.test.TestCase):
  """One step against an independent computation of its update."""

  def _tiny(self):
    return _capsule_model(4, testing.TINY['capsule'])

  def test_one_step_descends_the_total_loss_by_tf1_adam(self):
    m = self._tiny()
    features = testing.feature_batch(4)
    before = [v.numpy() for v in m.trainable_variables]
    with tf.GradientTape() as tape:
      classification, reconstruction = m.per_example_losses(
          features, m.inference(features))
      loss = tf.reduce_sum(classification + reconstruction) / 4
    grads = [g.numpy() for g in tape.gradient(loss, m.trainable_variables)]
    adam = optimizer_lib.Adam(m.trainable_variables)
    step = testing.make_train_step(m, adam, tf.distribute.get_strategy(), 4)
    sums = step(features)
    # The original's summary names, which the loop logs and writes.
    self.assertCountEqual(sums, [
        'batch_classification_cost', 'reconstruction_error', 'total_loss',
        'correct', 'almost_correct', 'examples', 'learning_rate',
        'nonfinite_steps'])
    self.assertAllClose(sums['total_loss'], 4 * loss, rtol=1e-5)
    self.assertAllClose(sums['reconstruction_error'],
                        tf.reduce_sum(reconstruction), rtol=1e-5)
    # TF1 Adam's first step: -lr * g / (|g| + eps / sqrt(1 - beta2)), lr 1e-3,
    # to within float32's resolution of the weights (about 1.5e-8 at 0.2).
    for b, g, v in zip(before, grads, m.trainable_variables):
      self.assertAllClose(v.numpy() - b,
                          -1e-3 * g / (np.abs(g) + 1e-8 / np.sqrt(0.001)),
                          rtol=1e-3, atol=3e-8)
    self.assertTrue(any(np.any(g != 0) for g in grads[-6:]))  # The decoder.

  def test_a_nan_batch_without_loss_scaling_is_counted_and_not_applied(self):
    m = self._tiny()
    adam = optimizer_lib.Adam(m.trainable_variables)
    step = testing.make_train_step(m, adam, tf.distribute.get_strategy(), 4)
    features = testing.feature_batch(4)
    features['images'] = np.full_like(features['images'], np.nan)
    before = [v.numpy() for v in m.trainable_variables]
    sums = step(features)
    self.assertEqual(float(sums['nonfinite_steps']), 1.0)
    for a, b in zip(before, m.trainable_variables):
      self.assertAllEqual(a, b)

  def test_the_loop_is_xla_compiled_only_when_asked(self):
    features = testing.feature_batch(4)
    facts = []
    for jit in ({}, {'jit_compile': True}):
      m = self._tiny()
      loop = steps_lib.make_train_loop(
          m, optimizer_lib.Adam(m.trainable_variables),
          tf.distribute.get_strategy(), 4, **jit)
      iterator = iter(tf.data.Dataset.from_tensors(features).repeat())
      facts.append(testing.compiled_graph_facts(loop, iterator,
                                                tf.constant(1))['xla'])
    self.assertEqual(facts, [False, True])


class FastPathTest(tf.test.TestCase):
  """The speed options keep the class scores and the training step."""

  def _model(self, widths=None):
    return _capsule_model(11, widths or {})

  def _tiny_model(self):
    # Every model this file builds under a MirroredStrategy is tiny: its
    # collectives are keyed per process, and replicas of models of other
    # sizes in one process collide.
    return self._model(testing.TINY['capsule'])

  def test_xla_train_step_matches_the_default(self):
    features = testing.feature_batch(8)
    results = []
    for jit in (False, True):
      m = self._tiny_model()
      adam = optimizer_lib.Adam(m.trainable_variables)
      step = testing.make_train_step(m, adam, tf.distribute.get_strategy(), 8,
                                   jit_compile=jit)
      losses = [float(step(features)['total_loss']) for _ in range(2)]
      results.append((losses, m.digit_capsules.weights.numpy()))
      self.assertEqual(testing.compiled_graph_facts(step, features)['xla'],
                       jit)
    self.assertAllClose(results[0][0], results[1][0], rtol=1e-4)
    self.assertAllClose(results[0][1], results[1][1], atol=1e-5)

  def test_xla_eval_step_matches_the_default(self):
    m = self._model()
    features = testing.feature_batch(6)
    strategy = tf.distribute.get_strategy()
    steps = [steps_lib.make_eval_step(m, strategy, jit_compile=jit)
             for jit in (False, True)]
    (_, plain), (_, xla) = [step(features) for step in steps]
    self.assertAllClose(plain, xla, atol=1e-5)
    self.assertEqual([testing.compiled_graph_facts(step, features)['xla']
                      for step in steps], [False, True])

  def test_bfloat16_convolutions_keep_the_class_scores(self):
    m = self._model()
    features = testing.feature_batch(6)
    reference = m.inference(features).logits.numpy()
    m.set_conv_dtype(tf.bfloat16)
    self.assertEqual(m.primary_capsules.compute_dtype, tf.bfloat16)
    traced = tf.function(m.inference)
    self.assertEqual(testing.compiled_graph_facts(traced, features),
                     {'xla': False, 'compiled': [],
                      'conv_dtypes': ['bfloat16']})
    mixed = m.inference(features)
    self.assertEqual(mixed.logits.dtype, tf.float32)
    # bfloat16 keeps 8 bits of mantissa: scores within 2e-2 absolute.
    self.assertAllClose(reference, mixed.logits, atol=2e-2)
    self.assertNotAllClose(reference, mixed.logits, atol=1e-7)

  def test_float16_convolutions_keep_the_class_scores(self):
    m = self._model()
    features = testing.feature_batch(6)
    reference = m.inference(features).logits.numpy()
    m.set_conv_dtype(tf.float16)
    self.assertEqual(testing.compiled_graph_facts(
        tf.function(m.inference), features)['conv_dtypes'], ['float16'])
    mixed = m.inference(features).logits
    # float16 keeps 11 bits of mantissa: scores within 5e-3 absolute, and
    # not float32's to the last bit.
    self.assertAllClose(reference, mixed, atol=5e-3)
    self.assertNotAllClose(reference, mixed, atol=1e-7)

  def _changed_after_one_step(self, conv_dtype, loss_scale):
    """Share of the primary capsules' kernel that one training step moved."""
    m = self._tiny_model()
    if conv_dtype:
      m.set_conv_dtype(conv_dtype)
    adam = optimizer_lib.Adam(m.trainable_variables)
    before = m.primary_capsules.weights.numpy()
    step = testing.make_train_step(m, adam, tf.distribute.get_strategy(), 128,
                                 loss_scale=loss_scale)
    sums = step(testing.feature_batch(8))
    self.assertEqual(float(sums['nonfinite_steps']), 0.0)
    moved = m.primary_capsules.weights.numpy() - before
    return np.mean(moved != 0), sums, moved

  def test_float16_needs_and_gets_loss_scaling(self):
    # Adam moves every weight whose gradient is not zero by about lr. In
    # float32 nearly all do (99.99% of the tiny model's primary capsules);
    # unscaled float16 flushes most of their gradients to zero (38.2% moved,
    # measured with this setup); scaled, 99.99% move again.
    full, _, full_moves = self._changed_after_one_step(None, None)
    unscaled, _, _ = self._changed_after_one_step(tf.float16, None)
    scaled, sums, scaled_moves = self._changed_after_one_step(
        tf.float16, loss_scale_lib.DynamicLossScale())
    # The gradients are unscaled before Adam: the moves are float32's to
    # within float16 noise (0.04% of their mean size, measured).
    self.assertLess(np.mean(np.abs(scaled_moves - full_moves)),
                    0.01 * np.mean(np.abs(full_moves)))
    self.assertGreater(full, 0.95)
    self.assertLess(unscaled, 0.8)
    self.assertGreater(scaled, full - 0.01)
    self.assertEqual(float(sums['loss_scale']), 2.0 ** 15)
    self.assertEqual(float(sums['loss_scale_skips']), 0.0)

  def test_overflowing_scale_skips_the_step_and_halves(self):
    for strategy in (tf.distribute.get_strategy(),
                     tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])):
      with strategy.scope():
        m = self._tiny_model()
        m.set_conv_dtype(tf.float16)
        adam = optimizer_lib.Adam(m.trainable_variables)
        loss_scale = loss_scale_lib.DynamicLossScale(initial_scale=2.0 ** 100)
      step = testing.make_train_step(m, adam, strategy, 8, loss_scale=loss_scale)
      batches = iter(strategy.experimental_distribute_dataset(
          tf.data.Dataset.from_tensors(testing.feature_batch(8)).repeat()))
      before = [v.numpy() for v in m.trainable_variables]
      sums = step(next(batches))
      # Float16 gradients of a loss times 2^100 overflow: an expected skip,
      # not a failure; nothing moved, and the step is still counted.
      self.assertEqual(float(sums['loss_scale_skips']), 1.0)
      self.assertEqual(float(sums['nonfinite_steps']), 0.0)
      self.assertEqual(float(sums['examples']), 0.0)
      self.assertEqual(float(loss_scale.scale.numpy()), 2.0 ** 99)
      for a, b in zip(before, m.trainable_variables):
        self.assertAllEqual(a, b)
      self.assertEqual(int(adam.step.numpy()), 1)
      # A scale that fits: the next step applies and counts one good step.
      loss_scale.scale.assign(2.0 ** 10)
      sums = step(next(batches))
      self.assertEqual(float(sums['loss_scale_skips']), 0.0)
      self.assertEqual(float(sums['examples']), 8.0)
      self.assertEqual(int(loss_scale.good_steps.numpy()), 1)
      self.assertNotAllClose(before[0], m.trainable_variables[0].numpy())

  def test_at_the_scale_floor_an_overflow_is_a_failure(self):
    # Gradients not finite under a finite loss: an overflow to skip while
    # the scale can still halve (2 -> 1), a failure at its floor of 1, where
    # halving cannot help. The slope of sqrt at 0 is infinite: a loss term
    # sqrt(0 * |w|) is 0, and its gradient 0 * inf is NaN.
    for scale, skips, failures in ((2.0, 1.0, 0.0), (1.0, 0.0, 1.0)):
      m = self._tiny_model()
      per_example_losses = m.per_example_losses
      first = m.trainable_variables[0]

      def with_a_kink(features, inferred, losses=per_example_losses,
                      first=first):
        classification, reconstruction = losses(features, inferred)
        kink = tf.sqrt(0.0 * tf.reduce_sum(tf.abs(first)))
        return classification + kink, reconstruction
      m.per_example_losses = with_a_kink
      adam = optimizer_lib.Adam(m.trainable_variables)
      loss_scale = loss_scale_lib.DynamicLossScale(initial_scale=scale)
      step = testing.make_train_step(m, adam, tf.distribute.get_strategy(), 8,
                                     loss_scale=loss_scale)
      before = first.numpy()
      sums = step(testing.feature_batch(8))
      self.assertEqual(float(sums['loss_scale_skips']), skips, scale)
      self.assertEqual(float(sums['nonfinite_steps']), failures, scale)
      self.assertEqual(float(loss_scale.scale), 1.0)  # Halved, or its floor.
      self.assertAllEqual(first.numpy(), before)  # Nothing applied.

  def test_the_scale_updates_between_the_steps_of_a_loop(self):
    m = self._tiny_model()
    m.set_conv_dtype(tf.float16)
    adam = optimizer_lib.Adam(m.trainable_variables)
    loss_scale = loss_scale_lib.DynamicLossScale(initial_scale=2.0 ** 101)
    strategy = tf.distribute.get_strategy()
    loop = steps_lib.make_train_loop(m, adam, strategy, 8, loss_scale=loss_scale)
    iterator = iter(tf.data.Dataset.from_tensors(
        testing.feature_batch(8)).repeat())
    sums = loop(iterator, tf.constant(2))
    # Each step read the scale the one before it halved.
    self.assertEqual(float(sums['loss_scale_skips']), 2.0)
    self.assertEqual(float(sums['loss_scale']), 2.0 ** 101 + 2.0 ** 100)
    self.assertEqual(float(loss_scale.scale), 2.0 ** 99)


if __name__ == '__main__':
  testing.split_cpu()  # Under pytest, conftest.py does it.
  tf.test.main()
