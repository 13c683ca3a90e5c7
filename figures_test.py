"""Tests of the figures command on a small random model."""

import os

import numpy as np
import tensorflow as tf

import figures
from input_data import pixels
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
    pixels = image.numpy()[::2, ::2, 0]  # Each pixel was drawn 2x2.
    cell = lambda row, col: pixels[1 + 29 * row:29 * (row + 1),
                                   1 + 29 * col:29 * (col + 1)]
    features = testing.feature_batch(12)
    remakes = model.inference(features).remakes[0].numpy()
    as_png = lambda x: np.round(np.reshape(x, [28, 28]) * 255)
    # Digits 0-9 above their reconstructions, then 10-11 above theirs.
    for row, col, expected in ((0, 3, features['images'][3]),
                               (1, 3, remakes[3]),
                               (2, 1, features['images'][11]),
                               (3, 0, remakes[10])):
      self.assertAllEqual(cell(row, col), as_png(expected))
    self.assertTrue(np.all(cell(2, 2) == 255))  # Blank after the 12th.
    self.assertTrue(np.all(pixels[0] == 255))  # The white grid.

  def test_rgb_images_of_named_classes(self):
    # One's own RGB images, 20x20, 3 classes: depth-major features drawn
    # as RGB cells.
    out = self.create_tempdir().full_path
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 20, 3,
                                       3, **testing.TINY['capsule'])
    features = testing.feature_batch(4, image_size=20, depth=3,
                                     num_classes=3)
    paths = figures.make_figures(model, features,
                                 source.DatasetInfo(20, 3, 3, 1), out)
    self.assertCountEqual([os.path.basename(p) for p in paths], [
        'reconstructions.png', 'dimensions_0.png', 'dimensions_1.png',
        'dimensions_2.png'])
    image = tf.io.decode_png(tf.io.read_file(
        os.path.join(out, 'reconstructions.png'))).numpy()[::2, ::2]
    self.assertEqual(image.shape[2], 3)
    # The second image's cell, [c, h, w] planes back to [h, w, c].
    expected = np.transpose(np.reshape(features['images'][1], [3, 20, 20]),
                            [1, 2, 0])
    self.assertAllEqual(image[1:21, 22:42], np.round(expected * 255))

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
    # One row of 6 cells (4 pairs): input, gap, overlay, two captions.
    cell = 36 + 1 + 36 + 7 + 7
    self.assertEqual(image.shape, (2 * (cell + 2), 2 * (6 * 37 + 1), 3))

  def test_figure5_overlays_the_two_predicted_capsules(self):
    tf.random.set_seed(1)
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 36, 1,
                                       10, num_targets=2,
                                       **testing.TINY['capsule'])
    features = testing.feature_batch(2, image_size=36, num_targets=2)
    inferred = model.inference(features)
    images = np.asarray(pixels.nhwc(features['images'], 36, 1))
    grid = figures.figure5(model, inferred, images,
                           features['recons_label'], features['spare_label'])
    first, second = np.argsort(-inferred.logits[0].numpy())[:2]
    for k, label in enumerate((first, second)):
      expected = model.reconstruction(tf.one_hot([label], 10),
                                      inferred.capsules[:1]).numpy()
      self.assertAllClose(grid[38:74, 1:37, k], expected.reshape(36, 36),
                          atol=1e-6)
    self.assertAllClose(grid[1:37, 1:37, 1], images[0, ..., 0], atol=1e-6)
    self.assertAllEqual(grid[38:74, 1:37, 2], np.zeros([36, 36]))

  def test_caption_font(self):
    strip = figures.caption('L:7', 12, colour=(1.0, 0.0, 0.0))
    self.assertEqual(strip.shape, (7, 12, 3))
    seven = (strip[1:6, 9:12, 1] == 0).astype(int)  # Ink: green is off.
    self.assertEqual(seven.tolist(), [[1, 1, 1], [0, 0, 1], [0, 1, 0],
                                      [0, 1, 0], [0, 1, 0]])
    self.assertAllEqual(strip[1:6, 9:12, 0], np.ones([5, 3]))  # Red ink.
    self.assertEqual(figures.caption('12345', 9)[:, 9:].size, 0)  # Cut.

  def test_needs_the_decoder(self):
    model = capsule_model.CapsuleModel(
        hparams_lib.default_hparams().parse('remake=false'), 28, 1, 10)
    with self.assertRaisesRegex(ValueError, 'remake=true'):
      figures.make_figures(model, testing.feature_batch(2),
                           source.DatasetInfo(28, 1, 10, 1),
                           self.create_tempdir().full_path)


if __name__ == '__main__':
  tf.test.main()
