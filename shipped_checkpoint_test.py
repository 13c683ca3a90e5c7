"""Re-measures the shipped MNIST checkpoint on a fixed subset of the shipped
test digits: the first 500 of data/mnist's t10k files, unshifted."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from runner import checkpoints
from runner import config as config_lib
from runner import evaluation
from runner import registry

ROOT = os.path.dirname(os.path.abspath(__file__))
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

  @pytest.mark.slow
  def test_the_readme_error_on_all_test_digits(self):
    config = config_lib.RunConfig(
        data_dir=os.path.join(ROOT, 'data', 'mnist'), data_source='idx',
        checkpoint=CHECKPOINT)
    wrong, total = evaluation.evaluate_checkpoints(
        config, registry.get_source(config, 'test'))
    self.assertEqual(total, 10000)
    with open(os.path.join(ROOT, 'README.md')) as f:
      readme = f.read()
    # The README's first result row is this checkpoint's measured error.
    self.assertIn('(`checkpoints/mnist/model.ckpt-8000`) | 8,000 | **%.2f%%** |'
                  % (100.0 * wrong / total), readme)

  def test_exports_a_saved_model_that_scores_as_the_checkpoint(self):
    out = os.path.join(self.create_tempdir().full_path, 'saved')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'experiment.py'),
         '--data_dir=' + os.path.join(ROOT, 'data', 'mnist'),
         '--data_source=idx', '--train=false', '--checkpoint=' + CHECKPOINT,
         '--eval_size=100', '--export_saved_model=' + out],
        capture_output=True, text=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    self.assertIn('wrote %s' % out, proc.stdout)
    config = config_lib.RunConfig(
        data_dir=os.path.join(ROOT, 'data', 'mnist'), data_source='idx')
    source = registry.get_source(config, 'test')
    features = next(iter(source.eval_dataset(8, 8)))
    model = registry.build_model('capsule', config.hparams, source.info)
    checkpoints.restore_model(model, CHECKPOINT)
    images = tf.cast(tf.round(tf.reshape(features['images'],
                                         [8, 28, 28, 1]) * 255), tf.uint8)
    served = tf.saved_model.load(out).signatures['serving_default'](
        images=images)
    self.assertAllClose(served['scores'],
                        model.inference(features).logits, atol=1e-5)
    self.assertAllEqual(served['classes'][:, 0],
                        features['recons_label'])  # All 8 right.

  def test_weights_only_and_small(self):
    size = sum(os.path.getsize(os.path.join(os.path.dirname(CHECKPOINT), f))
               for f in os.listdir(os.path.dirname(CHECKPOINT))
               if f.startswith('model.ckpt-8000'))
    self.assertLess(size, 35 * 2 ** 20)
    names = [n for n, _ in tf.train.list_variables(CHECKPOINT)]
    self.assertFalse([n for n in names if n.startswith('optimizer/')])


if __name__ == '__main__':
  tf.test.main()
