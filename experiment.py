r"""Trains or evaluates the capsule / baseline model (the original CLI).

This file is intentionally kept short: flags, the one run configuration built
from them (runner/config.py), mode dispatch. The work is in runner/:
training.py, evaluation.py (the validation job too), checkpoints.py,
distribution.py, registry.py.

Modes:
  --train (default)                 train, resuming from summary_dir/train
  --train=false                     validation job: evaluate each new
                                    checkpoint of summary_dir/train
  --train=false --checkpoint=P      evaluate one checkpoint (native or TF1)
  --num_trials=K --checkpoint=P{}   ensemble: summed class scores of
                                    P.format(0..K-1)

Hparams are resolved in this order, later winning: the original's defaults
(one set for both models: the baseline too trains with the margin loss),
then each key=value of --hparams_override from left to right.

Example (train on MNIST, shifted on the fly from the shipped IDX files):
  python experiment.py --data_dir=data/mnist --data_source=idx \
    --summary_dir=/tmp/caps --max_steps=300
"""

import dataclasses
import sys

from absl import app
from absl import flags

from runner import command_line

FLAGS = flags.FLAGS


def define_flags():
  """The original's flags (their names and defaults) and ours."""
  command_line.define('data_dir', 'hparams_override', 'model', 'dataset',
                      'num_targets')
  flags.DEFINE_integer('eval_size', 10000, 'Examples evaluated (all of them, '
                       'in batches of 100, the last one partial); own images '
                       '(folder, tfds:NAME): the whole test split unless '
                       'given.')
  flags.DEFINE_integer('max_steps', 1000, 'Training steps (global batch 128). '
                       'The validation job stops after the checkpoint at or '
                       'past it only when this flag is given; otherwise, as '
                       'the original, after --eval_timeout_secs without a new '
                       'checkpoint.')
  flags.DEFINE_integer('num_gpus', 1, 'Data-parallel replicas.')
  flags.DEFINE_integer('num_trials', 1, 'Checkpoints in an ensemble '
                       'evaluation.')
  flags.DEFINE_integer('save_step', 1500, 'Checkpoint every N steps.')
  flags.DEFINE_string('summary_dir', None, 'Experiment directory: train/ and '
                      'test/ summaries, checkpoints in train/.')
  flags.DEFINE_string('checkpoint', None, 'Checkpoint to evaluate, or a '
                      'pattern with {} for --num_trials > 1.')
  flags.DEFINE_boolean('train', True, 'Train, or evaluate.')
  flags.DEFINE_boolean('validate', False, 'Train on valid_train, evaluate on '
                       'valid_test (files written by mnist_shift.py); an '
                       'ensemble (--num_trials > 1) scores the test split, as '
                       'the original.')
  # Added by this project.
  command_line.define('data_source', 'xla', 'mixed_precision',
                      'steps_per_loop', 'deterministic',
                      *command_line.OWN_DATA)
  flags.DEFINE_integer('seed', 0, 'Seed of initialisation and data order.')
  flags.DEFINE_integer('eval_timeout_secs', 6 * 3600, 'Validation job: stop '
                       'after this long without a new checkpoint.')
  flags.DEFINE_integer('eval_poll_secs', 60, 'Validation job: at least this '
                       'many seconds between the starts of two evaluations '
                       '(it looks for a new checkpoint every second).')
  flags.DEFINE_integer('cpu_threads', 0, 'Threads per op pool on the CPU (0: '
                       'TensorFlow decides; the validation job defaults to 1 '
                       'so it does not starve a trainer on the same CPU).')
  flags.DEFINE_integer('keep_checkpoints', 1000, 'Training keeps the newest N '
                       'checkpoints (the original kept 1000: the validation '
                       'job and ensembles of one run need its history).')
  flags.DEFINE_float('log_every_secs', 10.0, 'Seconds between training logs.')
  flags.DEFINE_float('max_train_secs', 0.0, 'Stop training after this many '
                     'seconds, at a step saved as on SIGTERM (a job '
                     'scheduler\'s time limit); the same command resumes. '
                     '0: no limit.')
  flags.DEFINE_string('export_weights', None, 'With --checkpoint: also write '
                      'the model weights alone (no optimiser state) to this '
                      'prefix, e.g. checkpoints/mnist/model.ckpt-8000.')
  flags.DEFINE_string('export_saved_model', None, 'With --checkpoint: also '
                      'write the model as a SavedModel to this directory '
                      '(serving signature: uint8 images [N, H, W, C] -> '
                      'scores, classes, capsules, reconstructions; see runner/'
                      'export.py).')
  flags.DEFINE_float('max_memory_gb', 0.0, 'Training refuses, before it '
                     'builds the model, a step estimated to need more (0: '
                     'the machine\'s memory; on a GPU, no check).')
  flags.DEFINE_boolean('skip_nonfinite', False, 'Skip batches whose loss or '
                       'gradients are not finite, instead of stopping (they '
                       'never change the weights either way).')


def _fail(message):
  sys.exit('experiment.py: %s' % message)


def run_config():
  """The one RunConfig of this run (nothing else reads the flags): each
  field from the flag of its name, but for those built here; ExperimentError
  or HParamsError (ValueErrors) for bad values."""
  # pylint: disable=g-import-not-at-top
  from models import hparams as hparams_lib
  from runner import config as config_lib
  # pylint: enable=g-import-not-at-top
  fields = {f.name for f in dataclasses.fields(config_lib.RunConfig)}
  values = {name: FLAGS[name].value for name in fields if name in FLAGS}
  values.update(
      hparams=hparams_lib.default_hparams(FLAGS.model).parse(
          FLAGS.hparams_override or ''),
      eval_size=_eval_size(),
      # The original's validation job ran until its idle timeout.
      eval_stop_at_step=(FLAGS.max_steps if FLAGS['max_steps'].present
                         else None),
      **command_line.own_data_config(FLAGS))  # ~ expanded.
  return config_lib.RunConfig(**values)


def _eval_size():
  """--eval_size; for data whose size is its own (one's own images), their
  whole test split unless the flag is given."""
  from input_data import datasets  # pylint: disable=g-import-not-at-top
  spec = datasets.lookup(FLAGS.dataset)
  if FLAGS['eval_size'].present or not spec or spec.shape:
    return FLAGS.eval_size
  return None


def _run_record():
  """The command line and its flags (absl's --flagfile lines of this
  script's own flags), for the run record (runner/run_record.py)."""
  own = FLAGS.get_flags_for_module(sys.argv[0])
  return dict(command=sys.argv, flag_lines=[
      flag.serialize() for flag in sorted(own, key=lambda f: f.name)
      if flag.value is not None])


def _configure_devices(config):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for gpu in tf.config.list_physical_devices('GPU'):
    # A validation job shares the machine: take GPU memory as needed.
    tf.config.experimental.set_memory_growth(gpu, True)
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
    # Random ops then need a global seed: evaluation builds its model (then
    # restores it) before anything else sets one.
    tf.random.set_seed(config.seed)
  validation_job = not config.train and not config.checkpoint
  threads = config.cpu_threads or (1 if validation_job else 0)
  if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv):
  del argv
  # Everything that needs no data is checked before TensorFlow starts: a
  # mistyped flag costs no start-up and prints one line.
  try:
    config = run_config()
    # pylint: disable=g-import-not-at-top
    from runner import config as config_lib
    paths = config_lib.trial_checkpoints(config.checkpoint, config.num_trials)
    config.check_mode()
    from common import quiet
    quiet.import_tensorflow()  # Before anything else imports TensorFlow.
    from runner import evaluation
    _configure_devices(config)
    from runner import distribution
    from runner import registry
    from runner import stop_signals
    from runner import training
    # pylint: enable=g-import-not-at-top
    if config.train:
      # First: a multi-worker strategy must exist before any other TF op.
      strategy = distribution.make_strategy(config.num_gpus)
      result = training.train(config, registry.get_source(config, 'train'),
                              strategy, record=_run_record())
      # Stopped on SIGTERM or --max_train_secs: 0; on Ctrl-C: 130.
      return stop_signals.EXIT_STATUS.get(result.stopped, 0)
    source = registry.get_source(config, 'test')
    # SIGTERM or Ctrl-C: the evaluation in flight finishes and is recorded.
    stop = stop_signals.StopRequest()
    if config.checkpoint:
      evaluation.evaluate_to_the_end(config, source, paths, stop)
    else:
      evaluation.evaluate_continuously(config, source, stop)
    return stop.exit_status()
  except (ValueError, OSError) as e:  # ExperimentError, DataError, ...
    _fail(str(e))
  raise AssertionError('unreachable: no mode matched the flags')


if __name__ == '__main__':
  define_flags()
  app.run(main)
