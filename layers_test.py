"""Tests of models/layers/ (layers, routing, losses, metrics, variables)
with literal expected values.

Runs under pytest and as `python layers_test.py`.
"""

import inspect

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from models.layers import layers
from models.layers import losses
from models.layers import metrics
from models.layers import routing
from models.layers import variables


def _numpy_routing(votes, biases, num_routing, leaky):
  """The original's tile-and-transpose routing, written again in NumPy."""
  votes = votes.astype(np.float64)
  logits = np.zeros(votes.shape[:3] + votes.shape[4:])
  for _ in range(num_routing):
    if leaky:
      padded = np.concatenate([np.zeros_like(logits[:, :, :1]), logits], 2)
      exp = np.exp(padded - padded.max(axis=2, keepdims=True))
      route = (exp / exp.sum(axis=2, keepdims=True))[:, :, 1:]
    else:
      exp = np.exp(logits - logits.max(axis=2, keepdims=True))
      route = exp / exp.sum(axis=2, keepdims=True)
    preactivate = (np.expand_dims(route, 3) * votes).sum(axis=1) + biases
    norm = np.sqrt((preactivate ** 2).sum(axis=2, keepdims=True))
    activation = preactivate / norm * norm ** 2 / (1 + norm ** 2)
    tiled = np.repeat(activation[:, None], votes.shape[1], axis=1)
    logits = logits + (votes * tiled).sum(axis=3)
  return activation


class OriginalApiTest(tf.test.TestCase):

  def test_the_originals_functions_keep_their_arguments(self):
    expected = {
        routing._squash: ['input_tensor'],
        routing._leaky_routing: ['logits', 'output_dim'],
        routing._update_routing: ['votes', 'biases', 'logit_shape', 'num_dims',
                                  'input_dim', 'output_dim', 'num_routing',
                                  'leaky'],
        losses._margin_loss: ['labels', 'raw_logits', 'margin', 'downweight'],
        metrics.evaluate: ['logits', 'labels', 'num_targets', 'scope',
                           'loss_type'],
    }
    for function, arguments in expected.items():
      self.assertEqual(list(inspect.signature(function).parameters),
                       arguments, function.__name__)


class SquashTest(tf.test.TestCase):

  def test_unit_vector_has_norm_half(self):
    out = routing._squash(tf.constant([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]]))
    self.assertAllClose(out, [[[0.5, 0.0, 0.0], [0.0, 0.0, 0.5]]])

  def test_three_four_vector(self):
    # |s| = 5: s/5 * 25/26.
    out = routing._squash(tf.constant([[[3.0, 4.0]]]))
    self.assertAllClose(out, [[[3.0 / 5 * 25 / 26, 4.0 / 5 * 25 / 26]]])

  def test_squashes_axis_two_of_rank_five(self):
    x = tf.reshape(tf.range(1.0, 25.0), [1, 2, 3, 2, 2])
    out = routing._squash(x)
    norms = tf.norm(x, axis=2)
    expected = x / norms[:, :, None] * (norms ** 2 / (1 + norms ** 2))[:, :, None]
    self.assertAllClose(out, expected)

  def test_zero_vector_value_and_gradient_are_finite(self):
    x = tf.zeros([2, 3, 4])
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = routing._squash(x)
      total = tf.reduce_sum(out)
    grad = tape.gradient(total, x)
    self.assertAllEqual(out, np.zeros([2, 3, 4]))
    self.assertTrue(np.all(np.isfinite(grad.numpy())))

  def test_equal_to_epsilon_free_squash_elsewhere(self):
    x = tf.random.stateless_normal([4, 10, 16], seed=[1, 2]) * 0.1
    norm = tf.norm(x, axis=2, keepdims=True)
    exact = x / norm * norm ** 2 / (1 + norm ** 2)
    self.assertAllClose(routing._squash(x), exact, rtol=1e-6, atol=0)


class LeakyRoutingTest(tf.test.TestCase):

  def test_zero_logits_share_with_the_leak(self):
    route = routing._leaky_routing(tf.zeros([1, 2, 3]), 3)
    self.assertAllClose(route, np.full([1, 2, 3], 0.25))

  def test_sums_below_one(self):
    logits = tf.constant([[[1.0, -2.0, 0.5], [3.0, 3.0, 3.0]]])
    route = routing._leaky_routing(logits, 3)
    sums = tf.reduce_sum(route, axis=2).numpy()
    self.assertTrue(np.all(sums < 1.0))
    # Logits (3, 3, 3) against the leak's 0: 3 e^3 / (1 + 3 e^3).
    self.assertAllClose(sums[0, 1], 3 * np.exp(3.0) / (1 + 3 * np.exp(3.0)))


class UpdateRoutingTest(tf.test.TestCase, parameterized.TestCase):

  def test_one_pass_hand_computed(self):
    # One input capsule, two outputs: c = 1/2, s_0 = (1.5, 2), s_1 = 0.
    votes = tf.constant([[[[3.0, 4.0], [0.0, 0.0]]]])  # [1, 1, 2, 2]
    out = routing._update_routing(votes, tf.zeros([2, 2]), [1, 1, 2], 4, 1, 2,
                                  num_routing=1, leaky=False)
    scale = 6.25 / 7.25 / 2.5  # |s|^2 / (1 + |s|^2) / |s| with |s| = 2.5
    self.assertAllClose(out, [[[1.5 * scale, 2.0 * scale], [0.0, 0.0]]])

  def test_biases_added_before_squash(self):
    votes = tf.zeros([1, 3, 2, 2])
    biases = tf.constant([[3.0, 4.0], [0.0, 0.0]])
    out = routing._update_routing(votes, biases, [1, 3, 2], 4, 3, 2,
                                  num_routing=2, leaky=False)
    self.assertAllClose(out, [[[3 / 5 * 25 / 26, 4 / 5 * 25 / 26], [0, 0]]])

  @parameterized.parameters(
      (1, False), (2, False), (3, False), (3, True), (5, True))
  def test_matches_original_fully_connected(self, num_routing, leaky):
    rng = np.random.RandomState(num_routing)
    votes = rng.randn(2, 7, 4, 5).astype(np.float32) * 0.3
    biases = rng.randn(4, 5).astype(np.float32) * 0.1
    out = routing._update_routing(tf.constant(votes), tf.constant(biases),
                                  [2, 7, 4], 4, 7, 4, num_routing, leaky)
    self.assertAllClose(out, _numpy_routing(votes, biases, num_routing, leaky),
                        rtol=1e-5, atol=1e-6)

  @parameterized.parameters((1, False, (1, 1)), (3, True, (1, 1)),
                            (3, False, (2, 3)))
  def test_matches_original_convolutional(self, num_routing, leaky, grid):
    # A 2x3 grid of biases: one per position (the original's routing takes
    # them too; the layer's are [out, atoms, 1, 1]).
    rng = np.random.RandomState(7)
    votes = rng.randn(2, 3, 4, 5, 2, 3).astype(np.float32) * 0.3
    biases = rng.randn(4, 5, *grid).astype(np.float32) * 0.1
    out = routing._update_routing(tf.constant(votes), tf.constant(biases),
                                  [2, 3, 4, 2, 3], 6, 3, 4, num_routing, leaky)
    self.assertEqual(out.shape, (2, 4, 5, 2, 3))
    self.assertAllClose(out, _numpy_routing(votes, biases, num_routing, leaky),
                        rtol=1e-5, atol=1e-6)

  def test_more_iterations_change_the_result_equal_ones_do_not(self):
    votes = tf.random.stateless_normal([2, 6, 3, 4], seed=[3, 4])
    biases = tf.zeros([3, 4])

    def route(n):
      return routing._update_routing(votes, biases, [2, 6, 3], 4, 6, 3, n,
                                     False).numpy()
    self.assertAllEqual(route(3), route(3))
    self.assertGreater(np.abs(route(3) - route(1)).max(), 1e-3)
    self.assertGreater(np.abs(route(3) - route(2)).max(), 1e-4)

  def test_rejects_bad_num_dims(self):
    with self.assertRaisesRegex(ValueError, 'num_dims'):
      routing._update_routing(tf.zeros([1, 1, 1]), 0.0, [1, 1], 3, 1, 1, 1,
                              False)


class MarginLossTest(tf.test.TestCase):

  def test_hand_computed(self):
    labels = tf.constant([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    raw = tf.constant([[0.5, 0.5], [0.95, 0.05], [0.2, 0.3]])
    # Row 0: positive 0.5*(0-0.4)^2 = 0.08; negative 0.25*(0+0.4)^2 = 0.04.
    # Row 1: both beyond the margins: 0.
    # Row 2: negative l=-0.3 > -0.4: 0.25*0.1^2 = 0.0025;
    #        positive l=-0.2 < 0.4: 0.5*0.6^2 = 0.18.
    self.assertAllClose(losses._margin_loss(labels, raw),
                        [[0.08, 0.04], [0.0, 0.0], [0.0025, 0.18]])

  def test_margin_and_downweight_arguments(self):
    cost = losses._margin_loss(tf.constant([[0.0]]), tf.constant([[0.5]]),
                               margin=0.2, downweight=1.0)
    self.assertAllClose(cost, [[0.5 * 0.2 ** 2]])


class EvaluateTest(tf.test.TestCase, parameterized.TestCase):

  def test_single_target_counts(self):
    logits = tf.constant([[0.9, 0.1, 0.0], [0.1, 0.8, 0.3], [0.2, 0.1, 0.7]])
    labels = tf.constant([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 1.0]])
    _, correct, almost = metrics.evaluate(logits, labels, 1, 'tower_0/',
                                          'margin')
    self.assertEqual(float(correct), 2.0)
    self.assertEqual(float(almost), 2.0)

  def test_two_target_set_semantics(self):
    labels = tf.constant([[1.0, 1.0, 0, 0]] * 3)
    logits = tf.constant([[0.2, 0.9, 0.1, 0.0],    # {1, 0}: correct
                          [0.9, 0.1, 0.8, 0.0],    # {0, 2}: one found
                          [0.0, 0.1, 0.8, 0.9]])   # {3, 2}: none
    _, correct, almost = metrics.evaluate(logits=logits, labels=labels,
                                          num_targets=2, scope='tower_0/',
                                          loss_type='sigmoid')
    self.assertEqual(float(correct), 1.0)
    self.assertEqual(float(almost), 2.0)

  def test_margin_loss_is_mean_over_batch_and_classes(self):
    loss, _, _ = metrics.evaluate(tf.constant([[0.5, 0.5]]),
                                  tf.constant([[1.0, 0.0]]), 1, None,
                                  'margin')
    self.assertAllClose(loss, (0.08 + 0.04) / 2)

  @parameterized.parameters('softmax', 'sigmoid')
  def test_cross_entropy_losses(self, loss_type):
    logits = np.array([[2.0, 0.0]], np.float32)
    loss, _, _ = metrics.evaluate(tf.constant(logits),
                                  tf.constant([[1.0, 0.0]]), 1,
                                  loss_type=loss_type)
    if loss_type == 'softmax':
      expected = np.log(1 + np.exp(-2.0))
    else:  # Targets labels/2 = (0.5, 0): mean of the two sigmoid entropies.
      expected = ((np.log(1 + np.exp(2.0)) - 0.5 * 2.0) + np.log(2.0)) / 2
    self.assertAllClose(loss, expected)

  def test_unknown_loss_type(self):
    with self.assertRaisesRegex(ValueError, 'loss_type'):
      metrics.evaluate(tf.zeros([1, 2]), tf.zeros([1, 2]), 1, None, 'hinge')


class LayerVariablesTest(tf.test.TestCase, parameterized.TestCase):

  def test_capsule_variables_and_votes(self):
    layer = layers.Capsule(input_dim=3, output_dim=2, layer_name='capsule2',
                           input_atoms=4, output_atoms=5, num_routing=2)
    shapes = {k: v.shape.as_list() for k, v in layer.tf1_variables().items()}
    self.assertEqual(shapes, {'capsule2/weights': [3, 4, 10],
                              'capsule2/biases': [2, 5]})
    self.assertLen(layer.trainable_variables, 2)
    x = tf.random.stateless_normal([6, 3, 4], seed=[5, 6])
    # The original's tiled product, summed over input atoms.
    tiled = tf.reduce_sum(x[..., None] * layer.weights, axis=2)
    votes = tf.transpose(layer.votes_by_input(x), [1, 0, 2, 3])
    self.assertAllClose(votes, tf.reshape(tiled, [6, 3, 2, 5]), atol=1e-6)
    self.assertEqual(layer(x).shape, (6, 2, 5))

  @parameterized.parameters(False, True)
  def test_conv_slim_capsule_variables_and_shape(self, leaky):
    layer = layers.ConvSlimCapsule(input_dim=2, output_dim=3,
                                   layer_name='conv_capsule1', input_atoms=4,
                                   output_atoms=5, stride=2, kernel_size=3,
                                   padding='VALID', num_routing=2, leaky=leaky)
    shapes = {k: v.shape.as_list() for k, v in layer.tf1_variables().items()}
    self.assertEqual(shapes, {'conv_capsule1/weights': [3, 3, 4, 15],
                              'conv_capsule1/biases': [3, 5, 1, 1]})
    # Batch 3, 2 input capsules, 7x9 positions: no two sizes alike.
    x = tf.random.stateless_normal([3, 2, 4, 7, 9], seed=[1, 1])
    out = layer(x)
    self.assertEqual(out.shape, (3, 3, 5, 3, 4))
    # The original's layout: 6-d votes [b, in, out, atoms, oh, ow] routed by
    # the original's routing (in NumPy at the top of this file).
    nhwc = tf.reshape(tf.transpose(x, [0, 1, 3, 4, 2]), [6, 7, 9, 4])
    conv = tf.nn.conv2d(nhwc, layer.weights, 2, 'VALID')  # [6, 3, 4, 15]
    votes = tf.transpose(tf.reshape(conv, [3, 2, 3, 4, 3, 5]),
                         [0, 1, 4, 5, 2, 3])
    layer.biases.assign(tf.random.stateless_normal([3, 5, 1, 1], seed=[2, 2]))
    # Routed by the NumPy routing above, not by the code under test.
    expected = _numpy_routing(votes.numpy(), layer.biases.numpy(), 2, leaky)
    self.assertAllClose(layer(x), expected, rtol=1e-5, atol=1e-6)

  def test_reconstruction_variables(self):
    layer = layers.Reconstruction(num_atoms=16, num_capsules=10,
                                  layer_sizes=(512, 1024), num_pixels=784)
    shapes = {k: v.shape.as_list() for k, v in layer.tf1_variables().items()}
    self.assertEqual(shapes, {
        'recons/recons_1/weights': [160, 512], 'recons/recons_1/biases': [512],
        'recons/recons_2/weights': [512, 1024],
        'recons/recons_2/biases': [1024],
        'recons/recons_3/weights': [1024, 784],
        'recons/recons_3/biases': [784]})
    self.assertAllClose(layer.layers[0].biases[:3], [0.1, 0.1, 0.1])

  def test_reconstruction_depends_only_on_the_masked_capsule(self):
    layer = layers.Reconstruction(num_atoms=4, num_capsules=3,
                                  layer_sizes=(8, 8), num_pixels=5)
    mask = tf.constant([[0.0, 1.0, 0.0]])
    embedding = tf.random.stateless_normal([1, 3, 4], seed=[2, 3])
    changed = tf.concat([embedding[:, :1] * 5.0, embedding[:, 1:2],
                         -embedding[:, 2:]], axis=1)
    moved_target = tf.concat([embedding[:, :1], embedding[:, 1:2] + 1.0,
                              embedding[:, 2:]], axis=1)
    self.assertAllEqual(layer(mask, embedding), layer(mask, changed))
    self.assertNotAllClose(layer(mask, embedding), layer(mask, moved_target))
    out = layer(mask, embedding).numpy()
    self.assertTrue(np.all((out > 0) & (out < 1)))  # Sigmoid output.

  def test_init_statistics(self):
    w = variables.weight_variable([200, 200], stddev=0.1).numpy()
    self.assertLessEqual(np.abs(w).max(), 0.2)  # Truncated at 2 stddev.
    self.assertAllClose(w.std(), 0.088, atol=0.003)  # 0.1 * 0.8796
    self.assertAllClose(variables.bias_variable([3]), [0.1, 0.1, 0.1])



class DefaultsAndPathsTest(tf.test.TestCase, parameterized.TestCase):
  """The layers' defaults and the code paths the model tests do not reach."""

  def test_defaults(self):
    # Built with only the required arguments (behaviour, not signatures:
    # a signature would not show a changed default). The original's
    # input_atoms/output_atoms=8, stride 2, kernel 5, SAME padding; routing
    # as the default hparams: 3 iterations, no leak.
    tf.random.set_seed(1)
    capsule = layers.Capsule(3, 2, 'capsule2')
    self.assertEqual(capsule.weights.shape.as_list(), [3, 8, 16])
    x = tf.random.stateless_normal([2, 3, 8], seed=[1, 2])
    votes = np.einsum('bia,iao->bio', x.numpy(), capsule.weights.numpy())
    self.assertAllClose(capsule(x), _numpy_routing(
        votes.reshape(2, 3, 2, 8), capsule.biases.numpy(), 3, False),
                        rtol=1e-5, atol=1e-6)
    conv = layers.ConvSlimCapsule(1, 2, 'conv_capsule1')
    self.assertEqual(conv.weights.shape.as_list(), [5, 5, 8, 16])
    x = tf.random.stateless_normal([2, 1, 8, 7, 7], seed=[3, 4])
    nhwc = tf.reshape(tf.transpose(x, [0, 1, 3, 4, 2]), [2, 7, 7, 8])
    out = tf.nn.conv2d(nhwc, conv.weights, 2, 'SAME')  # [2, 4, 4, 16]
    votes = tf.transpose(tf.reshape(out, [2, 1, 4, 4, 2, 8]),
                         [0, 1, 4, 5, 2, 3]).numpy()
    self.assertAllClose(conv(x), _numpy_routing(
        votes, conv.biases.numpy(), 3, False), rtol=1e-5, atol=1e-6)
    # evaluate's default loss is the margin loss: (0.08 + 0.04) / 2 here.
    loss, _, _ = metrics.evaluate(tf.constant([[0.5, 0.5]]),
                                  tf.constant([[1.0, 0.0]]), 1)
    self.assertAllClose(loss, 0.06)
    w = variables.weight_variable([200, 200]).numpy()  # stddev 0.1 truncated.
    self.assertAllClose(w.std(), 0.088, atol=0.003)
    self.assertEqual(w.dtype, np.float32)
    self.assertAllClose(layers.Dense(300, 200, 'd').weights.numpy().std(),
                        0.088, atol=0.003)
    self.assertAllClose(layers.Dense(300, 200, 'd', stddev=0.05)
                        .weights.numpy().std(), 0.044, atol=0.002)
    self.assertAllClose(layers.Dense(3, 2, 'd').biases, [0.1, 0.1])

  @parameterized.parameters(1, 3)
  def test_leaky_capsule_layer(self, num_routing):
    layer = layers.Capsule(input_dim=5, output_dim=3, layer_name='capsule2',
                           input_atoms=4, output_atoms=2,
                           num_routing=num_routing, leaky=True)
    layer.biases.assign(tf.random.stateless_normal([3, 2], seed=[7, 7]))
    x = tf.random.stateless_normal([2, 5, 4], seed=[5, 6])
    # Votes as the original's tiled product [b, in, out, atoms].
    votes = np.einsum('bia,iao->bio', x.numpy(), layer.weights.numpy())
    expected = _numpy_routing(votes.reshape(2, 5, 3, 2),
                              layer.biases.numpy(), num_routing, True)
    self.assertAllClose(layer(x), expected, rtol=1e-5, atol=1e-6)

  def test_reconstruction_against_numpy(self):
    layer = layers.Reconstruction(num_atoms=4, num_capsules=3,
                                  layer_sizes=(8, 6), num_pixels=5)
    for dense in layer.layers:
      dense.biases.assign(tf.random.stateless_normal(dense.biases.shape,
                                                     seed=[3, 4]))
    mask = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], np.float32)
    embedding = tf.random.stateless_normal([2, 3, 4], seed=[2, 3]).numpy()
    h = (embedding * mask[..., None]).reshape(2, 12)
    for i, dense in enumerate(layer.layers):
      h = h @ dense.weights.numpy() + dense.biases.numpy()
      h = np.maximum(h, 0) if i < 2 else 1 / (1 + np.exp(-h))
    self.assertAllClose(layer(tf.constant(mask), tf.constant(embedding)), h,
                        atol=1e-6)

  def test_dense_without_activation_is_linear(self):
    dense = layers.Dense(3, 2, 'fc', activation=None)
    x = np.array([[1.0, -2.0, 0.5]], np.float32)
    self.assertAllClose(dense(x), x @ dense.weights.numpy() +
                        dense.biases.numpy(), atol=1e-6)
    self.assertEqual(set(dense.tf1_variables()), {'fc/weights', 'fc/biases'})

  def test_bfloat16_convolution(self):
    x = tf.random.stateless_normal([2, 6, 6, 3], seed=[1, 2])
    kernel = tf.random.stateless_normal([3, 3, 3, 4], seed=[3, 4])
    full = tf.nn.conv2d(x, kernel, 1, 'VALID')
    self.assertAllEqual(layers._conv2d(x, kernel, 1, 'VALID', tf.float32),
                        full)
    half = layers._conv2d(x, kernel, 1, 'VALID', tf.bfloat16)
    self.assertEqual(half.dtype, tf.float32)
    # bfloat16 keeps 8 bits: within 2% of the largest value, not exact.
    scale = float(tf.reduce_max(tf.abs(full)))
    self.assertAllClose(half, full, atol=0.02 * scale)
    self.assertNotAllClose(half, full, atol=1e-6)
    self.assertAllEqual(layers._conv2d(x, kernel, 2, 'SAME',
                                       tf.bfloat16).shape, (2, 3, 3, 4))

  def test_errors_name_the_argument(self):
    for call, message in (
        (lambda: routing._update_routing(tf.zeros([1, 1, 1]), 0.0, [1, 1], 3,
                                         1, 1, 1, False),
         '^num_dims must be 4 or 6, got 3$'),
        (lambda: layers.Capsule(1, 1, 'c', num_routing=0)(tf.zeros([1, 1, 8])),
         '^num_routing must be >= 1, got 0$'),
        (lambda: metrics.evaluate(tf.zeros([1, 2]), tf.zeros([1, 2]), 1, None,
                                  'hinge'),
         "^loss_type must be margin, softmax or sigmoid, got 'hinge'$")):
      with self.assertRaisesRegex(ValueError, message):
        call()

class ConvTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((28, 9, 1, 'VALID', 20), (20, 9, 2, 'VALID', 6),
                            (7, 3, 2, 'VALID', 3), (24, 5, 2, 'SAME', 12),
                            (7, 3, 2, 'SAME', 4), (7, 3, 1, 'SAME', 7))
  def test_conv_output_size(self, size, kernel, stride, padding, expected):
    self.assertEqual(layers.conv_output_size(size, kernel, stride, padding),
                     expected)

  def _layer(self, padding, relu=True):
    layer = layers.Conv2D(3, 1, 2, 'conv1', padding, relu=relu)
    shapes = {v.name: v.shape.as_list() for v in layer.trainable_variables}
    self.assertEqual(shapes, {'conv1/weights:0': [3, 3, 1, 2],
                              'conv1/biases:0': [2]})
    self.assertAllClose(layer.biases, [0.1, 0.1])  # The original's 0.1.
    kernel = np.zeros([3, 3, 1, 2], np.float32)
    kernel[:, :, 0, 0] = np.arange(9).reshape(3, 3)  # A weighted sum.
    kernel[1, 1, 0, 1] = -1.0  # Minus the centre pixel.
    layer.weights.assign(kernel)
    layer.biases.assign([0.5, 0.25])
    return layer, kernel

  def _numpy_conv(self, image, kernel, bias, pad):
    """Cross-correlation of one-channel image [h, w], kernel [3, 3, 1, c]."""
    padded = np.pad(image, pad)
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    out = np.zeros([h, w, kernel.shape[-1]], np.float32)
    for i in range(h):
      for j in range(w):
        out[i, j] = np.tensordot(padded[i:i + 3, j:j + 3], kernel[:, :, 0],
                                 axes=([0, 1], [0, 1])) + bias
    return out

  @parameterized.parameters(('VALID', 0), ('SAME', 1))
  def test_convolution_bias_and_relu_against_numpy(self, padding, pad):
    image = np.arange(20, dtype=np.float32).reshape(4, 5) / 10.0
    for relu in (True, False):
      layer, kernel = self._layer(padding, relu)
      expected = self._numpy_conv(image, kernel, [0.5, 0.25], pad)
      if relu:
        expected = np.maximum(expected, 0.0)
      self.assertLess(np.min(self._numpy_conv(image, kernel, [0.5, 0.25],
                                              pad)), 0.0)
      got = layer(tf.constant(image[None, :, :, None]))
      self.assertAllClose(got[0], expected, atol=1e-5)

  def test_bfloat16_computes_in_bfloat16_and_returns_float32(self):
    layer, _ = self._layer('VALID')
    image = tf.random.stateless_uniform([1, 6, 6, 1], seed=[1, 2])
    reference = layer(image).numpy()
    layer.compute_dtype = tf.bfloat16
    mixed = layer(image)
    self.assertEqual(mixed.dtype, tf.float32)
    self.assertAllClose(reference, mixed, atol=0.1)
    self.assertNotAllClose(reference, mixed, atol=1e-6)

  def test_weights_start_truncated_normal_with_stddev_one_tenth(self):
    tf.random.set_seed(3)
    layer = layers.Conv2D(9, 32, 64, 'conv', 'VALID')
    values = layer.weights.numpy().ravel()
    self.assertLessEqual(np.max(np.abs(values)), 0.2)  # Two sd at most.
    # A normal of sd 0.1 cut at two sd has sd 0.0880.
    self.assertAllClose(np.std(values), 0.0880, atol=0.002)
    self.assertAllClose(np.mean(values), 0.0, atol=0.002)
    # The capsule model's conv1 asks for sd 0.05: the cut normal's sd 0.0440.
    values = layers.Conv2D(9, 32, 64, 'conv', 'VALID',
                           stddev=0.05).weights.numpy().ravel()
    self.assertAllClose(np.std(values), 0.0440, atol=0.001)

  def test_relu_unless_told(self):
    layer = layers.Conv2D(1, 1, 1, 'conv', 'VALID')
    layer.weights.assign([[[[1.0]]]])
    layer.biases.assign([0.0])
    self.assertAllEqual(layer(tf.constant([[[[-2.0]], [[3.0]]]])),
                        [[[[0.0]], [[3.0]]]])


if __name__ == '__main__':
  tf.test.main()
