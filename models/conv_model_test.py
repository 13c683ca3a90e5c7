"""Tests of the baseline CNN."""

import tensorflow as tf

from models import conv_model
from models import hparams as hparams_lib
from models import model
from models import testing


class ConvModelTest(tf.test.TestCase):

  def test_parameter_count_and_names(self):
    m = conv_model.ConvModel(hparams_lib.default_hparams(), 28, 1, 10)
    self.assertEqual(m.num_params(), 7495946)
    shapes = {k: v.shape.as_list() for k, v in m.tf1_variables().items()}
    self.assertEqual(shapes['conv1/weights'], [5, 5, 1, 512])
    self.assertEqual(shapes['fc1/weights'], [4096, 1024])
    self.assertEqual(shapes['softmax_layer/weights'], [1024, 10])

  def test_same_padding_changes_the_fc_size(self):
    hparams = hparams_lib.default_hparams().parse('padding=SAME')
    m = conv_model.ConvModel(hparams, 28, 1, 10)
    self.assertEqual(m.fc1.weights.shape.as_list(), [7 * 7 * 256, 1024])

  def test_training_lowers_the_loss(self):
    tf.random.set_seed(0)
    hparams = hparams_lib.default_hparams('baseline')
    self.assertEqual(hparams.loss_type, 'softmax')
    m = conv_model.ConvModel(hparams, 28, 1, 10)
    optimizer = model.Adam(m.trainable_variables)
    step = model.make_train_step(m, optimizer, tf.distribute.get_strategy(),
                                 global_batch_size=8)
    features = testing.feature_batch(8)
    # The original's init (stddev 0.1 everywhere) makes the first steps of
    # the baseline overshoot on noise images before they settle.
    losses = [float(step(features)['total_loss']) for _ in range(15)]
    self.assertLess(losses[-1], 0.5 * losses[0])


if __name__ == '__main__':
  tf.test.main()
