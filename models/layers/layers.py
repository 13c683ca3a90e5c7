"""Capsule layers, routing, losses and metrics on TensorFlow 2.

From the original `models/layers/layers.py`:
- `_squash`, `_leaky_routing`, `_update_routing`, `_margin_loss` and
  `evaluate` keep their names, arguments and numerics, so code and tests
  written against them carry over.
- The original's `capsule`, `conv_slim_capsule` and `reconstruction`
  created TF1 variables in a variable scope as they ran; here they are the
  `tf.Module`s `Capsule`, `ConvSlimCapsule` and `Reconstruction`, built
  with the same arguments less the input tensor and then called on it. Their
  `tf.Variable`s carry the original TF1 names (`tf1_variables`) that map
  one-to-one to the authors' checkpoints. The reconstruction loss the
  original added to a collection is computed per example by
  `models.model.Model.per_example_losses`.
- The original `models/layers/variables.py` is `weight_variable` and
  `bias_variable` below.

Differences from the original that do not change results beyond float noise:
votes are a batched matmul instead of a tiled elementwise product (the tile
needed 4.4 GiB on CIFAR-10), fully connected routing runs on output-major
votes so both of its contractions are copy-free batched matmuls,
convolutional routing runs with the positions in one axis (rank 5, which
TFLite's builtin ops take), the routing loop is unrolled (num_routing is a Python int), and squash has an epsilon
inside the square root so zero vectors are finite.
"""

import tensorflow as tf

# Inside the square root of squash: keeps value and gradient finite at a zero
# vector; relative change elsewhere is eps / |s|^2, below float32 noise for
# any capsule that carries signal.
_SQUASH_EPSILON = 1e-9


# ----------------------------------------------------------------------------
# Variables (the original models/layers/variables.py).

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
  """

  def __init__(self, scope, name=None):
    super().__init__(name=name or scope.replace('/', '_'))
    self.scope = scope
    self.compute_dtype = tf.float32

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


# ----------------------------------------------------------------------------
# Stateless operations (original names and arguments).

def _squash(input_tensor):
  """Squashes capsule vectors over axis 2 to a norm in [0, 1).

  Args:
    input_tensor: [batch, capsules, atoms] or [batch, capsules, atoms, h, w].

  Returns:
    Same shape: s / |s| * |s|^2 / (1 + |s|^2), and 0 for s = 0.
  """
  norm_squared = tf.reduce_sum(tf.square(input_tensor), axis=2, keepdims=True)
  norm = tf.sqrt(norm_squared + _SQUASH_EPSILON)
  return (input_tensor / norm) * (norm_squared / (1.0 + norm_squared))


def _leaky_routing(logits, output_dim):
  """Softmax over output capsules with an extra zero logit ("none of the above").

  Args:
    logits: [batch, input_dim, output_dim, ...] routing logits.
    output_dim: size of axis 2 of logits.

  Returns:
    Routing probabilities of logits' shape; along axis 2 they sum below 1, the
    rest having gone to the dropped leak capsule.
  """
  leak = tf.zeros_like(logits[:, :, :1])  # [batch, input_dim, 1, ...]
  leaky_logits = tf.concat([leak, logits], axis=2)
  leaky_routing = tf.nn.softmax(leaky_logits, axis=2)
  return tf.split(leaky_routing, [1, output_dim], axis=2)[1]


def _update_routing(votes, biases, logit_shape, num_dims, input_dim, output_dim,
                    num_routing, leaky):
  """Routing by agreement: the original's order of operations.

  logits = 0; repeat num_routing times:
    c = softmax(logits over the output capsules)       (leaky: with a leak)
    s_j = sum_i c_ij * u_ij + bias_j;  v_j = squash(s_j)
    logits_ij += <u_ij, v_j>
  No stop-gradient, as the original.

  Args:
    votes: [batch, input_dim, output_dim, atoms] (num_dims=4, fully connected)
      or [batch, input_dim, output_dim, atoms, height, width] (num_dims=6).
    biases: broadcastable to [output_dim, atoms(, height, width)].
    logit_shape: [batch, input_dim, output_dim(, height, width)].
    num_dims: 4 or 6.
    input_dim: number of input capsules (axis 1 of votes).
    output_dim: number of output capsules (axis 2 of votes).
    num_routing: Python int >= 1, routing iterations.
    leaky: bool, use leaky routing.

  Returns:
    Activations after the last iteration, [batch, output_dim, atoms(, h, w)].
  """
  # The original's signature, kept whole: its layers_test.py calls this
  # routine with all eight arguments (tested here with its values). Its TF1
  # graph needed input_dim and logit_shape to build the loop; here both
  # follow from votes' shape, so they are read nowhere.
  del input_dim, logit_shape
  if num_dims == 4:
    # One transpose here instead of one inside every einsum below.
    return _route_output_major(tf.transpose(votes, [0, 2, 1, 3]), biases,
                               num_routing, leaky)
  if num_dims != 6:
    raise ValueError('num_dims must be 4 or 6, got %r' % (num_dims,))
  shape = tf.shape(votes)
  activation = _route_positions(
      tf.reshape(votes, tf.concat([shape[:4], [-1]], 0)), biases,
      num_routing, leaky)  # [b, out, atoms, h*w]
  return tf.reshape(activation,
                    tf.concat([tf.shape(activation)[:3], shape[4:]], 0))


def _route_positions(votes, biases, num_routing, leaky):
  """Convolutional routing with the positions in one axis.

  Args:
    votes: [batch, in, out, atoms, positions].
    biases: [out, atoms, 1, 1] (the layer's) or [out, atoms, h, w].
    num_routing: Python int >= 1.
    leaky: bool.

  Returns:
    [batch, out, atoms, positions].

  Routing is independent per position, so flattening them changes nothing
  but the rank: 5, the most TFLite's builtin ops take. Products and sums
  rather than einsums, which would be batched matmuls of that rank (the
  primary capsules' input_dim is 1: nothing is summed there anyway).
  """
  num_routing = _check_routing(num_routing)
  output_dim = votes.shape[2]
  biases = tf.reshape(biases, tf.concat([tf.shape(biases)[:2], [-1]], 0))
  logits = tf.zeros_like(votes[:, :, :, 0])  # [b, in, out, positions]
  activation = None
  for i in range(num_routing):
    route = (_leaky_routing(logits, output_dim) if leaky
             else tf.nn.softmax(logits, axis=2))
    preactivate = tf.reduce_sum(route[:, :, :, None] * votes,
                                axis=1) + biases  # [b, out, atoms, positions]
    activation = _squash(preactivate)
    if i + 1 < num_routing:  # The original's last update was never read.
      logits += tf.reduce_sum(votes * activation[:, None], axis=3)
  return activation


def _check_routing(num_routing):
  num_routing = int(num_routing)
  if num_routing < 1:
    raise ValueError('num_routing must be >= 1, got %d' % num_routing)
  return num_routing


def _route_output_major(votes_t, biases, num_routing, leaky):
  """Fully connected routing on output-major votes [b, out, in, atoms].

  The same computation as `_update_routing` with num_dims=4, laid out so
  that both routing contractions are batched matmuls over (b, out) with no
  copy of the vote tensor: 2.7x faster forward and backward at batch 128 on
  a CPU. Logits are kept as [b, out, in]; the softmax runs over axis 1.
  Unrolled: num_routing is small and static.
  """
  num_routing = _check_routing(num_routing)
  logits = tf.zeros_like(votes_t[..., 0])  # [b, out, in]
  activation = None
  for i in range(num_routing):
    if leaky:  # The leak is a zero logit in front of the output capsules.
      padded = tf.concat([tf.zeros_like(logits[:, :1]), logits], axis=1)
      route = tf.nn.softmax(padded, axis=1)[:, 1:]
    else:
      route = tf.nn.softmax(logits, axis=1)
    preactivate = tf.einsum('bji,bjia->bja', route, votes_t) + biases
    activation = _squash(preactivate)  # [b, out, atoms]
    if i + 1 < num_routing:  # The original's last update was never read.
      logits += tf.einsum('bjia,bja->bji', votes_t, activation)
  return activation


def _margin_loss(labels, raw_logits, margin=0.4, downweight=0.5):
  """Per-element margin loss of the original (its `_margin_loss`).

  Args:
    labels: [batch, classes] one-hot (two-hot for two targets).
    raw_logits: [batch, classes] capsule lengths in [0, 1].
    margin: margin around 0.5 (0.4: positives want >= 0.9, negatives <= 0.1).
    downweight: factor of the negative cost.

  Returns:
    [batch, classes] cost; the original's batch loss is its mean.
  """
  logits = raw_logits - 0.5
  positive_cost = labels * tf.cast(tf.less(logits, margin),
                                   tf.float32) * tf.pow(logits - margin, 2)
  negative_cost = (1 - labels) * tf.cast(
      tf.greater(logits, -margin), tf.float32) * tf.pow(logits + margin, 2)
  return 0.5 * positive_cost + downweight * 0.5 * negative_cost


def classification_loss_elements(logits, labels, loss_type):
  """Unreduced classification loss of the original for each loss_type."""
  if loss_type == 'sigmoid':
    # labels / 2: the original's two-hot MultiMNIST targets sum to 1.
    return tf.nn.sigmoid_cross_entropy_with_logits(
        labels=labels / 2.0, logits=logits)
  if loss_type == 'softmax':
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  if loss_type == 'margin':
    return _margin_loss(labels=labels, raw_logits=logits)
  raise ValueError('loss_type must be margin, softmax or sigmoid, got %r' %
                   (loss_type,))


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
      classification_loss_elements(logits, labels, loss_type))
  correct, almost_correct = correct_counts(logits, labels, num_targets)
  correct_sum = tf.reduce_sum(tf.cast(correct, tf.float32))
  almost_correct_sum = tf.reduce_sum(tf.cast(almost_correct, tf.float32))
  return classification_loss, correct_sum, almost_correct_sum


# ----------------------------------------------------------------------------
# Stateful layers.

class Capsule(Tf1Module):
  """Fully connected capsule layer (the original `capsule`).

  Input [batch, input_dim, input_atoms] -> votes [batch, input_dim,
  output_dim, output_atoms] with one weight matrix per input capsule (not
  shared), routed into [batch, output_dim, output_atoms].
  Variables: `<layer_name>/weights` [input_dim, input_atoms,
  output_dim*output_atoms], `<layer_name>/biases` [output_dim, output_atoms].
  """

  def __init__(self, input_dim, output_dim, layer_name, input_atoms=8,
               output_atoms=8, num_routing=3, leaky=False):
    super().__init__(layer_name)
    self.input_dim = input_dim
    self.output_dim = output_dim
    self.input_atoms = input_atoms
    self.output_atoms = output_atoms
    self.num_routing = num_routing
    self.leaky = leaky
    with self.name_scope:
      self.weights = weight_variable(
          [input_dim, input_atoms, output_dim * output_atoms])
      self.biases = bias_variable([output_dim, output_atoms])

  def votes_by_input(self, input_tensor):
    """[batch, input_dim, input_atoms] -> [in, batch, out, out_atoms]."""
    # One [batch, in_atoms] x [in_atoms, out*atoms] matmul per input capsule,
    # batched over input capsules: no tiled copy of the input.
    inputs_t = tf.transpose(input_tensor, [1, 0, 2])  # [in, batch, in_atoms]
    votes = tf.matmul(inputs_t, self.weights)  # [in, batch, out*atoms]
    return tf.reshape(votes, [self.input_dim, -1, self.output_dim,
                              self.output_atoms])

  def __call__(self, input_tensor):
    # Straight to the output-major layout routing wants: one transpose.
    votes_t = tf.transpose(self.votes_by_input(input_tensor),
                           [1, 2, 0, 3])  # [batch, out, in, out_atoms]
    return _route_output_major(votes_t, self.biases, self.num_routing,
                               self.leaky)


class ConvSlimCapsule(Tf1Module):
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
    super().__init__(layer_name)
    self.input_dim = input_dim
    self.output_dim = output_dim
    self.input_atoms = input_atoms
    self.output_atoms = output_atoms
    self.stride = stride
    self.kernel_size = kernel_size
    self.padding = padding
    self.num_routing = num_routing
    self.leaky = leaky
    with self.name_scope:
      self.weights = weight_variable(
          [kernel_size, kernel_size, input_atoms, output_dim * output_atoms])
      self.biases = bias_variable([output_dim, output_atoms, 1, 1])

  def call_nhwc(self, input_tensor):
    """Capsule activations from a channels-last input.

    Args:
      input_tensor: [batch * input_dim, height, width, input_atoms], input
        capsule i of example b at row b * input_dim + i.

    Returns:
      [batch, output_dim, output_atoms, out_height, out_width].
    """
    conv = _conv2d(input_tensor, self.weights, self.stride, self.padding,
                   self.compute_dtype)  # [b*in, oh, ow, out*atoms]
    out_h, out_w = conv.shape[1], conv.shape[2]
    # _update_routing's num_dims=6 layout with the positions in one axis
    # (rank 5 throughout, see _route_positions).
    votes = tf.reshape(conv, [-1, self.input_dim, out_h * out_w,
                              self.output_dim, self.output_atoms])
    votes = tf.transpose(votes, [0, 1, 3, 4, 2])  # [b, in, out, atoms, oh*ow]
    activation = _route_positions(votes, self.biases, self.num_routing,
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


class Dense(Tf1Module):
  """Fully connected layer with the original init: `<scope>/weights|biases`."""

  def __init__(self, input_size, output_size, scope, activation=None,
               stddev=0.1):
    super().__init__(scope)
    self.activation = activation
    with self.name_scope:
      self.weights = weight_variable([input_size, output_size], stddev=stddev)
      self.biases = bias_variable([output_size])

  def __call__(self, x):
    y = tf.matmul(x, self.weights) + self.biases
    return self.activation(y) if self.activation else y


class Conv2D(Tf1Module):
  """NHWC convolution + bias + optional ReLU: `<scope>/weights|biases`."""

  def __init__(self, kernel_size, input_channels, output_channels, scope,
               padding, stddev=0.1, relu=True):
    super().__init__(scope)
    self.padding = padding
    self.relu = relu
    with self.name_scope:
      self.weights = weight_variable(
          [kernel_size, kernel_size, input_channels, output_channels],
          stddev=stddev)
      self.biases = bias_variable([output_channels])

  def __call__(self, x):
    y = _conv2d(x, self.weights, 1, self.padding, self.compute_dtype)
    y = tf.nn.bias_add(y, self.biases)
    return tf.nn.relu(y) if self.relu else y


def _conv2d(x, kernel, stride, padding, compute_dtype):
  """NHWC conv2d in compute_dtype (e.g. bfloat16), float32 result."""
  if compute_dtype == tf.float32:
    return tf.nn.conv2d(x, kernel, strides=stride, padding=padding)
  y = tf.nn.conv2d(tf.cast(x, compute_dtype), tf.cast(kernel, compute_dtype),
                   strides=stride, padding=padding)
  return tf.cast(y, tf.float32)


def conv_output_size(size, kernel_size, stride, padding):
  """Spatial output size of tf.nn.conv2d / max_pool for 'SAME' or 'VALID'."""
  if padding == 'SAME':
    return -(-size // stride)
  return (size - kernel_size) // stride + 1


class Reconstruction(Tf1Module):
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
    return merge_tf1_variables(self.layers)

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
