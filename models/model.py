"""The base of the capsule and baseline models: variables, losses.

`Model` holds the variables (built eagerly in the constructor, so that they
are created under whatever `tf.distribute` strategy scope is active) and
computes per-example losses with the original's scaling. The optimiser and
its schedule are in models/optimizer.py, loss scaling in
models/loss_scale.py, the compiled steps in models/steps.py.
"""

import collections

import tensorflow as tf

from input_data import pixels
from models.layers import losses
from models.layers import variables

# logits: [batch, classes]; remakes: list of [batch, pixels] (one per target)
# or None; capsules: [batch, classes, atoms] or None for the baseline.
Inferred = collections.namedtuple('Inferred', ('logits', 'remakes', 'capsules'))

RECONSTRUCTION_BALANCE = 0.0005  # The original's balance_factor.


class Model(variables.Tf1Module):
  """Base of the capsule and baseline models.

  Subclasses build their variables in `__init__` and implement `inference`
  and `tf1_variables`. Features are the original's dict keys: images
  [batch, depth*height*width] (depth-major, in [0, 1]), labels [batch,
  classes] (one- or two-hot), recons_image/recons_label and, for two targets,
  spare_image/spare_label.
  """

  def __init__(self, hparams, image_size, image_depth, num_classes,
               num_targets, name=None):
    super().__init__('', name=name)
    if num_targets not in (1, 2):
      raise ValueError('num_targets must be 1 or 2, got %r' % (num_targets,))
    self.hparams = hparams
    self.image_size = image_size
    self.image_depth = image_depth
    self.num_classes = num_classes
    self.num_targets = num_targets
    self.reconstruction = None  # The capsule model's decoder, if any.

  def images_nhwc(self, images):
    """[batch, depth*h*w] depth-major -> [batch, h, w, depth]."""
    return pixels.nhwc(images, self.image_size, self.image_depth)

  def inference(self, features):
    raise NotImplementedError

  def forward_flops(self):
    """Multiply-adds x 2 of one example's forward pass (convolutions and
    matrix products), from the layers' shapes."""
    raise NotImplementedError

  def activations(self, features):
    """{TF1 scope: activation} for the verbose histograms."""
    raise NotImplementedError

  def per_example_losses(self, features, inferred):
    """(classification [batch], reconstruction [batch]) with original scaling.

    Their means over the batch are the original's `batch_classification_cost`
    (mean over batch and classes) and `reconstruction_error` (0.0005 * mean
    over batch of summed squared pixel error, summed over the targets).
    """
    with tf.name_scope('losses'):
      classification = losses.classification_loss_elements(
          inferred.logits, features['labels'], self.hparams.loss_type)
      if classification.shape.rank == 2:  # margin, sigmoid: over classes.
        classification = tf.reduce_mean(classification, axis=1)
      reconstruction = tf.zeros_like(classification)
      for remake, key in zip(inferred.remakes or [],
                             ('recons_image', 'spare_image')):
        target = tf.reshape(features[key], tf.shape(remake))
        reconstruction += RECONSTRUCTION_BALANCE * tf.reduce_sum(
            tf.square(remake - target), axis=1)
    return classification, reconstruction

  def set_conv_dtype(self, dtype):
    """Runs the model's convolutions in dtype (bfloat16 or float16: mixed
    precision); routing, losses and the optimiser stay float32."""
    self._set_on_layers('compute_dtype', tf.as_dtype(dtype))

  def set_cpu_kernels(self, enabled):
    """Uses (or not) the layers' CPU formulations: the same computation,
    written for TensorFlow's CPU kernels (models/layers/cpu_kernels.py)."""
    self._set_on_layers('cpu_kernels', bool(enabled))

  def _set_on_layers(self, name, value):
    for module in (self,) + tuple(self.submodules):
      if isinstance(module, variables.Tf1Module):
        setattr(module, name, value)

  def num_params(self):
    return int(sum(v.shape.num_elements() for v in self.trainable_variables))
