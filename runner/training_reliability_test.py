"""Training's failure behaviour through the library: non-finite steps, full
disks, determinism and resume, stop requests, one trainer a run, damaged
checkpoints. reliability_test.py runs experiment.py under kill -9."""

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from unittest import mock

import numpy as np
import tensorflow as tf

from input_data import records
from input_data import source as source_lib
from input_data import testdata
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from models import testing
from runner import checkpoints
from runner import config as config_lib
from runner import registry
from runner import run_lock
from runner import evaluation
from runner import events
from runner import testing as runner_testing
from runner import training
from runner.errors import ExperimentError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ListSource:
  """A train source replaying fixed batches (batch 4, 28x28)."""

  def __init__(self, batches):
    self.batches = batches
    self.info = source_lib.DatasetInfo(28, 1, 10, 1)
    self.num_examples = 4
    self.describe = 'fixed batches'

  def train_dataset(self, batch_size, seed, input_context=None, start=0):
    del batch_size, seed, input_context, start
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

  @runner_testing.tiny_models()
  def test_two_replicas_skip_together(self):
    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
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

  @runner_testing.tiny_models()
  def test_the_seed_sets_initialisation_and_data_order(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    config = config_lib.RunConfig(
        data_dir=d, data_source='idx', save_step=10, batch_size=4)
    source = registry.get_source(config, 'train')
    seeds_asked = []

    class Recorded:
      """The MNIST source, noting the data seed each pipeline is made with."""

      def __getattr__(self, name):
        return getattr(source, name)

      def train_dataset(self, batch_size, seed, input_context=None, start=0):
        seeds_asked.append((seed, start))
        return source.train_dataset(batch_size, seed, input_context, start)
    weights, orders = [], []
    for seed in (7, 7, 8):
      # max_steps=0: the initial weights alone; then one step's data.
      for max_steps in (0, 1):
        result = training.train(config.replace(
            seed=seed, max_steps=max_steps,
            summary_dir=self.create_tempdir().full_path), Recorded())
        if not max_steps:
          weights.append(result.model.digit_capsules.weights.numpy())
      orders.append(next(iter(source.train_dataset(
          4, seeds_asked[-1][0], start=seeds_asked[-1][1])))[
          'recons_label'].numpy().tolist())
    self.assertLen(seeds_asked, 3)  # Only the runs that trained made data.
    self.assertAllEqual(weights[0], weights[1])
    self.assertNotAllClose(weights[0], weights[2])
    self.assertEqual(seeds_asked[0], seeds_asked[1])
    self.assertNotEqual(seeds_asked[0], seeds_asked[2])
    self.assertEqual(orders[0], orders[1])
    self.assertNotEqual(orders[0], orders[2])

  def _assert_same_variables(self, got, expected):
    """The same saved variables, each to the bit."""
    self.assertCountEqual(got, expected)
    for name in expected:
      self.assertAllEqual(got[name], expected[name], msg=name)

  def _digits(self, **config):
    """A config over 20 IDX digits (batch 4: an epoch is 5 steps; seed 5;
    no logs) with config's changes, and its training source."""
    d = testdata.write_mnist(self.create_tempdir().full_path, 20, 4)
    config = config_lib.RunConfig(data_dir=d, data_source='idx', batch_size=4,
                                  seed=5, log_every_secs=1e9, **config)
    return config, registry.get_source(config, 'train')

  def _variables_after(self, config, source, stops, strategy=None):
    """All saved variables (model and Adam) at the last of `stops`, trained
    in one run per stop, each resuming from the one before."""
    run = self.create_tempdir().full_path
    for stop in stops:
      training.train(config.replace(summary_dir=run, max_steps=stop), source,
                     strategy)
    return _variables(os.path.join(run, 'train', 'model.ckpt-%d' % stops[-1]))

  @runner_testing.tiny_models()
  def test_a_resumed_run_continues_the_same_stream(self):
    # 20 digits, batch 4: an epoch is 5 steps. Stopped at step 3 (mid
    # epoch) and resumed, or stopped at 2 and 5, the run ends with the
    # weights and Adam moments of the run that never stopped, to the bit.
    config, source = self._digits(save_step=1)
    whole = self._variables_after(config, source, [7])
    for stops in ([3, 7], [2, 5, 7]):
      resumed = self._variables_after(config, source, stops)
      self._assert_same_variables(resumed, whole)

  @runner_testing.tiny_models()
  def test_a_resumed_run_on_shards_continues_the_same_records(self):
    # MultiMNIST shards: 14 pairs in 4 shards, read in windows of 3; batch
    # 4. Stopped at step 3 (mid shard) and 5 (in the second epoch).
    d = testdata.write_mnist(self.create_tempdir().full_path, 10, 7)
    paths = mnist_shift.generate(d, d, 'test', shift=2, pad=4,
                                 multi_targets=True, num_pairs=2, max_shard=4)
    source = mnist_input_record.MultiMnistSource(
        '%s@%d' % (paths[0].rsplit('-', 3)[0], len(paths)), window=3)
    config = config_lib.RunConfig(
        num_targets=2, save_step=1, batch_size=4, seed=5, log_every_secs=1e9)
    whole = self._variables_after(config, source, [7])
    resumed = self._variables_after(config, source, [3, 5, 7])
    self._assert_same_variables(resumed, whole)

  @runner_testing.tiny_models()
  def test_two_replicas_resume_the_same_stream(self):
    config, source = self._digits(save_step=1)
    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    whole = self._variables_after(config, source, [4], strategy)
    resumed = self._variables_after(config, source, [3, 4], strategy)
    for name in whole:
      self.assertAllEqual(resumed[name], whole[name], msg=name)

  @runner_testing.tiny_models()
  def test_own_rgb_images_resume_the_same_stream(self):
    # A folder of RGB images (3 classes of 4), batch 4, shifted and flipped
    # on the fly: stopped at step 2 (mid epoch) and resumed, the run ends
    # with the weights of the one that never stopped, to the bit. (One
    # replica: another model's shapes under a second MirroredStrategy in
    # this process would clash with the collectives of the test above.)
    data, _ = testdata.write_image_folder(
        self.create_tempdir().full_path, classes=3, per_class=(4, 1),
        rgb=True)
    config = config_lib.RunConfig(
        dataset='folder', data_dir=data, cache_dir=None, random_flip=True,
        save_step=1, batch_size=4, seed=5, log_every_secs=1e9)
    source = registry.get_source(config, 'train')
    self.assertEqual(tuple(source.info), (28, 3, 3, 1))
    whole = self._variables_after(config, source, [5])
    resumed = self._variables_after(config, source, [2, 5])
    self._assert_same_variables(resumed, whole)

  @runner_testing.tiny_models()
  def test_a_run_stopped_by_its_time_budget_resumes_exactly(self):
    # --max_train_secs smaller than a step: each start trains one step,
    # saves it (no --save_step falls there) and stops; four starts end with
    # the weights of the run that never stopped, to the bit.
    config, source = self._digits(save_step=100)
    whole = self._variables_after(config, source, [4])
    run = self.create_tempdir().full_path
    stops = [tuple(training.train(config.replace(
        summary_dir=run, max_steps=4, max_train_secs=1e-6), source)[::2])
             for _ in range(4)]
    self.assertEqual(stops, [(1, '--max_train_secs=1e-06'),
                             (2, '--max_train_secs=1e-06'),
                             (3, '--max_train_secs=1e-06'), (4, None)])
    resumed = _variables(os.path.join(run, 'train', 'model.ckpt-4'))
    self._assert_same_variables(resumed, whole)

  @runner_testing.tiny_models()
  def test_a_sigterm_while_a_checkpoint_is_written(self):
    # The signal arrives in the middle of saving step 2 (every second step
    # is saved): that checkpoint is written whole, the run ends there, and
    # the same command ends with the weights of a run never stopped.
    config, source = self._digits(save_step=2, max_steps=4)
    whole = self._variables_after(config, source, [4])
    run = self.create_tempdir().full_path
    save = checkpoints.save

    def signalled_save(manager, step):
      os.kill(os.getpid(), signal.SIGTERM)  # Handled while this saves.
      return save(manager, step)
    with mock.patch.object(checkpoints, 'save', signalled_save):
      stopped = training.train(config.replace(summary_dir=run), source)
    self.assertEqual((stopped[0], stopped[2]), (2, 'SIGTERM'))
    self.assertEqual(checkpoints.newest_intact(os.path.join(run, 'train'),
                                               10 ** 9),
                     os.path.join(run, 'train', 'model.ckpt-2'))
    self.assertEqual(training.train(config.replace(summary_dir=run),
                                    source)[0], 4)
    self._assert_same_variables(
        _variables(os.path.join(run, 'train', 'model.ckpt-4')), whole)

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


class OneTrainerTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.enter_context(runner_testing.tiny_models())

  def _config(self, run):
    return config_lib.RunConfig(summary_dir=run, max_steps=1, save_step=1,
                                batch_size=4)

  def test_a_second_trainer_is_one_line_naming_the_first(self):
    run = self.create_tempdir().full_path
    source = ListSource([testing.feature_batch(4)])
    train_dir = os.path.join(run, 'train')
    with run_lock.hold(train_dir):
      with self.assertRaisesRegex(
          ExperimentError, r'^%s is being trained by another trainer \(pid '
          r'%d on host %s since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): wait for '
          r'it to end or stop it, or give another --summary_dir$' % (
              re.escape(train_dir), os.getpid(),
              re.escape(socket.gethostname()))):
        training.train(self._config(run), source)
      # Refused before anything was read or written.
      self.assertEqual(os.listdir(train_dir), [run_lock.LOCK_FILE])
    self.assertEqual(training.train(self._config(run), source).step, 1)

  def test_the_lock_dies_with_its_holder(self):
    train_dir = os.path.join(self.create_tempdir().full_path, 'train')
    holder = subprocess.Popen(
        [sys.executable, '-c', 'import sys, time; sys.path.insert(0, %r)\n'
         'from runner import run_lock\n'
         'with run_lock.hold(%r):\n'
         '  print("held", flush=True); time.sleep(600)' % (ROOT, train_dir)],
        stdout=subprocess.PIPE, text=True)
    self.addCleanup(holder.kill)
    self.assertEqual(holder.stdout.readline().strip(), 'held')
    with self.assertRaisesRegex(ExperimentError, r'\(pid %d on host ' %
                                holder.pid):
      with run_lock.hold(train_dir):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with run_lock.hold(train_dir) as path:  # No stale lock after kill -9.
      with open(path) as f:
        self.assertIn('"pid": %d' % os.getpid(), f.read())

  def test_a_file_system_without_locks_warns_and_trains(self):
    run = self.create_tempdir().full_path
    no_locks = OSError(errno.ENOLCK, 'No locks available')
    with mock.patch.object(run_lock.fcntl, 'flock', side_effect=no_locks):
      with self.assertLogs(level='WARNING') as logs:
        result = training.train(self._config(run),
                                ListSource([testing.feature_batch(4)]))
    self.assertEqual(result.step, 1)
    self.assertIn('cannot lock %s (No locks available): nothing stops a '
                  'second trainer on this run directory' % os.path.join(
                      run, 'train', run_lock.LOCK_FILE), logs.output[0])

def _flip_a_byte(checkpoint):
  """Changes two bytes of a checkpoint's data, as a bad disk would: one at
  a sixth (in the model's weights, which come first: `model/...` sorts
  before `optimizer/...`) and one in the middle (the Adam moments)."""
  (data,) = tf.io.gfile.glob(checkpoint + '.data-*')
  with open(data, 'r+b') as f:
    for offset in (os.path.getsize(data) // 6, os.path.getsize(data) // 2):
      f.seek(offset)
      byte = f.read(1)
      f.seek(offset)
      f.write(bytes([byte[0] ^ 0xFF]))


class DamagedCheckpointTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.enter_context(runner_testing.tiny_models())

  def _trained(self, steps):
    run = self.create_tempdir().full_path
    config = config_lib.RunConfig(summary_dir=run, max_steps=steps,
                                  save_step=1, batch_size=4)
    source = ListSource([testing.feature_batch(4, seed=i) for i in range(2)])
    training.train(config, source)
    return config, source, os.path.join(run, 'train')

  def test_training_names_it_and_the_newest_intact_one(self):
    config, source, train_dir = self._trained(3)
    damaged = os.path.join(train_dir, 'model.ckpt-3')
    _flip_a_byte(damaged)
    with self.assertRaisesRegex(
        ExperimentError, r'^checkpoint %s is damaged \(.*Checksum does not '
        r'match.*\); the newest intact one is %s: delete the damaged one \(rm '
        r'%s\.\*\) and run the same command to resume from there$' % (
            re.escape(damaged), re.escape(damaged[:-1] + '2'),
            re.escape(damaged))):
      training.train(config.replace(max_steps=4), source)
    # Doing as it says resumes from step 2 (not from scratch).
    for path in tf.io.gfile.glob(damaged + '.*'):
      os.remove(path)
    self.assertEqual(training.train(config.replace(max_steps=4),
                                    source).step, 4)
    with open(os.path.join(train_dir, 'run.json')) as f:
      self.assertEqual([start['step'] for start in json.load(f)['starts']],
                       [0, 2])

  def test_no_intact_checkpoint_left(self):
    config, source, train_dir = self._trained(1)
    _flip_a_byte(os.path.join(train_dir, 'model.ckpt-1'))
    with self.assertRaisesRegex(
        ExperimentError, r'model.ckpt-1 is damaged \(.*\), and no earlier '
        r'checkpoint of %s reads back whole: give a new --summary_dir to '
        r'start afresh$' % re.escape(train_dir)):
      training.train(config.replace(max_steps=2), source)

  def test_evaluation_of_a_damaged_checkpoint_is_one_line(self):
    config, _, train_dir = self._trained(1)
    damaged = os.path.join(train_dir, 'model.ckpt-1')
    _flip_a_byte(damaged)
    _, test = testdata.idx_sources(self.create_tempdir().full_path, n_test=4)
    with self.assertRaisesRegex(ExperimentError, r'^checkpoint %s is damaged '
                                r'\([^\n]*Checksum does not match[^\n]*\)$' %
                                re.escape(damaged)):
      evaluation.evaluate_checkpoints(config.replace(eval_size=4), test,
                                      [damaged])

  def test_the_validation_job_skips_it_and_goes_on(self):
    config, _, trained = self._trained(2)
    job_dir = os.path.join(self.create_tempdir().full_path, 'train')
    os.makedirs(job_dir)

    def publish(step):
      for path in tf.io.gfile.glob(os.path.join(trained,
                                                'model.ckpt-%d.*' % step)):
        shutil.copy(path, job_dir)
      if step == 1:
        _flip_a_byte(os.path.join(job_dir, 'model.ckpt-1'))
      tf.compat.v1.train.update_checkpoint_state(
          job_dir, os.path.join(job_dir, 'model.ckpt-%d' % step))
    publish(1)
    later = threading.Timer(3.0, publish, [2])  # While the job waits.
    later.start()
    self.addCleanup(later.cancel)
    _, test = testdata.idx_sources(self.create_tempdir().full_path, n_test=4)
    with self.assertLogs(level='WARNING') as logs:
      results = evaluation.evaluate_continuously(config.replace(
          summary_dir=os.path.dirname(job_dir), eval_size=4,
          eval_poll_secs=0, eval_timeout_secs=60, eval_stop_at_step=2), test)
    self.assertEqual(list(results), [2])
    self.assertRegex(logs.output[0], r'skipped step 1: checkpoint %s is '
                     r'damaged \(.*Checksum does not match' % re.escape(
                         os.path.join(job_dir, 'model.ckpt-1')))


if __name__ == '__main__':
  tf.test.main()
