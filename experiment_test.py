"""End-to-end tests of experiment.py, each mode through the command line, on
tiny generated records."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from input_data import testdata
from models import capsule_model
from models import hparams as hparams_lib
from models import testing
from runner import checkpoints
from runner import config as config_lib
from runner import registry
from runner import events

ROOT = os.path.dirname(os.path.abspath(__file__))


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='')


def run_experiment(*args, check=True):
  proc = subprocess.run([sys.executable, os.path.join(ROOT, 'experiment.py')]
                        + list(args), capture_output=True, text=True,
                        env=_env(), timeout=600)
  if check and proc.returncode:
    raise AssertionError('experiment.py %s failed:\n%s' % (args, proc.stderr))
  return proc


def signalled_experiment(args, when, signum):
  """Runs experiment.py with args and sends it signum once a line of its
  stderr matches the regex `when`: (exit status, stdout, stderr after that
  line)."""
  proc = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'experiment.py'), *args],
      stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
  for line in proc.stderr:
    if re.search(when, line):
      proc.send_signal(signum)
      break
  out, err = proc.communicate(timeout=300)
  return proc.returncode, out, err



def _wrong(stdout):
  match = re.search(r'Total wrong predictions: (\d+), wrong percent: '
                    r'([\d.]+)%', stdout)
  assert match, stdout
  return int(match.group(1)), float(match.group(2))


class ExperimentCliTest(tf.test.TestCase):

  def test_the_originals_flags_keep_their_defaults(self):
    # The original experiment.py's flags and defaults; keep_checkpoints is
    # its Saver(max_to_keep=1000).
    defaults = testing.flag_defaults('experiment.py')
    self.assertEqual({k: defaults.get(k) for k in (
        'data_dir', 'eval_size', 'hparams_override', 'max_steps', 'model',
        'dataset', 'num_gpus', 'num_targets', 'num_trials', 'save_step',
        'summary_dir', 'checkpoint', 'train', 'validate',
        'keep_checkpoints')}, {
            'data_dir': '', 'eval_size': '10000', 'hparams_override': '',
            'max_steps': '1000', 'model': 'capsule', 'dataset': 'mnist',
            'num_gpus': '1', 'num_targets': '1', 'num_trials': '1',
            'save_step': '1500', 'summary_dir': '', 'checkpoint': '',
            'train': 'true', 'validate': 'false', 'keep_checkpoints': '1000'})

  def test_each_flag_reaches_the_saved_configuration(self):
    # No step is trained (--max_steps=0): the configuration is saved first.
    tmp = self.create_tempdir().full_path
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), n_train=8, n_test=4)
    run = os.path.join(tmp, 'run')
    flags = {
        'data_dir': data, 'data_source': 'idx', 'summary_dir': run,
        'max_steps': '0', 'seed': '5', 'save_step': '3',
        'keep_checkpoints': '4', 'log_every_secs': '2.5',
        'max_train_secs': '99', 'steps_per_loop': '2',
        'skip_nonfinite': 'true', 'xla': 'true', 'mixed_precision': 'float16',
        'eval_size': '50', 'eval_timeout_secs': '7', 'eval_poll_secs': '8',
        'deterministic': 'true', 'cpu_threads': '1', 'max_memory_gb': '20',
        'max_shift': '1', 'random_flip': 'true', 'cache_dir': '~/c',
        'hparams_override': 'routing=2'}
    run_experiment(*['--%s=%s' % item for item in flags.items()])
    with open(os.path.join(run, 'train', 'config.json')) as f:
      saved = json.load(f)
    self.assertEqual({k: saved[k] for k in (
        'data_dir', 'data_source', 'summary_dir', 'max_steps', 'seed',
        'save_step', 'keep_checkpoints', 'log_every_secs', 'max_train_secs',
        'steps_per_loop', 'skip_nonfinite', 'xla', 'mixed_precision',
        'eval_size', 'eval_timeout_secs', 'eval_poll_secs', 'deterministic',
        'cpu_threads', 'max_memory_gb', 'max_shift', 'random_flip',
        'cache_dir', 'eval_stop_at_step', 'train', 'model', 'batch_size')}, {
            'data_dir': data, 'data_source': 'idx', 'summary_dir': run,
            'max_steps': 0, 'seed': 5, 'save_step': 3, 'keep_checkpoints': 4,
            'log_every_secs': 2.5, 'max_train_secs': 99.0,
            'steps_per_loop': 2, 'skip_nonfinite': True, 'xla': True,
            'mixed_precision': 'float16', 'eval_size': 50,
            'eval_timeout_secs': 7, 'eval_poll_secs': 8,
            'deterministic': True, 'cpu_threads': 1, 'max_memory_gb': 20.0,
            'max_shift': 1, 'random_flip': True,
            'cache_dir': os.path.expanduser('~/c'),
            'eval_stop_at_step': 0,  # --max_steps was given.
            'train': True, 'model': 'capsule', 'batch_size': 128})
    self.assertEqual(saved['hparams']['routing'], 2)

  def test_the_run_record_and_its_replay(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    train_dir = os.path.join(run, 'train')
    run_experiment('--data_dir=' + data, '--summary_dir=' + run,
                   '--max_steps=1', '--save_step=1', '--seed=3')
    flags_file = os.path.join(train_dir, 'flags.txt')
    with open(flags_file) as f:
      lines = f.read().splitlines()
    for line in ('--data_dir=' + data, '--summary_dir=' + run,
                 '--max_steps=1', '--save_step=1', '--seed=3',
                 '--keep_checkpoints=1000', '--train'):
      self.assertIn(line, lines)
    revision = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
    # Replayed from the file, one more step: it continues the run.
    proc = run_experiment('--flagfile=' + flags_file, '--max_steps=2')
    self.assertRegex(proc.stderr, r'resumed from .*model.ckpt-1\n')
    self.assertTrue(os.path.exists(os.path.join(train_dir,
                                                'model.ckpt-2.index')))
    with open(os.path.join(train_dir, 'run.json')) as f:
      starts = json.load(f)['starts']
    self.assertEqual([s['step'] for s in starts], [0, 1])
    for start in starts:
      self.assertEqual(start['tensorflow'], tf.__version__)
      self.assertEqual(start['numpy'], np.__version__)
      self.assertEqual(start['python'], sys.version.split()[0])
      self.assertEqual(start['revision'], revision or None)
      self.assertIn('/device:CPU:0', start['devices'])
      self.assertIn(start['uncommitted_changes'], (True, False))
    self.assertEqual(starts[1]['command'][1:], ['--flagfile=' + flags_file,
                                                '--max_steps=2'])
    with open(flags_file) as f:
      self.assertIn('--max_steps=2', f.read().splitlines())

  @pytest.mark.slow
  def test_deterministic_runs_write_the_same_checkpoints(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    saved = []
    for i, seed in enumerate((3, 3, 4)):
      run = os.path.join(tmp, 'run%d' % i)
      run_experiment('--data_dir=' + data, '--summary_dir=' + run,
                     '--max_steps=2', '--save_step=2', '--seed=%d' % seed,
                     '--deterministic')
      path = os.path.join(run, 'train', 'model.ckpt-2')
      saved.append({name: tf.train.load_variable(path, name)
                    for name, _ in tf.train.list_variables(path)
                    if name.startswith(('model/', 'optimizer/'))})
    self.assertCountEqual(saved[0], saved[1])
    for name in saved[0]:  # Weights and Adam moments, to the bit.
      self.assertAllEqual(saved[0][name], saved[1][name], msg=name)
    self.assertNotAllClose(
        saved[0]['model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE'],
        saved[2]['model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE'])
    # Evaluation too: the same count, printed by each run of the command.
    counts = [_wrong(run_experiment(
        '--data_dir=' + data, '--train=false', '--eval_size=7',
        '--checkpoint=' + os.path.join(tmp, 'run0', 'train', 'model.ckpt-2'),
        '--deterministic').stdout) for _ in range(2)]
    self.assertEqual(counts[0], counts[1])

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
    self.assertTrue(os.path.exists(os.path.join(train_dir, 'config.json')))
    tags = events.read_scalars(train_dir)
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
    test_tags = events.read_scalars(os.path.join(run, 'test'))
    self.assertEqual(test_tags['wrong_prediction'], [(2, float(wrong))])
    self.assertIn('almost_wrong_prediction', test_tags)
    # Input above target above reconstruction, 10 examples, at each save.
    for event_dir, step, count in ((train_dir, 1, 10),
                                   (os.path.join(run, 'test'), 2, 7)):
      images = events.read_images(event_dir, 'reconstruction')
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
    test_source = registry.get_source(config_lib.RunConfig(data_dir=data),
                                      'test')
    features = next(iter(test_source.eval_dataset(7, 7)))
    summed = 0.0
    for step in (1, 2):
      model = capsule_model.CapsuleModel(hparams_lib.default_hparams(), 28, 1,
                                         10)
      checkpoints.restore_model(model, os.path.join(
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

    out = run_experiment(*common, '--max_steps=4', '--save_step=2').stderr
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
         '--eval_timeout_secs=300'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
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
    out = run_experiment(*common).stderr
    self.assertIn('evaluated step 1000', out)
    self.assertIn('no new checkpoint in 2 s: stopping', out)
    # Given explicitly, it stops after the checkpoint at or past it.
    out = run_experiment(*common, '--max_steps=1000').stderr
    self.assertIn('evaluated step 1000', out)
    self.assertNotIn('no new checkpoint', out)

  def test_a_quiet_start_unless_the_user_sets_a_level(self):
    tmp = self.create_tempdir().full_path
    env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
    args = [sys.executable, os.path.join(ROOT, 'experiment.py'),
            '--data_dir=' + tmp, '--summary_dir=' + tmp]
    # TensorFlow is imported and starts before the missing data is found:
    # its C++ notices (oneDNN, CPU features, cuInit) would come first; only
    # ours shows.
    proc = subprocess.run(args, capture_output=True, text=True, env=env,
                          timeout=300)
    self.assertNotEqual(proc.returncode, 0)
    self.assertEqual(proc.stderr.strip().splitlines(), [
        'experiment.py: %s/train_2shifted_mnist.tfrecords: no such file (make '
        'it with input_data/mnist/mnist_shift.py --split=train --shift=2)' %
        tmp])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env=dict(env, TF_CPP_MIN_LOG_LEVEL='0'))
    # The user's level is kept: TensorFlow's C++ notices show (which ones
    # depends on the machine: oneDNN's, the CPU features', cuInit's).
    self.assertRegex(proc.stderr, r'(?m)^[IWE]\d{4} .* \w+\.cc:\d+\] ')

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


class OwnImagesTest(tf.test.TestCase):
  """--dataset=folder through the command line: train, evaluate, export,
  predict with class names; resume and evaluation refuse other classes."""

  def test_folder_train_evaluate_export_predict(self):
    tmp = self.create_tempdir().full_path
    data, _ = testdata.write_image_folder(
        os.path.join(tmp, 'data'), classes=3, per_class=(3, 2),
        names=['zero', 'one', 'two'])
    run = os.path.join(tmp, 'run')
    common = ['--dataset=folder', '--data_dir=' + data,
              '--cache_dir=' + os.path.join(tmp, 'cache'),
              '--hparams_override=num_prime_capsules=2']
    run_experiment(*common, '--summary_dir=' + run, '--max_steps=1',
                   '--save_step=1')
    with open(os.path.join(run, 'train', 'config.json')) as f:
      self.assertEqual(json.load(f)['class_names'], ['one', 'two', 'zero'])
    checkpoint = os.path.join(run, 'train', 'model.ckpt-1')
    exported = os.path.join(tmp, 'exported')
    proc = run_experiment(*common, '--train=false',
                          '--checkpoint=' + checkpoint,
                          '--export_saved_model=' + exported)
    # The whole test split (6 images) without --eval_size.
    with open(os.path.join(run, 'test', 'results.jsonl')) as f:
      result = json.loads(f.readline())
    self.assertEqual((result['examples'], result['dataset']), (6, 'folder'))
    self.assertEqual(_wrong(proc.stdout)[0], result['wrong'])
    self.assertIn('wrote %s' % exported, proc.stdout)
    digit = os.path.join(data, 'test', 'two', sorted(os.listdir(
        os.path.join(data, 'test', 'two')))[0])
    predicted = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'predict.py'),
         '--model=' + exported, digit], capture_output=True, text=True,
        env=_env(), timeout=300)
    self.assertEqual(predicted.returncode, 0, predicted.stderr)
    self.assertRegex(predicted.stdout, r'^%s: (one|two|zero) \(score '
                     r'0\.\d{3}\)\n$' % re.escape(digit))
    # Another class: resume and evaluation refuse, one line each.
    os.rename(os.path.join(data, 'train', 'two'),
              os.path.join(data, 'train', 'three'))
    os.rename(os.path.join(data, 'test', 'two'),
              os.path.join(data, 'test', 'three'))
    proc = run_experiment(*common, '--summary_dir=' + run, '--max_steps=2',
                          check=False)
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr.strip().splitlines()[-1], (
        'experiment.py: %s/train holds a run of another model or objective: '
        'class_names: [\'one\', \'two\', \'zero\'] -> [\'one\', '
        '\'three\', \'zero\']; give a new --summary_dir, or the same flags'
        % run))
    proc = run_experiment(*common, '--train=false',
                          '--checkpoint=' + checkpoint, check=False)
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr.strip().splitlines()[-1], (
        'experiment.py: %s was trained on the classes 3 (one, two, zero), but '
        'the data has 3 (one, three, zero); evaluate it on the data it was '
        'trained on' % checkpoint))


class StopSignalTest(tf.test.TestCase):
  """SIGTERM and Ctrl-C sent to a real training process."""

  def test_a_stop_saves_its_step_and_the_same_command_resumes_exactly(self):
    tmp = self.create_tempdir().full_path
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), 20, 4)
    common = ['--data_dir=' + data, '--data_source=idx', '--deterministic',
              '--save_step=1000', '--max_steps=12', '--log_every_secs=0',
              '--hparams_override=num_prime_capsules=2']
    whole = os.path.join(tmp, 'whole')
    run_experiment(*common, '--summary_dir=' + whole)
    for sig, status, name in ((signal.SIGTERM, 0, 'SIGTERM'),
                              (signal.SIGINT, 130, 'SIGINT')):
      run = os.path.join(tmp, name)
      # Sent once the first step is logged.
      code, _, rest = signalled_experiment(
          [*common, '--summary_dir=' + run], r'\] step \d+: loss', sig)
      self.assertEqual(code, status, rest[-2000:])
      match = re.search(r'^stopped at step (\d+) on %s; checkpoint (\S+); the '
                        r'same command resumes$' % name, rest, re.M)
      self.assertIsNotNone(match, rest[-2000:])
      step = int(match.group(1))
      self.assertBetween(step, 1, 11)
      self.assertEqual(match.group(2), os.path.join(
          run, 'train', 'model.ckpt-%d' % step))
      self.assertTrue(os.path.exists(match.group(2) + '.index'))
      # The same command resumes from that step, to the bit of the run
      # that never stopped.
      proc = run_experiment(*common, '--summary_dir=' + run)
      self.assertRegex(proc.stderr, r'resumed from .*model.ckpt-%d\n' % step)
      for name_, _ in tf.train.list_variables(
          os.path.join(whole, 'train', 'model.ckpt-12')):
        if name_.startswith(('model/', 'optimizer/')):
          self.assertAllEqual(
              tf.train.load_variable(os.path.join(
                  run, 'train', 'model.ckpt-12'), name_),
              tf.train.load_variable(os.path.join(
                  whole, 'train', 'model.ckpt-12'), name_), msg=name_)

  def test_an_evaluation_sent_a_stop_finishes_and_records_its_result(self):
    # A single-checkpoint evaluation and the validation job, each sent
    # SIGTERM or Ctrl-C once its evaluation is under way: that evaluation
    # finishes on the whole test set, its result is recorded, one line
    # says so, and the exit status is that of the signal.
    tmp = self.create_tempdir().full_path
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), 4, 500)
    common = ['--data_dir=' + data, '--data_source=idx', '--eval_size=500',
              '--hparams_override=num_prime_capsules=2']
    run_experiment(*common, '--summary_dir=' + tmp, '--max_steps=1',
                   '--save_step=1')
    checkpoint = os.path.join(tmp, 'train', 'model.ckpt-1')
    results = os.path.join(tmp, 'test', 'results.jsonl')
    whole = _wrong(run_experiment(*common, '--train=false',
                                  '--checkpoint=' + checkpoint).stdout)
    for mode, sig, status, name in (
        ('--checkpoint=' + checkpoint, signal.SIGTERM, 0, 'SIGTERM'),
        ('--checkpoint=' + checkpoint, signal.SIGINT, 130, 'SIGINT'),
        ('--summary_dir=' + tmp, signal.SIGTERM, 0, 'SIGTERM'),
        ('--summary_dir=' + tmp, signal.SIGINT, 130, 'SIGINT')):
      # Sent as the evaluation starts.
      code, out, err = signalled_experiment(
          [*common, '--train=false', '--eval_timeout_secs=3600', mode],
          re.escape('evaluating %s on 500 examples' % checkpoint), sig)
      self.assertEqual(code, status, (mode, err[-2000:]))
      self.assertEqual(_wrong(out), whole)
      with open(results) as f:
        last = json.loads(f.readlines()[-1])
      self.assertEqual((last['examples'], last['wrong']), (500, whole[0]))
      if mode.startswith('--checkpoint'):
        self.assertIn('stopped on %s after the evaluation in flight; its '
                      'result is in %s\n' % (name, results), out)
      else:
        self.assertIn('stopped on %s after 1 evaluation(s)' % name, err)


if __name__ == '__main__':
  tf.test.main()
