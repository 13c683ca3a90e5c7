"""Tests of runner/distribution.py: the strategy and who writes."""

import os
from unittest import mock

import tensorflow as tf

from models import testing
from runner import distribution
from runner.errors import ExperimentError


class DistributionTest(tf.test.TestCase):

  def test_strategy_choice_and_roles(self):
    default = distribution.make_strategy(1)
    self.assertIs(default, tf.distribute.get_strategy())
    with self.assertRaisesRegex(ExperimentError,
                                '--num_gpus=2 but this machine has 0 GPU'):
      distribution.make_strategy(2)
    with self.assertRaisesRegex(ExperimentError, '>= 1'):
      distribution.make_strategy(0)
    # A machine with three GPUs, played by logical CPUs: replicas on the
    # first num_gpus of them.
    gpus = [tf.config.LogicalDevice('/cpu:%d' % i, 'GPU') for i in (0, 1, 2)]
    with mock.patch.object(tf.config, 'list_logical_devices',
                           return_value=gpus) as listed:
      mirrored = distribution.make_strategy(2)
    listed.assert_called_with('GPU')
    self.assertEqual(mirrored.num_replicas_in_sync, 2)
    self.assertEqual(mirrored.extended.worker_devices,
                     ('/job:localhost/replica:0/task:0/device:CPU:0',
                      '/job:localhost/replica:0/task:0/device:CPU:1'))
    for strategy in (default, mirrored):  # One machine: it writes.
      self.assertTrue(distribution.writes_checkpoints(strategy))
      self.assertTrue(distribution.writes_summaries(strategy))
      self.assertEqual(distribution.task_id(strategy), 0)

  def test_tf_config(self):
    self.addCleanup(os.environ.pop, 'TF_CONFIG', None)
    os.environ['TF_CONFIG'] = '{"cluster": '
    with self.assertRaisesRegex(ExperimentError,
                                'TF_CONFIG is not a JSON object'):
      distribution.make_strategy(1)
    os.environ['TF_CONFIG'] = ('{"cluster": {"worker": ["a:1"]}, '
                               '"task": {"type": "worker", "index": 0}}')
    self.assertFalse(distribution.is_multi_worker())  # One worker: local.
    os.environ['TF_CONFIG'] = ('{"cluster": {"worker": ["a:1", "b:1"]}, '
                               '"task": {"type": "worker", "index": 1}}')
    self.assertTrue(distribution.is_multi_worker())


if __name__ == '__main__':
  testing.split_cpu()  # Under pytest, conftest.py does it.
  tf.test.main()
