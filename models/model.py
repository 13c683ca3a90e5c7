"""Model base, the original's optimiser and schedule, compiled train/eval steps.

`Model` holds the variables (built eagerly in the constructor, so that they
are created under whatever `tf.distribute` strategy scope is active) and
computes per-example losses. `make_train_loop` / `make_eval_step` return
`tf.function`s that run under any strategy: the
default one, Mirrored over local devices, or MultiWorkerMirrored. Losses are
averaged over the GLOBAL batch: each replica sums its examples' losses and
divides by the global batch size, and gradients are summed over replicas.
"""

import collections

import tensorflow as tf

from models.layers import layers

# logits: [batch, classes]; remakes: list of [batch, pixels] (one per target)
# or None; capsules: [batch, classes, atoms] or None for the baseline.
Inferred = collections.namedtuple('Inferred', ('logits', 'remakes', 'capsules'))

RECONSTRUCTION_BALANCE = 0.0005  # The original's balance_factor.
MIN_LEARNING_RATE = 1e-6  # The original's floor on the decayed rate.


def learning_rate(hparams, step):
  """max(lr0 * decay_rate^(step / decay_steps), 1e-6): continuous decay."""
  step = tf.cast(step, tf.float32)
  decayed = hparams.learning_rate * tf.pow(
      hparams.decay_rate, step / float(hparams.decay_steps))
  return tf.maximum(decayed, MIN_LEARNING_RATE)


class Model(layers.Tf1Module):
  """Base of the capsule and baseline models.

  Subclasses build their variables in `__init__` and implement `inference`
  and `tf1_variables`. Features are the original's dict keys: images
  [batch, depth*height*width] (depth-major, in [0, 1]), labels [batch,
  classes] (one- or two-hot), recons_image/recons_label and, for two targets,
  spare_image/spare_label.
  """

  def __init__(self, hparams, image_size, image_depth, num_classes,
               num_targets=1, name=None):
    super().__init__('', name=name)
    if num_targets not in (1, 2):
      raise ValueError('num_targets must be 1 or 2, got %r' % (num_targets,))
    self.hparams = hparams
    self.image_size = image_size
    self.image_depth = image_depth
    self.num_classes = num_classes
    self.num_targets = num_targets
    self.reconstruction = None  # The capsule model's decoder, if any.

  def images_nhwc(self, images):
    """[batch, depth*h*w] depth-major -> [batch, h, w, depth]."""
    images = tf.reshape(
        images, [-1, self.image_depth, self.image_size, self.image_size])
    return tf.transpose(images, [0, 2, 3, 1])

  def inference(self, features):
    raise NotImplementedError

  def activations(self, features):
    """{TF1 scope: activation} for the verbose histograms."""
    raise NotImplementedError

  def per_example_losses(self, features, inferred):
    """(classification [batch], reconstruction [batch]) with original scaling.

    Their means over the batch are the original's `batch_classification_cost`
    (mean over batch and classes) and `reconstruction_error` (0.0005 * mean
    over batch of summed squared pixel error, summed over the targets).
    """
    classification = layers.classification_loss_elements(
        inferred.logits, features['labels'], self.hparams.loss_type)
    if classification.shape.rank == 2:  # margin, sigmoid: mean over classes.
      classification = tf.reduce_mean(classification, axis=1)
    reconstruction = tf.zeros_like(classification)
    for remake, key in zip(inferred.remakes or [],
                           ('recons_image', 'spare_image')):
      target = tf.reshape(features[key], tf.shape(remake))
      reconstruction += RECONSTRUCTION_BALANCE * tf.reduce_sum(
          tf.square(remake - target), axis=1)
    return classification, reconstruction

  def set_conv_dtype(self, dtype):
    """Runs the model's convolutions in dtype (bfloat16 or float16: mixed
    precision); routing, losses and the optimiser stay float32."""
    for module in self.submodules:
      if isinstance(module, layers.Tf1Module):
        module.compute_dtype = tf.as_dtype(dtype)

  def num_params(self):
    return int(sum(v.shape.num_elements() for v in self.trainable_variables))


class _Untracked:
  """A plain holder that checkpoints do not follow."""

  def __init__(self, items):
    self.items = list(items)


class Adam(tf.Module):
  """Adam with TF1's `tf.train.AdamOptimizer` update and slot layout.

    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
    m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
    var -= lr_t m / (sqrt(v) + epsilon)
  with the bias corrections kept as `beta1_power` / `beta2_power` variables
  and slots `m` (TF1 `<var>/Adam`) and `v` (`<var>/Adam_1`), so TF1
  checkpoints map onto it. Written here rather than taken from Keras so the
  update and the checkpoint layout cannot change under us.
  """

  def __init__(self, variables, beta1=0.9, beta2=0.999, epsilon=1e-8):
    super().__init__(name='Adam')
    self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
    # Held outside the checkpoint's object graph: the variables are saved
    # once, under the model's own paths (model/conv1/weights, ...).
    self._variables = _Untracked(variables)
    self.m = [tf.Variable(tf.zeros_like(v), trainable=False, name='Adam')
              for v in self.variables_to_train]
    self.v = [tf.Variable(tf.zeros_like(v), trainable=False, name='Adam_1')
              for v in self.variables_to_train]
    self.beta1_power = tf.Variable(beta1, trainable=False, name='beta1_power')
    self.beta2_power = tf.Variable(beta2, trainable=False, name='beta2_power')
    # The number of updates applied: the TF1 `global_step`.
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                            name='global_step')

  @property
  def variables_to_train(self):
    return self._variables.items

  def apply_gradients(self, grads, lr, apply=True):
    """Applies per-replica gradients (summed over replicas) at rate lr.

    Call in replica context (inside `strategy.run`) or outside any strategy.
    With apply false (a bool tensor, equal on all replicas) nothing but the
    step changes: how a step with non-finite gradients is skipped without
    letting a NaN reach the weights or the moments.
    """
    apply = tf.convert_to_tensor(apply)
    ctx = tf.distribute.get_replica_context()
    if ctx is None:  # Cross-replica context: nothing to reduce.
      return self._apply(tf.distribute.get_strategy(), grads, lr, apply)
    return ctx.merge_call(self._apply, args=(grads, lr, apply))

  def _apply(self, strategy, grads, lr, apply):
    reduced = strategy.extended.batch_reduce_to(
        tf.distribute.ReduceOp.SUM, list(zip(grads, self.variables_to_train)))
    updates = []
    for grad, var, m, v in zip(reduced, self.variables_to_train, self.m,
                               self.v):
      updates.append(strategy.extended.update(
          var, self._update_one, args=(grad, m, v, lr, apply), group=False))
    with tf.control_dependencies(tf.nest.flatten(updates)):
      return strategy.extended.update(
          self.beta1_power, self._finish, args=(apply,), group=True)

  def _update_one(self, var, grad, m, v, lr, apply):
    # Inside strategy.extended.update: var, m, v, lr, apply and the powers
    # are this device's copies. Selects, not a cond: the same graph under
    # every strategy, and a skipped step costs three elementwise selects.
    grad = tf.where(apply, grad, tf.zeros_like(grad))
    lr_t = lr * tf.sqrt(1.0 - self.beta2_power) / (1.0 - self.beta1_power)
    m_t = self.beta1 * m + (1.0 - self.beta1) * grad
    v_t = self.beta2 * v + (1.0 - self.beta2) * tf.square(grad)
    return tf.group(
        m.assign(tf.where(apply, m_t, m)), v.assign(tf.where(apply, v_t, v)),
        var.assign(tf.where(
            apply, var - lr_t * m_t / (tf.sqrt(v_t) + self.epsilon), var)))

  def _finish(self, beta1_power, apply):
    return tf.group(
        beta1_power.assign(tf.where(apply, beta1_power * self.beta1,
                                    beta1_power)),
        self.beta2_power.assign(tf.where(apply, self.beta2_power * self.beta2,
                                         self.beta2_power)),
        self.step.assign_add(1))

  def tf1_variables(self, model_variables_by_name):
    """{TF1 name: variable} of the slots and powers, given the model's map."""
    slot = {id(v): (m, v2) for v, m, v2 in
            zip(self.variables_to_train, self.m, self.v)}
    names = {'beta1_power': self.beta1_power, 'beta2_power': self.beta2_power}
    for name, var in model_variables_by_name.items():
      if id(var) in slot:
        names[name + '/Adam'], names[name + '/Adam_1'] = slot[id(var)]
    return names


class DynamicLossScale(tf.Module):
  """Dynamic loss scaling for float16 convolutions.

  The loss is multiplied by `scale` before the backward pass and the
  gradients divided by it after, so that float16 gradients (about 1e-7 in
  the primary capsules' kernel at batch 128: unscaled, 42% of that kernel's
  weights got a zero gradient and did not move in one step of
  models/model_test.py's setup) survive. A step whose scaled gradients overflow is skipped and
  the scale halved; after `growth_steps` applied steps in a row the scale
  doubles. The defaults are Keras LossScaleOptimizer's (2^15, 2000). Not
  needed for bfloat16, which has float32's exponent range.
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


def _metric_sums(model, features, logits, classification, reconstruction):
  """Per-replica sums over the batch of everything the loop reports."""
  correct, almost = layers.correct_counts(
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
    lr = learning_rate(model.hparams, optimizer.step)
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
