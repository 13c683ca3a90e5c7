r"""Trains or evaluates the capsule / baseline model (the original CLI).

This file is intentionally kept short: flags, validation, mode dispatch. The
work is in train_eval.py.

Modes:
  --train (default)                 train, resuming from summary_dir/train
  --train=false                     validation job: evaluate each new
                                    checkpoint of summary_dir/train
  --train=false --checkpoint=P      evaluate one checkpoint (native or TF1)
  --num_trials=K --checkpoint=P{}   ensemble: summed class scores of
                                    P.format(0..K-1)

Hparams are resolved in this order, later winning: the defaults of --model
(REFERENCE section 2; the baseline uses the softmax loss), then each
key=value of --hparams_override from left to right.

Example (train on MNIST, shifted on the fly from the shipped IDX files):
  python experiment.py --data_dir=data/mnist --data_source=idx \
    --summary_dir=/tmp/caps --max_steps=300
"""

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string('data_dir', None, 'Data directory; for MultiMNIST a shard '
                    'pattern PREFIX@N.')
flags.DEFINE_integer('eval_size', 10000, 'Examples evaluated (all of them, '
                     'in batches of 100, the last one partial).')
flags.DEFINE_string('hparams_override', None, 'key=value,key=value over the '
                    'model defaults, applied left to right.')
flags.DEFINE_integer('max_steps', 1000, 'Training steps (global batch 128). '
                     'The validation job stops after the checkpoint at or '
                     'past it only when this flag is given; otherwise, as '
                     'the original, after --eval_timeout_secs without a new '
                     'checkpoint.')
flags.DEFINE_string('model', 'capsule', 'capsule or baseline.')
flags.DEFINE_string('dataset', 'mnist', 'mnist, fashion_mnist, norb, cifar10 '
                    'or affnist (train: MNIST IDX files placed in 40x40; '
                    'test: the affNIST .mat files).')
flags.DEFINE_integer('num_gpus', 1, 'Data-parallel replicas.')
flags.DEFINE_integer('num_targets', 1, '1, or 2 for MultiMNIST.')
flags.DEFINE_integer('num_trials', 1, 'Checkpoints in an ensemble evaluation.')
flags.DEFINE_integer('save_step', 1500, 'Checkpoint every N steps.')
flags.DEFINE_string('summary_dir', None, 'Experiment directory: train/ and '
                    'test/ summaries, checkpoints in train/.')
flags.DEFINE_string('checkpoint', None, 'Checkpoint to evaluate, or a '
                    'pattern with {} for --num_trials > 1.')
flags.DEFINE_boolean('train', True, 'Train, or evaluate.')
flags.DEFINE_boolean('validate', False, 'Train on valid_train, evaluate on '
                     'valid_test (files written by mnist_shift.py).')
# Added by this project.
flags.DEFINE_enum('data_source', 'records', ['records', 'idx'], 'records: '
                  'the generator\'s TFRecords; idx: the MNIST IDX files in '
                  'data_dir, training shifts drawn on the fly.')
flags.DEFINE_integer('seed', 0, 'Seed of initialisation and data order.')
flags.DEFINE_integer('eval_timeout_secs', 6 * 3600, 'Validation job: stop '
                     'after this long without a new checkpoint.')
flags.DEFINE_integer('eval_poll_secs', 60, 'Validation job: seconds between '
                     'looks for a new checkpoint.')
flags.DEFINE_integer('cpu_threads', 0, 'Threads per op pool on the CPU (0: '
                     'TensorFlow decides; the validation job defaults to 1 so '
                     'it does not starve a trainer on the same CPU).')
flags.DEFINE_integer('keep_checkpoints', 1000, 'Training keeps the newest N '
                     'checkpoints (the original kept 1000: the validation '
                     'job and ensembles of one run need its history).')
flags.DEFINE_float('log_every_secs', 10.0, 'Seconds between training logs.')
flags.DEFINE_string('export_weights', None, 'With --checkpoint: also write '
                    'the model weights alone (no optimiser state) to this '
                    'prefix, e.g. checkpoints/mnist/model.ckpt-8000.')
flags.DEFINE_boolean('xla', False, 'XLA-compile the forward and backward '
                     'pass (same results within float noise).')
flags.DEFINE_enum('mixed_precision', 'none', ['none', 'bfloat16', 'float16'],
                  'Run the convolutions in this dtype; routing, losses and '
                  'weights stay float32. float16 trains with dynamic loss '
                  'scaling (its gradients underflow otherwise).')
flags.DEFINE_integer('steps_per_loop', 1, 'Training steps per compiled call: '
                     'fewer host round trips, for GPUs whose step takes '
                     'milliseconds (e.g. 50); same results, and logs and '
                     'checkpoints land on the same steps.')
flags.DEFINE_boolean('skip_nonfinite', False, 'Skip batches whose loss or '
                     'gradients are not finite, instead of stopping (they '
                     'never change the weights either way).')


def _fail(message):
  sys.exit('experiment.py: %s' % message)


def _trial_checkpoints(pattern, num_trials):
  """The checkpoints of --checkpoint: pattern.format(i) for each trial, as
  the original (so {}, {0} and {:d} all work), or the path itself."""
  if num_trials == 1:
    return [pattern]
  if not pattern:
    _fail('--num_trials=%d needs --checkpoint, a pattern of the trial '
          'number such as /tmp/model{}/model.ckpt-N' % num_trials)
  try:
    paths = [pattern.format(i) for i in range(num_trials)]
  except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
    _fail('--checkpoint=%s is not a str.format pattern of the trial number '
          '(%s: %s)' % (pattern, type(e).__name__, e))
  if paths[0] == paths[1]:
    _fail('--num_trials=%d needs --checkpoint with a pattern that changes '
          'with the trial number, e.g. /tmp/model{}/model.ckpt-N; got %s' %
          (num_trials, pattern))
  return paths


def _configure_devices(evaluating_continuously):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for gpu in tf.config.list_physical_devices('GPU'):
    # A validation job shares the machine: take GPU memory as needed.
    tf.config.experimental.set_memory_growth(gpu, True)
  threads = FLAGS.cpu_threads or (1 if evaluating_continuously else 0)
  if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv):
  del argv
  # Everything that needs no data is checked before TensorFlow is imported:
  # a mistyped flag costs no start-up and prints one line.
  # pylint: disable=g-import-not-at-top
  from models import hparams as hparams_lib
  if not FLAGS.data_dir:
    _fail('--data_dir is required')
  if FLAGS.eval_size <= 0:
    _fail('--eval_size must be > 0, got %d' % FLAGS.eval_size)
  if FLAGS.max_steps < 0 or FLAGS.save_step <= 0:
    _fail('--max_steps must be >= 0 and --save_step > 0')
  if FLAGS.steps_per_loop < 1:
    _fail('--steps_per_loop must be >= 1, got %d' % FLAGS.steps_per_loop)
  if FLAGS.keep_checkpoints < 1:
    _fail('--keep_checkpoints must be >= 1, got %d' % FLAGS.keep_checkpoints)
  if FLAGS.num_trials < 1:
    _fail('--num_trials must be >= 1, got %d' % FLAGS.num_trials)
  paths = _trial_checkpoints(FLAGS.checkpoint, FLAGS.num_trials)
  if (FLAGS.train or not FLAGS.checkpoint) and not FLAGS.summary_dir:
    _fail('--summary_dir is required to train or to run the validation job')
  try:
    hparams = hparams_lib.default_hparams(FLAGS.model).parse(
        FLAGS.hparams_override or '')
  except ValueError as e:
    _fail(str(e))
  continuous = not FLAGS.train and not FLAGS.checkpoint
  speed = dict(jit_compile=FLAGS.xla, conv_dtype=(
      None if FLAGS.mixed_precision == 'none' else FLAGS.mixed_precision))
  _configure_devices(continuous)
  import train_eval
  # pylint: enable=g-import-not-at-top
  try:
    # First: a multi-worker strategy must exist before any other TF op.
    strategy = train_eval.make_strategy(FLAGS.num_gpus) if FLAGS.train else None
    source = train_eval.get_source(
        FLAGS.dataset, FLAGS.data_dir, 'train' if FLAGS.train else 'test',
        FLAGS.num_targets, FLAGS.validate, FLAGS.data_source)
    if FLAGS.train:
      train_eval.train(FLAGS.model, hparams, source, FLAGS.summary_dir,
                       FLAGS.max_steps, FLAGS.save_step, strategy,
                       seed=FLAGS.seed, log_every_secs=FLAGS.log_every_secs,
                       skip_nonfinite=FLAGS.skip_nonfinite,
                       steps_per_loop=FLAGS.steps_per_loop,
                       keep_checkpoints=FLAGS.keep_checkpoints, **speed)
      return 0
    if FLAGS.checkpoint:
      train_eval.evaluate_checkpoints(FLAGS.model, hparams, source, paths,
                                      FLAGS.eval_size, FLAGS.summary_dir,
                                      FLAGS.export_weights, **speed)
      return 0
    if continuous:
      train_eval.evaluate_continuously(
          FLAGS.model, hparams, source, FLAGS.summary_dir, FLAGS.eval_size,
          stop_at_step=FLAGS.max_steps if FLAGS['max_steps'].present else None,
          timeout_secs=FLAGS.eval_timeout_secs,
          poll_secs=FLAGS.eval_poll_secs, **speed)
      return 0
  except (ValueError, OSError) as e:  # ExperimentError, DataError, ...
    _fail(str(e))
  raise AssertionError('unreachable: no mode matched the flags')


if __name__ == '__main__':
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  app.run(main)
