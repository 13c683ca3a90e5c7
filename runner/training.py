"""The training loop: a compiled step (or several) and the Python loop that
logs, writes summaries and checkpoints, and resumes.

`train(config, source, strategy)` trains config.model on source's training
split to config.max_steps, resuming from the newest checkpoint in
config.summary_dir/train (native, or the authors' TF1 one).
"""

import collections
import contextlib
import os
import sys
import time

from absl import logging
import tensorflow as tf

from input_data import source as source_lib
from models import loss_scale as loss_scale_lib
from models import optimizer as optimizer_lib
from models import steps as steps_lib
from runner import checkpoints
from runner import config as config_lib
from runner import distribution
from runner import errors
from runner import registry
from runner import run_lock
from runner import run_record
from runner import stop_signals
from runner import summaries
from runner.errors import damaged_data
from runner.errors import ExperimentError

VERBOSE_EXAMPLES = 100  # Examples whose activations verbose histograms show.
# stopped: what stopped the run before max_steps (stop_signals.StopRequest's
# reason), or None.
TrainResult = collections.namedtuple('TrainResult', ('step', 'model',
                                                     'stopped'),
                                     defaults=(None,))


def train(config, source, strategy=None, record=None):
  """Trains to config.max_steps, resuming from summary_dir/train.

  The speed options (config.xla, mixed_precision: 'bfloat16', or 'float16'
  with dynamic loss scaling; steps_per_loop: steps per compiled call, for
  accelerators whose step takes milliseconds) change nothing that is
  computed, and logs and checkpoints land on the same steps. The newest
  config.keep_checkpoints checkpoints are kept.
  A step whose loss or gradients are not finite never changes the weights.
  By default training then stops before the next checkpoint, naming the
  steps; with config.skip_nonfinite such batches are skipped and counted.
  Damage in the data met on the way (a record cut short, a label out of
  range) stops training with one line naming the data, after the newest
  complete checkpoint.

  One trainer at a time: a second one on the same summary_dir/train stops
  with one line naming the first (run_lock.py).

  A resumed run must have the saved model and objective
  (`config.check_resume`, checked before any checkpoint is read); the run
  configuration is saved as summary_dir/train/config.json.

  With a multi-worker strategy every worker runs this; all resume from the
  chief's newest checkpoint, and only the chief keeps checkpoints and writes
  summaries (the others save to a scratch directory they delete, as
  MultiWorkerMirroredStrategy requires every worker to save).

  Each start is recorded in summary_dir/train/run.json (versions, revision,
  devices, command line) and, given record's flag_lines, the command's flags
  in flags.txt, which `--flagfile` replays (runner/run_record.py).

  Args:
    config: a RunConfig.
    source: the training data (input_data.source.DataSource).
    strategy: a tf.distribute strategy; default the default one.
    record: {'command': argv, 'flag_lines': ['--flag=value', ...]} of the
      command that started the run (experiment.py's); default sys.argv.

  Returns:
    TrainResult(step, model): the final global step and the trained model.
  """
  strategy = strategy or tf.distribute.get_strategy()
  config = config_lib.with_data(config, source)  # Saved, checked on resume.
  config.require('summary_dir')
  train_dir = os.path.join(config.summary_dir, 'train')
  chief = distribution.writes_checkpoints(strategy)
  # One trainer per run directory: the chief holds its lock from before
  # anything is read there until it ends (run_lock.py).
  # SIGTERM, Ctrl-C and --max_train_secs stop at a step, saved. With
  # several workers, all stop at the step where any one asked (_stop_due).
  stop = stop_signals.StopRequest(config.max_train_secs)
  with (run_lock.hold(train_dir) if chief else contextlib.nullcontext()), (
      stop.installed()):
    return _train(config, source, strategy, train_dir, chief, record, stop)


def emulated_bfloat16(mixed_precision, cpu, gpus):
  """One line when bfloat16 convolutions train on a CPU (no GPU) without
  AVX512-BF16 or AMX, where they are emulated; else None. cpu: run_record's
  {'model', 'features'} (no 'features': unknown, no warning)."""
  if mixed_precision != 'bfloat16' or gpus or 'features' not in cpu:
    return None
  if {'avx512_bf16', 'amx_bf16'} & set(cpu['features']):
    return None
  return ('--mixed_precision=bfloat16: this CPU (%s) has no AVX512-BF16 or '
          'AMX: its bfloat16 convolutions are emulated, about 10x slower '
          'than float32 (docs/performance.md)' % cpu['model'])


def _train(config, source, strategy, train_dir, chief, record, stop):
  """train() once the run directory is this process's."""
  changed = config_lib.check_resume(config, train_dir)
  slow = emulated_bfloat16(config.mixed_precision, run_record.cpu_features(),
                           tf.config.list_logical_devices('GPU'))
  if slow:
    logging.warning(slow)
  save_dir = train_dir if chief else os.path.join(
      train_dir, 'workertemp_%d' % distribution.task_id(strategy))
  os.makedirs(save_dir, exist_ok=True)
  registry.check_memory(config, source.info, config.batch_size,
                        on_gpu=bool(tf.config.list_logical_devices('GPU')))
  with strategy.scope():
    tf.random.set_seed(config.seed)
    model = registry.build_model(config.model, config.hparams, source.info,
                                 config.conv_dtype)
    optimizer = optimizer_lib.Adam(model.trainable_variables,
                                   compiled=model.cpu_kernels)
    # float16 gradients underflow without it; bfloat16's do not.
    loss_scale = loss_scale_lib.loss_scale_for(config.conv_dtype)
  print('total_params: %d' % model.num_params(), flush=True)
  state = dict(model=model, optimizer=optimizer)
  if loss_scale is not None:
    state['loss_scale'] = loss_scale
  manager = tf.train.CheckpointManager(
      tf.train.Checkpoint(**state), save_dir,
      max_to_keep=config.keep_checkpoints, checkpoint_name=checkpoints.PREFIX)
  latest = checkpoints.newest(train_dir)  # The chief's.
  if latest:
    try:
      checkpoints.resume(latest, state)
    except checkpoints.DamagedCheckpoint as e:
      raise ExperimentError(_damaged_resume(e, train_dir)) from e
  step = int(optimizer.step.numpy())
  writes_summaries = distribution.writes_summaries(strategy)
  if writes_summaries:
    config_lib.save(config, train_dir, step, changed)
    run_record.record_start(train_dir, step, **(record or {}))
  if step >= config.max_steps:
    logging.info('step %d >= max_steps %d: nothing to train', step,
                 config.max_steps)
    return TrainResult(step, model)

  # Each input pipeline gave global batch / pipelines examples a step: a
  # resumed run asks for the stream from there (DataSource.train_dataset).
  try:  # Finding a resumed stream's place may read damaged data already.
    dataset = strategy.distribute_datasets_from_function(
        lambda ctx: source.train_dataset(
            ctx.get_per_replica_batch_size(config.batch_size), config.seed,
            ctx, start=step * (config.batch_size // ctx.num_input_pipelines)))
    iterator = iter(dataset)
  except damaged_data() as e:
    raise ExperimentError(_damage(e, source, step, manager)) from e
  train_steps = steps_lib.make_train_loop(
      model, optimizer, strategy, config.batch_size, config.xla, loss_scale)
  writer = (tf.summary.create_file_writer(train_dir) if writes_summaries
            else tf.summary.create_noop_writer())
  # hparams.verbose: the original's variable and activation histograms, the
  # activations those of the training split's first examples.
  verbose_probe = (source_lib.first_examples(source, VERBOSE_EXAMPLES)
                   if config.hparams.verbose and chief else None)
  any_worker = distribution.any_worker(strategy)
  start_step, start_time = step, time.time()
  last_log, logged_step, window = start_time, step, None
  while step < config.max_steps:
    # Up to steps_per_loop steps a call, never past a checkpoint or the end.
    steps = min(config.steps_per_loop, config.max_steps - step,
                config.save_step - step % config.save_step)
    try:
      sums = train_steps(iterator, tf.constant(steps))
    except damaged_data() + (tf.errors.OutOfRangeError,) as e:
      raise ExperimentError(_damage(e, source, step, manager)) from e
    step += steps
    window = sums if window is None else {k: window[k] + sums[k]
                                          for k in sums}
    now = time.time()
    # A stop request (SIGTERM, Ctrl-C, --max_train_secs) seen after the
    # step: logged and saved at this step, then the run ends.
    stopping = step < config.max_steps and _stop_due(stop, any_worker)
    saving = (step % config.save_step == 0 or step == config.max_steps or
              stopping)
    if now - last_log >= config.log_every_secs or saving:
      _check_finite(window, logged_step, step, config.skip_nonfinite,
                    manager)
      _write_train_log(writer, window, step, config, start_step,
                       now - start_time)
      if verbose_probe is not None:
        _write_verbose_summaries(writer, step, model, verbose_probe)
      window, last_log, logged_step = None, now, step
    if saving:
      checkpoints.save(manager, step)
      if not chief:
        tf.io.gfile.rmtree(save_dir)
      elif model.reconstruction is not None:
        summaries.write_reconstructions(
            writer, step, model, source.info,
            source_lib.first_examples(source, summaries.RECONSTRUCTION_IMAGES))
    # A request that came while the checkpoint was written: it holds this
    # step, so the run ends here rather than a step later.
    stopping = stopping or (saving and step < config.max_steps and
                            _stop_due(stop, any_worker))
    if stopping:
      print('stopped at step %d on %s; checkpoint %s; the same command '
            'resumes' % (step, stop.reason, manager.latest_checkpoint),
            file=sys.stderr, flush=True)
      return TrainResult(step, model, stop.reason)
  return TrainResult(step, model)


def _stop_due(stop, any_worker):
  """Whether the run stops at this step: asked here, or on another worker
  (all workers call this at the same steps, and agree)."""
  # The agreed answer, never a request that came after the vote: every
  # worker must return the same.
  agreed = any_worker(stop.due())
  if agreed and stop.reason is None:
    stop.reason = 'a stop request on another worker'
  return agreed


def _damaged_resume(error, train_dir):
  """The one line when the checkpoint to resume from is damaged."""
  intact = checkpoints.newest_intact(train_dir, checkpoints.step_of(error.path))
  if intact:
    return ('%s; the newest intact one is %s: delete the damaged one '
            '(rm %s.*) and run the same command to resume from there' % (
                error, intact, error.path))
  return ('%s, and no earlier checkpoint of %s reads back whole: give a new '
          '--summary_dir to start afresh' % (error, train_dir))


def _damage(error, source, step, manager):
  """The one line for damaged data met while training."""
  return ('damaged training data in %s: %s; stopped at step %d, the newest '
          'checkpoint is %s' % (source.describe, errors.where_damaged(
              error, source), step, manager.latest_checkpoint or 'none'))


def _check_finite(window, logged_step, step, skip_nonfinite, manager):
  """Stops (or, with skip_nonfinite, logs) non-finite steps in the window."""
  bad = int(window['nonfinite_steps'])
  if bad and not skip_nonfinite:
    raise ExperimentError(
        'non-finite loss or gradients in %d step(s) between steps %d and '
        '%d; they changed no weight and nothing was saved after them: '
        'the newest checkpoint is %s (--skip_nonfinite=true skips such '
        'batches)' % (bad, logged_step + 1, step,
                      manager.latest_checkpoint or 'none'))
  if bad:
    logging.warning('skipped %d step(s) with non-finite loss or gradients '
                    'between steps %d and %d', bad, logged_step + 1, step)


def _write_train_log(writer, window, step, config, start_step, elapsed):
  """Summaries and one log line from the summed metrics since the last one."""
  batch_size = config.batch_size
  window = {k: float(v) for k, v in window.items()}
  # Skipped (non-finite) steps contribute no examples and no sums.
  examples = max(window['examples'], 1.0)
  steps_in_window = (window['examples'] / batch_size +
                     window['nonfinite_steps'] +
                     window.get('loss_scale_skips', 0.0))
  applied_steps = max(window['examples'] / batch_size, 1.0)
  scalars = {
      'total_loss': window['total_loss'] / examples,
      'batch_classification_cost':
          window['batch_classification_cost'] / examples,
      'reconstruction_error': window['reconstruction_error'] / examples,
      'accuracy': window['correct'] / examples,
      # The original's per-batch counts, averaged over the window's steps.
      'correct_prediction_batch': window['correct'] / applied_steps,
      'almost_correct_batch': window['almost_correct'] / applied_steps,
      'learning_rate': window['learning_rate'] / steps_in_window,
      'nonfinite_steps': window['nonfinite_steps'],
  }
  if 'loss_scale' in window:  # float16: the mean scale, and overflow skips.
    scalars['loss_scale'] = window['loss_scale'] / steps_in_window
    scalars['loss_scale_skips'] = window['loss_scale_skips']
  rate = (step - start_step) * batch_size / max(elapsed, 1e-9)
  scalars['examples_per_sec'] = rate
  summaries.write_scalars(writer, step, scalars)
  left = (config.max_steps - step) * batch_size / max(rate, 1e-9)
  logging.info('step %d: loss %.4f, accuracy %.4f, %.1f examples/s, %s left',
               step, scalars['total_loss'], scalars['accuracy'], rate,
               time.strftime('%H:%M:%S', time.gmtime(left)))


def _write_verbose_summaries(writer, step, model, features):
  """hparams.verbose: per variable (by TF1 name) mean, stddev, max, min and
  a histogram; `<layer>/activation` histograms of the ReLU convolutions."""
  summaries.write_variable_summaries(writer, step, model.tf1_variables())
  summaries.write_histograms(writer, step, {
      scope + '/activation': value
      for scope, value in model.activations(features).items()})
