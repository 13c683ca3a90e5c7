"""End-to-end tests of experiment.py and train_eval on tiny generated records."""

import gc
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import tensorflow as tf

from absl.testing import parameterized

from input_data import source as source_lib
from input_data import testdata
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from input_data.norb import smallnorb_convert
from models import capsule_model
from models import hparams as hparams_lib
from models import model as model_lib
from models import testing
import summaries
import train_eval

testing.split_cpu()
ROOT = os.path.dirname(os.path.abspath(__file__))


def run_experiment(*args, check=True):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='')
  proc = subprocess.run([sys.executable, os.path.join(ROOT, 'experiment.py')]
                        + list(args), capture_output=True, text=True, env=env,
                        timeout=600)
  if check and proc.returncode:
    raise AssertionError('experiment.py %s failed:\n%s' % (args, proc.stderr))
  return proc



def _wrong(stdout):
  match = re.search(r'Total wrong predictions: (\d+), wrong percent: '
                    r'([\d.]+)%', stdout)
  assert match, stdout
  return int(match.group(1)), float(match.group(2))


class ExperimentCliTest(tf.test.TestCase):

  def test_train_evaluate_ensemble_resume(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    common = ['--data_dir=' + data, '--summary_dir=' + run]
    out = run_experiment(*common, '--max_steps=2', '--save_step=1').stdout
    self.assertStartsWith(out, 'total_params: 8215728\n')
    train_dir = os.path.join(run, 'train')
    self.assertTrue(os.path.exists(os.path.join(train_dir,
                                                'model.ckpt-2.index')))
    self.assertTrue(os.path.exists(os.path.join(train_dir, 'hparams.json')))
    tags = summaries.read_scalars(train_dir)
    for tag in ('total_loss', 'batch_classification_cost',
                'reconstruction_error', 'accuracy', 'learning_rate',
                'examples_per_sec'):
      self.assertIn(tag, tags)

    export = os.path.join(tmp, 'exported', 'model.ckpt-2')
    out = run_experiment(*common, '--train=false', '--eval_size=7',
                         '--checkpoint=%s/model.ckpt-2' % train_dir,
                         '--export_weights=' + export).stdout
    wrong, percent = _wrong(out)
    # The exported weights alone evaluate to the same result.
    self.assertNotIn('optimizer/step/.ATTRIBUTES/VARIABLE_VALUE',
                     dict(tf.train.list_variables(export)))
    self.assertEqual(_wrong(run_experiment(
        '--data_dir=' + data, '--train=false', '--eval_size=7',
        '--checkpoint=' + export).stdout), (wrong, percent))
    self.assertAllClose(percent, 100.0 * wrong / 7, atol=0.01)
    test_tags = summaries.read_scalars(os.path.join(run, 'test'))
    self.assertEqual(test_tags['wrong_prediction'], [(2, float(wrong))])
    self.assertIn('almost_wrong_prediction', test_tags)
    # Input above target above reconstruction, 10 examples, at each save.
    for event_dir, step, count in ((train_dir, 1, 10),
                                   (os.path.join(run, 'test'), 2, 7)):
      images = summaries.read_images(event_dir, 'reconstruction')
      self.assertEqual(images[0][0], step)
      self.assertLen(images[0][1], count)
      self.assertEqual(images[0][1][0].shape, (3 * 28, 28, 1))

    # Ensemble of two "trials": trial i at ens/i/model.ckpt-2.
    for i, step in enumerate((1, 2)):
      os.makedirs(os.path.join(tmp, 'ens', str(i)))
      for suffix in ('.index', '.data-00000-of-00001'):
        shutil.copy(os.path.join(train_dir, 'model.ckpt-%d%s' % (step, suffix)),
                    os.path.join(tmp, 'ens', str(i), 'model.ckpt-2' + suffix))
    pattern = os.path.join(tmp, 'ens', '{}', 'model.ckpt-2')
    out = run_experiment(*common, '--train=false', '--eval_size=7',
                         '--num_trials=2', '--checkpoint=' + pattern).stdout
    # The ensemble's count from the summed class scores, computed here.
    test_source = train_eval.get_source('mnist', data, 'test', 1, False,
                                        'records')
    features = next(iter(test_source.eval_dataset(7, 7)))
    summed = 0.0
    for step in (1, 2):
      model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                         10)
      train_eval.restore_model(model, os.path.join(
          train_dir, 'model.ckpt-%d' % step))
      summed += model.inference(features).logits.numpy()
    expected = int(np.sum(np.argmax(summed, 1) !=
                          features['recons_label'].numpy()))
    self.assertEqual(_wrong(out), (expected, round(100.0 * expected / 7, 2)))
    # Every pattern str.format accepts, as the original: {0}, {:d}.
    for form in ('{0}', '{:d}'):
      self.assertEqual(_wrong(run_experiment(
          *common, '--train=false', '--eval_size=7', '--num_trials=2',
          '--checkpoint=' + pattern.replace('{}', form)).stdout)[0], expected)
    proc = run_experiment(*common, '--train=false', '--eval_size=7',
                          '--num_trials=3', '--checkpoint=' + pattern,
                          check=False)
    self.assertNotEqual(proc.returncode, 0)
    self.assertIn('ens/2/model.ckpt-2 does not exist', proc.stderr)

    out = run_experiment(*common, '--max_steps=4', '--save_step=2').stdout
    self.assertIn('resumed from %s/model.ckpt-2' % train_dir, out)
    self.assertTrue(os.path.exists(os.path.join(train_dir,
                                                'model.ckpt-4.index')))

  def test_validation_job_beside_training(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    common = ['--data_dir=' + data, '--summary_dir=' + run, '--max_steps=4']
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    evaluator = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, 'experiment.py'), *common,
         '--train=false', '--eval_size=7', '--eval_poll_secs=1',
         '--eval_timeout_secs=300'], stdout=subprocess.PIPE, text=True,
        env=env)
    run_experiment(*common, '--save_step=2')
    out, _ = evaluator.communicate(timeout=300)
    self.assertEqual(evaluator.returncode, 0)
    steps = [int(s) for s in re.findall(r'evaluated step (\d+)', out)]
    self.assertEqual(steps[-1], 4)  # Stopped after the last checkpoint.
    self.assertEqual(len(steps), len(set(steps)))  # Each at most once.
    self.assertLen(re.findall('Total wrong predictions', out), len(steps))

  def test_validation_job_stops_at_max_steps_only_when_given(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                       10)
    tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model), os.path.join(run, 'train'), 1,
        checkpoint_name='model.ckpt').save(checkpoint_number=1000)
    common = ['--data_dir=' + data, '--summary_dir=' + run, '--train=false',
              '--eval_size=7', '--eval_poll_secs=1', '--eval_timeout_secs=2']
    # Without --max_steps (default 1000) it waits for more, as the original,
    # until the idle timeout.
    out = run_experiment(*common).stdout
    self.assertIn('evaluated step 1000', out)
    self.assertIn('no new checkpoint in 2 s: stopping', out)
    # Given explicitly, it stops after the checkpoint at or past it.
    out = run_experiment(*common, '--max_steps=1000').stdout
    self.assertIn('evaluated step 1000', out)
    self.assertNotIn('no new checkpoint', out)

  def test_bad_input_is_one_line_and_nonzero(self):
    tmp = self.create_tempdir().full_path
    cases = [
        (['--summary_dir=' + tmp], '--data_dir is required'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp, '--dataset=imagenet'],
         '--dataset=imagenet is not supported'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp,
          '--hparams_override=routng=2'], "unknown key 'routng'"),
        (['--data_dir=' + tmp, '--train=false', '--num_trials=2',
          '--checkpoint=x'], 'needs --checkpoint with a pattern that changes '
         'with the trial number'),
        (['--data_dir=' + tmp, '--train=false', '--num_trials=2',
          '--checkpoint=m{x}'], '--checkpoint=m{x} is not a str.format '
         "pattern of the trial number (KeyError: 'x')"),
        (['--data_dir=' + tmp, '--train=false', '--num_trials=2'],
         '--num_trials=2 needs --checkpoint'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp,
          '--keep_checkpoints=0'], '--keep_checkpoints must be >= 1, got 0'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp, '--eval_size=0'],
         '--eval_size must be > 0'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp, '--steps_per_loop=0'],
         '--steps_per_loop must be >= 1, got 0'),
        (['--data_dir=' + tmp, '--summary_dir=' + tmp],
         'train_2shifted_mnist.tfrecords: no such file'),
    ]
    for args, message in cases:
      proc = run_experiment(*args, check=False)
      self.assertNotEqual(proc.returncode, 0, args)
      # TensorFlow's own C++ start-up lines may come first; ours is the one
      # line that names the program, last, with no traceback.
      lines = proc.stderr.strip().splitlines()
      self.assertNotIn('Traceback', proc.stderr)
      self.assertLen([l for l in lines if l.startswith('experiment.py:')], 1)
      self.assertStartsWith(lines[-1], 'experiment.py: ')
      self.assertIn(message, lines[-1])


class CheckpointTest(tf.test.TestCase):

  def _idx_sources(self, tmp, num_test=4):
    """(train, test) sources over IDX files of 8 and num_test digits."""
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), 8, num_test)
    return tuple(train_eval.get_source('mnist', data, split, 1, False, 'idx')
                 for split in ('train', 'test'))

  def _model(self, overrides=''):
    return capsule_model.CapsuleModel(
        hparams_lib.default_hparams().parse(overrides), 28, 1, 10)

  def test_tf1_checkpoint_gives_the_native_scores(self):
    native = self._model()
    names = native.tf1_variables()
    adam = model_lib.Adam(native.trainable_variables)
    slots = adam.tf1_variables(names)
    path = os.path.join(self.create_tempdir().full_path, 'model.ckpt-7')
    values = {n: v.numpy() for n, v in list(names.items()) +
              list(slots.items())}
    with tf.Graph().as_default():
      tf1_vars = [tf.compat.v1.Variable(v, name=n) for n, v in values.items()]
      tf1_vars.append(tf.compat.v1.Variable(7.0, name='global_step'))
      saver = tf.compat.v1.train.Saver(tf1_vars)
      with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        saver.save(sess, path)
    native_path = tf.train.Checkpoint(model=native).write(
        os.path.join(self.create_tempdir().full_path, 'native'))
    features = {'images': np.random.RandomState(0).rand(4, 784)
                          .astype(np.float32),
                'recons_label': np.zeros([4], np.int64)}
    for checkpoint in (path, native_path):
      restored = self._model()
      train_eval.restore_model(restored, checkpoint)
      self.assertAllClose(restored.inference(features).logits,
                          native.inference(features).logits, atol=1e-6)

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

      def train_dataset(self, batch_size, seed, input_context=None):
        del batch_size, seed, input_context
        return tf.data.Dataset.from_tensors(features).repeat()

    result = train_eval.train('baseline', hparams_lib.default_hparams(),
                              OneBatch(), run, max_steps=5, save_step=5,
                              strategy=tf.distribute.get_strategy(),
                              batch_size=8)
    self.assertEqual(result.step, 5)
    names = result.model.tf1_variables()
    self.assertCountEqual(names, expected)
    for name, value in expected.items():
      self.assertAllClose(names[name], value, atol=1e-5, rtol=1e-5, msg=name)
    self.assertTrue(os.path.exists(os.path.join(train_dir,
                                                'model.ckpt-5.index')))

  def test_checkpoints_kept_by_default_are_the_originals_1000(self):
    tmp = self.create_tempdir().full_path
    source, _ = self._idx_sources(tmp)
    train_eval.train('baseline', hparams_lib.default_hparams(), source, tmp,
                     max_steps=11, save_step=1, batch_size=1,
                     strategy=tf.distribute.get_strategy())
    self.assertLen(tf.train.get_checkpoint_state(os.path.join(
        tmp, 'train')).all_model_checkpoint_paths, 11)
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                '--keep_checkpoints must be >= 1'):
      train_eval.train('baseline', hparams_lib.default_hparams(), source, tmp,
                       max_steps=12, save_step=1, keep_checkpoints=0,
                       strategy=tf.distribute.get_strategy())

  def _histograms(self, event_dir):
    """{tag: [(step, [k, 3] buckets)]} of the histograms in event_dir."""
    found = {}
    for path in tf.io.gfile.glob(event_dir + '/events.out.tfevents.*'):
      for record in tf.data.TFRecordDataset(path):
        event = tf.compat.v1.Event.FromString(record.numpy())
        for value in event.summary.value:
          if value.metadata.plugin_data.plugin_name == 'histograms':
            found.setdefault(value.tag, []).append(
                (event.step, tf.make_ndarray(value.tensor)))
    return found

  def test_training_summaries_verbose_and_not(self):
    tmp = self.create_tempdir().full_path
    source, _ = self._idx_sources(tmp)  # 8 training digits.
    for verbose in (False, True):
      run = os.path.join(tmp, str(verbose))
      result = train_eval.train(
          'baseline', hparams_lib.default_hparams().parse(
              'verbose=%s' % verbose), source, run, max_steps=2, save_step=2,
          batch_size=4, log_every_secs=0.0,
          strategy=tf.distribute.get_strategy())
      train_dir = os.path.join(run, 'train')
      scalars = summaries.read_scalars(train_dir)
      histograms = self._histograms(train_dir)
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

  def test_mismatched_checkpoints_name_the_variable(self):
    path = tf.train.Checkpoint(model=self._model('remake=false')).write(
        os.path.join(self.create_tempdir().full_path, 'a'))
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                r'variable reconstruction/layers/0/\w+ '
                                'missing'):
      train_eval.restore_model(self._model(), path)
    path = tf.train.Checkpoint(model=self._model('num_prime_capsules=16')).write(
        os.path.join(self.create_tempdir().full_path, 'b'))
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                r'conv_capsule1|primary_capsules/\w+ has shape '
                                r'\[\S+'):
      train_eval.restore_model(self._model(), path)

  def test_resuming_with_other_hparams_names_the_variable(self):
    tmp = self.create_tempdir().full_path
    source = mnist_input_record.mnist_source(
        testdata.write_mnist(tmp), 'train', data_source='idx')
    args = dict(model_name='capsule', source=source, summary_dir=tmp,
                save_step=1, strategy=tf.distribute.get_strategy(),
                batch_size=2)
    train_eval.train(hparams=hparams_lib.default_hparams(), max_steps=1,
                     **args)
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                'model.ckpt-1: variable primary_capsules/'
                                r'weights has shape \[9, 9, 256, 256\] in the '
                                r'checkpoint, the model expects \[9, 9, 256, '
                                r'128\]'):
      train_eval.train(hparams=hparams_lib.default_hparams().parse(
          'num_prime_capsules=16'), max_steps=2, **args)

  def test_speed_options_train_and_evaluate(self):
    tmp = self.create_tempdir().full_path
    source, test = self._idx_sources(tmp)
    hparams = hparams_lib.default_hparams()
    speed = dict(jit_compile=True, conv_dtype='bfloat16')
    result = train_eval.train('capsule', hparams, source, tmp, max_steps=2,
                              save_step=2, batch_size=4,
                              strategy=tf.distribute.get_strategy(), **speed)
    self.assertEqual(result.model.conv1.compute_dtype, tf.bfloat16)
    wrong, total = train_eval.evaluate_checkpoints(
        'capsule', hparams, test, [os.path.join(tmp, 'train', 'model.ckpt-2')],
        4, **speed)
    self.assertEqual(total, 4)
    self.assertBetween(wrong, 0, 4)

  def test_steps_per_loop_trains_the_same_and_saves_on_the_same_steps(self):
    tmp = self.create_tempdir().full_path
    source, _ = self._idx_sources(tmp)
    weights = []
    for steps_per_loop in (1, 4):
      run = os.path.join(tmp, str(steps_per_loop))
      result = train_eval.train(
          'capsule', hparams_lib.default_hparams(), source, run, max_steps=7,
          save_step=3, strategy=tf.distribute.get_strategy(), batch_size=2,
          steps_per_loop=steps_per_loop)
      self.assertEqual(result.step, 7)
      self.assertEqual(
          tf.train.get_checkpoint_state(
              os.path.join(run, 'train')).all_model_checkpoint_paths,
          [os.path.join(run, 'train', 'model.ckpt-%d' % s) for s in (3, 6, 7)])
      weights.append([v.numpy() for v in result.model.trainable_variables])
    for a, b in zip(*weights):
      self.assertAllClose(a, b, atol=1e-6)

  def test_ensemble_memory_does_not_grow_with_the_trials(self):
    tmp = self.create_tempdir().full_path
    _, test = self._idx_sources(tmp, num_test=12)
    path = tf.train.Checkpoint(model=self._model()).write(
        os.path.join(tmp, 'model.ckpt-1'))
    peaks = []
    for trials in (1, 4):
      gc.collect()
      start = tf.config.experimental.get_memory_info('CPU:0')['current']
      tf.config.experimental.reset_memory_stats('CPU:0')
      wrong, _ = train_eval.evaluate_checkpoints(
          'capsule', hparams_lib.default_hparams(), test, [path] * trials, 12)
      self.assertBetween(wrong, 0, 12)
      peaks.append(
          (tf.config.experimental.get_memory_info('CPU:0')['peak'] - start)
          / 2 ** 20)
    # One model (31 MiB of weights) and one batch's activations, however
    # many checkpoints are summed.
    self.assertGreater(peaks[0], 8215728 * 4 / 2 ** 20)
    self.assertAllClose(peaks[0], peaks[1], atol=1.0)

  def test_precision_may_change_when_training_resumes(self):
    tmp = self.create_tempdir().full_path
    source, _ = self._idx_sources(tmp)
    args = dict(model_name='capsule', hparams=hparams_lib.default_hparams(),
                source=source, summary_dir=tmp, save_step=1, batch_size=4,
                strategy=tf.distribute.get_strategy())
    train_dir = os.path.join(tmp, 'train')

    def saved_scale(step):
      return dict(tf.train.list_variables(os.path.join(
          train_dir, 'model.ckpt-%d' % step))).get(
              'loss_scale/scale/.ATTRIBUTES/VARIABLE_VALUE')

    # float32 -> float16 (a fresh loss scale, saved) -> float16 (restored)
    # -> float32 (the saved scale ignored): each resume goes on from there.
    for max_steps, conv_dtype in ((1, None), (2, 'float16'), (3, 'float16'),
                                  (4, None)):
      result = train_eval.train(max_steps=max_steps, conv_dtype=conv_dtype,
                                **args)
      self.assertEqual(result.step, max_steps)
    self.assertIsNone(saved_scale(1))
    self.assertEqual(saved_scale(2), [])
    self.assertIsNone(saved_scale(4))
    reader = tf.train.load_checkpoint(os.path.join(train_dir, 'model.ckpt-3'))
    self.assertEqual(  # One applied step before the resume, one after.
        reader.get_tensor('loss_scale/good_steps/.ATTRIBUTES/VARIABLE_VALUE'),
        2)
    scalars = summaries.read_scalars(train_dir)
    self.assertEqual([v for _, v in scalars['loss_scale']], [2.0 ** 15] * 2)
    self.assertEqual([v for _, v in scalars['loss_scale_skips']], [0.0] * 2)

  def test_strategy_choice(self):
    self.assertIs(train_eval.make_strategy(1), tf.distribute.get_strategy())
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                '--num_gpus=2 but this machine has 0 GPU'):
      train_eval.make_strategy(2, devices=[])
    with self.assertRaisesRegex(train_eval.ExperimentError, '>= 1'):
      train_eval.make_strategy(0)
    mirrored = train_eval.make_strategy(2, devices=['/cpu:0', '/cpu:1'])
    self.assertEqual(mirrored.num_replicas_in_sync, 2)
    os.environ['TF_CONFIG'] = '{"cluster": '
    self.addCleanup(os.environ.pop, 'TF_CONFIG')
    with self.assertRaisesRegex(train_eval.ExperimentError,
                                'TF_CONFIG is not a JSON object'):
      train_eval.make_strategy(1)

  def test_two_replicas_train_like_one(self):
    tmp = self.create_tempdir().full_path
    source = mnist_input_record.mnist_source(
        testdata.write_mnist(os.path.join(tmp, 'idx')), 'train',
        data_source='idx', shift=0)
    hparams = hparams_lib.default_hparams()
    weights = []
    for i, strategy in enumerate((
        tf.distribute.get_strategy(),
        train_eval.make_strategy(2, devices=['/cpu:0', '/cpu:1']))):
      run = os.path.join(tmp, 'run%d' % i)
      train_eval.train('capsule', hparams, source, run, max_steps=2,
                       save_step=2, strategy=strategy, batch_size=8)
      model = capsule_model.CapsuleModel(hparams, 28, 1, 10)
      train_eval.restore_model(model, os.path.join(run, 'train',
                                                   'model.ckpt-2'))
      weights.append([v.numpy() for v in model.trainable_variables])
    for a, b in zip(*weights):
      self.assertAllClose(a, b, atol=1e-5)


class DatasetsTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      ('norb', '', 'records', 9327184),
      ('cifar10', 'num_prime_capsules=64,padding=SAME,leaky=true,remake=false',
       'records', 22476448),
      ('fashion_mnist', '', 'idx', 8215728))
  def test_train_one_step_then_evaluate(self, dataset, overrides, data_source,
                                        params):
    tmp = self.create_tempdir().full_path
    data = os.path.join(tmp, 'data')
    if dataset == 'norb':
      raw = testdata.write_smallnorb(os.path.join(tmp, 'raw'), n=4, size=96)
      for split in ('train', 'test'):
        smallnorb_convert.convert(raw, data, split)
    elif dataset == 'cifar10':
      testdata.write_cifar(data, per_file=2)
    else:
      testdata.write_mnist(data, 10, 4)
    hparams = hparams_lib.default_hparams().parse(overrides)
    train_source = train_eval.get_source(dataset, data, 'train', 1, False,
                                         data_source)
    result = train_eval.train('capsule', hparams, train_source, tmp,
                              max_steps=1, save_step=1,
                              strategy=tf.distribute.get_strategy(),
                              batch_size=2)
    self.assertEqual(result.step, 1)
    test_source = train_eval.get_source(dataset, data, 'test', 1, False,
                                        data_source)
    model = train_eval.build_model('capsule', hparams, test_source.info)
    self.assertEqual(model.num_params(), params)
    wrong, total = train_eval.evaluate_checkpoints(
        'capsule', hparams, test_source,
        [os.path.join(tmp, 'train', 'model.ckpt-1')], eval_size=2)
    self.assertEqual(total, 2)
    self.assertBetween(wrong, 0, 2)


if __name__ == '__main__':
  tf.test.main()
