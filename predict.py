r"""Predicts the class of each of one's own images with an exported model.

  python predict.py --model=/tmp/capsnet my_digits/ seven.png
  python predict.py --model=/tmp/capsnet.tflite --polarity=dark_on_light \
    --write_reconstructions scan.jpg

--model is a SavedModel directory of `experiment.py --export_saved_model`
or a .tflite file of `to_tflite.py`. Each image (PNG, JPEG, BMP or GIF; a
folder gives its files of those kinds) is first made to look like MNIST, as
the model was trained on: grayscale; light ink on a dark ground (a
dark-on-light image, such as a pen digit on paper, is inverted: decided from
the image's border, or set with --polarity); the ink scaled to fit a 20x20
box keeping its aspect ratio and placed in 28x28 with its centre of mass at
the centre (input_data/digit_images.py). One line per image: the predicted
class (both, best first, for a two-digit model) and its score (the length
of its capsule, 0..1; the baseline CNN's logit). With
--write_reconstructions, IMAGE.reconstruction.png is written beside each
image: what the model saw, and its reconstruction from the predicted
class's capsule, side by side.

A model trained on one's own images (--dataset=folder or tfds:NAME; its
SavedModel outputs the class names) gets each image as its training data was
made instead: resized keeping its aspect ratio and centre-cropped to the
model's size, grey or RGB as the model takes (docs/own_data.md); the line
names the class by its folder name (`cat (score S)`).

An image that cannot be read, or holds no digit, gets one line naming it;
the other images are still predicted, and the exit status is then 1.
"""

import os
import sys

from absl import app
from absl import flags

from input_data import digit_images

FLAGS = flags.FLAGS
SUFFIX = '.reconstruction.png'


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_string('model', None, 'SavedModel directory '
                      '(experiment.py --export_saved_model) or .tflite file '
                      '(to_tflite.py).')
  flags.DEFINE_enum('polarity', 'auto', ['auto', 'light_on_dark',
                                         'dark_on_light'],
                    'light_on_dark: light ink on a dark ground, as MNIST; '
                    'dark_on_light: dark ink on a light ground (inverted '
                    'first); auto: light_on_dark unless the image\'s border '
                    'is brighter than mid-grey.')
  flags.DEFINE_boolean('write_reconstructions', False, 'Write IMAGE' + SUFFIX +
                       ' beside each image: the model\'s input and its '
                       'reconstruction, side by side, 4x enlarged.')
  flags.DEFINE_integer('max_pixels', digit_images.MAX_PIXELS, 'Images '
                       'whose header declares more pixels (width x height, '
                       'x frames for a GIF) are refused before decoding, one '
                       'line each.')


def load_model(path):
  """A served model (callable on uint8 images) of a SavedModel or .tflite."""
  # pylint: disable=g-import-not-at-top
  from runner import export
  from runner import tflite
  if os.path.isdir(path):
    export.check_saved_model(path, '--model')
    return export.Served(path)
  if not os.path.isfile(path):
    raise ValueError('--model=%s: no such file or directory' % path)
  return tflite.TFLiteModel(path=path)


def reconstruction_png(path, seen, reconstruction, scale=4):
  """Writes [seen | reconstruction] (each [h, w, c] in [0, 1]) to path."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from input_data import pixels  # pylint: disable=g-import-not-at-top
  gap = np.full([seen.shape[0], 1, seen.shape[2]], 0.5, np.float32)
  pair = np.concatenate([seen, gap, reconstruction], axis=1)
  pixels.write_png(path, pair, scale)


def _own_image(path, size, channels, max_pixels):
  """uint8 [size, size, channels] of a file, prepared as a model of one's own
  images was trained: resized (aspect kept) and centre-cropped, grey or
  RGB (input_data/own/image_set.py)."""
  from input_data.own import image_set  # pylint: disable=g-import-not-at-top
  rgb = image_set.to_rgb(digit_images.decode(path, max_pixels))
  square = image_set.to_square(rgb, size).numpy()[None]  # [1, s, s, 3]
  return image_set.to_channels(square, image_set.is_grey(square), channels,
                               path)[0]


def predict_files(model, files, polarity='auto', write_reconstructions=False,
                  out=sys.stdout, err=sys.stderr, max_pixels=None):
  """Prints one line per file; returns the number of files that failed.

  A model of one's own images (its outputs name the classes) gets each
  image as its training data was made; a digit model, the image made to
  look like MNIST (polarity, 20x20 box, centre of mass)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from input_data import errors  # pylint: disable=g-import-not-at-top
  from runner import export  # pylint: disable=g-import-not-at-top
  height, width, depth = model.input_shape
  named = 'names' in model.output_names
  if height != width or (depth != 1 and not named):
    raise ValueError('the model takes %s images; predict.py makes square '
                     'grayscale digits only' % (model.input_shape,))
  max_pixels = max_pixels or digit_images.MAX_PIXELS
  ready, seen, failed = [], [], 0
  for path in files:
    try:
      if named:
        seen.append(_own_image(path, height, depth, max_pixels))
      else:
        seen.append(digit_images.to_uint8(digit_images.to_mnist(
            digit_images.read_grayscale(path, max_pixels), height, polarity,
            path))[..., None])
      ready.append(path)
    except errors.DataError as e:
      print('%s' % e, file=err)
      failed += 1
  if not ready:
    return failed
  images = np.stack(seen)  # [n, h, w, c] uint8
  outputs = export.predict_in_batches(model, images)
  for i, path in enumerate(ready):
    classes = outputs['classes'][i]
    scores = outputs['scores'][i][classes]
    labels = ([n.decode() for n in outputs['names'][i]] if named
              else [str(c) for c in classes])
    print('%s: %s (score %s)' % (
        path, ', '.join(labels), ', '.join('%.3f' % s for s in scores)),
          file=out)
    if write_reconstructions and 'reconstructions' in outputs:
      target = os.path.splitext(path)[0] + SUFFIX
      reconstruction_png(target, images[i] / 255.0,
                         outputs['reconstructions'][i, 0])
  return failed


def main(argv):
  files = argv[1:]
  if not FLAGS.model:
    sys.exit('predict.py: --model is required (a SavedModel directory or a '
             '.tflite file)')
  if not files:
    sys.exit('predict.py: no images given (PNG, JPEG, BMP or GIF files, or '
             'folders of them)')
  files = digit_images.list_images(files, SUFFIX)
  if not files:
    sys.exit('predict.py: no PNG, JPEG, BMP or GIF files in %s' %
             ', '.join(argv[1:]))
  try:
    model = load_model(FLAGS.model)
    failed = predict_files(model, files, FLAGS.polarity,
                           FLAGS.write_reconstructions,
                           max_pixels=FLAGS.max_pixels)
  except (OSError, ValueError) as e:
    sys.exit('predict.py: %s' % e)
  if failed:
    sys.exit(1)


if __name__ == '__main__':
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
