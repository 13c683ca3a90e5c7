r"""Writes the paper's figures from a capsule checkpoint, as PNG files.

  reconstructions.png   test digits (odd rows) above their reconstructions
                        from the label-masked capsule (even rows)
  dimensions_C.png      the paper's Figure 4 for class C: each of the 16
                        capsule dimensions (a row) of a test digit of that
                        class perturbed by -0.25 .. 0.25 in steps of 0.05
                        (columns) and decoded
  multimnist.png        (two targets) the paper's Figure 5: for 12 test
                        pairs, the input above the reconstructions from
                        the two predicted classes' capsules overlaid (red:
                        best scored, green: second), captioned with the
                        labels (L:) and predicted classes (P:)

  python figures.py --checkpoint=checkpoints/mnist/model.ckpt-8000 \
    --data_dir=data/mnist --data_source=idx --output_dir=figures
"""

import os
import sys

from absl import app
from absl import flags
import numpy as np

from runner import command_line

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


def _nhwc(flat, height, depth):
  """[n, depth*h*w] depth-major -> NumPy [n, h, w, depth]."""
  from input_data import pixels  # pylint: disable=g-import-not-at-top
  return np.asarray(pixels.nhwc(flat, height, depth))


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


# A 3x5 bitmap font for the captions: digits, 'L', 'P', ':' and ','.
_GLYPHS = {
    '0': '111101101101111', '1': '010110010010111', '2': '111001111100111',
    '3': '111001111001111', '4': '101101111001001', '5': '111100111001111',
    '6': '111100111101111', '7': '111001010010010', '8': '111101111101111',
    '9': '111101111001111', 'L': '100100100100111', 'P': '111101111100100',
    ':': '000010000010000', ',': '000000000010100', ' ': '000000000000000'}


def caption(text, width, colour=(0.0, 0.0, 0.0)):
  """An RGB strip [7, width, 3] with text in the 3x5 font on white, from
  the left (characters 4 pixels apart; what does not fit is cut)."""
  strip = np.ones([7, width, 3], np.float32)
  for k, char in enumerate(text):
    glyph = np.array([int(b) for b in _GLYPHS[char]]).reshape(5, 3)
    left = 1 + 4 * k
    if left + 3 > width:
      break
    strip[1:6, left:left + 3][glyph == 1] = colour
  return strip


def figure5(model, inferred, images, labels, spare_labels, pairs=12,
            columns=6):
  """The paper's Figure 5 for the first `pairs` MultiMNIST test pairs.

  Each cell: the input (grey) above the two reconstructions overlaid, each
  decoded from the capsule of one of the two predicted classes (red: the
  better scored, green: the other), then the caption 'L:a,b' (the labels)
  and 'P:c,d' (the predicted classes, best first; red unless both are
  labels).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  h, depth = images.shape[1], images.shape[3]
  n = min(pairs, images.shape[0])
  scores = np.asarray(inferred.logits)[:n]
  top2 = np.argsort(-scores, axis=1, kind='stable')[:, :2]  # [n, 2]
  capsules = inferred.capsules[:n]
  remakes = [_nhwc(model.reconstruction(
      tf.one_hot(top2[:, k], scores.shape[1]), capsules), h, depth)
             for k in range(2)]  # [n, h, w, depth] each
  cells = []
  for i in range(n):
    grey = np.repeat(images[i].mean(axis=-1, keepdims=True), 3, -1)
    overlay = np.concatenate([remakes[0][i].mean(-1, keepdims=True),
                              remakes[1][i].mean(-1, keepdims=True),
                              np.zeros([h, h, 1], np.float32)], -1)
    truth = (int(labels[i]), int(spare_labels[i]))
    wrong = [c for c in top2[i] if c not in truth]
    cells.append(np.concatenate([
        grey, np.ones([1, h, 3], np.float32), overlay,
        caption('L:%d,%d' % truth, h),
        caption('P:%d,%d' % tuple(top2[i]), h,
                (0.8, 0.0, 0.0) if wrong else (0.0, 0.0, 0.0))], axis=0))
  return tile(cells, columns)


def make_figures(model, features, info, output_dir, examples=30):
  """Writes the figures for one batch of evaluation features; returns paths.

  Args:
    model: a CapsuleModel with remake=true, weights loaded.
    features: an evaluation batch (the dict of the readers).
    info: the source's DatasetInfo.
    output_dir: created if needed.
    examples: digits in the reconstruction figure.
  """
  from input_data import pixels  # pylint: disable=g-import-not-at-top
  if model.reconstruction is None:
    raise ValueError('the figures need the decoder: a model with remake=true')
  os.makedirs(output_dir, exist_ok=True)
  h, depth = info.height, info.depth
  inferred = model.inference(features)
  capsules = inferred.capsules.numpy()  # [b, classes, 16]
  labels = np.asarray(features['recons_label'])
  images = _nhwc(features['images'], h, depth)
  paths = []
  n = min(examples, images.shape[0])
  remakes = _nhwc(inferred.remakes[0][:n], h, depth)
  rows = []
  blank = np.ones_like(images[0])
  for start in range(0, n, 10):  # Ten digits, then their reconstructions.
    for group in (images[start:start + 10], remakes[start:start + 10]):
      rows += list(group) + [blank] * (10 - len(group))
  paths.append(pixels.write_png(
      os.path.join(output_dir, 'reconstructions.png'), tile(rows, 10)))
  if info.num_targets == 1:
    for label in range(info.num_classes):
      found = np.flatnonzero(labels == label)
      if found.size == 0:
        continue
      decoded = _nhwc(perturbation_images(
          model, capsules[found[0]], label), h, depth)
      paths.append(pixels.write_png(
          os.path.join(output_dir, 'dimensions_%d.png' % label),
          tile(decoded, len(PERTURBATIONS))))
  else:
    paths.append(pixels.write_png(
        os.path.join(output_dir, 'multimnist.png'),
        figure5(model, inferred, images, labels,
                np.asarray(features['spare_label']))))
  return paths


FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_string('checkpoint', None, 'Checkpoint (native or TF1).')
  command_line.define('data_dir', 'dataset', 'data_source', 'num_targets',
                      'hparams_override', *command_line.OWN_DATA)
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
        data_source=FLAGS.data_source, num_targets=FLAGS.num_targets,
        **command_line.own_data_config(FLAGS))
    source = registry.get_source(config, 'test')
    model = registry.build_model('capsule', config.hparams, source.info)
    checkpoints.restore_model(model, FLAGS.checkpoint)
    features = source_lib.first_examples(source, 100)
    for path in make_figures(model, features, source.info, FLAGS.output_dir):
      print('wrote %s' % path)
  except (ValueError, OSError) as e:
    sys.exit('figures.py: %s' % e)


if __name__ == '__main__':
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
