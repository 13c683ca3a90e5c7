"""Tests of runner/training.py: the loop, resuming, summaries, replicas."""

import json
import os
import re
from unittest import mock

import numpy as np
import tensorflow as tf

from input_data import source as source_lib
from input_data import testdata
from input_data.cifar10 import cifar10_input
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from input_data.norb import smallnorb_convert
from models import capsule_model
from models import hparams as hparams_lib
from models import steps as steps_lib
from models import testing
from runner import checkpoints
from runner import config as config_lib
from runner import registry
from runner import run_record
from runner import events
from runner import testing as runner_testing
from runner import training
from runner.errors import ExperimentError

# Every model trained under a MirroredStrategy in the test process is tiny
# (runner_testing.tiny_models; models/steps_test.py's too): its collectives
# are keyed per process, and replicas of models of other sizes collide.


class TrainingTest(tf.test.TestCase):

  def test_training_resumes_from_the_authors_tf1_directory(self):
    """TF1 Saver checkpoints (weights, Adam slots, beta powers, float
    global_step) continue as the original graph would have."""
    features = testing.feature_batch(8)
    run = self.create_tempdir().full_path
    train_dir = os.path.join(run, 'train')
    v1 = tf.compat.v1
    with tf.Graph().as_default():
      v1.set_random_seed(5)
      logits = testing.tf1_baseline_logits(tf.constant(features['images']),
                                           28, 1, 10)
      loss = testing.tf1_margin_loss(tf.constant(features['labels']), logits)
      global_step = v1.get_variable('global_step', [], trainable=False,
                                    initializer=v1.constant_initializer(0))
      lr = tf.maximum(v1.train.exponential_decay(0.001, global_step, 2000,
                                                 0.96), 1e-6)
      train_op = v1.train.AdamOptimizer(lr).minimize(loss, global_step)
      with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(3):
          sess.run(train_op)
        v1.train.Saver(max_to_keep=1000).save(
            sess, os.path.join(train_dir, 'model.ckpt'), global_step=3)
        for _ in range(2):
          sess.run(train_op)
        expected = {v.op.name: sess.run(v)
                    for v in v1.trainable_variables()}
    self.assertEqual(dict(tf.train.list_variables(
        os.path.join(train_dir, 'model.ckpt-3')))['global_step'], [])

    class OneBatch:
      info = source_lib.DatasetInfo(28, 1, 10, 1)
      num_examples = 8
      describe = 'one batch'

      def train_dataset(self, batch_size, seed, input_context=None, start=0):
        del batch_size, seed, input_context, start
        return tf.data.Dataset.from_tensors(features).repeat()

    result = training.train(config_lib.RunConfig(
        model='baseline', summary_dir=run, max_steps=5, save_step=5,
        batch_size=8), OneBatch())
    self.assertEqual(result.step, 5)
    names = result.model.tf1_variables()
    self.assertCountEqual(names, expected)
    for name, value in expected.items():
      self.assertAllClose(names[name], value, atol=1e-5, rtol=1e-5, msg=name)
    self.assertTrue(os.path.exists(os.path.join(train_dir,
                                                'model.ckpt-5.index')))

  def test_checkpoints_kept_by_default_are_the_originals_1000(self):
    tmp = self.create_tempdir().full_path
    source, _ = testdata.idx_sources(tmp)
    training.train(config_lib.RunConfig(
        model='baseline', summary_dir=tmp, max_steps=11, save_step=1,
        batch_size=1), source)
    self.assertLen(tf.train.get_checkpoint_state(os.path.join(
        tmp, 'train')).all_model_checkpoint_paths, 11)

  def test_training_summaries_verbose_and_not(self):
    tmp = self.create_tempdir().full_path
    source, _ = testdata.idx_sources(tmp)  # 8 training digits.
    for verbose in (False, True):
      run = os.path.join(tmp, str(verbose))
      result = training.train(config_lib.RunConfig(
          model='baseline', hparams=hparams_lib.HParams(verbose=verbose),
          summary_dir=run, max_steps=2, save_step=2, batch_size=4,
          log_every_secs=0.0), source)
      train_dir = os.path.join(run, 'train')
      scalars = events.read_scalars(train_dir)
      histograms = events.read_histograms(train_dir)
      # The original's per-batch counts: a count of the batch of 4.
      for step in (1, 2):
        accuracy = dict(scalars['accuracy'])[step]
        self.assertEqual(dict(scalars['correct_prediction_batch'])[step],
                         4 * accuracy)
        self.assertEqual(dict(scalars['almost_correct_batch'])[step],
                         4 * accuracy)  # One target: almost = correct.
      if not verbose:
        self.assertEmpty(histograms)
        self.assertFalse([t for t in scalars if '/summaries/' in t])
        continue
      names = result.model.tf1_variables()
      self.assertCountEqual(
          [t for t in histograms if t.endswith('/summaries/histogram')],
          [n + '/summaries/histogram' for n in names])
      for name, variable in names.items():
        value = variable.numpy()
        final = histograms[name + '/summaries/histogram'][-1]
        self.assertEqual(final[0], 2)
        self.assertEqual(final[1][:, 2].sum(), value.size)
        self.assertAllClose(final[1][[0, -1], [0, 1]],
                            [value.min(), value.max()])
        for stat, expected in (('mean', value.mean()), ('stddev', value.std()),
                               ('max', value.max()), ('min', value.min())):
          self.assertAllClose(
              dict(scalars['%s/summaries/%s' % (name, stat)])[2], expected,
              rtol=1e-5, atol=1e-7, msg=name + stat)
      # ReLU activations of both convolutions over the 8 training digits.
      for scope, size in (('conv1', 8 * 24 * 24 * 512),
                          ('conv2', 8 * 8 * 8 * 256)):
        buckets = histograms[scope + '/activation'][-1][1]
        self.assertEqual(buckets[:, 2].sum(), size)
        self.assertGreaterEqual(buckets[0, 0], 0.0)  # After the ReLU.

  @runner_testing.tiny_models()
  def test_per_batch_counts_of_two_targets(self):
    # Labels chosen against the untrained model's own top-2 scores: both
    # found in examples 0 and 3, one in example 1, none in example 2. The
    # original's per-batch counts of the first step: 2 correct, 3 almost.
    info = source_lib.DatasetInfo(28, 1, 10, 2)
    config = config_lib.RunConfig(
        model='baseline',
        num_targets=2, summary_dir=self.create_tempdir().full_path,
        max_steps=1, save_step=1, batch_size=4, log_every_secs=0.0, seed=3)
    features = testing.feature_batch(4, num_targets=2, seed=1)
    tf.random.set_seed(config.seed)  # As training does before building.
    logits = registry.build_model('baseline', config.hparams,
                                  info).inference(features).logits.numpy()
    order = np.argsort(-logits, axis=1)  # Classes by score, per example.
    pairs = [(order[0, 0], order[0, 1]), (order[1, 0], order[1, 5]),
             (order[2, 7], order[2, 8]), (order[3, 1], order[3, 0])]
    features['recons_label'] = np.array([a for a, _ in pairs], np.int64)
    features['spare_label'] = np.array([b for _, b in pairs], np.int64)
    features['labels'] = np.eye(10, dtype=np.float32)[
        features['recons_label']] + np.eye(10, dtype=np.float32)[
            features['spare_label']]

    class OneBatch:
      describe = 'one batch'
      num_examples = 4

      def __init__(self):
        self.info = info

      def train_dataset(self, batch_size, seed, input_context=None, start=0):
        del batch_size, seed, input_context, start
        return tf.data.Dataset.from_tensors(features).repeat()

      def eval_dataset(self, batch_size, eval_size):
        del batch_size, eval_size
        return tf.data.Dataset.from_tensors(features)
    training.train(config, OneBatch())
    scalars = {k: dict(v) for k, v in events.read_scalars(os.path.join(
        config.summary_dir, 'train')).items()}
    self.assertEqual(scalars['correct_prediction_batch'][1], 2.0)
    self.assertEqual(scalars['almost_correct_batch'][1], 3.0)
    self.assertEqual(scalars['accuracy'][1], 0.5)

  @runner_testing.tiny_models()
  def test_steps_per_loop_trains_the_same_and_saves_on_the_same_steps(self):
    tmp = self.create_tempdir().full_path
    source, _ = testdata.idx_sources(tmp)
    weights = []
    for steps_per_loop in (1, 4):
      run = os.path.join(tmp, str(steps_per_loop))
      result = training.train(config_lib.RunConfig(
          summary_dir=run, max_steps=7, save_step=3, batch_size=2,
          steps_per_loop=steps_per_loop), source)
      self.assertEqual(result.step, 7)
      self.assertEqual(
          tf.train.get_checkpoint_state(
              os.path.join(run, 'train')).all_model_checkpoint_paths,
          [os.path.join(run, 'train', 'model.ckpt-%d' % s) for s in (3, 6, 7)])
      weights.append([v.numpy() for v in result.model.trainable_variables])
    for a, b in zip(*weights):
      self.assertAllClose(a, b, atol=1e-6)

  @runner_testing.tiny_models()
  def test_speed_options_reach_the_compiled_training_step(self):
    # What the traced training loop really runs, read from its graph: the
    # convolutions' dtype (bfloat16, float16 with its loss scale) and the
    # XLA attribute of the compiled step, for each option.
    made = []
    make_train_loop = steps_lib.make_train_loop

    def recorded(*args, **kwargs):
      loop = make_train_loop(*args, **kwargs)

      def call(iterator, num_steps):
        made.append((loop, iterator, num_steps))
        return loop(iterator, num_steps)
      return call
    facts = []
    for options in ({}, dict(mixed_precision='bfloat16'),
                    dict(mixed_precision='float16'), dict(xla=True)):
      made.clear()
      tmp, source, config = self._tiny_run(max_steps=1, batch_size=2,
                                           **options)
      with mock.patch.object(steps_lib, 'make_train_loop', recorded):
        training.train(config, source)
      facts.append(testing.compiled_graph_facts(*made[0]))
    # On this CPU, votes and routing are compiled in every case
    # (models/layers/cpu_kernels.py); with --xla, the whole step.
    self.assertEqual(facts, [
        {'xla': False, 'compiled': ['adam_update', 'votes_and_routing'],
         'conv_dtypes': ['float32']},
        {'xla': False, 'compiled': ['adam_update', 'votes_and_routing'],
         'conv_dtypes': ['bfloat16']},
        {'xla': False, 'compiled': ['adam_update', 'votes_and_routing'],
         'conv_dtypes': ['float16']},
        {'xla': True, 'compiled': ['adam_update', 'votes_and_routing'],
         'conv_dtypes': ['float32']}])

  def _tiny_run(self, **config):
    """(a run directory, its IDX source, a config saving every step)."""
    tmp = self.create_tempdir().full_path
    source, _ = testdata.idx_sources(tmp)
    return tmp, source, config_lib.RunConfig(summary_dir=tmp, save_step=1,
                                             **config)

  def test_emulated_bfloat16_is_named(self):
    avx2 = {'model': 'AMD EPYC', 'features': ['avx', 'avx2', 'fma']}
    self.assertEqual(
        training.emulated_bfloat16('bfloat16', avx2, []),
        '--mixed_precision=bfloat16: this CPU (AMD EPYC) has no AVX512-BF16 '
        'or AMX: its bfloat16 convolutions are emulated, about 10x slower '
        'than float32 (docs/performance.md)')
    for precision, cpu, gpus in (
        ('bfloat16', dict(avx2, features=['avx512f', 'avx512_bf16']), []),
        ('bfloat16', dict(avx2, features=['amx_bf16']), []),
        ('bfloat16', avx2, ['/device:GPU:0']),  # The convolutions run there.
        ('bfloat16', {'model': 'arm64'}, []),  # Features unknown.
        ('none', avx2, []), ('float16', avx2, [])):
      self.assertIsNone(training.emulated_bfloat16(precision, cpu, gpus))

  @runner_testing.tiny_models()
  def test_training_warns_of_emulated_bfloat16(self):
    tmp, source, config = self._tiny_run(batch_size=4, max_steps=1)
    avx2 = {'model': 'AMD EPYC', 'features': ['avx', 'avx2', 'fma']}
    with mock.patch.object(run_record, 'cpu_features', return_value=avx2):
      with self.assertLogs(level='WARNING') as logs:
        training.train(config.replace(mixed_precision='bfloat16'), source)
      self.assertIn('this CPU (AMD EPYC) has no AVX512-BF16', logs.output[0])
      with self.assertNoLogs(level='WARNING'):
        training.train(config.replace(max_steps=2), source)

  @runner_testing.tiny_models()
  def test_precision_may_change_when_training_resumes(self):
    tmp, source, config = self._tiny_run(batch_size=4)
    train_dir = os.path.join(tmp, 'train')

    def saved_scale(step):
      return dict(tf.train.list_variables(os.path.join(
          train_dir, 'model.ckpt-%d' % step))).get(
              'loss_scale/scale/.ATTRIBUTES/VARIABLE_VALUE')

    # float32 -> float16 (a fresh loss scale, saved) -> float16 (restored)
    # -> float32 (the saved scale ignored): each resume goes on from there.
    for max_steps, precision in ((1, 'none'), (2, 'float16'), (3, 'float16'),
                                 (4, 'none')):
      result = training.train(config.replace(
          max_steps=max_steps, mixed_precision=precision), source)
      self.assertEqual(result.step, max_steps)
    self.assertIsNone(saved_scale(1))
    self.assertEqual(saved_scale(2), [])
    self.assertIsNone(saved_scale(4))
    reader = tf.train.load_checkpoint(os.path.join(train_dir, 'model.ckpt-3'))
    self.assertEqual(  # One applied step before the resume, one after.
        reader.get_tensor('loss_scale/good_steps/.ATTRIBUTES/VARIABLE_VALUE'),
        2)
    scalars = events.read_scalars(train_dir)
    self.assertEqual([v for _, v in scalars['loss_scale']], [2.0 ** 15] * 2)
    self.assertEqual([v for _, v in scalars['loss_scale_skips']], [0.0] * 2)

  @runner_testing.tiny_models()
  def test_two_replicas_train_like_one(self):
    tmp = self.create_tempdir().full_path
    source = mnist_input_record.mnist_source(
        testdata.write_mnist(os.path.join(tmp, 'idx')), 'train',
        data_source='idx', shift=0)
    hparams = hparams_lib.default_hparams()
    weights = []
    for i, strategy in enumerate((
        tf.distribute.get_strategy(),
        tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']))):
      run = os.path.join(tmp, 'run%d' % i)
      training.train(config_lib.RunConfig(
          summary_dir=run, max_steps=2, save_step=2, batch_size=8), source,
                     strategy)
      model = capsule_model.CapsuleModel(hparams, 28, 1, 10,
                                         **testing.TINY['capsule'])
      checkpoints.restore_model(model, os.path.join(run, 'train',
                                                    'model.ckpt-2'))
      weights.append([v.numpy() for v in model.trainable_variables])
    for a, b in zip(*weights):
      self.assertAllClose(a, b, atol=1e-5)

  @runner_testing.tiny_models()
  def test_resuming_with_another_model_or_objective_is_refused(self):
    tmp, source, config = self._tiny_run(max_steps=1, batch_size=2)
    training.train(config, source)
    train_dir = os.path.join(tmp, 'train')
    listing = sorted(os.listdir(train_dir))
    for overrides, message in (
        ('routing=1', 'hparams.routing: 3 -> 1'),
        ('loss_type=softmax,leaky=true',
         'hparams.leaky: False -> True, hparams.loss_type: margin -> '
         'softmax')):
      with self.assertRaisesRegex(ExperimentError,
                                  'holds a run of another model or '
                                  'objective: ' + message):
        training.train(config.replace(
            max_steps=2, hparams=config.hparams.parse(overrides)), source)
    with self.assertRaisesRegex(ExperimentError, 'model: capsule -> baseline'):
      training.train(config.replace(model='baseline', max_steps=2), source)
    # Nothing was touched: no checkpoint read or written, no file changed.
    self.assertEqual(sorted(os.listdir(train_dir)), listing)
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-1'))
    # Steps, saving and precision may change; each resume is recorded.
    result = training.train(config.replace(
        max_steps=3, save_step=3, mixed_precision='bfloat16'), source)
    self.assertEqual(result.step, 3)
    with open(os.path.join(train_dir, 'config.json')) as f:
      saved = json.load(f)
    self.assertEqual((saved['max_steps'], saved['mixed_precision']),
                     (3, 'bfloat16'))
    self.assertEqual(saved['hparams'], hparams_lib.HParams().to_dict())
    self.assertEqual(saved['resumes'], [{'step': 1, 'changed': {
        'max_steps': [1, 3], 'mixed_precision': ['none', 'bfloat16'],
        'save_step': [1, 3]}}])

  def test_a_run_of_the_older_hparams_json_is_checked_too(self):
    tmp = self.create_tempdir().full_path
    train_dir = os.path.join(tmp, 'train')
    os.makedirs(train_dir)
    with open(os.path.join(train_dir, 'hparams.json'), 'w') as f:
      json.dump(dict(hparams_lib.HParams().to_dict(), model='capsule'), f)
    source, _ = testdata.idx_sources(tmp)
    with self.assertRaisesRegex(ExperimentError,
                                'hparams.remake: True -> False'):
      training.train(config_lib.RunConfig(
          hparams=hparams_lib.HParams(remake=False), summary_dir=tmp,
          max_steps=1, batch_size=2), source)


class DamagedDataTest(tf.test.TestCase):
  """Damage a reader meets only while the loop drives it: one line naming
  the data, the newest checkpoint intact, nothing half-written."""

  def setUp(self):
    super().setUp()
    self.enter_context(runner_testing.tiny_models())

  def _train_then_damage(self, config, damage):
    """Trains 1 step, damages the data, and expects resuming to fail."""
    training.train(config.replace(max_steps=1), registry.get_source(
        config, 'train'))
    damage()
    with self.assertRaises(ExperimentError) as caught:
      training.train(config.replace(max_steps=3),
                     registry.get_source(config, 'train'))
    train_dir = os.path.join(config.summary_dir, 'train')
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-1'))
    message = str(caught.exception)
    self.assertLen(message.splitlines(), 1)
    self.assertIn('the newest checkpoint is %s' % os.path.join(
        train_dir, 'model.ckpt-1'), message)
    return message

  def test_a_smallnorb_record_of_the_wrong_size_deep_in_the_file(self):
    tmp = self.create_tempdir().full_path
    raw = testdata.write_smallnorb(os.path.join(tmp, 'raw'), n=6, size=96)
    smallnorb_convert.convert(raw, tmp, 'train')
    path = os.path.join(tmp, 'trainduo.tfrecords')

    def damage():  # Record 4 of 6 loses a byte of its image.
      serialized = [r.numpy() for r in tf.data.TFRecordDataset(path)]
      example = tf.train.Example.FromString(serialized[4])
      raw_image = example.features.feature['image_raw'].bytes_list
      raw_image.value[0] = raw_image.value[0][:-1]
      serialized[4] = example.SerializeToString()
      with tf.io.TFRecordWriter(path) as writer:
        for record in serialized:
          writer.write(record)
    message = self._train_then_damage(config_lib.RunConfig(
        dataset='norb', data_dir=tmp, summary_dir=tmp, save_step=1,
        batch_size=2), damage)
    self.assertIn('damaged training data in %s' % path, message)
    self.assertIn('feature image_raw has 18431 bytes instead of 18432', message)

  def test_a_cifar10_label_out_of_range_in_the_third_file(self):
    tmp = self.create_tempdir().full_path
    testdata.write_cifar(tmp, per_file=2)
    path = os.path.join(tmp, 'data_batch_3.bin')

    def damage():
      with open(path, 'r+b') as f:
        f.seek(cifar10_input.RECORD_BYTES)  # Record 2's label byte.
        f.write(bytes([12]))
    message = self._train_then_damage(config_lib.RunConfig(
        dataset='cifar10', data_dir=tmp, summary_dir=tmp, save_step=1,
        batch_size=2, hparams=hparams_lib.HParams().parse(
            hparams_lib.PAPER_OVERRIDES['cifar10'])), damage)
    self.assertIn('damaged training data in', message)
    self.assertIn('data_batch_3.bin', message)
    self.assertIn('CIFAR-10 label byte out of range 0..9', message)

  def test_a_multimnist_shard_cut_short(self):
    tmp = self.create_tempdir().full_path
    idx_dir = testdata.write_mnist(os.path.join(tmp, 'idx'), 20, 4)
    paths = mnist_shift.generate(
        idx_dir, tmp, 'train', shift=1, pad=4, multi_targets=True, num_pairs=3,
        max_shard=20)
    pattern = '%s@%d' % (paths[0].rsplit('-', 3)[0], len(paths))

    def damage():  # The last shard loses the end of its last record.
      size = os.path.getsize(paths[-1])
      with open(paths[-1], 'r+b') as f:
        f.truncate(size - 100)
    message = self._train_then_damage(config_lib.RunConfig(
        data_dir=pattern, num_targets=2, summary_dir=tmp, save_step=1,
        batch_size=2), damage)
    # The shard and the record, found by reading the shards (the reader's
    # error names neither): 20 records a shard, the last one cut.
    self.assertIn('damaged training data in %s: record 19 of %s: ' % (
        pattern, paths[-1]), message)

  def test_a_multimnist_record_of_the_wrong_size_names_shard_and_feature(self):
    tmp = self.create_tempdir().full_path
    idx_dir = testdata.write_mnist(os.path.join(tmp, 'idx'), 20, 4)
    paths = mnist_shift.generate(
        idx_dir, tmp, 'train', shift=1, pad=4, multi_targets=True, num_pairs=5,
        max_shard=60)  # 100 pairs in 2 shards of at most 60: 40 or more.
    pattern = '%s@%d' % (paths[0].rsplit('-', 3)[0], len(paths))
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(paths[0])]
    example = tf.train.Example.FromString(serialized[39])  # The 40th.
    merged = example.features.feature['merged_raw'].bytes_list
    merged.value[0] = merged.value[0][:-1]
    serialized[39] = example.SerializeToString()
    with tf.io.TFRecordWriter(paths[0]) as writer:
      for record in serialized:
        writer.write(record)
    config = config_lib.RunConfig(
        data_dir=pattern, num_targets=2, summary_dir=tmp, save_step=100,
        max_steps=60, batch_size=2)  # Past an epoch.
    with self.assertRaisesRegex(
        ExperimentError, r'^damaged training data in %s: record 39 of %s '
        r'feature merged_raw has 1295 bytes instead of 1296; stopped at step '
        r'\d+, the newest checkpoint is none$' % (re.escape(pattern),
                                                  re.escape(paths[0]))):
      training.train(config, registry.get_source(config, 'train'))


if __name__ == '__main__':
  testing.split_cpu()  # Under pytest, conftest.py does it.
  tf.test.main()
