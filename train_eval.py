"""Training and evaluation loops behind experiment.py (explicit arguments).

train:                 resumable training, checkpoints, summaries, logs.
evaluate_checkpoints:  one checkpoint, or the summed class scores of several
                       (the original's ensemble evaluation).
evaluate_continuously: the validation job: evaluates each new checkpoint of a
                       training directory as it appears.
"""

import collections
import json
import os
import re
import time

import numpy as np
import tensorflow as tf

from input_data import idx
from input_data.affnist import affnist_input
from input_data.cifar10 import cifar10_input
from input_data.mnist import mnist_input_record
from input_data.norb import norb_input_record
from models import capsule_model
from models import conv_model
from models import model as model_lib
from models.layers import layers
import summaries

MODELS = {'capsule': capsule_model.CapsuleModel,
          'baseline': conv_model.ConvModel}
DATASETS = ('mnist', 'fashion_mnist', 'norb', 'cifar10', 'affnist')
EVAL_BATCH = 100  # The original's evaluation batch.
CHECKPOINT_PREFIX = 'model.ckpt'
# The original's Saver(max_to_keep=1000): a long run keeps its history for
# the validation job and for ensembles of its own checkpoints.
KEEP_CHECKPOINTS = 1000
TF1_GLOBAL_STEP = 'global_step'  # A float32 scalar in the original's Saver.


class ExperimentError(ValueError):
  """Bad input found before or during a run: one line for the user."""


def get_source(dataset, data_dir, split, num_targets, validate, data_source):
  """The data source of a dataset name and split (see input_data/)."""
  if dataset not in DATASETS:
    raise ExperimentError('--dataset=%s is not supported; choose one of %s' %
                          (dataset, ', '.join(DATASETS)))
  if num_targets not in (1, 2):
    raise ExperimentError('--num_targets must be 1 or 2, got %d' % num_targets)
  if num_targets == 2 and dataset != 'mnist':
    raise ExperimentError('--num_targets=2 (MultiMNIST) needs --dataset=mnist')
  if dataset == 'fashion_mnist' and data_source != 'idx':
    raise ExperimentError('--dataset=fashion_mnist reads IDX files: use '
                          '--data_source=idx')
  if validate and dataset not in ('mnist', 'fashion_mnist'):
    raise ExperimentError('--validate=true is only defined for MNIST')
  try:
    if dataset == 'norb':
      return norb_input_record.norb_source(data_dir, split)
    if dataset == 'cifar10':
      return cifar10_input.cifar10_source(data_dir, split)
    if dataset == 'affnist':
      return affnist_input.affnist_source(data_dir, split)
    return mnist_input_record.mnist_source(
        data_dir, split, num_targets, validate, data_source,
        flip=dataset == 'fashion_mnist')
  except idx.DataError as e:
    raise ExperimentError(str(e)) from e


def build_model(model_name, hparams, info, conv_dtype=None):
  """The model for a source's DatasetInfo; conv_dtype: mixed precision."""
  if model_name not in MODELS:
    raise ExperimentError('--model=%s is unknown; choose capsule or baseline' %
                          model_name)
  model = MODELS[model_name](hparams, info.height, info.depth,
                             info.num_classes, info.num_targets)
  if conv_dtype:
    model.set_conv_dtype(conv_dtype)
  return model


def multi_worker_config():
  """The parsed TF_CONFIG when it names a cluster of several tasks, else None."""
  try:
    config = json.loads(os.environ.get('TF_CONFIG') or '{}')
    cluster = config.get('cluster', {})
  except (ValueError, AttributeError) as e:
    raise ExperimentError('TF_CONFIG is not a JSON object with a "cluster" '
                          '(%s)' % e) from e
  tasks = sum(len(cluster.get(kind, [])) for kind in ('chief', 'worker'))
  return config if tasks > 1 else None


def make_strategy(num_gpus, devices=None):
  """The replica strategy: MultiWorkerMirrored when TF_CONFIG names several
  workers, else Mirrored over num_gpus local devices (default: one).

  Call it before any other TensorFlow op: a multi-worker strategy must set up
  its collectives before TensorFlow starts.

  Args:
    num_gpus: replicas wanted on this machine.
    devices: the devices to spread them over; default this machine's GPUs
      (tests pass logical CPUs).
  """
  if num_gpus < 1:
    raise ExperimentError('--num_gpus must be >= 1, got %d' % num_gpus)
  if multi_worker_config():
    # Each worker uses all its visible GPUs (choose with CUDA_VISIBLE_DEVICES).
    return tf.distribute.MultiWorkerMirroredStrategy()
  if devices is None:
    devices = [d.name for d in tf.config.list_logical_devices('GPU')]
  if num_gpus == 1:
    return tf.distribute.get_strategy()
  if num_gpus > len(devices):
    raise ExperimentError('--num_gpus=%d but this machine has %d GPU(s)' %
                          (num_gpus, len(devices)))
  return tf.distribute.MirroredStrategy(devices[:num_gpus])


def _worker_role(strategy):
  """(is_chief, task_id) of this process in a multi-worker run."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return True, 0
  has_chief = 'chief' in resolver.cluster_spec().as_dict()
  is_chief = resolver.task_type == 'chief' or (
      resolver.task_type == 'worker' and resolver.task_id == 0 and
      not has_chief)
  return is_chief, resolver.task_id


def _step_of(path):
  match = re.search(r'-(\d+)$', path)
  return int(match.group(1)) if match else -1


def restore_model(model, path):
  """Loads model weights from a native or a TF1 (name-based) checkpoint.

  Raises ExperimentError naming the first missing or mis-shaped variable.
  """
  try:
    saved = dict(tf.train.list_variables(path))
  except (tf.errors.OpError, ValueError) as e:
    raise ExperimentError('--checkpoint=%s: not a readable checkpoint (%s)' %
                          (path, str(e).splitlines()[0])) from e
  names = model.tf1_variables()
  if any(name in saved for name in names):  # The authors' TF1 checkpoint.
    _check_variables(path, {n: (n, v) for n, v in names.items()}, saved)
    reader = tf.train.load_checkpoint(path)
    for name, variable in names.items():
      variable.assign(reader.get_tensor(name))
    return
  check_native_checkpoint(model, path, saved)
  tf.train.Checkpoint(model=model).read(path).expect_partial()


def check_native_checkpoint(model, path, saved=None):
  """ExperimentError naming the first model variable the checkpoint at path
  lacks or holds with another shape (another model or hparams)."""
  if saved is None:
    saved = dict(tf.train.list_variables(path))
  # Keys like model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE.
  _check_variables(path, {
      name: ('model/%s/.ATTRIBUTES/VARIABLE_VALUE' % name, variable)
      for name, variable in _native_names(model).items()}, saved)


def _check_variables(path, expected, saved):
  """expected: {name: (checkpoint key, variable)}; saved: {key: shape}."""
  for name, (key, variable) in expected.items():
    if key not in saved:
      raise ExperimentError('%s: variable %s missing from the checkpoint '
                            '(another model or hparams?)' % (path, name))
    if list(saved[key]) != variable.shape.as_list():
      raise ExperimentError('%s: variable %s has shape %s in the checkpoint, '
                            'the model expects %s' % (
                                path, name, saved[key],
                                variable.shape.as_list()))


def _native_names(model):
  """{object path in a tf.train.Checkpoint: variable} of the model."""
  paths = {}

  def walk(obj, prefix):
    for attr, value in vars(obj).items():
      if isinstance(value, tf.Variable):
        paths['%s%s' % (prefix, attr)] = value
      elif isinstance(value, tf.Module):
        walk(value, '%s%s/' % (prefix, attr))
      elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
          if isinstance(item, tf.Module):
            walk(item, '%s%s/%d/' % (prefix, attr, i))
  walk(model, '')
  return paths


RECONSTRUCTION_IMAGES = 10  # Examples in the reconstruction summary.
TrainResult = collections.namedtuple('TrainResult', ('step', 'model'))


def _write_reconstructions(writer, step, model, source, dataset=None):
  """The reconstruction image summary of the first examples of a split."""
  if not getattr(model, 'reconstruction', None):
    return
  features = next(iter(dataset)) if dataset else _first_examples(
      source, RECONSTRUCTION_IMAGES)
  features = {k: v[:RECONSTRUCTION_IMAGES] for k, v in features.items()}
  grid = summaries.reconstruction_grid(
      features, model.inference(features).remakes, source.info.height,
      source.info.depth)
  summaries.write_images(writer, step, 'reconstruction', grid)


def _first_examples(source, count):
  """One batch of the first (at most) count examples of a source's split,
  in file order, without augmentation."""
  # Streaming sources (MultiMNIST shards) do not count their examples.
  count = min(count, getattr(source, 'num_examples', count))
  return next(iter(source.eval_dataset(count, count)))


def _log(message):
  print(message, flush=True)


def train(model_name, hparams, source, summary_dir, max_steps, save_step,
          strategy, batch_size=128, seed=0, log_every_secs=10.0,
          skip_nonfinite=False, jit_compile=False, conv_dtype=None,
          steps_per_loop=1, keep_checkpoints=KEEP_CHECKPOINTS):
  """Trains to max_steps, resuming from the newest checkpoint of summary_dir.

  jit_compile (XLA), conv_dtype ('bfloat16'; 'float16' adds dynamic loss
  scaling) and steps_per_loop (steps per compiled call, for accelerators
  whose step takes milliseconds) are the speed options; none changes what
  is computed, and logs and checkpoints land on the same steps.
  keep_checkpoints: the newest this many checkpoints are kept.
  A step whose loss or gradients are not finite never changes the weights.
  By default training then stops before the next checkpoint, naming the
  steps; with skip_nonfinite such batches are skipped and counted.

  With a multi-worker strategy every worker runs this; all resume from the
  chief's newest checkpoint, and only the chief keeps checkpoints and writes
  summaries (the others save to a scratch directory they delete, as
  MultiWorkerMirroredStrategy requires every worker to save).

  Returns:
    TrainResult(step, model): the final global step and the trained model.
  """
  if steps_per_loop < 1:
    raise ExperimentError('--steps_per_loop must be >= 1, got %d' %
                          steps_per_loop)
  if keep_checkpoints < 1:
    raise ExperimentError('--keep_checkpoints must be >= 1, got %d' %
                          keep_checkpoints)
  train_dir = os.path.join(summary_dir, 'train')
  is_chief, task_id = _worker_role(strategy)
  save_dir = train_dir if is_chief else os.path.join(
      train_dir, 'workertemp_%d' % task_id)
  os.makedirs(save_dir, exist_ok=True)
  with strategy.scope():
    tf.random.set_seed(seed)
    model = build_model(model_name, hparams, source.info, conv_dtype)
    optimizer = model_lib.Adam(model.trainable_variables)
    # float16 gradients underflow without it; bfloat16's do not.
    loss_scale = model_lib.loss_scale_for(conv_dtype)
  _log('total_params: %d' % model.num_params())
  state = dict(model=model, optimizer=optimizer)
  if loss_scale is not None:
    state['loss_scale'] = loss_scale
  checkpoint = tf.train.Checkpoint(**state)
  manager = tf.train.CheckpointManager(checkpoint, save_dir,
                                       max_to_keep=keep_checkpoints,
                                       checkpoint_name=CHECKPOINT_PREFIX)
  latest = tf.train.latest_checkpoint(train_dir)  # The chief's.
  if latest:
    _resume(latest, state)
  step = int(optimizer.step.numpy())
  if is_chief:
    with open(os.path.join(train_dir, 'hparams.json'), 'w') as f:
      json.dump(dict(hparams.to_dict(), model=model_name), f, indent=2)
  if step >= max_steps:
    _log('step %d >= max_steps %d: nothing to train' % (step, max_steps))
    return TrainResult(step, model)

  # A resumed run draws a new order rather than replaying the first epoch.
  data_seed = seed * 1000003 + step
  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: source.train_dataset(
          ctx.get_per_replica_batch_size(batch_size), data_seed, ctx))
  train_steps = model_lib.make_train_loop(model, optimizer, strategy,
                                          batch_size, jit_compile, loss_scale)
  writer = (tf.summary.create_file_writer(train_dir) if is_chief
            else tf.summary.create_noop_writer())
  iterator = iter(dataset)
  # hparams.verbose: the original's variable and activation histograms, the
  # activations those of the training split's first examples.
  verbose_probe = (_first_examples(source, EVAL_BATCH)
                   if hparams.verbose and is_chief else None)
  start_step, start_time = step, time.time()
  last_log, logged_step, window = start_time, step, None
  while step < max_steps:
    # Up to steps_per_loop steps a call, never past a checkpoint or the end.
    steps = min(steps_per_loop, max_steps - step, save_step - step % save_step)
    sums = train_steps(iterator, tf.constant(steps))
    step += steps
    window = sums if window is None else {k: window[k] + sums[k]
                                          for k in sums}
    now = time.time()
    if now - last_log >= log_every_secs or step == max_steps or (
        step % save_step == 0):
      bad = int(window['nonfinite_steps'])
      if bad and not skip_nonfinite:
        raise ExperimentError(
            'non-finite loss or gradients in %d step(s) between steps %d and '
            '%d; they changed no weight and nothing was saved after them: '
            'the newest checkpoint is %s (--skip_nonfinite=true skips such '
            'batches)' % (bad, logged_step + 1, step,
                          manager.latest_checkpoint or 'none'))
      if bad:
        _log('skipped %d step(s) with non-finite loss or gradients between '
             'steps %d and %d' % (bad, logged_step + 1, step))
      _write_train_log(writer, window, step, max_steps, start_step,
                       now - start_time, batch_size)
      if verbose_probe is not None:
        _write_verbose_summaries(writer, step, model, verbose_probe)
      window, last_log, logged_step = None, now, step
    if step % save_step == 0 or step == max_steps:
      _save(manager, step)
      if is_chief:
        _write_reconstructions(writer, step, model, source)
      else:
        tf.io.gfile.rmtree(save_dir)
  return TrainResult(step, model)


def _resume(path, state):
  """Restores the training state saved at path, all of it or an error.

  path may also be a checkpoint of the authors' TF1 training directory
  (see `_resume_tf1`). A run may change precision when it resumes: the
  float16 loss scale is restored when the checkpoint has one and starts
  afresh when not, and a saved scale is ignored by a run without float16.
  """
  saved = dict(tf.train.list_variables(path))
  if TF1_GLOBAL_STEP in saved:
    _resume_tf1(path, state['model'], state['optimizer'], saved)
    return
  check_native_checkpoint(state['model'], path, saved)
  has_scale = any(key.startswith('loss_scale/') for key in saved)
  if 'loss_scale' in state and not has_scale:
    state = {k: v for k, v in state.items() if k != 'loss_scale'}
  status = tf.train.Checkpoint(**state).restore(path)
  if has_scale and 'loss_scale' not in state:
    status.expect_partial()
    status.assert_existing_objects_matched()
  else:
    status.assert_consumed()
  _log('resumed from %s' % path)


def _resume_tf1(path, model, optimizer, saved):
  """Continues the original's training from its TF1 Saver checkpoint.

  Restores the weights, the Adam moments (`<var>/Adam`, `<var>/Adam_1`),
  `beta1_power`/`beta2_power` and the float `global_step` by their TF1
  names, so the next step is the one the original would have taken.
  """
  names = model.tf1_variables()
  names.update(optimizer.tf1_variables(names))
  _check_variables(path, {n: (n, v) for n, v in names.items()}, saved)
  reader = tf.train.load_checkpoint(path)
  for name, variable in names.items():
    variable.assign(reader.get_tensor(name))
  optimizer.step.assign(int(round(float(reader.get_tensor(TF1_GLOBAL_STEP)))))
  _log('resumed from %s (TF1 checkpoint, step %d)' % (
      path, int(optimizer.step.numpy())))


def _save(manager, step):
  """Saves checkpoint `step`; a failed write (full disk, ...) is one error.

  TensorFlow writes to a temporary name and the manager updates its state
  file atomically afterwards, so a failed or killed save leaves the newest
  complete checkpoint the one that resumes and evaluates.
  """
  previous = manager.latest_checkpoint
  try:
    _log('saved %s' % manager.save(checkpoint_number=step))
  except (tf.errors.OpError, OSError) as e:
    message = getattr(e, 'message', None) or str(e)
    raise ExperimentError('cannot write checkpoint %s-%d (%s); %s is intact' %
                          (manager._checkpoint_prefix, step,  # pylint: disable=protected-access
                           message.splitlines()[0],
                           previous or 'no earlier checkpoint')) from e


def _write_train_log(writer, window, step, max_steps, start_step, elapsed,
                     batch_size):
  """Summaries and one log line from the summed metrics since the last one."""
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
  left = (max_steps - step) * batch_size / max(rate, 1e-9)
  _log('step %d: loss %.4f, accuracy %.4f, %.1f examples/s, %s left' %
       (step, scalars['total_loss'], scalars['accuracy'], rate,
        time.strftime('%H:%M:%S', time.gmtime(left))))


def _write_verbose_summaries(writer, step, model, features):
  """hparams.verbose: per variable (by TF1 name) mean, stddev, max, min and
  a histogram; `<layer>/activation` histograms of the ReLU convolutions."""
  summaries.write_variable_summaries(writer, step, model.tf1_variables())
  summaries.write_histograms(writer, step, {
      scope + '/activation': value
      for scope, value in model.activations(features).items()})


def _evaluate_logits(eval_step, dataset):
  """(logits [n, C], labels [n, C], summed metrics) over the whole dataset."""
  logits, labels, totals = [], [], None
  for features in dataset:
    sums, batch_logits = eval_step(features)
    logits.append(batch_logits.numpy())
    labels.append(features['labels'].numpy())
    totals = sums if totals is None else {k: totals[k] + sums[k] for k in sums}
  totals = {k: float(v) for k, v in totals.items()}
  return np.concatenate(logits), np.concatenate(labels), totals


def _report(correct, eval_size):
  wrong = int(round(eval_size - correct))
  _log('Total wrong predictions: %d, wrong percent: %.2f%%' %
       (wrong, 100.0 * wrong / eval_size))
  return wrong


def evaluate_checkpoints(model_name, hparams, source, paths, eval_size,
                         summary_dir=None, export_weights=None,
                         jit_compile=False, conv_dtype=None):
  """Evaluates one checkpoint, or the sum of the class scores of several.

  With export_weights (one checkpoint only), also writes the model's weights
  alone (no optimiser state: a third of the size) to that prefix.

  Returns:
    (wrong, eval_size): wrong predictions on the first eval_size examples.
  """
  if export_weights and len(paths) != 1:
    raise ExperimentError('--export_weights needs a single --checkpoint')
  if eval_size <= 0:
    raise ExperimentError('--eval_size must be > 0, got %d' % eval_size)
  for path in paths:
    if not tf.io.gfile.exists(path + '.index'):
      raise ExperimentError('--checkpoint: %s does not exist (no %s.index)' %
                            (path, path))
  try:
    dataset = source.eval_dataset(EVAL_BATCH, eval_size)
  except idx.DataError as e:
    raise ExperimentError(str(e)) from e
  model = build_model(model_name, hparams, source.info, conv_dtype)
  # One compiled step for every trial: restoring only reassigns variables.
  eval_step = model_lib.make_eval_step(model, tf.distribute.get_strategy(),
                                       jit_compile)
  summed, labels, totals = None, None, None
  for path in paths:
    restore_model(model, path)
    if export_weights:
      _log('wrote %s' % tf.train.Checkpoint(model=model).write(
          export_weights))
    logits, labels, totals = _evaluate_logits(eval_step, dataset)
    # Only the running sum is kept: memory does not grow with the trials.
    summed = logits if summed is None else summed + logits
  if labels.shape[0] != eval_size:
    raise ExperimentError('--eval_size=%d but the evaluation data holds only '
                          '%d examples' % (eval_size, labels.shape[0]))
  correct, almost = layers.correct_counts(tf.constant(summed),
                                          tf.constant(labels),
                                          source.info.num_targets)
  correct = int(tf.reduce_sum(tf.cast(correct, tf.int32)))
  almost = int(tf.reduce_sum(tf.cast(almost, tf.int32)))
  wrong = _report(correct, eval_size)
  if summary_dir and len(paths) == 1:
    writer = tf.summary.create_file_writer(os.path.join(summary_dir, 'test'))
    _write_eval_summaries(writer, _step_of(paths[0]), totals, correct, almost,
                          eval_size)
    _write_reconstructions(writer, _step_of(paths[0]), model, source, dataset)
  return wrong, eval_size


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


def evaluate_continuously(model_name, hparams, source, summary_dir,
                          eval_size, stop_at_step=None,
                          timeout_secs=6 * 3600, poll_secs=60,
                          jit_compile=False, conv_dtype=None):
  """The validation job: evaluates each new checkpoint of summary_dir/train.

  As the original, it stops after timeout_secs without a new checkpoint;
  with stop_at_step (experiment.py passes --max_steps only when that flag is
  given), also after evaluating a checkpoint at or past that step.

  Returns:
    {step: wrong predictions} of the checkpoints evaluated.
  """
  train_dir = os.path.join(summary_dir, 'train')
  results = {}
  for path in tf.train.checkpoints_iterator(
      train_dir, min_interval_secs=poll_secs, timeout=timeout_secs):
    step = _step_of(path)
    try:
      wrong, _ = evaluate_checkpoints(model_name, hparams, source, [path],
                                      eval_size, summary_dir,
                                      jit_compile=jit_compile,
                                      conv_dtype=conv_dtype)
    except ExperimentError as e:
      if tf.io.gfile.exists(path + '.index'):
        raise
      _log('skipped %s: deleted before it could be read (%s)' % (path, e))
      continue
    results[step] = wrong
    _log('evaluated step %d' % step)
    if stop_at_step is not None and step >= stop_at_step:
      break
  else:
    _log('no new checkpoint in %d s: stopping' % timeout_secs)
  return results
