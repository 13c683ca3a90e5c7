"""Tests of benchmark.py: FLOP counts, and the CLI's last line."""

import json
import os
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

import benchmark
from input_data import source
from input_data import testdata
from models import hparams as hparams_lib
from models import testing
from models import torch_capsnet
from runner import config as config_lib
from runner import op_profile
from runner import registry

ROOT = os.path.dirname(os.path.abspath(__file__))


class BenchmarkTest(tf.test.TestCase):

  def test_synthetic_two_targets(self):
    features = source.synthetic_batch(5, benchmark.input_info('mnist', 2))
    self.assertAllEqual(features['recons_label'], [0, 1, 2, 3, 4])
    self.assertAllEqual(features['spare_label'], [1, 3, 5, 7, 9])
    self.assertAllEqual(features['labels'].sum(1), [2.0] * 5)
    self.assertEqual(features['spare_image'].shape, (5, 36 * 36))

  def test_datasets_are_experiments(self):
    # Every dataset whose shape is known without its data; own images
    # (folder, tfds:NAME) have the shape of theirs.
    self.assertCountEqual(benchmark.SHAPES, set(registry.DATASETS) -
                          {'folder', 'tfds'})
    self.assertEqual(benchmark.input_info('norb'),
                     source.DatasetInfo(32, 2, 5, 1))
    with self.assertRaisesRegex(ValueError, '^--num_targets=2 .MultiMNIST. '
                                'needs --dataset=mnist$'):
      benchmark.input_info('cifar10', 2)

  def test_pytorch_capsnet_computes_our_model_with_its_weights(self):
    # The PyTorch CapsNet is written without any of our code: loaded with
    # our model's weights by their authors' TF1 names, it must give our
    # class scores and reconstructions. It checks both ways: a benchmark of
    # the same network, and our model against an independent one.
    import torch  # pylint: disable=g-import-not-at-top
    tf.random.set_seed(3)
    ours = registry.build_model('capsule', hparams_lib.default_hparams(),
                                source.DatasetInfo(28, 1, 10, 1))
    theirs = torch_capsnet.pytorch_capsnet()
    self.assertEqual(sum(p.numel() for p in theirs.parameters()), 8215728)
    w = {name: v.numpy() for name, v in ours.tf1_variables().items()}
    hwio_to_oihw = lambda k: k.transpose(3, 2, 0, 1)
    loaded = {
        'conv1.weight': hwio_to_oihw(w['conv1/weights']),
        'conv1.bias': w['conv1/biases'],
        'primary.weight': hwio_to_oihw(w['conv_capsule1/weights']),
        'primary_bias': w['conv_capsule1/biases'][:, :, 0, 0],
        'weights': w['capsule2/weights'], 'bias': w['capsule2/biases']}
    for i in range(3):  # Dense [in, out] -> Linear [out, in].
      loaded['decoder.%d.weight' % (2 * i)] = (
          w['recons/recons_%d/weights' % (i + 1)].T)
      loaded['decoder.%d.bias' % (2 * i)] = w['recons/recons_%d/biases' %
                                               (i + 1)]
    theirs.load_state_dict({k: torch.from_numpy(v.copy())
                            for k, v in loaded.items()})
    features = testing.feature_batch(6, seed=4)
    inferred = ours.inference(features)
    with torch.no_grad():
      lengths, remake = theirs(
          torch.from_numpy(features['images']).view(-1, 1, 28, 28),
          torch.from_numpy(features['recons_label']))
    self.assertAllClose(lengths.numpy(), inferred.logits, atol=2e-5)
    self.assertAllClose(remake.numpy(), inferred.remakes[0], atol=2e-5)
    # Not equal by accident: the scores spread between classes and examples
    # far beyond the tolerance.
    self.assertGreater(np.ptp(lengths.numpy()), 100 * 2e-5)

  def test_pytorch_training_runs_at_both_precisions(self):
    for precision in ('none', 'bfloat16'):
      rate, device = torch_capsnet.run_pytorch(2, 1, 1, precision)
      self.assertGreater(rate, 0)
      self.assertEqual(device, 'CPU')

  def test_an_allocator_without_statistics_gives_no_peak(self):
    # TensorFlow's plain CPU allocator (oneDNN off) raises this.
    no_stats = ValueError("Allocator stats not available for device 'CPU:0'")
    with mock.patch.object(tf.config.experimental, 'get_memory_info',
                           side_effect=no_stats):
      result = benchmark.run_tensorflow('baseline', 'mnist', 2, 2, 1, 0,
                                        False, 'none', '')
    self.assertIsNone(result['peak_memory_mb'])
    self.assertIsNone(result['eval_peak_memory_mb'])
    self.assertGreater(result['train_examples_per_sec'], 0)
    with mock.patch.object(tf.config.experimental, 'get_memory_info',
                           return_value={'peak': 3 * 2 ** 20}), \
        mock.patch.object(tf.config.experimental,
                          'reset_memory_stats') as reset:
      self.assertEqual(benchmark._peak_mb(tf, 'CPU:0'), 3.0)
      reset.assert_not_called()
      self.assertEqual(benchmark._peak_mb(tf, 'CPU:0', reset=True), 3.0)
      reset.assert_called_once_with('CPU:0')

  def _run(self, *args):
    # oneDNN on: TensorFlow's CPU allocator then keeps the statistics the
    # memory figures need, on every x86 CPU (off by default on AVX2-only
    # ones).
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', TF_ENABLE_ONEDNN_OPTS='1')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmark.py'), *args],
        capture_output=True, text=True, env=env, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])

  def test_cli_last_line_is_json(self):
    result = self._run('--steps=2', '--warmup=1', '--batch_size=4',
                       '--eval_batch_size=4', '--dataset=norb',
                       '--nomatmul_peak', '--steps_per_loop=2',
                       '--profile_steps=1')
    for key in ('train_examples_per_sec', 'eval_examples_per_sec',
                'peak_memory_mb', 'device'):
      self.assertIn(key, result)
    # One step's time by op group: every group, the primary capsules'
    # strided convolution among both directions' (runner/op_profile.py).
    profile = result['profile_ms_per_step']
    self.assertCountEqual(profile, [g for g, _ in op_profile.GROUPS])
    for group in ('convolutions forward', 'convolutions backward',
                  'votes and routing', 'optimizer'):
      self.assertGreater(profile[group], 0.0, group)
    self.assertTrue(result['cpu_kernels'])
    # The rate and the FLOP rate are of the same timed steps.
    self.assertAllClose(result['train_gflops'],
                        result['train_gflop_per_example'] *
                        result['train_examples_per_sec'], rtol=1e-6)
    self.assertEqual(result['params'], 9327184)
    self.assertEqual(result['steps_per_loop'], 2)
    # The allocator counts every tensor: training holds the weights and
    # Adam's two slots (3 x 35.6 MiB), evaluation at least the weights.
    self.assertGreater(result['peak_memory_mb'], 3 * 9327184 * 4 / 2 ** 20)
    self.assertGreater(result['eval_peak_memory_mb'], 9327184 * 4 / 2 ** 20)
    self.assertLessEqual(result['eval_peak_memory_mb'],
                         result['peak_memory_mb'])

  def test_input_pipeline_rate(self):

    class SlowSource:
      """Each example takes 20 ms to make, one at a time: 50 examples/s."""

      def train_dataset(self, batch_size, seed):
        del seed
        slow = lambda i: tf.py_function(
            lambda x: (time.sleep(0.02), x)[1], [i], tf.int64)
        options = tf.data.Options()  # No work ahead of the timer.
        options.experimental_optimization.inject_prefetch = False
        options.autotune.enabled = False
        return tf.data.Dataset.range(10 ** 6).map(slow).batch(
            batch_size).with_options(options)
    rate = benchmark.input_examples_per_sec(SlowSource(), 4, 5, warmup=1)
    self.assertBetween(rate, 35.0, 50.5)
    # And a real pipeline is timed through the same path.
    data = testdata.write_mnist(self.create_tempdir().full_path, 8, 4)
    source = registry.get_source(config_lib.RunConfig(
        data_dir=data, data_source='idx'), 'train')
    self.assertGreater(benchmark.input_examples_per_sec(source, 4, 3), 50.0)

  def test_bad_data_dir_is_one_line_before_any_timing(self):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmark.py'),
         '--data_dir=/nonexistent', '--data_source=idx'],
        capture_output=True, text=True, env=env, timeout=300)
    self.assertNotEqual(proc.returncode, 0)
    self.assertEqual(proc.stdout, '')
    self.assertEqual(
        proc.stderr.strip().splitlines()[-1],
        'benchmark.py: /nonexistent/train-images-idx3-ubyte: no such file '
        '(nor train-images-idx3-ubyte.gz)')

  @pytest.mark.slow
  def test_cifar10_evaluation_fits_in_2_gib(self):
    # The paper's CIFAR-10 settings (9,216 primary capsules) at the original
    # evaluation batch of 100: the original's tiled votes alone took 4.4 GiB.
    result = self._run('--dataset=cifar10', '--eval_only', '--steps=1',
                       '--warmup=1')
    self.assertEqual(result['params'], 22476448)
    self.assertLess(result['eval_peak_memory_mb'], 2048)
    # The vote tensor (100 x 9216 x 10 x 16 floats, 562 MiB) and the
    # weights (86 MiB) are in it: the measure is real.
    self.assertGreater(result['eval_peak_memory_mb'], 562 + 86)


if __name__ == '__main__':
  tf.test.main()
