"""Failure behaviour: non-finite steps, kill -9 and resume, full disks,
determinism."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from input_data import records
from input_data import source as source_lib
from input_data import testdata
from input_data.mnist import mnist_shift
from models import testing
from runner import checkpoints
from runner import config as config_lib
from runner import distribution
from runner import registry
from runner import events
from runner import training
from runner.errors import ExperimentError

ROOT = os.path.dirname(os.path.abspath(__file__))


class ListSource:
  """A train source replaying fixed batches (batch 4, 28x28)."""

  def __init__(self, batches):
    self.batches = batches
    self.info = source_lib.DatasetInfo(28, 1, 10, 1)
    self.num_examples = 4
    self.describe = 'fixed batches'

  def train_dataset(self, batch_size, seed, input_context=None):
    del batch_size, seed, input_context
    return tf.data.Dataset.from_tensor_slices(
        {k: np.stack([b[k] for b in self.batches]) for k in self.batches[0]}
    ).repeat()

  def eval_dataset(self, batch_size, eval_size):
    del batch_size, eval_size
    return tf.data.Dataset.from_tensors(self.batches[0])


def _nan_batches():
  batches = [testing.feature_batch(4, seed=i) for i in range(4)]
  batches[1]['images'] = batches[1]['images'].copy()
  batches[1]['images'][0, 0] = np.nan  # Step 2 sees a NaN pixel.
  return batches


def _variables(path):
  return {name: tf.train.load_variable(path, name)
          for name, _ in tf.train.list_variables(path)
          if name.startswith(('model/', 'optimizer/'))}


class NonFiniteTest(tf.test.TestCase):

  def test_stops_before_saving_and_keeps_the_last_checkpoint(self):
    run = self.create_tempdir().full_path
    with self.assertRaisesRegex(
        ExperimentError,
        r'non-finite loss or gradients in 1 step\(s\) between steps 2 and 2.*'
        r'newest checkpoint is .*model.ckpt-1'):
      training.train(config_lib.RunConfig(
          summary_dir=run, max_steps=4, save_step=1, batch_size=4),
                     ListSource(_nan_batches()))
    train_dir = os.path.join(run, 'train')
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-1'))
    for value in _variables(os.path.join(train_dir, 'model.ckpt-1')).values():
      self.assertTrue(np.all(np.isfinite(value)))

  def test_skip_leaves_weights_and_moments_untouched(self):
    run = self.create_tempdir().full_path
    training.train(config_lib.RunConfig(
        summary_dir=run, max_steps=3, save_step=1, batch_size=4,
        skip_nonfinite=True), ListSource(_nan_batches()))
    train_dir = os.path.join(run, 'train')
    one = _variables(os.path.join(train_dir, 'model.ckpt-1'))
    two = _variables(os.path.join(train_dir, 'model.ckpt-2'))
    three = _variables(os.path.join(train_dir, 'model.ckpt-3'))
    step_key = 'optimizer/step/.ATTRIBUTES/VARIABLE_VALUE'
    for name in one:
      if name != step_key:  # Weights, slots, beta powers: as after step 1.
        self.assertAllEqual(one[name], two[name], msg=name)
    self.assertEqual((one[step_key], two[step_key]), (1, 2))
    self.assertNotAllClose(
        two['model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE'],
        three['model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE'])
    logged = events.read_scalars(train_dir)
    self.assertEqual([v for _, v in logged['nonfinite_steps']], [0, 1, 0])
    self.assertTrue(all(np.isfinite(v) for _, v in logged['total_loss']))

  def test_two_replicas_skip_together(self):
    strategy = distribution.make_strategy(2, devices=['/cpu:0', '/cpu:1'])
    run = self.create_tempdir().full_path
    batches = _nan_batches()
    training.train(config_lib.RunConfig(
        summary_dir=run, max_steps=2, save_step=1, batch_size=4,
        skip_nonfinite=True), ListSource(batches), strategy)
    # Each replica takes its own batch: step 1 gives replica 1 the NaN
    # batch, and neither replica may update (the beta powers stay put).
    train_dir = os.path.join(run, 'train')
    one = _variables(os.path.join(train_dir, 'model.ckpt-1'))
    two = _variables(os.path.join(train_dir, 'model.ckpt-2'))
    power = 'optimizer/beta1_power/.ATTRIBUTES/VARIABLE_VALUE'
    self.assertAllClose([one[power], two[power]], [0.9, 0.81])
    self.assertEqual([v for _, v in events.read_scalars(train_dir)[
        'nonfinite_steps']], [1, 0])


class FullDiskTest(tf.test.TestCase):

  def test_records_writer_on_a_full_disk_keeps_the_old_file(self):
    out = self.create_tempdir().full_path
    path = os.path.join(out, 'test_0shifted_mnist.tfrecords')
    records.write_records(path, [records.single_example(np.zeros([2, 2]), 1)])
    with open(path, 'rb') as f:
      before = f.read()
    # The writer's temporary name, pointed at /dev/full: a real ENOSPC.
    os.symlink('/dev/full', '%s.tmp-%d' % (path, os.getpid()))
    with self.assertRaises((OSError, tf.errors.OpError)):
      records.write_records(path, (records.single_example(
          np.zeros([28, 28]), i % 10) for i in range(100000)))
    with open(path, 'rb') as f:
      self.assertEqual(f.read(), before)
    self.assertEqual(sorted(os.listdir(out)), [os.path.basename(path)])

  def test_checkpoint_write_failure_is_one_clear_error(self):
    # A real full disk: a 130 MB tmpfs holds one checkpoint of the MNIST
    # capsule model (weights and Adam slots, 99 MB) but not a second.
    run = self.create_tempdir().full_path
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=130M',
                              'tmpfs', run], capture_output=True)
    if mounted.returncode:
      self.skipTest('cannot mount a tmpfs here: %s' % mounted.stderr)
    self.addCleanup(subprocess.run, ['umount', run])
    source = ListSource([testing.feature_batch(4, seed=i) for i in range(2)])
    config = config_lib.RunConfig(summary_dir=run, save_step=1, batch_size=4)
    training.train(config.replace(max_steps=1), source)
    train_dir = os.path.join(run, 'train')
    with self.assertRaisesRegex(ExperimentError,
                                r'cannot write checkpoint .*model.ckpt-2 .*'
                                r'model.ckpt-1 is intact'):
      training.train(config.replace(max_steps=2), source)
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-1'))
    restored = registry.build_model('capsule', config.hparams, source.info)
    checkpoints.restore_model(restored, os.path.join(train_dir,
                                                     'model.ckpt-1'))


class DeterminismTest(tf.test.TestCase):

  def test_same_seed_same_losses(self):
    d = testdata.write_mnist(
        self.create_tempdir().full_path)
    losses = []
    for _ in range(2):
      run = self.create_tempdir().full_path
      config = config_lib.RunConfig(
          data_dir=d, data_source='idx', summary_dir=run, max_steps=3,
          save_step=10, batch_size=4, seed=7, log_every_secs=0.0)
      training.train(config, registry.get_source(config, 'train'))
      losses.append(events.read_scalars(os.path.join(run, 'train'))
                    ['total_loss'])
    self.assertLen(losses[0], 3)
    self.assertEqual(losses[0], losses[1])

  def test_the_seed_sets_initialisation_and_data_order(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    config = config_lib.RunConfig(
        data_dir=d, data_source='idx', save_step=10, batch_size=4,
        model_widths=testing.TINY['capsule'])
    source = registry.get_source(config, 'train')
    seeds_asked = []

    class Recorded:
      """The MNIST source, noting the data seed each pipeline is made with."""

      def __getattr__(self, name):
        return getattr(source, name)

      def train_dataset(self, batch_size, seed, input_context=None):
        seeds_asked.append(seed)
        return source.train_dataset(batch_size, seed, input_context)
    weights, orders = [], []
    for seed in (7, 7, 8):
      # max_steps=0: the initial weights alone; then one step's data.
      for max_steps in (0, 1):
        result = training.train(config.replace(
            seed=seed, max_steps=max_steps,
            summary_dir=self.create_tempdir().full_path), Recorded())
        if not max_steps:
          weights.append(result.model.digit_capsules.weights.numpy())
      orders.append(next(iter(source.train_dataset(4, seeds_asked[-1])))[
          'recons_label'].numpy().tolist())
    self.assertLen(seeds_asked, 3)  # Only the runs that trained made data.
    self.assertAllEqual(weights[0], weights[1])
    self.assertNotAllClose(weights[0], weights[2])
    self.assertEqual(seeds_asked[0], seeds_asked[1])
    self.assertNotEqual(seeds_asked[0], seeds_asked[2])
    self.assertEqual(orders[0], orders[1])
    self.assertNotEqual(orders[0], orders[2])

  def test_generator_is_reproducible(self):
    d = testdata.write_mnist(
        self.create_tempdir().full_path)
    contents = []
    for _ in range(2):
      out = self.create_tempdir().full_path
      paths = mnist_shift.generate(
          d, out, 'train', shift=2, pad=4, multi_targets=True, num_pairs=3,
          max_shard=20, seed=3)
      contents.append([open(p, 'rb').read() for p in paths])
    self.assertEqual(contents[0], contents[1])


_SOAK_KILLS = 5


def _latest_step(train_dir):
  """The step of the newest checkpoint listed in train_dir, 0 if none."""
  path = tf.train.latest_checkpoint(train_dir)
  return int(path.rsplit('-', 1)[1]) if path else 0


class KillResumeSoakTest(tf.test.TestCase):

  @pytest.mark.slow
  def test_kill_nine_cycles_with_an_evaluator(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    max_steps = 12
    common = [sys.executable, os.path.join(ROOT, 'experiment.py'),
              '--data_dir=' + data, '--summary_dir=' + run,
              '--max_steps=%d' % max_steps]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    evaluator = subprocess.Popen(
        common + ['--train=false', '--eval_size=7', '--eval_poll_secs=1',
                  '--eval_timeout_secs=600'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env)
    train_dir = os.path.join(run, 'train')
    rng = random.Random(0)
    cycles = []  # (newest checkpoint's step at the start, steps resumed from)
    kills = 0
    # Each trainer is killed only after it has written a checkpoint of its
    # own, then a random 0-1.5 s later (mid-step or mid-save, as every step
    # saves): a slow machine makes the cycles longer, never endless.
    for cycle in range(_SOAK_KILLS + 1):
      log_path = os.path.join(tmp, 'trainer-%d.log' % cycle)
      start = _latest_step(train_dir)  # The last trainer is dead: final.
      with open(log_path, 'w') as log:
        trainer = subprocess.Popen(common + ['--save_step=1'], stdout=log,
                                   stderr=subprocess.STDOUT, env=env)
        if cycle < _SOAK_KILLS:
          deadline = time.time() + 300
          while (trainer.poll() is None and time.time() < deadline
                 and _latest_step(train_dir) <= start):
            time.sleep(0.1)
          time.sleep(rng.uniform(0.0, 1.5))
          if trainer.poll() is None:
            trainer.send_signal(signal.SIGKILL)
            kills += 1
        trainer.wait(timeout=300)
      with open(log_path) as log:
        out = log.read()
      # Progress lines (resumed from ...) are absl logging, on stderr.
      cycles.append((start, [int(s) for s in re.findall(
          r'resumed from .*model.ckpt-(\d+)', out)]))
      if trainer.returncode == 0:
        break
    self.assertEqual(trainer.returncode, 0, 'training never finished:\n'
                     + out[-3000:])
    self.assertGreaterEqual(kills, 3)
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-%d' % max_steps))
    state = tf.train.get_checkpoint_state(train_dir)
    for path in state.all_model_checkpoint_paths:
      tf.train.load_checkpoint(path)  # Every listed checkpoint is whole.
    # Each trainer resumed from the newest checkpoint when it started (the
    # first from nothing), never from an older one or from scratch.
    self.assertEqual([resumed for _, resumed in cycles],
                     [[start] if start else [] for start, _ in cycles])
    self.assertGreater(cycles[-1][0], 0)
    out, _ = evaluator.communicate(timeout=300)
    self.assertEqual(evaluator.returncode, 0, out[-3000:])
    steps = [int(s) for s in re.findall(r'evaluated step (\d+)', out)]
    self.assertEqual(steps[-1], max_steps)
    self.assertEqual(steps, sorted(set(steps)))


if __name__ == '__main__':
  tf.test.main()
