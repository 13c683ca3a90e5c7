r"""Converts a SavedModel of `experiment.py --export_saved_model` to TFLite,
and checks the TFLite model against the SavedModel on test digits.

  python to_tflite.py --saved_model=/tmp/capsnet --output=/tmp/capsnet.tflite
  python to_tflite.py --saved_model=/tmp/capsnet --output=/tmp/capsnet_int8.tflite \
    --quantize=dynamic --data_dir=data/mnist

The .tflite file keeps the serving signature (uint8 images -> scores,
classes, capsules, reconstructions; see runner/export.py) and uses only
TFLite builtin ops. --quantize=dynamic stores the weights as int8 (about a
quarter of the size). With --data_dir (a directory of MNIST-format IDX
files: t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) both models
predict its first --num_examples test images and the tool prints how many
predicted classes differ, the largest score difference and each model's
test error. Exit status 1 on any error, with one line saying what.
"""

import sys
import time

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_string('saved_model', None, 'SavedModel directory written by '
                      'experiment.py --export_saved_model.')
  flags.DEFINE_string('output', None, 'The .tflite file to write.')
  flags.DEFINE_enum('quantize', 'none', ['none', 'dynamic'], 'none: float32 '
                    'weights; dynamic: int8 weights, float32 activations.')
  flags.DEFINE_string('data_dir', None, 'Optional: MNIST-format IDX files '
                      'whose test images check the TFLite model against the '
                      'SavedModel.')
  flags.DEFINE_integer('num_examples', 10000, 'Test images to check.')


def compare(saved, lite, images, labels):
  """Agreement of two served models on uint8 images [N, H, W, C]: a dict of
  differing (predicted classes), max_score_diff, wrong_saved, wrong_lite,
  lite_examples_per_sec."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from runner import export  # pylint: disable=g-import-not-at-top
  reference = export.predict_in_batches(saved, images)
  start = time.perf_counter()
  converted = export.predict_in_batches(lite, images)
  seconds = time.perf_counter() - start
  top_saved = reference['classes'][:, 0]
  top_lite = converted['classes'][:, 0]
  return {
      'differing': int((reference['classes'] != converted['classes']).any(
          axis=1).sum()),
      'max_score_diff': float(np.abs(reference['scores'] -
                                     converted['scores']).max()),
      'wrong_saved': int((top_saved != labels).sum()),
      'wrong_lite': int((top_lite != labels).sum()),
      'lite_examples_per_sec': len(images) / seconds,
  }


def main(argv):
  del argv
  if not FLAGS.saved_model or not FLAGS.output:
    sys.exit('to_tflite.py: --saved_model and --output are required')
  if FLAGS.num_examples < 1:
    sys.exit('to_tflite.py: --num_examples must be >= 1, got %d' %
             FLAGS.num_examples)
  # pylint: disable=g-import-not-at-top
  from input_data import errors
  from common import files
  from input_data import idx
  from runner import export
  from runner import tflite
  try:
    export.check_saved_model(FLAGS.saved_model, '--saved_model')
    images = labels = None
    if FLAGS.data_dir:  # Read first: a bad directory fails before the work.
      images, labels = idx.load_mnist(FLAGS.data_dir, 'test')
      images = images[:FLAGS.num_examples, :, :, None]  # [n, 28, 28, 1]
      labels = labels[:FLAGS.num_examples]
    content = tflite.convert(FLAGS.saved_model, FLAGS.quantize)
    files.write_whole(FLAGS.output, content)  # Whole, or not at all.
    print('wrote %s: %s bytes (%s weights)' % (
        FLAGS.output, format(len(content), ','),
        'int8' if FLAGS.quantize == 'dynamic' else 'float32'))
    if images is None:
      return
    lite = tflite.TFLiteModel(content=content)
    if lite.input_shape != images.shape[1:]:
      sys.exit('to_tflite.py: the model takes images %s, the IDX files of '
               '--data_dir=%s hold %s' % (lite.input_shape, FLAGS.data_dir,
                                          images.shape[1:]))
    result = compare(export.Served(FLAGS.saved_model), lite, images, labels)
  except (errors.DataError, OSError, ValueError) as e:
    sys.exit('to_tflite.py: %s' % e)
  n = len(images)
  print('on %d test images of %s: predicted classes differ on %d; largest '
        'score difference %.2g; wrong: TFLite %d (%.2f%%), SavedModel %d '
        '(%.2f%%); TFLite %.0f examples/s' % (
            n, FLAGS.data_dir, result['differing'], result['max_score_diff'],
            result['wrong_lite'], 100.0 * result['wrong_lite'] / n,
            result['wrong_saved'], 100.0 * result['wrong_saved'] / n,
            result['lite_examples_per_sec']))


if __name__ == '__main__':
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
