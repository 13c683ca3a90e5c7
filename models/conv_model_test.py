"""Tests of the baseline CNN."""

import os

import numpy as np
import tensorflow as tf

from models import conv_model
from models import hparams as hparams_lib
from models import optimizer as optimizer_lib
from models import testing
from runner import checkpoints

# The standard deviation of a normal truncated at 2 sigma, per unit sigma.
TRUNCATED_STD = 0.8796


class ConvModelTest(tf.test.TestCase):

  def test_parameter_count_and_names(self):
    m = conv_model.ConvModel(hparams_lib.default_hparams(), 28, 1, 10)
    self.assertEqual(m.num_params(), 7495946)
    shapes = {k: v.shape.as_list() for k, v in m.tf1_variables().items()}
    self.assertEqual(shapes['conv1/weights'], [5, 5, 1, 512])
    self.assertEqual(shapes['fc1/weights'], [4096, 1024])
    self.assertEqual(shapes['softmax_layer/weights'], [1024, 10])
    # No decoder: the export, the training summaries and the figures ask.
    self.assertIsNone(m.reconstruction)

  def test_forward_flops_by_hand(self):
    h = hparams_lib.default_hparams('baseline')
    # conv1 24*24*25*512*2 + conv2 8*8*25*512*256*2 + fc 2*(4096*1024+10240).
    self.assertEqual(conv_model.ConvModel(h, 28, 1, 10).forward_flops(),
                     14745600 + 419430400 + 8409088)
    # Tiny widths on 32x32x3: conv1 28*28*25*3*8*2, pooled to 14, conv2
    # 10*10*25*8*8*2, pooled to 5, fc 2*(5*5*8*16 + 16*10).
    self.assertEqual(conv_model.ConvModel(h, 32, 3, 10, **testing.TINY[
        'baseline']).forward_flops(), 940800 + 320000 + 6720)

  def test_flattened_size_for_other_images_and_padding(self):
    # fc1's input, worked out by hand: two 5x5 convolutions (stride 1) each
    # followed by a 2x2 max pool of stride 2 with SAME padding (ceil(s/2)).
    widths = dict(conv_channels=(4, 3), fc_size=5)
    for size, padding, side in ((28, 'VALID', 4),   # 24, 12, 8, 4
                                (29, 'VALID', 5),   # 25, 13, 9, 5
                                (13, 'VALID', 1),   # 9, 5, 1, 1
                                (28, 'SAME', 7),    # 28, 14, 14, 7
                                (9, 'SAME', 3)):    # 9, 5, 5, 3
      m = conv_model.ConvModel(hparams_lib.default_hparams().parse(
          'padding=' + padding), size, 2, 7, **widths)
      self.assertEqual(m.fc1.weights.shape.as_list(), [side * side * 3, 5],
                       (size, padding))
      self.assertEqual((m.num_classes, m.num_targets), (7, 1))
      logits = m.inference({'images': np.zeros([2, 2 * size * size],
                                               np.float32)}).logits
      self.assertEqual(logits.shape, (2, 7))
    self.assertEqual(conv_model.ConvModel(hparams_lib.default_hparams(), 28,
                                          1, 10, 2, **widths).num_targets, 2)
    with self.assertRaisesRegex(ValueError, '^images of 12x12 are too small '
                                'for the baseline with padding VALID$'):
      conv_model.ConvModel(hparams_lib.default_hparams(), 12, 1, 10, **widths)

  def test_initialisation_is_the_originals(self):
    tf.random.set_seed(1)
    m = conv_model.ConvModel(hparams_lib.default_hparams(), 28, 1, 10)
    stds = {name: float(tf.math.reduce_std(v))
            for name, v in m.tf1_variables().items()}
    # Conv kernels 0.05, dense layers 0.1 (truncated at 2 sigma).
    self.assertAllClose(stds['conv2/weights'], 0.05 * TRUNCATED_STD, atol=3e-4)
    self.assertAllClose(stds['conv1/weights'], 0.05 * TRUNCATED_STD, atol=2e-3)
    self.assertAllClose(stds['fc1/weights'], 0.1 * TRUNCATED_STD, atol=3e-4)
    self.assertAllClose(stds['softmax_layer/weights'], 0.1 * TRUNCATED_STD,
                        atol=3e-3)
    for name in ('conv1', 'conv2', 'fc1', 'softmax_layer'):
      self.assertAllEqual(m.tf1_variables()[name + '/biases'].numpy(),
                          np.full(m.tf1_variables()[name + '/biases'].shape,
                                  0.1, np.float32))

  def test_tf1_checkpoint_gives_the_originals_scores(self):
    """An authors'-style TF1 checkpoint predicts as the original graph did."""
    features = testing.feature_batch(6)
    path = os.path.join(self.create_tempdir().full_path, 'model.ckpt-3')
    with tf.Graph().as_default():
      tf.compat.v1.set_random_seed(3)
      images = tf.compat.v1.placeholder(tf.float32, [None, 784])
      logits = testing.tf1_baseline_logits(images, 28, 1, 10)
      tf.compat.v1.Variable(3.0, name='global_step')
      with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        expected = sess.run(logits, {images: features['images']})
        tf.compat.v1.train.Saver().save(sess, path)
    m = conv_model.ConvModel(hparams_lib.default_hparams(), 28, 1, 10)
    checkpoints.restore_model(m, path)
    self.assertAllClose(m.inference(features).logits, expected, atol=1e-4,
                        rtol=1e-5)
    # The scores differ between examples: the comparison has teeth.
    self.assertGreater(np.ptp(expected), 1.0)

  def test_same_padding_changes_the_fc_size(self):
    hparams = hparams_lib.default_hparams().parse('padding=SAME')
    m = conv_model.ConvModel(hparams, 28, 1, 10)
    self.assertEqual(m.fc1.weights.shape.as_list(), [7 * 7 * 256, 1024])

  def test_training_lowers_the_loss(self):
    tf.random.set_seed(0)
    hparams = hparams_lib.default_hparams('baseline')
    self.assertEqual(hparams.loss_type, 'margin')
    m = conv_model.ConvModel(hparams, 28, 1, 10)
    optimizer = optimizer_lib.Adam(m.trainable_variables)
    step = testing.make_train_step(m, optimizer, tf.distribute.get_strategy(),
                                 global_batch_size=8)
    features = testing.feature_batch(8)
    losses = [float(step(features)['total_loss']) for _ in range(15)]
    self.assertLess(losses[-1], 0.5 * losses[0])


if __name__ == '__main__':
  tf.test.main()
