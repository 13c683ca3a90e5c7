"""The capsule network of "Dynamic Routing Between Capsules" (CapsNet).

conv1 9x9 ReLU -> primary capsules (conv 9x9 stride 2, one routing pass over
the capsule types) -> fully connected digit capsules with routing -> class
scores |v_j| and, with remake, a decoder from the label-masked capsules.
MNIST shapes: 28x28x1 -> [b,20,20,256] -> [b,32,8,6,6] -> [b,1152,8]
-> [b,10,16].
"""

import tensorflow as tf

from models import model
from models.layers import layers
from models.layers import variables


def _safe_norm(x, axis):
  """|x| over axis with a finite (zero) gradient at x = 0, exact elsewhere."""
  squared = tf.reduce_sum(tf.square(x), axis=axis)
  positive = squared > 0.0
  safe = tf.where(positive, squared, tf.ones_like(squared))
  return tf.where(positive, tf.sqrt(safe), tf.zeros_like(squared))


class CapsuleModel(model.Model):
  """CapsNet with the original variables, numerics and hparams.

  TF1 variable names: conv1/{weights,biases}, conv_capsule1/{weights,biases},
  capsule2/{weights,biases}, recons/recons_{1,2,3}/{weights,biases}.
  """

  def __init__(self, hparams, image_size, image_depth, num_classes,
               num_targets=1, *, conv1_channels=256, primary_atoms=8,
               digit_atoms=16, decoder_sizes=(512, 1024)):
    """The paper's model; the widths are its defaults (tests build tiny
    models of the same structure with others: models.testing.TINY)."""
    super().__init__(hparams, image_size, image_depth, num_classes,
                     num_targets, name='capsule_model')
    self.primary_atoms = primary_atoms
    padding = hparams.padding
    conv1_size = layers.conv_output_size(image_size, 9, 1, padding)
    self.primary_size = layers.conv_output_size(conv1_size, 9, 2, padding)
    if self.primary_size < 1:
      raise ValueError('images of %dx%d are too small for the capsule model '
                       'with padding %s' % (image_size, image_size, padding))
    with self.name_scope:
      self.conv1 = layers.Conv2D(9, image_depth, conv1_channels, 'conv1',
                                 padding,
                                 stddev=5e-2)
      # One routing pass over the types with zero logits: every vote is
      # scaled by 1/num_prime_capsules (1/(types+1) with leaky routing).
      self.primary_capsules = layers.ConvSlimCapsule(
          input_dim=1, output_dim=hparams.num_prime_capsules,
          layer_name='conv_capsule1', input_atoms=conv1_channels,
          output_atoms=primary_atoms,
          stride=2, kernel_size=9, padding=padding, num_routing=1,
          leaky=hparams.leaky)
      self.digit_capsules = layers.Capsule(
          input_dim=hparams.num_prime_capsules * self.primary_size ** 2,
          output_dim=num_classes, layer_name='capsule2',
          input_atoms=primary_atoms, output_atoms=digit_atoms,
          num_routing=hparams.routing, leaky=hparams.leaky)
      self.reconstruction = None
      if hparams.remake:
        self.reconstruction = layers.Reconstruction(
            num_atoms=digit_atoms, num_capsules=num_classes,
            layer_sizes=decoder_sizes,
            num_pixels=image_size * image_size * image_depth)

  def tf1_variables(self):
    return variables.merge_tf1_variables(
        [self.conv1, self.primary_capsules, self.digit_capsules,
         self.reconstruction])

  def forward_flops(self):
    conv1, size = self.conv1.forward_flops(self.image_size)
    primary, _ = self.primary_capsules.forward_flops(size)
    flops = conv1 + primary + self.digit_capsules.forward_flops()
    if self.reconstruction is not None:  # Once per target.
      flops += self.num_targets * sum(
          layer.forward_flops() for layer in self.reconstruction.layers)
    return flops

  def activations(self, features):
    """{TF1 scope: ReLU output}: conv1's, the original's verbose
    `conv1/activation` histogram."""
    return {'conv1': self.conv1(self.images_nhwc(features['images']))}

  def primary(self, images):
    """Primary capsules, type-major: [batch, types*h*w, 8]."""
    conv1 = self.conv1(self.images_nhwc(images))  # [b, 20, 20, 256]
    capsules = self.primary_capsules.call_nhwc(conv1)  # [b, 32, 8, 6, 6]
    capsules = tf.transpose(capsules, [0, 1, 3, 4, 2])  # [b, 32, 6, 6, 8]
    # Capsule index = type * h * w + row * w + col, as the original.
    return tf.reshape(capsules, [-1, self.digit_capsules.input_dim,
                                 self.primary_atoms])

  def inference(self, features):
    primary = self.primary(features['images'])
    # Name scopes: the TF1 scopes, which runner/op_profile.py groups by.
    with tf.name_scope('capsule2'):
      capsules = self.digit_capsules(primary)  # [b, 10, 16]
      logits = _safe_norm(capsules, axis=-1)  # [b, 10]
    remakes = None
    if self.reconstruction is not None:
      keys = ('recons_label', 'spare_label')[:self.num_targets]
      # The TRUE label masks the capsules, at evaluation too (the original).
      with tf.name_scope('recons'):
        remakes = [self.reconstruction(
            tf.one_hot(features[key], self.num_classes), capsules)
                   for key in keys]
    return model.Inferred(logits, remakes, capsules)
