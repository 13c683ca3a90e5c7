"""Two worker processes on 127.0.0.1 train with MultiWorkerMirroredStrategy.

Each worker gets the standard TF_CONFIG; they train a few steps of the MNIST
capsule model on tiny IDX files, save their final weights, and must agree.
One worker is sent SIGTERM: both stop at the same step, which the chief
saves. Only the chief keeps checkpoints and summaries. A second run resumes
both workers from the chief's checkpoint, and they end where two workers
that never stopped end.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from input_data import testdata

ROOT = os.path.dirname(os.path.abspath(__file__))

# What each worker runs: the library entry points, then its final weights.
WORKER = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    from absl import logging
    import numpy as np
    from runner import config as config_lib
    from runner import distribution
    from runner import registry
    from runner import training
    logging.set_verbosity(logging.INFO)  # The progress lines, as under app.run.
    strategy = distribution.make_strategy(1)  # TF_CONFIG: multi-worker.
    if distribution.task_id(strategy) == {sigterm_worker}:
      # This worker is sent SIGTERM during its first step (seen after it).
      import os, signal
      make_loop = training.steps_lib.make_train_loop
      def signalled_loop(*args):
        loop = make_loop(*args)
        def run(*loop_args):
          os.kill(os.getpid(), signal.SIGTERM)
          return loop(*loop_args)
        return run
      training.steps_lib.make_train_loop = signalled_loop
    config = config_lib.RunConfig(
        data_dir={data!r}, data_source='idx', summary_dir={run!r},
        max_steps={steps}, save_step=2, batch_size=8, log_every_secs=0.0)
    result = training.train(config, registry.get_source(config, 'train'),
                            strategy)
    print('stopped:', result.stopped)
    np.savez({out!r}, step=result.step,
             *[v.numpy() for v in result.model.trainable_variables])
''')


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def _run_workers(tmp, data, run, steps, sigterm_worker=None):
  workers = ['127.0.0.1:%d' % p for p in _free_ports(2)]
  procs = []
  for index in range(2):
    script = WORKER.format(root=ROOT, data=data, run=run, steps=steps,
                           sigterm_worker=sigterm_worker,
                           out=os.path.join(tmp, 'worker%d.npz' % index))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', CUDA_VISIBLE_DEVICES='',
               TF_CONFIG=json.dumps({'cluster': {'worker': workers},
                                     'task': {'type': 'worker',
                                              'index': index}}))
    procs.append(subprocess.Popen([sys.executable, '-c', script], env=env,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
  outputs = []
  for proc in procs:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    outputs.append((out, err))
  return outputs, [np.load(os.path.join(tmp, 'worker%d.npz' % i))
                   for i in range(2)]


class MultiWorkerTest(tf.test.TestCase):

  @pytest.mark.slow
  def test_two_workers_agree_and_only_the_chief_writes(self):
    tmp = self.create_tempdir().full_path
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), n_train=32)
    run = os.path.join(tmp, 'run')
    # Worker 1 is sent SIGTERM in its first step: both workers agree to stop
    # after it, the chief saves that step, and both end with status 0.
    outputs, weights = _run_workers(tmp, data, run, steps=4, sigterm_worker=1)
    self.assertEqual([int(w['step']) for w in weights], [1, 1])
    train_dir = os.path.join(run, 'train')
    self.assertEqual(
        [out.splitlines()[-1] for out, _ in outputs],
        ['stopped: a stop request on another worker', 'stopped: SIGTERM'])
    for _, err in outputs:
      self.assertIn('stopped at step 1 on', err)
    for name in weights[0].files:
      self.assertAllClose(weights[0][name], weights[1][name], atol=1e-6)
    files = sorted(os.listdir(train_dir))
    self.assertIn('model.ckpt-1.index', files)
    self.assertFalse([f for f in files if f.startswith('workertemp')], files)
    self.assertLen([f for f in files if f.startswith('events.out')], 1)
    for out, _ in outputs:
      self.assertStartsWith(out, 'total_params: 8215728')

    # Both workers resume from the chief's checkpoint and stay in step.
    outputs, weights = _run_workers(tmp, data, run, steps=4)
    for _, log in outputs:  # absl.logging's progress lines.
      self.assertIn('resumed from %s' % os.path.join(train_dir,
                                                     'model.ckpt-1'), log)
    self.assertEqual([int(w['step']) for w in weights], [4, 4])
    for name in weights[0].files:
      self.assertAllClose(weights[0][name], weights[1][name], atol=1e-6)
    self.assertEqual(tf.train.latest_checkpoint(train_dir),
                     os.path.join(train_dir, 'model.ckpt-4'))

    # The resumed workers continued their streams: they end with the
    # weights of two workers that never stopped, to the bit.
    _, whole = _run_workers(tmp, data, os.path.join(tmp, 'whole'), steps=4)
    for name in weights[0].files:
      self.assertAllEqual(weights[0][name], whole[0][name], msg=name)


if __name__ == '__main__':
  tf.test.main()
