"""Tests of runner/evaluation.py: single checkpoints and ensembles."""

import collections
import glob
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from unittest import mock

from absl import logging as absl_logging

import numpy as np
import tensorflow as tf

from input_data import idx
from input_data import testdata
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from input_data.norb import smallnorb_convert
from models import capsule_model
from models import conv_model
from models import hparams as hparams_lib
from models import steps as steps_lib
from models import testing
from runner import checkpoints
from runner import config as config_lib
from runner import evaluation
from runner import events
from runner import registry
from runner import testing as runner_testing
from runner import training
from runner.errors import ExperimentError


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The allocator's peak (MiB above what was held before) evaluating one
# random capsule checkpoint once, then as an ensemble of 4 trials.
_ENSEMBLE_MEMORY = """
import gc, json, os, sys
import tensorflow as tf
from input_data import testdata
from models import capsule_model
from models import hparams as hparams_lib
from runner import checkpoints
from runner import config as config_lib
from runner import evaluation
tmp = sys.argv[1]
_, test = testdata.idx_sources(tmp, n_test=12)
tf.random.set_seed(6)
path = checkpoints.export_weights(
    capsule_model.CapsuleModel(hparams_lib.HParams(), 28, 1, 10),
    os.path.join(tmp, 'model0', 'model.ckpt-1'))
config = config_lib.RunConfig(eval_size=12)
evaluation.evaluate_checkpoints(config, test, [path])  # Warm-up.
peaks = []
for trials in (1, 4):
  gc.collect()
  start = tf.config.experimental.get_memory_info('CPU:0')['current']
  tf.config.experimental.reset_memory_stats('CPU:0')
  evaluation.evaluate_checkpoints(config, test, [path] * trials)
  peaks.append((tf.config.experimental.get_memory_info('CPU:0')['peak'] -
                start) / 2 ** 20)
print(json.dumps(peaks))
"""


class _Stdout(io.StringIO):
  """Standard output that remembers what it held at each flush."""

  def __init__(self):
    super().__init__()
    self.flushed = []

  def flush(self):
    self.flushed.append(self.getvalue())
    super().flush()


def _each_line_flushed(test, out):
  """Each printed line reaches a pipe as it is printed (a log read while
  the job runs, a job killed later)."""
  lines = out.getvalue().splitlines(keepends=True)
  for i in range(len(lines)):
    test.assertIn(''.join(lines[:i + 1]), out.flushed, lines[i])


class EvaluationTest(tf.test.TestCase):

  def _checkpoint(self, seed, tmp, model_class=capsule_model.CapsuleModel,
                  trial=0):
    """(a random model, its weights at tmp/model<trial>/model.ckpt-1)."""
    tf.random.set_seed(seed)
    model = model_class(hparams_lib.HParams(), 28, 1, 10)
    return model, checkpoints.export_weights(
        model, os.path.join(tmp, 'model%d' % trial, 'model.ckpt-1'))

  def test_ensemble_sums_the_class_scores(self):
    tmp = self.create_tempdir().full_path
    # 8x8 white blocks in 30 places: two random baselines classify them
    # differently, image by image.
    images = np.zeros([30, 28, 28], np.uint8)
    for i in range(30):
      images[i, i % 20:i % 20 + 8, 3 * (i % 7):3 * (i % 7) + 8] = 255
    features = {'images': images.reshape(30, -1) * np.float32(1.0 / 255)}
    models, paths = zip(*[self._checkpoint(seed, tmp, conv_model.ConvModel,
                                           trial=trial)
                          for trial, seed in enumerate((3, 4))])
    logits = [m.inference(features).logits.numpy() for m in models]
    # Labels: the summed scores' classes. Counted here from each model's
    # scores and from their sum: the ensemble is right on all 30.
    labels = np.argmax(logits[0] + logits[1], 1)
    expected = [int(np.sum(np.argmax(l, 1) != labels))
                for l in logits + [logits[0] + logits[1]]]
    self.assertEqual(expected[2], 0)
    self.assertGreater(min(expected[:2]), 0)  # Neither alone is.
    for split in ('train', 'test'):
      image_name, label_name = idx.MNIST_FILES[split]
      idx.write_idx(os.path.join(tmp, image_name), images)
      idx.write_idx(os.path.join(tmp, label_name), labels.astype(np.uint8))
    test = mnist_input_record.mnist_source(tmp, 'test', data_source='idx')
    config = config_lib.RunConfig(model='baseline', eval_size=30)
    found = [evaluation.evaluate_checkpoints(config, test, p)[0]
             for p in ([paths[0]], [paths[1]], list(paths))]
    self.assertEqual(found, expected)
    # The same through the original's --checkpoint pattern.
    pattern = os.path.join(tmp, 'model{:d}', 'model.ckpt-1')
    self.assertEqual(evaluation.evaluate_checkpoints(config.replace(
        checkpoint=pattern, num_trials=2), test)[0], expected[2])

  def _multimnist(self):
    """(24 generated MultiMNIST test pairs as streamed shards, a tiny
    random 2-target capsule model, its weights' checkpoint path)."""
    tmp = self.create_tempdir().full_path
    idx_dir = testdata.write_mnist(os.path.join(tmp, 'idx'), 4, 12)
    paths = mnist_shift.generate(idx_dir, tmp, 'test', shift=1, pad=4,
                                 multi_targets=True, num_pairs=2, seed=1)
    test = mnist_input_record.mnist_source(paths[0].rsplit('-', 3)[0] + '@1',
                                           'test', num_targets=2)
    tf.random.set_seed(7)
    model = capsule_model.CapsuleModel(hparams_lib.HParams(), 36, 1, 10,
                                       num_targets=2, **testing.TINY['capsule'])
    path = checkpoints.export_weights(model, os.path.join(tmp, 'm',
                                                          'model.ckpt-1'))
    return test, model, path

  @runner_testing.tiny_models()
  def test_multimnist_prints_both_counts(self):
    test, model, path = self._multimnist()
    features = next(iter(test.eval_dataset(24, 24)))
    # Counted here: the top-2 scores against the two labels, as sets.
    top2 = np.argsort(-model.inference(features).logits.numpy(), axis=1)[:, :2]
    truth = np.stack([features['recons_label'], features['spare_label']], 1)
    found = [len(set(p) & set(t)) for p, t in zip(top2, truth)]
    wrong, almost_wrong = sum(f < 2 for f in found), sum(f == 0 for f in found)
    self.assertGreater(wrong, almost_wrong)  # The two counts differ here.
    config = config_lib.RunConfig(num_targets=2, eval_size=24, checkpoint=path)
    with mock.patch('sys.stdout', new_callable=_Stdout) as out:
      self.assertEqual(evaluation.evaluate_checkpoints(config, test),
                       (wrong, 24))
    self.assertEqual(out.getvalue().splitlines(), [
        'Total wrong predictions: %d, wrong percent: %.2f%%' % (
            wrong, 100 * wrong / 24),
        'Almost wrong predictions (neither digit found): %d, percent: '
        '%.2f%%' % (almost_wrong, 100 * almost_wrong / 24)])
    _each_line_flushed(self, out)
    # The same numbers as data, beside the checkpoint (no --summary_dir).
    with open(path + '.results.jsonl') as f:
      (result,) = [json.loads(line) for line in f]
    self.assertEqual({k: result[k] for k in (
        'checkpoints', 'step', 'examples', 'wrong', 'almost_wrong',
        'wrong_percent', 'model', 'data')}, {
            'checkpoints': [path], 'step': 1, 'examples': 24,
            'wrong': wrong, 'almost_wrong': almost_wrong,
            'wrong_percent': round(100 * wrong / 24, 4), 'model': 'capsule',
            'data': test.describe})
    self.assertGreater(result['examples_per_sec'], 0)
    # The code it ran: this checkout's commit, and whether files differ.
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True,
                          text=True, cwd=os.path.dirname(os.path.dirname(
                              os.path.abspath(__file__)))).stdout.strip()
    self.assertEqual(result['revision'], head)
    self.assertIn(result['uncommitted_changes'], (True, False))
    self.assertRegex(result['time'], r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$')

  @runner_testing.tiny_models()
  def test_streamed_records_shorter_than_eval_size_name_the_size(self):
    test, _, path = self._multimnist()
    config = config_lib.RunConfig(num_targets=2, eval_size=30)
    with self.assertRaisesRegex(ExperimentError, '^--eval_size=30 but %s '
                                'holds only 24 examples: pass --eval_size=24$'
                                % re.escape(test.describe)):
      evaluation.evaluate_checkpoints(config, test, [path])

  def test_data_shorter_than_its_check_is_an_error_not_a_score(self):
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=12)
    _, path = self._checkpoint(6, tmp)
    checked = test.eval_dataset
    # The data passed its check, then held 4 fewer examples when read.
    with mock.patch.object(test, 'eval_dataset',
                           lambda batch, size: checked(batch, size - 4)):
      with self.assertRaisesRegex(ExperimentError, '^--eval_size=12 but %s '
                                  'holds only 8 examples: pass --eval_size=8$'
                                  % re.escape(test.describe)):
        evaluation.evaluate_checkpoints(config_lib.RunConfig(eval_size=12),
                                        test, [path])

  def test_speed_options_evaluate_as_float32_does(self):
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=20)
    model, path = self._checkpoint(5, tmp)
    del model
    config = config_lib.RunConfig(eval_size=20)
    made = []  # (the compiled step, the features of its first call)

    def recorded(*args, **kwargs):
      step = make_eval_step(*args, **kwargs)

      def call(features):
        if len(made) < len(runs) + 1:
          made.append((step, features))
        return step(features)
      return call
    make_eval_step, runs = steps_lib.make_eval_step, []
    with mock.patch.object(steps_lib, 'make_eval_step', recorded):
      for options in ({}, dict(xla=True, mixed_precision='bfloat16')):
        runs.append(evaluation.evaluate_checkpoints(
            config.replace(**options), test, [path]))
    self.assertEqual(runs[0], runs[1])
    # The options took effect: the second step is XLA-compiled, its
    # convolutions run in bfloat16.
    self.assertEqual([testing.compiled_graph_facts(*m) for m in made], [
        {'xla': False, 'compiled': ['votes_and_routing'],
         'conv_dtypes': ['float32']},
        {'xla': True, 'compiled': ['votes_and_routing'],
         'conv_dtypes': ['bfloat16']}])

  def test_ensemble_memory_does_not_grow_with_the_trials(self):
    # In a process of its own with oneDNN on: TensorFlow's CPU allocator
    # keeps the statistics this needs only then (oneDNN is off by default on
    # AVX2-only CPUs).
    tmp = self.create_tempdir().full_path
    proc = subprocess.run(
        [sys.executable, '-c', _ENSEMBLE_MEMORY, tmp], capture_output=True,
        text=True, timeout=600, cwd=ROOT,
        env=dict(os.environ, TF_ENABLE_ONEDNN_OPTS='1',
                 TF_CPP_MIN_LOG_LEVEL='3'))
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    peaks = json.loads(proc.stdout.strip().splitlines()[-1])
    # One model (31 MiB of weights) and one batch's activations, however
    # many checkpoints are summed: keeping each trial's weights would add
    # 3 x 31 MiB; allocator noise between calls stays well below one half.
    weights = 8215728 * 4 / 2 ** 20
    self.assertGreater(peaks[0], weights)
    self.assertLess(abs(peaks[1] - peaks[0]), 0.5 * weights)

  @runner_testing.tiny_models()
  def test_the_validation_job_ends_on_sigterm(self):
    # One checkpoint, evaluated; then the job waits (an hour's idle
    # timeout) and SIGTERM ends it within its next look, the result kept.
    tmp = self.create_tempdir().full_path
    source, test = testdata.idx_sources(tmp, n_test=10)
    config = config_lib.RunConfig(
        summary_dir=tmp, max_steps=1, save_step=1, batch_size=2, eval_size=10,
        eval_poll_secs=0, eval_timeout_secs=3600)
    training.train(config, source)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    self.addCleanup(timer.cancel)
    start = time.time()
    with self.assertLogs(logger='absl', level='INFO') as logs:
      results = evaluation.evaluate_continuously(config, test)
    self.assertEqual(list(results), [1])
    self.assertLess(time.time() - start, 60)
    self.assertIn('stopped on SIGTERM after 1 evaluation(s)',
                  '\n'.join(logs.output))

  @runner_testing.tiny_models()
  def test_validation_job_evaluates_each_new_checkpoint_once(self):
    tmp = self.create_tempdir().full_path
    source, test = testdata.idx_sources(tmp, n_test=10)
    config = config_lib.RunConfig(
        summary_dir=tmp, max_steps=3, save_step=1, batch_size=2, eval_size=10,
        eval_poll_secs=0, eval_timeout_secs=60, eval_stop_at_step=3)
    # The trainer runs beside the job and rests 2.5 s after each save: the
    # job, which looks every second, sees each checkpoint several times.
    save, evaluate = checkpoints.save, evaluation.evaluate_checkpoints
    evaluated, failures = collections.Counter(), []

    def slow_save(manager, step):
      path = save(manager, step)
      time.sleep(2.5)
      return path

    def counted(config, source, paths=None):
      evaluated.update(checkpoints.step_of(p) for p in paths)
      return evaluate(config, source, paths)

    def trainer():
      try:
        training.train(config, source)
      except Exception as e:  # pylint: disable=broad-except
        failures.append(e)
    self._info_logs()
    with mock.patch.object(checkpoints, 'save', slow_save), \
        mock.patch.object(evaluation, 'evaluate_checkpoints', counted), \
        self.assertLogs(level='INFO') as logs:
      thread = threading.Thread(target=trainer)
      thread.start()
      results = evaluation.evaluate_continuously(config, test)
      thread.join()
    self.assertEqual(failures, [])
    # It stopped at step 3 itself, not after a minute without a checkpoint.
    job_lines = [line for line in logs.output
                 if 'evaluated step' in line or 'no new checkpoint' in line]
    self.assertEqual(job_lines[-1], 'INFO:absl:evaluated step 3')
    # Each checkpoint it saw, once; at least one came while it ran, and it
    # stopped after the one at eval_stop_at_step.
    self.assertEqual(set(evaluated.values()), {1}, evaluated)
    self.assertGreaterEqual(len(evaluated), 2)
    self.assertEqual(max(evaluated), 3)
    self.assertEqual(sorted(results), sorted(evaluated))
    # Each evaluation of the job is a line of summary_dir/test/results.jsonl.
    with open(os.path.join(tmp, 'test', 'results.jsonl')) as f:
      lines = [json.loads(line) for line in f]
    self.assertEqual([(r['step'], r['wrong']) for r in lines],
                     sorted(results.items()))

  def test_the_test_summaries_hold_the_counts_and_the_mean_losses(self):
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=4)
    model, path = self._checkpoint(5, tmp)
    config = config_lib.RunConfig(summary_dir=tmp, eval_size=4)
    # Batches of 3 and 1: the sums must add up over the batches.
    with self.captureWritesToStream(sys.stdout) as printed, \
        mock.patch.object(evaluation, 'EVAL_BATCH', 3):
      wrong, n = evaluation.evaluate_checkpoints(config, test, [path])
    self.assertEqual(n, 4)
    self.assertIn('Total wrong predictions: %d,' % wrong, printed.contents())
    # Expected: the model's own evaluation step over the four digits as one
    # batch, divided by four.
    features = next(iter(test.eval_dataset(4, 4)))
    sums, logits = steps_lib.make_eval_step(
        model, tf.distribute.get_strategy())(features)
    self.assertEqual(wrong, int(np.sum(np.argmax(logits, 1) != np.argmax(
        features['labels'], 1))))
    scalars = {tag: values for tag, values in
               events.read_scalars(os.path.join(tmp, 'test')).items()
               if not tag.startswith('eval/')}
    expected = {
        'total_loss': float(sums['total_loss']) / 4,
        'batch_classification_cost': (
            float(sums['batch_classification_cost']) / 4),
        'reconstruction_error': float(sums['reconstruction_error']) / 4,
        'accuracy': (4 - wrong) / 4,
        'correct_prediction': 4 - wrong,
        'wrong_prediction': wrong,
        # One target: the top class found is also "almost" right.
        'almost_wrong_prediction': wrong}
    self.assertEqual(sorted(scalars), sorted(expected))
    for tag, value in expected.items():
      self.assertEqual([step for step, _ in scalars[tag]], [1], tag)
      self.assertAllClose(scalars[tag][0][1], value, rtol=1e-5, msg=tag)
    # The original's reconstruction image of the first digits: each input
    # above its target above the model's reconstruction.
    ((step, images),) = events.read_images(os.path.join(tmp, 'test'),
                                           'reconstruction')
    self.assertEqual(step, 1)
    self.assertLen(images, 3)  # One a digit of the first batch (of 3).
    image = images[0]
    self.assertEqual(image.shape, (3 * 28, 28, 1))
    remake = model.inference({k: v[:1] for k, v in features.items()}).remakes[0]
    self.assertAllClose(image[56:, :, 0] / 255.0,
                        np.reshape(remake, [28, 28]), atol=1 / 255.0)

  def _info_logs(self):
    """absl's INFO lines reach assertLogs whatever an earlier test set;
    the verbosity comes back at the end of the test."""
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    self.addCleanup(absl_logging.set_verbosity, verbosity)

  def _tiny_digits(self, n_test, seed):
    """(tmp, n_test IDX test digits, a random tiny capsule model, its
    weights at tmp/model.ckpt-1)."""
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=n_test)
    tf.random.set_seed(seed)
    model = capsule_model.CapsuleModel(hparams_lib.HParams(), 28, 1, 10,
                                       **testing.TINY['capsule'])
    return tmp, test, model, checkpoints.export_weights(
        model, os.path.join(tmp, 'model.ckpt-1'))

  @runner_testing.tiny_models()
  def test_exports_of_one_checkpoint(self):
    tmp, test, _, path = self._tiny_digits(4, 3)
    weights, saved = os.path.join(tmp, 'w', 'weights'), os.path.join(tmp, 's')
    for exports in ({'export_weights': weights},
                    {'export_saved_model': saved}):
      with self.assertRaisesRegex(ExperimentError, '^--export_weights and '
                                  '--export_saved_model need a single '
                                  '--checkpoint$'):
        evaluation.evaluate_checkpoints(config_lib.RunConfig(
            eval_size=4, **exports), test, [path, path])
    self.assertFalse(os.path.exists(os.path.dirname(weights)))
    self._info_logs()
    config = config_lib.RunConfig(eval_size=4, export_weights=weights,
                                  export_saved_model=saved)
    with mock.patch('sys.stdout', new_callable=_Stdout) as out, \
        self.assertLogs(level='INFO') as logs:
      evaluation.evaluate_checkpoints(config, test, [path])
    _each_line_flushed(self, out)
    self.assertIn('INFO:absl:wrote %s' % weights, logs.output)
    self.assertEqual(out.getvalue().splitlines()[0], 'wrote %s' % saved)
    # The weights written are the checkpoint's, without optimiser state.
    self.assertEqual(
        sorted(name for name, _ in tf.train.list_variables(weights)),
        sorted(name for name, _ in tf.train.list_variables(path)))
    for name, _ in tf.train.list_variables(path):
      if name.startswith('model/'):
        self.assertAllEqual(tf.train.load_variable(weights, name),
                            tf.train.load_variable(path, name), name)
    self.assertTrue(os.path.exists(os.path.join(saved, 'saved_model.pb')))

  @runner_testing.tiny_models()
  def test_the_record_of_one_target(self):
    tmp, test, model, path = self._tiny_digits(7, 2)
    features = next(iter(test.eval_dataset(7, 7)))
    wrong = int(np.sum(np.argmax(model.inference(features).logits, 1) !=
                       features['recons_label']))
    self.assertBetween(wrong, 1, 6)  # A percentage of 7 with many digits.
    config = config_lib.RunConfig(eval_size=7, dataset='mnist',
                                  summary_dir=os.path.join(tmp, 'run'))
    # The clock at the start and at the end of the evaluation.
    clock = mock.Mock(time=mock.Mock(side_effect=[100.0, 101.23456]))
    with mock.patch.object(evaluation, 'time', clock), \
        mock.patch('sys.stdout', new_callable=io.StringIO):
      evaluation.evaluate_checkpoints(config, test, [path, path])
    with open(os.path.join(tmp, 'run', 'test', 'results.jsonl')) as f:
      (result,) = [json.loads(line) for line in f]
    self.assertEqual({k: v for k, v in result.items() if k not in (
        'time', 'revision', 'uncommitted_changes')}, {
            'checkpoints': [path, path], 'step': 1, 'model': 'capsule',
            'dataset': 'mnist', 'data': test.describe, 'examples': 7,
            'wrong': wrong, 'wrong_percent': round(100.0 * wrong / 7, 4),
            'almost_wrong': None, 'seconds': 1.235,
            # Both trials' examples.
            'examples_per_sec': 11.3})
    # tf.test's dict comparison is approximate: the rounding, exactly.
    self.assertEqual(str(result['wrong_percent']), '%.4f' % (100 * wrong / 7))

  def test_where_results_go(self):
    path_of = lambda checkpoint, **kw: evaluation.results_path(
        config_lib.RunConfig(**kw), [checkpoint, '/other/model.ckpt-1'])
    self.assertEqual(path_of('/r/train/model.ckpt-5', summary_dir='/s'),
                     '/s/test/results.jsonl')
    # A checkpoint of RUN/train: RUN/test, as with --summary_dir=RUN.
    self.assertEqual(path_of('/r/train/model.ckpt-5'),
                     '/r/test/results.jsonl')
    self.assertEqual(path_of('r/train/model.ckpt-5'),
                     os.path.join(os.getcwd(), 'r', 'test', 'results.jsonl'))
    self.assertEqual(path_of('/c/model.ckpt-5'),
                     '/c/model.ckpt-5.results.jsonl')
    self.assertEqual(path_of('/c/trainer/model.ckpt-5'),
                     '/c/trainer/model.ckpt-5.results.jsonl')

  def test_each_result_is_a_line_of_sorted_keys(self):
    path = os.path.join(self.create_tempdir().full_path, 'new', 'r.jsonl')
    with mock.patch.object(evaluation.files, 'utc_time',
                           return_value='2026-01-02 03:04:05 UTC'):
      self.assertEqual(evaluation.write_result(path, {'wrong': 3, 'b': None}),
                       path)
      evaluation.write_result(path, {'a': 1.5})
    with open(path) as f:
      self.assertEqual(f.read(), '{"b": null, "time": "2026-01-02 03:04:05 '
                       'UTC", "wrong": 3}\n{"a": 1.5, "time": "2026-01-02 '
                       '03:04:05 UTC"}\n')

  def test_the_validation_job_needs_a_summary_dir(self):
    with self.assertRaisesRegex(ExperimentError, '^--summary_dir is required '
                                'to train or to run the validation job$'):
      evaluation.evaluate_continuously(config_lib.RunConfig(), None)

  def test_the_validation_job_stops_after_its_timeout(self):
    tmp = self.create_tempdir().full_path
    os.makedirs(os.path.join(tmp, 'train'))
    config = config_lib.RunConfig(summary_dir=tmp, eval_poll_secs=0,
                                  eval_timeout_secs=1)
    self._info_logs()
    start = time.time()
    with self.assertLogs(level='INFO') as logs:
      self.assertEqual(evaluation.evaluate_continuously(config, None), {})
    self.assertLess(time.time() - start, 30)
    self.assertTrue([line for line in logs.output
                     if line.endswith('no new checkpoint in 1 s: stopping')],
                    logs.output)

  def _job(self, steps, damage, poll_secs=0):
    """Runs the validation job while checkpoints of `steps` appear one by
    one, each after the job has looked at the one before; damage(step,
    path) spoils a checkpoint after the job found it, before it reads it.
    ({step: wrong}, [(step, seconds at which the job took it)], logs, the
    job's train directory)."""
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=4)
    _, weights = self._checkpoint(7, tmp)
    job = os.path.join(tmp, 'job')
    train_dir = os.path.join(job, 'train')
    os.makedirs(train_dir)

    def publish(step):
      path = os.path.join(train_dir, 'model.ckpt-%d' % step)
      for name in tf.io.gfile.glob(weights + '.*'):
        shutil.copy(name, path + name[len(weights):])
      tf.compat.v1.train.update_checkpoint_state(train_dir, path)

    taken, evaluate = [], evaluation.evaluate_checkpoints
    start = time.time()

    def then_publish(config, source, paths=None):
      step = checkpoints.step_of(paths[0])
      taken.append((step, time.time() - start))
      damage(step, paths[0])
      try:
        return evaluate(config, source, paths)
      finally:
        if step < steps[-1]:
          publish(steps[steps.index(step) + 1])
    publish(steps[0])
    config = config_lib.RunConfig(
        summary_dir=job, eval_size=4, eval_poll_secs=poll_secs,
        eval_timeout_secs=60, eval_stop_at_step=steps[-1],
        export_weights=os.path.join(tmp, 'exported'),
        export_saved_model=os.path.join(tmp, 'exported_model'))
    with mock.patch.object(evaluation, 'evaluate_checkpoints', then_publish):
      with self.assertLogs(level='INFO') as logs:
        results = evaluation.evaluate_continuously(config, test)
    self.assertFalse(tf.io.gfile.glob(os.path.join(tmp, 'exported*')),
                     'the job exported the weights or the model')
    return results, taken, logs.output, train_dir

  def test_the_validation_job_skips_damaged_and_deleted_checkpoints(self):
    def damage(step, path):
      if step == 1:  # Its data do not read back.
        (data,) = tf.io.gfile.glob(path + '.data-*')
        with open(data, 'r+b') as f:
          f.seek(os.path.getsize(data) // 2)
          f.write(b'\xff\x00\xff\x00')
      if step == 2:  # Gone before the job reads it.
        for name in tf.io.gfile.glob(path + '.*'):
          os.remove(name)
    results, taken, logs, train_dir = self._job([1, 2, 3], damage)
    self.assertEqual([step for step, _ in taken], [1, 2, 3])
    self.assertEqual(list(results), [3])
    warnings = [line for line in logs if line.startswith('WARNING')]
    self.assertLen(warnings, 2)
    self.assertRegex(warnings[0], r'^WARNING:absl:skipped step 1: checkpoint '
                     r'%s is damaged \(.*\)$' % re.escape(
                         os.path.join(train_dir, 'model.ckpt-1')))
    self.assertRegex(warnings[1], r'^WARNING:absl:skipped %s: deleted before '
                     r'it could be read \(--checkpoint: .* does not exist.*\)$'
                     % re.escape(os.path.join(train_dir, 'model.ckpt-2')))

  def test_an_error_with_the_checkpoint_still_there_stops_the_job(self):
    # Only a checkpoint gone before it was read is skipped: any other error
    # (here more examples asked for than the data holds) stops the job.
    tmp = self.create_tempdir().full_path
    _, test = testdata.idx_sources(tmp, n_test=4)
    train_dir = os.path.join(tmp, 'job', 'train')
    _, weights = self._checkpoint(7, tmp)
    os.makedirs(train_dir)
    for name in tf.io.gfile.glob(weights + '.*'):
      shutil.copy(name, train_dir)
    tf.compat.v1.train.update_checkpoint_state(
        train_dir, os.path.join(train_dir, 'model.ckpt-1'))
    config = config_lib.RunConfig(
        summary_dir=os.path.dirname(train_dir), eval_size=10,
        eval_poll_secs=0, eval_timeout_secs=5)
    with self.assertRaisesRegex(ExperimentError, '^--eval_size=10 but '):
      evaluation.evaluate_continuously(config, test)

  def test_the_validation_job_waits_its_poll_interval(self):
    results, taken, _, _ = self._job([1, 2], lambda step, path: None,
                                     poll_secs=6)
    self.assertEqual(sorted(results), [1, 2])
    # The second checkpoint appeared as soon as the first was evaluated;
    # the job took it no sooner than 6 s after it took the first.
    self.assertGreaterEqual(taken[1][1] - taken[0][1], 6.0)

  def test_damaged_evaluation_data_is_one_line(self):
    tmp = self.create_tempdir().full_path
    raw = testdata.write_smallnorb(os.path.join(tmp, 'raw'), n=6, size=96)
    smallnorb_convert.convert(raw, tmp, 'test')
    path = os.path.join(tmp, 'testduo.tfrecords')
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    serialized[5] = serialized[5][:-200] + serialized[5][-100:]  # Cut inside.
    with tf.io.TFRecordWriter(path) as writer:
      for record in serialized:
        writer.write(record)
    config = config_lib.RunConfig(dataset='norb', data_dir=tmp, eval_size=6)
    source = registry.get_source(config, 'test')
    tf.random.set_seed(1)
    model = registry.build_model('capsule', config.hparams, source.info)
    path = checkpoints.export_weights(model, os.path.join(tmp, 'w'))
    with self.assertRaisesRegex(
        ExperimentError, r'^damaged evaluation data in .*/testduo.tfrecords: '
        r'a record that does not parse \(invalid continuation byte\)$'):
      evaluation.evaluate_checkpoints(config, source, [path])

  @runner_testing.tiny_models()
  def test_a_damaged_shard_names_its_record(self):
    test, _, path = self._multimnist()
    (shard,) = glob.glob(os.path.join(os.path.dirname(os.path.dirname(path)),
                                      'multitest*'))
    made = test.eval_dataset

    def eval_dataset(*args):
      # Damaged once the pipeline is made (its count checked): a test set
      # rewritten under the validation job. The last of the 24 pairs loses
      # its end.
      dataset = made(*args)
      with open(shard, 'r+b') as f:
        f.truncate(os.path.getsize(shard) - 100)
      return dataset
    test.eval_dataset = eval_dataset
    config = config_lib.RunConfig(num_targets=2, eval_size=24)
    # The reader's error names neither record nor shard: the source finds
    # them by reading the shards.
    with self.assertRaisesRegex(ExperimentError, '^damaged evaluation data in '
                                '%s: record 23 of %s: ' % (
                                    re.escape(test.describe),
                                    re.escape(shard))):
      evaluation.evaluate_checkpoints(config, test, [path])


if __name__ == '__main__':
  tf.test.main()
