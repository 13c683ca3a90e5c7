"""A trained model as a SavedModel that stands alone (no code of this
project needed to load and serve it).

Serving signature `serving_default`:
  input   images: uint8 [N, H, W, C], the model's dataset shape (MNIST
          [N, 28, 28, 1]; own images: the size and channels they were made
          into); scaled as the readers do (times 1/255): models of those
          datasets only (config.SERVED_DATASETS).
  outputs scores: float32 [N, classes], the class scores (capsule lengths
                  for the capsule model, logits for the baseline);
          classes: int64 [N, num_targets], the top-1 (top-2 for
                  MultiMNIST) classes, best first;
          capsules: float32 [N, classes, atoms] (capsule model);
          reconstructions: float32 [N, targets, H, W, C] in [0, 1], each
                  from the capsule of a predicted class (capsule model
                  with a decoder);
          names: string [N, num_targets], the classes' names (a model of
                  one's own images, whose classes have names).
"""

import os
import shutil

import numpy as np
import tensorflow as tf

from input_data import pixels
from runner.errors import ExperimentError


class _Serving(tf.Module):
  """The model and its serving function; saved together."""

  def __init__(self, model, class_names=None):
    super().__init__(name='serving')
    self.model = model
    self.class_names = list(class_names) if class_names else None
    size, depth = model.image_size, model.image_depth
    self.serve = tf.function(self._serve, input_signature=[
        tf.TensorSpec([None, size, size, depth], tf.uint8, name='images')])

  def _serve(self, images):
    model = self.model
    size, depth = model.image_size, model.image_depth
    # [N, H, W, C] uint8 -> depth-major [N, C*H*W] in [0, 1], as the readers.
    flat = tf.reshape(tf.transpose(pixels.to_unit(images),
                                   [0, 3, 1, 2]), [-1, depth * size * size])
    features = {'images': flat,
                'recons_label': tf.zeros([tf.shape(flat)[0]], tf.int64)}
    inferred = model.inference(features)
    _, classes = tf.math.top_k(inferred.logits, k=model.num_targets)
    classes = tf.cast(classes, tf.int64)  # [N, targets]
    outputs = {'scores': inferred.logits, 'classes': classes}
    if self.class_names:
      outputs['names'] = tf.gather(tf.constant(self.class_names), classes)
    if inferred.capsules is not None:
      outputs['capsules'] = inferred.capsules
    if model.reconstruction is not None:
      remakes = [model.reconstruction(
          tf.one_hot(classes[:, t], model.num_classes), inferred.capsules)
                 for t in range(model.num_targets)]  # [N, C*H*W] each
      remakes = tf.stack(remakes, axis=1)
      remakes = tf.reshape(remakes, [-1, model.num_targets, depth, size,
                                     size])
      outputs['reconstructions'] = tf.transpose(remakes, [0, 1, 3, 4, 2])
    return outputs


def export_saved_model(model, directory, class_names=None):
  """Writes model (weights restored) as a SavedModel at directory; with
  class_names, its signature also outputs the predicted classes' names.

  Written beside it first and renamed when whole (an existing directory is
  replaced only then): an export that fails or is interrupted leaves no
  directory that looks like a SavedModel.
  """
  serving = _Serving(model, class_names)
  directory = directory.rstrip('/')
  temporary = '%s.tmp-%d' % (directory, os.getpid())
  # The portable graph: the CPU formulations (an XLA-compiled routing)
  # are for training and evaluation here, not for wherever it is served.
  cpu_kernels = model.cpu_kernels
  model.set_cpu_kernels(False)
  try:
    tf.saved_model.save(serving, temporary,
                        signatures={'serving_default': serving.serve})
    if os.path.exists(directory):
      shutil.rmtree(directory)
    os.rename(temporary, directory)
  finally:
    model.set_cpu_kernels(cpu_kernels)
    shutil.rmtree(temporary, ignore_errors=True)
  return directory


def check_saved_model(directory, flag):
  """Raises ExperimentError naming flag unless directory holds a
  SavedModel."""
  if not os.path.isfile(os.path.join(directory, 'saved_model.pb')):
    raise ExperimentError('%s=%s is not a SavedModel directory (no '
                          'saved_model.pb)' % (flag, directory))


class Served:
  """A SavedModel of export_saved_model, loaded: call with uint8 images
  [N, H, W, C], get its serving outputs as numpy arrays."""

  def __init__(self, directory):
    self._serve = tf.saved_model.load(directory).signatures['serving_default']
    spec = self._serve.structured_input_signature[1]['images']
    self.input_shape = tuple(spec.shape[1:])
    self.output_names = set(self._serve.structured_outputs)

  def __call__(self, images):
    outputs = self._serve(images=tf.constant(images, tf.uint8))
    return {key: value.numpy() for key, value in outputs.items()}


def predict_in_batches(model, images, batch_size=100):
  """The outputs of model (Served, or tflite.TFLiteModel) over uint8 images
  [N, H, W, C], batch_size at a time, concatenated."""
  outputs = {}
  for start in range(0, len(images), batch_size):
    for key, value in model(images[start:start + batch_size]).items():
      outputs.setdefault(key, []).append(np.asarray(value))
  return {key: np.concatenate(parts) for key, parts in outputs.items()}
