"""Re-measures the shipped MNIST checkpoint on a fixed subset of the shipped
test digits: the first 500 of data/mnist's t10k files, unshifted."""

import os

import tensorflow as tf

from runner import config as config_lib
from runner import evaluation
from runner import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKPOINT = os.path.join(ROOT, 'checkpoints', 'mnist', 'model.ckpt-8000')
SUBSET = 500
# Measured with: python experiment.py --data_dir=data/mnist --data_source=idx
#   --train=false --checkpoint=checkpoints/mnist/model.ckpt-8000
#   --eval_size=500
EXPECTED_WRONG = 2


class ShippedCheckpointTest(tf.test.TestCase):

  def test_known_error_on_the_first_500_test_digits(self):
    config = config_lib.RunConfig(
        data_dir=os.path.join(ROOT, 'data', 'mnist'), data_source='idx',
        checkpoint=CHECKPOINT, eval_size=SUBSET)
    wrong, total = evaluation.evaluate_checkpoints(
        config, registry.get_source(config, 'test'))
    self.assertEqual((wrong, total), (EXPECTED_WRONG, SUBSET))

  def test_weights_only_and_small(self):
    size = sum(os.path.getsize(os.path.join(os.path.dirname(CHECKPOINT), f))
               for f in os.listdir(os.path.dirname(CHECKPOINT))
               if f.startswith('model.ckpt-8000'))
    self.assertLess(size, 35 * 2 ** 20)
    names = [n for n, _ in tf.train.list_variables(CHECKPOINT)]
    self.assertFalse([n for n in names if n.startswith('optimizer/')])


if __name__ == '__main__':
  tf.test.main()
