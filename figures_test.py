"""Tests of the figures command on a small random model."""

import os

import numpy as np
import tensorflow as tf

import figures
from input_data import source
from models import capsule_model
from models import hparams as hparams_lib
from models import testing


class FiguresTest(tf.test.TestCase):

  def test_tile(self):
    grid = figures.tile(np.zeros([3, 2, 2, 1]), columns=2, pad=1)
    self.assertEqual(grid.shape, (7, 7, 1))
    self.assertEqual(grid[1, 1, 0], 0.0)  # First image.
    self.assertEqual(grid[4, 4, 0], 1.0)  # The empty fourth cell stays white.

  def test_perturbation_rows_move_one_dimension(self):
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                       10)
    capsules = np.random.RandomState(0).rand(10, 16).astype(np.float32) * 0.2
    decoded = figures.perturbation_images(model, capsules, label=3)
    self.assertEqual(decoded.shape, (16 * 11, 784))
    mask = tf.one_hot([3], 10)
    unperturbed = model.reconstruction(mask, capsules[None]).numpy()[0]
    centre = figures.PERTURBATIONS.tolist().index(0.0)
    for d in range(16):  # The 0.0 column is the unperturbed decoding.
      self.assertAllClose(decoded[d * 11 + centre], unperturbed, atol=1e-6)
    self.assertNotAllClose(decoded[0], decoded[10])

  def test_writes_the_pngs(self):
    out = self.create_tempdir().full_path
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                       10)
    paths = figures.make_figures(model, testing.feature_batch(12),
                                 source.DatasetInfo(28, 1, 10, 1), out)
    names = sorted(os.path.basename(p) for p in paths)
    self.assertEqual(names, sorted(['reconstructions.png'] +
                                   ['dimensions_%d.png' % c
                                    for c in range(10)]))
    image = tf.io.decode_png(tf.io.read_file(
        os.path.join(out, 'reconstructions.png')))
    # 2 rows of 10 (12 digits: 10, then 2 with their reconstructions x 2).
    self.assertEqual(image.shape, (2 * (4 * 29 + 1), 2 * (10 * 29 + 1), 1))

  def test_multimnist_figure(self):
    out = self.create_tempdir().full_path
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 36, 1,
                                       10, num_targets=2)
    paths = figures.make_figures(
        model, testing.feature_batch(4, image_size=36, num_targets=2),
        source.DatasetInfo(36, 1, 10, 2), out)
    self.assertEqual([os.path.basename(p) for p in paths],
                     ['reconstructions.png', 'multimnist.png'])
    image = tf.io.decode_png(tf.io.read_file(paths[1]))
    self.assertEqual(image.shape, (2 * (2 * 37 + 1), 2 * (8 * 37 + 1), 3))

  def test_needs_the_decoder(self):
    model = capsule_model.CapsuleModel(
        hparams_lib.default_hparams().parse('remake=false'), 28, 1, 10)
    with self.assertRaisesRegex(ValueError, 'remake=true'):
      figures.make_figures(model, testing.feature_batch(2),
                           source.DatasetInfo(28, 1, 10, 1),
                           self.create_tempdir().full_path)


if __name__ == '__main__':
  tf.test.main()
