"""experiment.py as processes under stress: kill -9 again and again while a
validation job runs beside it, and two trainers started on one run
directory. runner/training_reliability_test.py tests the same behaviour
(and more) through the library."""

import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from input_data import testdata

ROOT = os.path.dirname(os.path.abspath(__file__))


class OneTrainerTest(tf.test.TestCase):

  def test_two_trainers_started_together(self):
    tmp = self.create_tempdir().full_path
    data = testdata.make_mnist_records(tmp)
    run = os.path.join(tmp, 'run')
    command = [sys.executable, os.path.join(ROOT, 'experiment.py'),
               '--data_dir=' + data, '--summary_dir=' + run,
               '--max_steps=2', '--save_step=1']
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
    trainers = [subprocess.Popen(command, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
                for _ in range(2)]
    outputs = [t.communicate(timeout=600) + (t.returncode,) for t in trainers]
    codes = sorted(code for _, _, code in outputs)
    self.assertEqual(codes[0], 0)
    self.assertNotEqual(codes[1], 0)
    _, refused, _ = [o for o in outputs if o[2]][0]
    self.assertRegex(refused.strip().splitlines()[-1],
                     r'^experiment.py: %s is being trained by another '
                     r'trainer \(pid %d on host ' % (
                         re.escape(os.path.join(run, 'train')),
                         [t.pid for t, o in zip(trainers, outputs)
                          if not o[2]][0]))
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(run, 'train')),
                     os.path.join(run, 'train', 'model.ckpt-2'))
    self.assertLen(tf.io.gfile.glob(os.path.join(run, 'train',
                                                 'events.out.*')), 1)


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
