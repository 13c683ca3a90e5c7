"""Squash and routing by agreement, the original's numerics.

`_squash`, `_leaky_routing` and `_update_routing` keep the original's names
and arguments (its `models/layers/layers.py`), so code and tests written
against them carry over.

Why two routing loops. Routing is the same computation for every layer,
but the layout that makes it fast differs:
- `route_output_major` (fully connected `Capsule`): votes
  [batch, out, in, atoms], so both contractions (the weighted sum of votes,
  the agreement) are copy-free batched matmuls over (batch, out). Its leak
  is a zero logit padded in front of axis 1.
- `route_positions` (convolutional `ConvSlimCapsule`): votes
  [batch, in, out, atoms, positions], rank 5, the most TFLite's builtin ops
  take (the original's layout is rank 6), with products and sums rather than
  einsums (batched matmuls of that rank). Its leak is `_leaky_routing`,
  the original's, on axis 2.
`_update_routing` dispatches the original's two layouts (num_dims 4 and 6)
to them; `layers_test.py` checks each against a NumPy port of the
original's tile-and-transpose loop.

Differences from the original that do not change results beyond float
noise: the loop is unrolled (num_routing is a Python int); the last logits
update, which nothing read, is not computed; squash has an epsilon inside
the square root so zero vectors are finite.
"""

import tensorflow as tf

# Inside the square root of squash: keeps value and gradient finite at a zero
# vector; relative change elsewhere is eps / |s|^2, below float32 noise for
# any capsule that carries signal.
_SQUASH_EPSILON = 1e-9


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
    return route_output_major(tf.transpose(votes, [0, 2, 1, 3]), biases,
                               num_routing, leaky)
  if num_dims != 6:
    raise ValueError('num_dims must be 4 or 6, got %r' % (num_dims,))
  shape = tf.shape(votes)
  activation = route_positions(
      tf.reshape(votes, tf.concat([shape[:4], [-1]], 0)), biases,
      num_routing, leaky)  # [b, out, atoms, h*w]
  return tf.reshape(activation,
                    tf.concat([tf.shape(activation)[:3], shape[4:]], 0))


def route_positions(votes, biases, num_routing, leaky):
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


def route_output_major(votes_t, biases, num_routing, leaky):
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
