r"""Writes the paper's figures from a capsule checkpoint, as PNG files.

  reconstructions.png   test digits (odd rows) above their reconstructions
                        from the label-masked capsule (even rows)
  dimensions_C.png      the paper's Figure 4 for class C: each of the 16
                        capsule dimensions (a row) of a test digit of that
                        class perturbed by -0.25 .. 0.25 in steps of 0.05
                        (columns) and decoded
  multimnist.png        (two targets) input | digit 1 | digit 2 | both
                        reconstructions in colour (red: 1, green: 2)

  python figures.py --checkpoint=checkpoints/mnist/model.ckpt-8000 \
    --data_dir=data/mnist --data_source=idx --output_dir=figures
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

PERTURBATIONS = np.round(np.arange(-0.25, 0.2501, 0.05), 2)  # 11 steps


def tile(images, columns, pad=1):
  """[n, h, w, c] in [0, 1] -> one [rows*(h+pad), columns*(w+pad), c] grid."""
  images = np.asarray(images, np.float32)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  grid = np.ones([rows * (h + pad) + pad, columns * (w + pad) + pad, c],
                 np.float32)
  for i in range(n):
    r, col = divmod(i, columns)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h,
         pad + col * (w + pad):pad + col * (w + pad) + w] = images[i]
  return grid


def write_png(path, image, scale=2):
  """Writes a float image [h, w, c] in [0, 1], each pixel scale x scale."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  image = np.repeat(np.repeat(np.clip(image, 0, 1), scale, 0), scale, 1)
  png = tf.io.encode_png(np.round(image * 255).astype(np.uint8))
  tf.io.write_file(path, png)
  return path


def to_images(flat, height, depth):
  """[n, depth*h*w] depth-major -> [n, h, w, depth]."""
  return np.asarray(flat).reshape(-1, depth, height, height).transpose(
      0, 2, 3, 1)


def perturbation_images(model, capsules, label):
  """[16 * 11, pixels]: capsule `label` of capsules [classes, 16] with each
  dimension moved by each of PERTURBATIONS, decoded with the label's mask."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  atoms = capsules.shape[-1]
  batch = np.repeat(capsules[None], atoms * len(PERTURBATIONS), axis=0)
  for d in range(atoms):
    for k, delta in enumerate(PERTURBATIONS):
      batch[d * len(PERTURBATIONS) + k, label, d] += delta
  mask = tf.one_hot([label] * batch.shape[0], capsules.shape[0])
  return model.reconstruction(mask, tf.constant(batch)).numpy()


def make_figures(model, features, info, output_dir, examples=30):
  """Writes the figures for one batch of evaluation features; returns paths.

  Args:
    model: a CapsuleModel with remake=true, weights loaded.
    features: an evaluation batch (the dict of the readers).
    info: the source's DatasetInfo.
    output_dir: created if needed.
    examples: digits in the reconstruction figure.
  """
  if model.reconstruction is None:
    raise ValueError('the figures need the decoder: a model with remake=true')
  os.makedirs(output_dir, exist_ok=True)
  h, depth = info.height, info.depth
  inferred = model.inference(features)
  capsules = inferred.capsules.numpy()  # [b, classes, 16]
  labels = np.asarray(features['recons_label'])
  images = to_images(features['images'], h, depth)
  paths = []
  n = min(examples, images.shape[0])
  remakes = to_images(inferred.remakes[0][:n], h, depth)
  rows = []
  blank = np.ones_like(images[0])
  for start in range(0, n, 10):  # Ten digits, then their reconstructions.
    for group in (images[start:start + 10], remakes[start:start + 10]):
      rows += list(group) + [blank] * (10 - len(group))
  paths.append(write_png(os.path.join(output_dir, 'reconstructions.png'),
                         tile(rows, 10)))
  if info.num_targets == 1:
    for label in range(info.num_classes):
      found = np.flatnonzero(labels == label)
      if found.size == 0:
        continue
      decoded = to_images(perturbation_images(
          model, capsules[found[0]], label), h, depth)
      paths.append(write_png(
          os.path.join(output_dir, 'dimensions_%d.png' % label),
          tile(decoded, len(PERTURBATIONS))))
  else:
    second = to_images(inferred.remakes[1][:n], h, depth)
    colour = np.concatenate([remakes, second, np.zeros_like(second)], -1)
    columns = [np.repeat(x, 3, -1) for x in (images[:n], remakes[:n],
                                             second[:n])] + [colour]
    rows = [image for quad in zip(*columns) for image in quad]
    paths.append(write_png(os.path.join(output_dir, 'multimnist.png'),
                           tile(rows, 8)))
  return paths


FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_string('checkpoint', None, 'Checkpoint (native or TF1).')
  flags.DEFINE_string('data_dir', None, 'As for experiment.py.')
  flags.DEFINE_string('dataset', 'mnist', 'As for experiment.py.')
  flags.DEFINE_enum('data_source', 'records', ['records', 'idx'],
                    'As for experiment.py.')
  flags.DEFINE_integer('num_targets', 1, '1, or 2 for MultiMNIST.')
  flags.DEFINE_string('hparams_override', None, 'As for experiment.py.')
  flags.DEFINE_string('output_dir', 'figures', 'Where to write the PNGs.')


def main(argv):
  del argv
  # pylint: disable=g-import-not-at-top
  from models import hparams as hparams_lib
  if not FLAGS.checkpoint or not FLAGS.data_dir:
    sys.exit('figures.py: --checkpoint and --data_dir are required')
  try:
    from input_data import source as source_lib
    from runner import checkpoints
    from runner import config as config_lib
    from runner import registry
    config = config_lib.RunConfig(
        hparams=hparams_lib.default_hparams().parse(
            FLAGS.hparams_override or ''),
        dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
        data_source=FLAGS.data_source, num_targets=FLAGS.num_targets)
    source = registry.get_source(config, 'test')
    model = registry.build_model('capsule', config.hparams, source.info)
    checkpoints.restore_model(model, FLAGS.checkpoint)
    features = source_lib.first_examples(source, 100)
    for path in make_figures(model, features, source.info, FLAGS.output_dir):
      print('wrote %s' % path)
  except (ValueError, OSError) as e:
    sys.exit('figures.py: %s' % e)


if __name__ == '__main__':
  from runner import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
