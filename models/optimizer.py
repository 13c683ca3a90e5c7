"""The original's optimiser: TF1's Adam, and its learning-rate schedule.

Both are written here rather than taken from Keras so that the update, the
schedule and the checkpoint layout (TF1's slot and variable names, which the
authors' checkpoints use) cannot change under us.
"""

import tensorflow as tf

from models.layers import cpu_kernels

MIN_LEARNING_RATE = 1e-6  # The original's floor on the decayed rate.


def learning_rate(hparams, step):
  """max(lr0 * decay_rate^(step / decay_steps), 1e-6): continuous decay."""
  step = tf.cast(step, tf.float32)
  decayed = hparams.learning_rate * tf.pow(
      hparams.decay_rate, step / float(hparams.decay_steps))
  return tf.maximum(decayed, MIN_LEARNING_RATE)


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

  def __init__(self, variables, beta1=0.9, beta2=0.999, epsilon=1e-8,
               compiled=False):
    """compiled: each variable's update XLA-compiled into one pass over its
    slots (the models' CPU formulation, models/layers/cpu_kernels.py)."""
    super().__init__(name='Adam')
    self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
    self.compiled = compiled
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

    Call in replica context: inside `strategy.run`, or outside any strategy
    (the default strategy's one replica). With apply false (a bool tensor,
    equal on all replicas) nothing but the step changes: how a step with
    non-finite gradients is skipped without letting a NaN reach the weights
    or the moments.
    """
    with tf.name_scope('adam'):  # The group runner/op_profile.py reports.
      apply = tf.convert_to_tensor(apply)
      return tf.distribute.get_replica_context().merge_call(
          self._apply, args=(grads, lr, apply))

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
    # are this device's copies.
    lr_t = lr * tf.sqrt(1.0 - self.beta2_power) / (1.0 - self.beta1_power)
    update = (cpu_kernels.compiled(_adam_update) if self.compiled
              else _adam_update)
    new_var, new_m, new_v = update(
        tf.convert_to_tensor(var), grad, tf.convert_to_tensor(m),
        tf.convert_to_tensor(v), lr_t, apply, self.beta1, self.beta2,
        self.epsilon)
    return tf.group(m.assign(new_m), v.assign(new_v), var.assign(new_var))

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


def _adam_update(var, grad, m, v, lr_t, apply, beta1, beta2, epsilon):
  """(var, m, v) after one TF1 Adam update; unchanged where apply is false.

  Selects, not a cond: the same graph under every strategy, and a skipped
  step costs three elementwise selects (none of a non-finite gradient
  reaches the moments)."""
  grad = tf.where(apply, grad, tf.zeros_like(grad))
  m_t = beta1 * m + (1.0 - beta1) * grad
  v_t = beta2 * v + (1.0 - beta2) * tf.square(grad)
  return (tf.where(apply, var - lr_t * m_t / (tf.sqrt(v_t) + epsilon), var),
          tf.where(apply, m_t, m), tf.where(apply, v_t, v))
