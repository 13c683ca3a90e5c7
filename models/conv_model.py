"""The baseline CNN of the original code (its models/conv_model.py).

conv 5x5x512 ReLU -> maxpool 2x2/2 SAME -> conv 5x5x256 ReLU -> maxpool ->
FC 1024 ReLU -> FC classes. Conv padding from hparams (VALID by default).
MNIST: [b,28,28,1] -> [b,12,12,512] -> [b,4,4,256] -> [b,1024] -> [b,10].
Initialisation as the original: conv kernels truncated normal stddev 0.05,
fc1 and softmax_layer 0.1, biases 0.1. The loss is the hparams' (margin by
default, as the original's one default_hparams for both models).
"""

import tensorflow as tf

from models import model
from models.layers import layers
from models.layers import variables

CONV_STDDEV = 5e-2  # The original's conv kernels; its dense layers use 0.1.


class ConvModel(model.Model):
  """Baseline; TF1 names conv1, conv2, fc1, softmax_layer (weights|biases)."""

  def __init__(self, hparams, image_size, image_depth, num_classes,
               num_targets=1, *, conv_channels=(512, 256), fc_size=1024):
    """The original's baseline; the widths are its defaults (tests build
    tiny models of the same structure with others: models.testing.TINY)."""
    super().__init__(hparams, image_size, image_depth, num_classes,
                     num_targets, name='conv_model')
    size = image_size
    for _ in range(2):
      size = layers.conv_output_size(size, 5, 1, hparams.padding)
      size = layers.conv_output_size(size, 2, 2, 'SAME')
    if size < 1:
      raise ValueError('images of %dx%d are too small for the baseline with '
                       'padding %s' % (image_size, image_size, hparams.padding))
    with self.name_scope:
      first, second = conv_channels
      self.conv1 = layers.Conv2D(5, image_depth, first, 'conv1',
                                 hparams.padding, stddev=CONV_STDDEV)
      self.conv2 = layers.Conv2D(5, first, second, 'conv2', hparams.padding,
                                 stddev=CONV_STDDEV)
      self.fc1 = layers.Dense(size * size * second, fc_size, 'fc1',
                              activation=tf.nn.relu)
      self.softmax_layer = layers.Dense(fc_size, num_classes, 'softmax_layer')

  def tf1_variables(self):
    return variables.merge_tf1_variables(
        [self.conv1, self.conv2, self.fc1, self.softmax_layer])

  def forward_flops(self):
    flops, size = 0, self.image_size
    for conv in (self.conv1, self.conv2):
      conv_flops, size = conv.forward_flops(size)
      flops += conv_flops
      size = layers.conv_output_size(size, 2, 2, 'SAME')  # The pooling.
    return (flops + self.fc1.forward_flops() +
            self.softmax_layer.forward_flops())

  def _convs(self, features):
    """({TF1 scope: ReLU output}, last pooled map [b, 4, 4, 256])."""
    x = self.images_nhwc(features['images'])
    relus = {}
    for conv in (self.conv1, self.conv2):
      relus[conv.scope] = conv(x)
      x = tf.nn.max_pool2d(relus[conv.scope], ksize=2, strides=2,
                           padding='SAME')
    return relus, x

  def activations(self, features):
    """{TF1 scope: ReLU output} of both convolutions, as the original's
    verbose `conv1/activation`, `conv2/activation` histograms."""
    return self._convs(features)[0]

  def inference(self, features):
    _, pooled = self._convs(features)  # [b, 4, 4, 256]
    # Flattened channel-major (channel, row, column) as the original's NCHW
    # map, so fc1's rows mean what they mean in the authors' checkpoints.
    hidden = tf.reshape(tf.transpose(pooled, [0, 3, 1, 2]),
                        [-1, self.fc1.weights.shape[0]])  # [b, 4096]
    logits = self.softmax_layer(self.fc1(hidden))  # [b, classes]
    return model.Inferred(logits, None, None)
