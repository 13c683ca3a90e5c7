"""The CPU formulations of the capsule layers, and the one place they are chosen.

The model is the same computation on every device; on a CPU two of its parts
are written differently, because TensorFlow's CPU kernels are fast for some
forms and slow for others (measured in docs/performance.md):

- A strided convolution's kernel gradient. oneDNN's kernel for it
  (Conv2DBackpropFilter, stride 2) runs at half the rate of its forward
  convolution and, run beside the input gradient as the executor does,
  slower still. The same sums are a forward convolution: the input, with
  its batch as channels, convolved with the output gradient as a dilated
  kernel (`_filter_gradient`). `conv2d` has that gradient, and computes it
  after the input gradient, not beside it: the two share the cores.
- Votes and routing. Their many small passes over the [batch, out, in,
  atoms] vote tensor (softmax, weighted sums, agreements, and as many
  again backward) are what XLA fuses well on a CPU; its CPU convolutions
  are not (`--xla` compiles the whole step: 4.6 examples/s), so only this
  part is compiled (`compiled`).
- The Adam update (models/optimizer.py): ten elementwise passes over each
  variable and its two slots, one when compiled.

All are chosen by `Model.set_cpu_kernels` (runner/registry.py turns them on
when no GPU is visible; training and benchmark.py give the optimiser the
model's choice): a GPU keeps cuDNN's convolution gradients, and routing
there is compiled with the rest of the step by `--xla`. Exported models use
none (runner/export.py). The forward values are the same operations either
way; gradients and XLA's fused loops differ only in float rounding (tested
against the plain forms in cpu_kernels_test.py and optimizer_test.py).
"""

import functools

import tensorflow as tf

# The name scope of the gradient's ops (runner/op_profile.py counts them as
# backward convolutions: they are forward Conv2D ops).
GRADIENT_SCOPE = 'conv_gradient'


def conv2d(x, kernel, stride, padding):
  """tf.nn.conv2d (NHWC, square stride) with the CPU-friendly gradient.

  Same forward op; stride 1 keeps TensorFlow's gradient (its kernel-gradient
  kernel is not the slow one there)."""
  if stride == 1:
    return tf.nn.conv2d(x, kernel, strides=1, padding=padding)
  return _strided_conv2d(x, kernel, stride, padding)


def _strided_conv2d(x, kernel, stride, padding):
  @tf.custom_gradient
  def conv(x, kernel):
    y = tf.nn.conv2d(x, kernel, strides=stride, padding=padding)

    def grad(dy):
      with tf.name_scope(GRADIENT_SCOPE):
        dx = tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=kernel, out_backprop=dy,
            strides=[1, stride, stride, 1], padding=padding)
        # After dx, not beside it: each takes both cores.
        with tf.control_dependencies([dx]):
          x_after = tf.identity(x)
        return dx, _filter_gradient(x_after, dy, kernel.shape[0], stride,
                                    padding)
    return y, grad
  # Tensors in, so that the gradient reaches a (mirrored) variable through
  # its read, outside the custom gradient.
  return conv(tf.convert_to_tensor(x), tf.convert_to_tensor(kernel))


def same_padding(size, kernel_size, stride):
  """(before, after) padding tf.nn.conv2d's 'SAME' adds along one axis."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel_size - size, 0)
  return total // 2, total - total // 2


def _filter_gradient(x, dy, kernel_size, stride, padding):
  """d loss / d kernel of a square conv, as one forward convolution.

  dW[ky, kx, c, o] = sum over b, i, j of
    x[b, stride*i + ky, stride*j + kx, c] * dy[b, i, j, o]:
  the input transposed to [c, h, w, b] (the batch as channels) convolved,
  stride 1, with dy transposed to [i, j, b, o] dilated by stride.

  Args:
    x: [batch, h, w, c], the convolution's input.
    dy: [batch, out_h, out_w, o], the gradient of its output.
    kernel_size, stride, padding: the convolution's.

  Returns:
    [kernel_size, kernel_size, c, o].
  """
  if padding == 'SAME':
    x = tf.pad(x, [[0, 0], same_padding(x.shape[1], kernel_size, stride),
                   same_padding(x.shape[2], kernel_size, stride), [0, 0]])
  out_h, out_w = dy.shape[1], dy.shape[2]
  # Rows and columns no output reads (VALID's remainder): the dilated
  # convolution would make a larger kernel of them.
  x = x[:, :stride * (out_h - 1) + kernel_size,
        :stride * (out_w - 1) + kernel_size]
  channels_first = tf.transpose(x, [3, 1, 2, 0])  # [c, h, w, b]
  dy_kernel = tf.transpose(dy, [1, 2, 0, 3])  # [out_h, out_w, b, o]
  grad = tf.nn.conv2d(channels_first, dy_kernel, strides=1, padding='VALID',
                      dilations=stride)  # [c, k, k, o]
  return tf.transpose(grad, [1, 2, 0, 3])  # [k, k, c, o]


@functools.lru_cache(maxsize=None)
def compiled(fn):
  """fn XLA-compiled (one tf.function per fn, shared by every model: its
  traces are keyed by the arguments' shapes and Python values)."""
  return tf.function(fn, jit_compile=True)
