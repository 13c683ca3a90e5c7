"""Variables with the original's initialisers, and the base of every layer.

The original `models/layers/variables.py` is `weight_variable` and
`bias_variable`; `Tf1Module` gives each layer's `tf.Variable`s the TF1
names of the authors' checkpoints (`tf1_variables`).
"""

import tensorflow as tf


def weight_variable(shape, stddev=0.1, name='weights'):
  """Truncated normal (stddev 0.1 unless told) weights, as the original."""
  return tf.Variable(
      tf.random.truncated_normal(shape, stddev=stddev, dtype=tf.float32),
      name=name)


def bias_variable(shape, value=0.1, name='biases'):
  """Constant 0.1 biases, as the original."""
  return tf.Variable(tf.fill(shape, tf.constant(value, tf.float32)), name=name)


class Tf1Module(tf.Module):
  """A module whose variables also carry the original TF1 checkpoint names.

  `compute_dtype` (float32 unless changed) is the dtype the convolutions of
  the layers that honour it run in; their outputs are float32 again.
  `cpu_kernels` (False unless changed): the layers that have one use their
  CPU formulation (models/layers/cpu_kernels.py).
  """

  def __init__(self, scope, name=None):
    super().__init__(name=name or scope.replace('/', '_'))
    self.scope = scope
    self.compute_dtype = tf.float32
    self.cpu_kernels = False

  def tf1_variables(self):
    """{TF1 variable name: tf.Variable}, e.g. 'conv1/weights'.

    The default fits layers with one `weights` and one `biases` variable;
    modules made of other modules return `merge_tf1_variables(...)`.
    """
    return {self.scope + '/weights': self.weights,
            self.scope + '/biases': self.biases}


def merge_tf1_variables(modules):
  """The union of the modules' {TF1 name: variable} maps (None skipped)."""
  names = {}
  for module in modules:
    if module is not None:
      names.update(module.tf1_variables())
  return names
