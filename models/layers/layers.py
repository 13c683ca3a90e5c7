"""Capsule and convolutional layers as `tf.Module`s with TF1 names.

The original's `capsule`, `conv_slim_capsule` and `reconstruction` created
TF1 variables in a variable scope as they ran; here they are the modules
`Capsule`, `ConvSlimCapsule` and `Reconstruction`, built with the same
arguments less the input tensor and then called on it. Their `tf.Variable`s
carry the original TF1 names (`tf1_variables`) that map one-to-one to the
authors' checkpoints. The reconstruction loss the original added to a
collection is computed per example by `models.model.Model.per_example_losses`.

The rest of the original's `models/layers/layers.py` is beside this file:
`_squash`, `_leaky_routing` and `_update_routing` in `routing.py`,
`_margin_loss` in `losses.py`, `evaluate` in `metrics.py`; its
`variables.py` is `variables.py` here too.

Differences from the original that do not change results beyond float noise:
votes are a batched matmul instead of a tiled elementwise product (the tile
needed 4.4 GiB on CIFAR-10), routing runs in the layouts `routing.py`
explains, and on a CPU the primary capsules' kernel gradient and the votes
and routing take the forms of `cpu_kernels.py`.
"""

import tensorflow as tf

from models.layers import cpu_kernels
from models.layers import routing
from models.layers import variables


class _CapsuleLayer(variables.Tf1Module):
  """What both capsule layers are given: capsule counts, atoms, routing."""

  def __init__(self, layer_name, input_dim, output_dim, input_atoms,
               output_atoms, num_routing, leaky):
    super().__init__(layer_name)
    self.input_dim = input_dim
    self.output_dim = output_dim
    self.input_atoms = input_atoms
    self.output_atoms = output_atoms
    self.num_routing = num_routing
    self.leaky = leaky


class Capsule(_CapsuleLayer):
  """Fully connected capsule layer (the original `capsule`).

  Input [batch, input_dim, input_atoms] -> votes [batch, input_dim,
  output_dim, output_atoms] with one weight matrix per input capsule (not
  shared), routed into [batch, output_dim, output_atoms].
  Variables: `<layer_name>/weights` [input_dim, input_atoms,
  output_dim*output_atoms], `<layer_name>/biases` [output_dim, output_atoms].
  """

  def __init__(self, input_dim, output_dim, layer_name, input_atoms=8,
               output_atoms=8, num_routing=3, leaky=False):
    super().__init__(layer_name, input_dim, output_dim, input_atoms,
                     output_atoms, num_routing, leaky)
    with self.name_scope:
      self.weights = variables.weight_variable(
          [input_dim, input_atoms, output_dim * output_atoms])
      self.biases = variables.bias_variable([output_dim, output_atoms])

  def forward_flops(self):
    """Multiply-adds x 2 of one example: the votes, and each routing
    iteration's weighted sum and agreement."""
    votes = 2 * self.weights.shape.num_elements()
    routing = self.num_routing * 2 * 2 * (
        self.input_dim * self.output_dim * self.output_atoms)
    return votes + routing

  def votes_by_input(self, input_tensor):
    """[batch, input_dim, input_atoms] -> [in, batch, out, out_atoms]."""
    return _votes_by_input(input_tensor, self.weights, self.output_dim,
                           self.output_atoms)

  def __call__(self, input_tensor):
    """[batch, input_dim, input_atoms] -> [batch, output_dim, output_atoms]."""
    forward = (cpu_kernels.compiled(_votes_and_routing) if self.cpu_kernels
               else _votes_and_routing)
    # Tensors in (the variables read here): the compiled function is one
    # for every layer, replica and strategy.
    return forward(input_tensor, tf.convert_to_tensor(self.weights),
                   tf.convert_to_tensor(self.biases), self.output_dim,
                   self.output_atoms, self.num_routing, self.leaky)


def _votes_by_input(input_tensor, weights, output_dim, output_atoms):
  # One [batch, in_atoms] x [in_atoms, out*atoms] matmul per input capsule,
  # batched over input capsules: no tiled copy of the input.
  inputs_t = tf.transpose(input_tensor, [1, 0, 2])  # [in, batch, in_atoms]
  votes = tf.matmul(inputs_t, weights)  # [in, batch, out*atoms]
  return tf.reshape(votes, [inputs_t.shape[0], -1, output_dim, output_atoms])


def _votes_and_routing(input_tensor, weights, biases, output_dim,
                       output_atoms, num_routing, leaky):
  """`Capsule`'s computation (a function of tensors and Python values, so
  that `cpu_kernels.compiled` can compile it once for every layer)."""
  # Straight to the output-major layout routing wants: one transpose.
  votes_t = tf.transpose(
      _votes_by_input(input_tensor, weights, output_dim, output_atoms),
      [1, 2, 0, 3])  # [batch, out, in, out_atoms]
  return routing.route_output_major(votes_t, biases, num_routing, leaky)


class ConvSlimCapsule(_CapsuleLayer):
  """Convolutional capsule layer (the original `conv_slim_capsule`).

  One conv kernel shared over positions and input capsules; output channel
  c = capsule_type * output_atoms + atom. The original input/output layout is
  [batch, dim, atoms, height, width] (NCHW-like); `call_nhwc` takes the
  channels-last layout that TensorFlow's CPU convolutions need.
  Variables: `<layer_name>/weights` [k, k, input_atoms, output_dim*output_atoms],
  `<layer_name>/biases` [output_dim, output_atoms, 1, 1].
  """

  def __init__(self, input_dim, output_dim, layer_name, input_atoms=8,
               output_atoms=8, stride=2, kernel_size=5, padding='SAME',
               num_routing=3, leaky=False):
    super().__init__(layer_name, input_dim, output_dim, input_atoms,
                     output_atoms, num_routing, leaky)
    self.stride = stride
    self.kernel_size = kernel_size
    self.padding = padding
    with self.name_scope:
      self.weights = variables.weight_variable(
          [kernel_size, kernel_size, input_atoms, output_dim * output_atoms])
      self.biases = variables.bias_variable([output_dim, output_atoms, 1, 1])

  def forward_flops(self, size):
    """(multiply-adds x 2 of one example on size x size inputs, the output
    size): the convolution of each input capsule."""
    out = conv_output_size(size, self.kernel_size, self.stride, self.padding)
    return (self.input_dim * out * out * 2 *
            self.weights.shape.num_elements()), out

  def call_nhwc(self, input_tensor):
    """Capsule activations from a channels-last input.

    Args:
      input_tensor: [batch * input_dim, height, width, input_atoms], input
        capsule i of example b at row b * input_dim + i.

    Returns:
      [batch, output_dim, output_atoms, out_height, out_width].
    """
    conv = _conv2d(input_tensor, self.weights, self.stride, self.padding,
                   self.compute_dtype,
                   self.cpu_kernels)  # [b*in, oh, ow, out*atoms]
    out_h, out_w = conv.shape[1], conv.shape[2]
    # _update_routing's num_dims=6 layout with the positions in one axis
    # (rank 5 throughout, see routing.route_positions).
    votes = tf.reshape(conv, [-1, self.input_dim, out_h * out_w,
                              self.output_dim, self.output_atoms])
    votes = tf.transpose(votes, [0, 1, 3, 4, 2])  # [b, in, out, atoms, oh*ow]
    activation = routing.route_positions(votes, self.biases, self.num_routing,
                                  self.leaky)  # [b, out, atoms, oh*ow]
    return tf.reshape(activation, [-1, self.output_dim, self.output_atoms,
                                   out_h, out_w])

  def __call__(self, input_tensor):
    """[batch, input_dim, input_atoms, h, w] -> [batch, out, atoms, oh, ow]."""
    shape = tf.shape(input_tensor)
    nhwc = tf.transpose(input_tensor, [0, 1, 3, 4, 2])  # [b, in, h, w, atoms]
    nhwc = tf.reshape(nhwc, [shape[0] * self.input_dim, shape[3], shape[4],
                             self.input_atoms])
    return self.call_nhwc(nhwc)


class Dense(variables.Tf1Module):
  """Fully connected layer with the original init: `<scope>/weights|biases`."""

  def __init__(self, input_size, output_size, scope, activation=None,
               stddev=0.1):
    super().__init__(scope)
    self.activation = activation
    with self.name_scope:
      self.weights = variables.weight_variable([input_size, output_size],
                                               stddev=stddev)
      self.biases = variables.bias_variable([output_size])

  def forward_flops(self):
    """Multiply-adds x 2 of one example."""
    return 2 * self.weights.shape.num_elements()

  def __call__(self, x):
    y = tf.matmul(x, self.weights) + self.biases
    return self.activation(y) if self.activation else y


class Conv2D(variables.Tf1Module):
  """NHWC convolution + bias + optional ReLU: `<scope>/weights|biases`."""

  def __init__(self, kernel_size, input_channels, output_channels, scope,
               padding, stddev=0.1, relu=True):
    super().__init__(scope)
    self.padding = padding
    self.relu = relu
    with self.name_scope:
      self.weights = variables.weight_variable(
          [kernel_size, kernel_size, input_channels, output_channels],
          stddev=stddev)
      self.biases = variables.bias_variable([output_channels])

  def forward_flops(self, size):
    """(multiply-adds x 2 of one example on a size x size input, the output
    size)."""
    out = conv_output_size(size, self.weights.shape[0], 1, self.padding)
    return out * out * 2 * self.weights.shape.num_elements(), out

  def __call__(self, x):
    y = _conv2d(x, self.weights, 1, self.padding, self.compute_dtype)
    y = tf.nn.bias_add(y, self.biases)
    return tf.nn.relu(y) if self.relu else y


def _conv2d(x, kernel, stride, padding, compute_dtype, cpu=False):
  """NHWC conv2d in compute_dtype (e.g. bfloat16), float32 result; cpu:
  with cpu_kernels.conv2d's gradient."""
  if compute_dtype != tf.float32:
    x, kernel = tf.cast(x, compute_dtype), tf.cast(kernel, compute_dtype)
  if cpu:
    y = cpu_kernels.conv2d(x, kernel, stride, padding)
  else:
    y = tf.nn.conv2d(x, kernel, strides=stride, padding=padding)
  return tf.cast(y, tf.float32)  # No op for float32.


def conv_output_size(size, kernel_size, stride, padding):
  """Spatial output size of tf.nn.conv2d / max_pool for 'SAME' or 'VALID'."""
  if padding == 'SAME':
    return -(-size // stride)
  return (size - kernel_size) // stride + 1


class Reconstruction(variables.Tf1Module):
  """Decoder from the label-masked capsules (the original `reconstruction`).

  FC 512 ReLU -> FC 1024 ReLU -> FC num_pixels sigmoid, weights shared by all
  targets. Variables `recons/recons_{1,2,3}/weights|biases`.
  """

  def __init__(self, num_atoms, num_capsules, layer_sizes, num_pixels,
               scope='recons'):
    super().__init__(scope)
    self.num_atoms = num_atoms
    first_layer_size, second_layer_size = layer_sizes
    sizes = [num_capsules * num_atoms, first_layer_size, second_layer_size,
             num_pixels]
    activations = [tf.nn.relu, tf.nn.relu, tf.sigmoid]
    with self.name_scope:
      self.layers = [
          Dense(sizes[i], sizes[i + 1], '%s/recons_%d' % (scope, i + 1),
                activation=activations[i]) for i in range(3)]

  def tf1_variables(self):
    return variables.merge_tf1_variables(self.layers)

  def __call__(self, capsule_mask, capsule_embedding):
    """Reconstructs the masked capsules.

    Args:
      capsule_mask: [batch, num_capsules], one-hot of the target to decode.
      capsule_embedding: [batch, num_capsules, num_atoms].

    Returns:
      [batch, num_pixels] reconstruction in (0, 1).
    """
    filtered = capsule_embedding * capsule_mask[:, :, None]  # [b, caps, atoms]
    hidden = tf.reshape(filtered, [-1, filtered.shape[1] * self.num_atoms])
    for layer in self.layers:
      hidden = layer(hidden)
    return hidden
