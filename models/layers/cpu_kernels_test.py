"""The CPU formulations compute what the plain ones do."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from models.layers import cpu_kernels
from models.layers import layers


def _numpy_filter_gradient(x, dy, kernel_size, stride, pads):
  """dW[ky, kx, c, o] = sum_b,i,j x[b, s*i+ky, s*j+kx, c] * dy[b, i, j, o],
  on x padded by pads ((top, bottom), (left, right)): loops, no convolution."""
  x = np.pad(x, [(0, 0), pads[0], pads[1], (0, 0)])
  grad = np.zeros([kernel_size, kernel_size, x.shape[3], dy.shape[3]])
  for ky in range(kernel_size):
    for kx in range(kernel_size):
      for i in range(dy.shape[1]):
        for j in range(dy.shape[2]):
          grad[ky, kx] += x[:, stride * i + ky, stride * j + kx].T.astype(
              np.float64) @ dy[:, i, j]
  return grad


def _gradients(conv, x, kernel, weights):
  with tf.GradientTape() as tape:
    tape.watch([x, kernel])
    y = conv(x, kernel)
    loss = tf.reduce_sum(y * weights)
  return (y,) + tuple(tape.gradient(loss, [x, kernel]))


class Conv2dTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      # size, kernel, stride, padding, the padding SAME adds (top, bottom).
      (20, 9, 2, 'VALID', (0, 0)),  # The primary capsules' (one row spare).
      (9, 5, 2, 'VALID', (0, 0)),
      (7, 3, 2, 'SAME', (1, 1)),
      (8, 3, 3, 'SAME', (0, 1)),
      (6, 4, 2, 'SAME', (1, 1)))
  def test_gradients_are_the_convolutions(self, size, kernel_size, stride,
                                          padding, pads):
    self.assertEqual(cpu_kernels.same_padding(size, kernel_size, stride),
                     pads if padding == 'SAME' else
                     cpu_kernels.same_padding(size, kernel_size, stride))
    x = tf.random.stateless_normal([3, size, size, 4], seed=[1, size])
    kernel = tf.random.stateless_normal([kernel_size, kernel_size, 4, 5],
                                        seed=[2, stride])
    out = layers.conv_output_size(size, kernel_size, stride, padding)
    weights = tf.random.stateless_normal([3, out, out, 5], seed=[3, 4])
    y, dx, dw = _gradients(
        lambda x, k: cpu_kernels.conv2d(x, k, stride, padding), x, kernel,
        weights)
    y_ref, dx_ref, dw_ref = _gradients(
        lambda x, k: tf.nn.conv2d(x, k, stride, padding), x, kernel, weights)
    self.assertAllEqual(y, y_ref)  # The same forward op.
    self.assertAllEqual(dx, dx_ref)  # The same input-gradient op.
    self.assertAllClose(dw, dw_ref, rtol=1e-5, atol=1e-4)
    # And against sums written out, for the padding too.
    self.assertAllClose(dw, _numpy_filter_gradient(
        x.numpy(), weights.numpy(), kernel_size, stride,
        (pads, pads) if padding == 'SAME' else ((0, 0), (0, 0))),
                        rtol=1e-5, atol=1e-4)

  def test_stride_one_is_tensorflows_convolution(self):
    x = tf.random.stateless_normal([2, 5, 5, 3], seed=[5, 6])
    kernel = tf.random.stateless_normal([3, 3, 3, 2], seed=[7, 8])
    weights = tf.random.stateless_normal([2, 3, 3, 2], seed=[9, 1])
    ours = _gradients(lambda x, k: cpu_kernels.conv2d(x, k, 1, 'VALID'), x,
                      kernel, weights)
    plain = _gradients(lambda x, k: tf.nn.conv2d(x, k, 1, 'VALID'), x, kernel,
                       weights)
    for a, b in zip(ours, plain):
      self.assertAllEqual(a, b)

  def test_bfloat16(self):
    x = tf.cast(tf.random.stateless_normal([2, 11, 11, 8], seed=[1, 1]),
                tf.bfloat16)
    kernel = tf.cast(tf.random.stateless_normal([5, 5, 8, 4], seed=[2, 2]),
                     tf.bfloat16)
    weights = tf.cast(tf.random.stateless_normal([2, 4, 4, 4], seed=[3, 3]),
                      tf.bfloat16)
    _, _, dw = _gradients(lambda x, k: cpu_kernels.conv2d(x, k, 2, 'VALID'),
                          x, kernel, weights)
    self.assertEqual(dw.dtype, tf.bfloat16)
    exact = _numpy_filter_gradient(
        tf.cast(x, tf.float32).numpy(), tf.cast(weights, tf.float32).numpy(),
        5, 2, ((0, 0), (0, 0)))
    # Eight bits of mantissa: within 2% of the largest value.
    self.assertAllClose(tf.cast(dw, tf.float32), exact,
                        atol=0.02 * np.abs(exact).max())


class CompiledRoutingTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((1, False), (3, False), (3, True))
  def test_capsule_layer_compiled_or_not(self, num_routing, leaky):
    tf.random.set_seed(num_routing)
    # Sizes of this case alone: its compiled trace is new.
    input_dim = 10 + num_routing + 3 * leaky
    layer = layers.Capsule(input_dim, 3, 'caps', input_atoms=4,
                           output_atoms=5, num_routing=num_routing,
                           leaky=leaky)
    x = tf.random.stateless_normal([6, input_dim, 4], seed=[num_routing, 1])
    weights = tf.random.stateless_normal([6, 3, 5], seed=[num_routing, 2])

    def forward_backward():
      with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(layer(x) * weights)
      return (layer(x),) + tuple(tape.gradient(
          loss, [x, layer.weights, layer.biases]))
    compiled = cpu_kernels.compiled(layers._votes_and_routing)
    traces = compiled.experimental_get_tracing_count()
    plain = forward_backward()
    self.assertEqual(compiled.experimental_get_tracing_count(), traces)
    layer.cpu_kernels = True
    ours = forward_backward()
    self.assertEqual(compiled.experimental_get_tracing_count(), traces + 1)
    for a, b in zip(ours, plain):
      self.assertAllClose(a, b, rtol=1e-5, atol=1e-6)


if __name__ == '__main__':
  tf.test.main()
