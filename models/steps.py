"""The compiled training and evaluation steps, under any tf.distribute
strategy: the default one, Mirrored over local devices, or
MultiWorkerMirrored.

Losses are averaged over the GLOBAL batch: each replica sums its examples'
losses and divides by the global batch size, and gradients are summed over
replicas. Every step returns sums over the batch (losses, correct counts),
which the training loop and the evaluation add up and divide.
"""

import tensorflow as tf

from models import optimizer as optimizer_lib
from models.layers import metrics


def _metric_sums(model, features, logits, classification, reconstruction):
  """Per-replica sums over the batch of everything the loop reports."""
  correct, almost = metrics.correct_counts(
      logits, features['labels'], model.num_targets)
  return {
      'batch_classification_cost': tf.reduce_sum(classification),
      'reconstruction_error': tf.reduce_sum(reconstruction),
      'total_loss': tf.reduce_sum(classification + reconstruction),
      'correct': tf.reduce_sum(tf.cast(correct, tf.float32)),
      'almost_correct': tf.reduce_sum(tf.cast(almost, tf.float32)),
      'examples': tf.cast(tf.shape(logits)[0], tf.float32),
  }


def _reduce_sums(strategy, per_replica):
  return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
          for k, v in per_replica.items()}


def make_train_loop(model, optimizer, strategy, global_batch_size,
                    jit_compile=False, loss_scale=None):
  """Several training steps in one compiled call.

  Returns a `tf.function` `(iterator, num_steps) -> sums` that takes
  num_steps (an int tensor >= 1: a new value does not retrace) batches from
  the (distributed) iterator, trains on each as `train_step_fn` does, and
  returns the sums of every step's sums. One host round trip for num_steps
  steps: what a fast accelerator needs when a step takes milliseconds (the
  `steps_per_loop` of Orbit, Keras' `steps_per_execution`).
  """
  step_fn = train_step_fn(model, optimizer, strategy, global_batch_size,
                           jit_compile, loss_scale)

  @tf.function
  def train_steps(iterator, num_steps):
    sums = step_fn(next(iterator))
    for _ in tf.range(num_steps - 1):
      more = step_fn(next(iterator))
      sums = {k: sums[k] + more[k] for k in sums}
    return sums
  return train_steps


def train_step_fn(model, optimizer, strategy, global_batch_size,
                   jit_compile, loss_scale):
  """The training step over one distributed batch, to be compiled.

  Returns a function taking the per-replica features (from
  `strategy.experimental_distribute_dataset` or the plain batch under the
  default strategy) and returning {name: sum over the global batch} of the
  losses and correct counts, the learning rate used and `nonfinite_steps`
  (1.0 when the loss or a gradient was not finite on some replica: that step
  changed no weight, and its other sums are zero). With jit_compile the
  forward and backward pass of each replica is compiled by XLA; the
  cross-replica update is not.

  With a `DynamicLossScale` (float16 convolutions), a step whose loss is
  finite but whose scaled gradients overflow is an expected event, not a
  failure: it is skipped like a non-finite one but counted in
  `loss_scale_skips` instead, and the scale halves; `loss_scale` is the
  scale the step used.
  """
  def forward_backward(features, scale):
    with tf.GradientTape() as tape:
      inferred = model.inference(features)
      classification, reconstruction = model.per_example_losses(
          features, inferred)
      # The global-batch mean: this replica's share, summed by the reduction.
      loss = tf.reduce_sum(classification + reconstruction) / global_batch_size
      scaled_loss = loss if scale is None else loss * scale
    grads = tape.gradient(scaled_loss, optimizer.variables_to_train)
    if scale is not None:
      grads = [g / scale for g in grads]
    loss_finite = tf.math.is_finite(loss)
    finite = tf.reduce_all(
        [tf.reduce_all(tf.math.is_finite(g)) for g in grads] + [loss_finite])
    sums = _metric_sums(model, features, inferred.logits, classification,
                        reconstruction)
    return grads, finite, loss_finite, sums
  if jit_compile:
    forward_backward = tf.function(forward_backward, jit_compile=True)

  def replica_step(features):
    lr = optimizer_lib.learning_rate(model.hparams, optimizer.step)
    scale = None if loss_scale is None else tf.identity(loss_scale.scale)
    grads, finite_here, loss_finite_here, sums = forward_backward(
        features, scale)
    # Every replica must take the same decision: count the bad replicas.
    bad = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM,
        1.0 - tf.cast(tf.stack([finite_here, loss_finite_here]), tf.float32))
    finite = tf.equal(bad[0], 0.0)
    if loss_scale is None:
      overflow = tf.constant(False)
    else:  # Finite loss, overflowing gradients: the scale is too high.
      overflow = tf.logical_and(tf.logical_not(finite), tf.logical_and(
          tf.equal(bad[1], 0.0), scale > 1.0))
    with tf.control_dependencies(
        [optimizer.apply_gradients(grads, lr, apply=finite)]):
      sums = {k: tf.where(finite, v, tf.zeros_like(v))
              for k, v in sums.items()}
    failed = tf.logical_not(tf.logical_or(finite, overflow))
    return sums, lr, tf.stack([finite, overflow, failed])

  def train_step(features):
    sums, lr, outcome = strategy.run(replica_step, args=(features,))
    sums = _reduce_sums(strategy, sums)
    sums['learning_rate'] = strategy.reduce(
        tf.distribute.ReduceOp.MEAN, lr, axis=None)
    # Equal on every replica; one replica's value.
    applied, overflow, failed = tf.unstack(
        strategy.experimental_local_results(outcome)[0])
    sums['nonfinite_steps'] = tf.cast(failed, tf.float32)
    if loss_scale is not None:
      sums['loss_scale_skips'] = tf.cast(overflow, tf.float32)
      # The scale this step used, summed like the learning rate.
      sums['loss_scale'] = tf.identity(loss_scale.scale)
      with tf.control_dependencies([sums['loss_scale']]):
        update = loss_scale.update(applied, overflow)
      with tf.control_dependencies([update]):
        sums = {k: tf.identity(v) for k, v in sums.items()}
    return sums
  return train_step


def make_eval_step(model, strategy, jit_compile=False):
  """A compiled evaluation step: ({name: sum over batch}, logits [batch, C])."""
  def replica_step(features):
    inferred = model.inference(features)
    classification, reconstruction = model.per_example_losses(
        features, inferred)
    sums = _metric_sums(model, features, inferred.logits, classification,
                        reconstruction)
    return sums, inferred.logits
  if jit_compile:
    replica_step = tf.function(replica_step, jit_compile=True)

  @tf.function
  def eval_step(features):
    sums, logits = strategy.run(replica_step, args=(features,))
    return _reduce_sums(strategy, sums), strategy.gather(logits, axis=0)
  return eval_step
