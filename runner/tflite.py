"""A SavedModel of runner/export.py as a TFLite model, and running one.

The TFLite model keeps the SavedModel's serving signature (uint8 images
[N, H, W, C] -> scores, classes, capsules, reconstructions) with every op a
TFLite builtin, so the plain TFLite runtime serves it (no TF Select ops).
'dynamic' quantisation stores the weights as int8 (a quarter of the size)
and dequantises them on load; activations stay float32.
"""

import warnings

import numpy as np
import tensorflow as tf

from runner.errors import ExperimentError

QUANTIZATIONS = ('none', 'dynamic')


def convert(saved_model_dir, quantize='none'):
  """The .tflite bytes of the SavedModel at saved_model_dir."""
  if quantize not in QUANTIZATIONS:
    raise ExperimentError('quantize must be one of %s, got %r' % (
        QUANTIZATIONS, quantize))
  converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
  if quantize == 'dynamic':
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  return converter.convert()


def _interpreter_class():
  """LiteRT's interpreter where installed (`pip install ai-edge-litert`),
  else TensorFlow's own (deprecated in its favour, still in TF 2.21)."""
  try:
    from ai_edge_litert import interpreter  # pylint: disable=g-import-not-at-top
    return interpreter.Interpreter
  except ImportError:
    return tf.lite.Interpreter


class TFLiteModel:
  """Serves a .tflite model's serving_default signature like the
  SavedModel's: call with uint8 images [N, H, W, C], get a dict of numpy
  outputs."""

  def __init__(self, path=None, content=None):
    with warnings.catch_warnings():  # The deprecation notice of tf.lite.
      warnings.simplefilter('ignore')
      self._interpreter = _interpreter_class()(model_path=path,
                                               model_content=content)
    self._runner = self._interpreter.get_signature_runner('serving_default')
    (detail,) = self._runner.get_input_details().values()
    self.input_shape = tuple(int(d) for d in detail['shape_signature'][1:])
    self.output_names = set(self._runner.get_output_details())

  def __call__(self, images):
    # The runner resizes its input to each call's batch size.
    return self._runner(images=np.asarray(images, np.uint8))
