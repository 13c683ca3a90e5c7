"""Evaluation: one checkpoint, an ensemble, and the validation job.

evaluate_checkpoints:  one checkpoint, or the summed class scores of several
                       (the original's ensemble evaluation).
evaluate_to_the_end:   the same, as a mode of its own: a stop signal lets it
                       finish and record its result first.
evaluate_continuously: the validation job: evaluates each new checkpoint of
                       a training directory as it appears.
"""

import json
import os
import time

from absl import logging
import numpy as np
import tensorflow as tf

from common import files
from input_data import errors
from models import steps as steps_lib
from models.layers import metrics
from runner import checkpoints
from runner import config as config_lib
from runner import export
from runner import registry
from runner import run_record
from runner import stop_signals
from runner import summaries
from runner.errors import damaged_data
from runner.errors import ExperimentError
from runner.errors import where_damaged

EVAL_BATCH = 100  # The original's evaluation batch.


def evaluate_checkpoints(config, source, paths=None):
  """Evaluates one checkpoint, or the sum of the class scores of several.

  Args:
    config: a RunConfig: model, hparams, eval_size, the speed options; with
      summary_dir (one checkpoint) the test summaries go to summary_dir/test;
      with export_weights (one checkpoint) the model's weights alone (no
      optimiser state: a third of the size) are written to that prefix.
    source: the evaluation data (input_data.source.DataSource).
    paths: the checkpoints; default those config.checkpoint and
      config.num_trials name.

  Its numbers are also appended as a JSON line to results_path(...).

  Returns:
    (wrong, eval_size): wrong predictions on the first eval_size examples.
  """
  paths = paths or config_lib.trial_checkpoints(config.checkpoint,
                                                config.num_trials)
  eval_size = config.eval_size or source.num_examples
  code = run_record.code_version()  # The tree as the evaluation starts.
  if (config.export_weights or config.export_saved_model) and len(paths) != 1:
    raise ExperimentError('--export_weights and --export_saved_model need a '
                          'single --checkpoint')
  config = config_lib.with_data(config, source)
  for path in paths:
    if not tf.io.gfile.exists(path + '.index'):
      raise ExperimentError('--checkpoint: %s does not exist (no %s.index)' %
                            (path, path))
    config_lib.check_class_names(config, path)
  try:
    dataset = source.eval_dataset(EVAL_BATCH, eval_size)
  except errors.DataError as e:
    raise ExperimentError(str(e)) from e
  model = registry.build_model(config.model, config.hparams, source.info,
                               config.conv_dtype)
  # One compiled step for every trial: restoring only reassigns variables.
  eval_step = steps_lib.make_eval_step(model, tf.distribute.get_strategy(),
                                       config.xla)
  summed, labels, totals = None, None, None
  start = time.time()
  for path in paths:
    checkpoints.restore_model(model, path)
    logging.info('evaluating %s on %d examples', path, eval_size)
    if config.export_weights:
      logging.info('wrote %s', checkpoints.export_weights(
          model, config.export_weights))
    if config.export_saved_model:
      print('wrote %s' % export.export_saved_model(
          model, config.export_saved_model, config.class_names), flush=True)
    logits, labels, totals = _evaluate_logits(eval_step, dataset, source)
    # Only the running sum is kept: memory does not grow with the trials.
    summed = logits if summed is None else summed + logits
  # Every source checks eval_size when the pipeline is made; this catches
  # data that shrank since (a test set rewritten under the validation job).
  if labels.shape[0] != eval_size:
    raise ExperimentError(str(errors.too_few_examples(
        eval_size, source.describe, labels.shape[0])))
  correct, almost = metrics.correct_counts(tf.constant(summed),
                                          tf.constant(labels),
                                          source.info.num_targets)
  correct = int(tf.reduce_sum(tf.cast(correct, tf.int32)))
  almost = int(tf.reduce_sum(tf.cast(almost, tf.int32)))
  wrong = eval_size - correct
  print('Total wrong predictions: %d, wrong percent: %.2f%%' %
        (wrong, 100.0 * wrong / eval_size), flush=True)
  if source.info.num_targets == 2:  # The original's second MultiMNIST count.
    print('Almost wrong predictions (neither digit found): %d, percent: '
          '%.2f%%' % (eval_size - almost, 100.0 * (eval_size - almost) /
                      eval_size), flush=True)
  seconds = time.time() - start
  write_result(results_path(config, paths), {
      'checkpoints': paths, 'step': checkpoints.step_of(paths[0]),
      'model': config.model, 'dataset': config.dataset,
      'data': source.describe, 'examples': eval_size, 'wrong': wrong,
      'wrong_percent': round(100.0 * wrong / eval_size, 4),
      'almost_wrong': (eval_size - almost if source.info.num_targets == 2
                       else None),
      'seconds': round(seconds, 3),
      'examples_per_sec': round(eval_size * len(paths) / seconds, 1),
      **code})
  if config.summary_dir and len(paths) == 1:
    writer = tf.summary.create_file_writer(
        os.path.join(config.summary_dir, 'test'))
    step = checkpoints.step_of(paths[0])
    _write_eval_summaries(writer, step, totals, correct, almost, eval_size)
    summaries.write_reconstructions(writer, step, model, source.info,
                                    next(iter(dataset)))
  return wrong, eval_size


def evaluate_to_the_end(config, source, paths, stop):
  """The single-checkpoint and ensemble modes: evaluate_checkpoints, with
  SIGTERM and a first Ctrl-C held until its result is recorded (a score of
  part of the test set would be a wrong result, and the whole of it is
  seconds to minutes away); then one line says what arrived. A second
  Ctrl-C stops at once.

  Args:
    config, source, paths: as evaluate_checkpoints.
    stop: a stop_signals.StopRequest; its reason is the signal that came,
      if one did (the caller's exit status).

  Returns:
    (wrong, eval_size), as evaluate_checkpoints.
  """
  with stop.installed():
    result = evaluate_checkpoints(config, source, paths)
    if stop.due():
      print('stopped on %s after the evaluation in flight; its result is in '
            '%s' % (stop.reason, results_path(config, paths)), flush=True)
  return result


RESULTS_FILE = 'results.jsonl'


def results_path(config, paths):
  """Where an evaluation's result goes: summary_dir/test/results.jsonl;
  without --summary_dir, RUN/test/results.jsonl for a checkpoint of
  RUN/train, else CHECKPOINT.results.jsonl beside the (first) checkpoint."""
  if config.summary_dir:
    return os.path.join(config.summary_dir, 'test', RESULTS_FILE)
  train_dir = os.path.dirname(os.path.abspath(paths[0]))
  if os.path.basename(train_dir) == 'train':
    return os.path.join(os.path.dirname(train_dir), 'test', RESULTS_FILE)
  return paths[0] + '.' + RESULTS_FILE


def write_result(path, result):
  """Appends one evaluation's numbers as a JSON line (with the time), for
  scripts and result tables to read instead of the printed lines."""
  line = json.dumps(dict(time=files.utc_time(), **result), sort_keys=True)
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'a') as f:
    f.write(line + '\n')
  return path


def _evaluate_logits(eval_step, dataset, source):
  """(logits [n, C], labels [n, C], summed metrics) over the whole dataset."""
  logits, labels, totals = [], [], None
  try:
    for features in dataset:
      sums, batch_logits = eval_step(features)
      logits.append(batch_logits.numpy())
      labels.append(features['labels'].numpy())
      totals = sums if totals is None else {k: totals[k] + sums[k]
                                            for k in sums}
  except damaged_data() as e:
    raise ExperimentError('damaged evaluation data in %s: %s' % (
        source.describe, where_damaged(e, source))) from e
  totals = {k: float(v) for k, v in totals.items()}
  return np.concatenate(logits), np.concatenate(labels), totals


def _write_eval_summaries(writer, step, totals, correct, almost, eval_size):
  n = totals['examples']
  summaries.write_scalars(writer, step, {
      'total_loss': totals['total_loss'] / n,
      'batch_classification_cost': totals['batch_classification_cost'] / n,
      'reconstruction_error': totals['reconstruction_error'] / n,
      'accuracy': correct / eval_size,
      'correct_prediction': correct,
      'wrong_prediction': eval_size - correct,
      'almost_wrong_prediction': eval_size - almost})


def evaluate_continuously(config, source, stop=None):
  """The validation job: evaluates each new checkpoint of summary_dir/train.

  A damaged checkpoint (its data does not read back) is skipped with one
  warning. As the original, it stops after config.eval_timeout_secs without
  a new checkpoint; with config.eval_stop_at_step (experiment.py sets it to
  --max_steps only when that flag is given), also after evaluating a
  checkpoint at or past that step. SIGTERM or Ctrl-C end it after the
  evaluation in flight (its result recorded), or within a second while it
  waits; `stop` (a stop_signals.StopRequest, default a new one) then holds
  the reason (the caller's exit status).

  Returns:
    {step: wrong predictions} of the checkpoints evaluated.
  """
  config.require('summary_dir')
  train_dir = os.path.join(config.summary_dir, 'train')
  results = {}
  stop = stop or stop_signals.StopRequest()
  with stop.installed():
    for path in new_checkpoints(train_dir, config.eval_poll_secs,
                                config.eval_timeout_secs, stop.due):
      step = checkpoints.step_of(path)
      try:
        wrong, _ = evaluate_checkpoints(config.replace(
            export_weights=None, export_saved_model=None),
                                        source, [path])
      except checkpoints.DamagedCheckpoint as e:
        # The next checkpoint may well be whole: the job goes on.
        logging.warning('skipped step %d: %s', step, e)
        continue
      except ExperimentError as e:
        if tf.io.gfile.exists(path + '.index'):
          raise
        logging.warning('skipped %s: deleted before it could be read (%s)',
                        path, e)
        continue
      results[step] = wrong
      logging.info('evaluated step %d', step)
      if stop.due() or (config.eval_stop_at_step is not None and
                        step >= config.eval_stop_at_step):
        break
  if stop.due():
    logging.info('stopped on %s after %d evaluation(s)', stop.reason,
                 len(results))
  return results


def new_checkpoints(train_dir, min_interval_secs, timeout_secs, stopped):
  """Each new newest checkpoint of train_dir, as tf.train.checkpoints_iterator
  gives them (looking every second; starts at least min_interval_secs
  apart), until timeout_secs pass without one, or stopped() (looked at every
  second, while it waits too)."""
  last = None
  while True:
    start = time.time()
    logging.info('waiting for a new checkpoint in %s', train_dir)
    while True:
      if stopped():
        return
      path = tf.train.latest_checkpoint(train_dir)
      if path and path != last:
        break
      if time.time() - start >= timeout_secs:
        logging.info('no new checkpoint in %d s: stopping', timeout_secs)
        return
      time.sleep(1)
    last = path
    yield path
    while time.time() < start + min_interval_secs:
      if stopped():
        return
      time.sleep(min(1.0, start + min_interval_secs - time.time()))
