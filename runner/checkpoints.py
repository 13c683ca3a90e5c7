"""Checkpoints: restore (native or the authors' TF1), resume, save, export.

Native checkpoints are `tf.train.Checkpoint`s of {model, optimizer[,
loss_scale]} named `model.ckpt-STEP` in summary_dir/train. The authors' TF1
Saver checkpoints are read by the variables' TF1 names
(`Model.tf1_variables`, `Adam.tf1_variables`): for evaluation the weights,
and to resume training also the Adam moments, `beta1_power`/`beta2_power`
and the float `global_step`.
"""

import contextlib
import os
import re

from absl import logging
import tensorflow as tf

from runner.errors import ExperimentError
from runner.errors import op_error_line

PREFIX = 'model.ckpt'  # The original's Saver prefix: model.ckpt-STEP.
TF1_GLOBAL_STEP = 'global_step'  # A float32 scalar in the original's Saver.


def step_of(path):
  """The STEP of a `.../model.ckpt-STEP` path, or -1."""
  match = re.search(r'-(\d+)$', path)
  return int(match.group(1)) if match else -1


def _list(path, what='--checkpoint'):
  try:
    return dict(tf.train.list_variables(path))
  except (tf.errors.OpError, ValueError) as e:
    raise ExperimentError('%s=%s: not a readable checkpoint (%s)' %
                          (what, path, str(e).splitlines()[0])) from e


def restore_model(model, path):
  """Loads model weights from a native or a TF1 (name-based) checkpoint.

  Raises ExperimentError naming the first missing or mis-shaped variable.
  """
  saved = _list(path)
  names = model.tf1_variables()
  with _reading(path):
    if any(name in saved for name in names):  # The authors' TF1 checkpoint.
      _assign_tf1(path, names, saved)
      return
    check_native(model, path, saved)
    tf.train.Checkpoint(model=model).read(path).expect_partial()


class DamagedCheckpoint(ExperimentError):
  """A checkpoint whose index lists its variables but whose data does not
  read back (bytes changed on disk: TensorFlow's checksums catch it; a file
  cut short)."""

  def __init__(self, path, reason):
    super().__init__('checkpoint %s is damaged (%s)' % (path, reason))
    self.path = path


@contextlib.contextmanager
def _reading(path):
  """Turns a failed read of the checkpoint's data into DamagedCheckpoint."""
  try:
    yield
  except tf.errors.OpError as e:
    raise DamagedCheckpoint(path, op_error_line(e)) from e


def damage(path):
  """None when every tensor of the checkpoint at path reads back whole,
  else what is wrong (one line). Reads the whole checkpoint."""
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except (tf.errors.OpError, ValueError) as e:
    return op_error_line(e) if isinstance(e, tf.errors.OpError) else str(e)
  return None


def _listed(train_dir):
  """The checkpoints train_dir's state file lists whose files exist."""
  state = tf.train.get_checkpoint_state(train_dir)
  if not state:
    return set()
  paths = set(state.all_model_checkpoint_paths) | {state.model_checkpoint_path}
  paths = {p if os.path.isabs(p) else os.path.join(train_dir, p)
           for p in paths if p}
  return {p for p in paths if tf.io.gfile.exists(p + '.index')}


def all_checkpoints(train_dir):
  """The checkpoints of train_dir whose files exist, oldest first: those
  the state file lists and those found on disk."""
  found = {p[:-len('.index')] for p in tf.io.gfile.glob(
      os.path.join(train_dir, PREFIX + '-*.index'))}
  return sorted((p for p in found | _listed(train_dir) if step_of(p) >= 0),
                key=step_of)


def newest(train_dir):
  """The checkpoint to resume from: the newest the state file lists whose
  files exist (so deleting a damaged checkpoint's files resumes from the
  one before it, where tf.train.latest_checkpoint would return None and a
  run would start again from step 0), else the newest on disk; or None."""
  listed = sorted(_listed(train_dir), key=step_of)
  if listed:
    return listed[-1]
  return (all_checkpoints(train_dir) or [None])[-1]


def newest_intact(train_dir, below_step):
  """The newest checkpoint of train_dir before below_step that reads back
  whole, or None."""
  for path in reversed(all_checkpoints(train_dir)):
    if step_of(path) < below_step and damage(path) is None:
      return path
  return None


def export_weights(model, prefix):
  """Writes the model's weights alone (no optimiser state) to prefix."""
  return tf.train.Checkpoint(model=model).write(prefix)


def check_native(model, path, saved=None):
  """ExperimentError naming the first model variable the checkpoint at path
  lacks or holds with another shape (another model or hparams)."""
  if saved is None:
    saved = _list(path)
  # Keys like model/digit_capsules/weights/.ATTRIBUTES/VARIABLE_VALUE.
  _check_variables(path, {
      name: ('model/%s/.ATTRIBUTES/VARIABLE_VALUE' % name, variable)
      for name, variable in _native_names(model).items()}, saved)


def resume(path, state):
  """Restores the training state {model, optimizer[, loss_scale]} saved at
  path, all of it or an error; path may be the authors' TF1 checkpoint.

  A run may change precision when it resumes: the float16 loss scale is
  restored when the checkpoint has one and starts afresh when not, and a
  saved scale is ignored by a run without float16.
  """
  saved = _list(path, what='checkpoint')
  if TF1_GLOBAL_STEP in saved:
    _resume_tf1(path, state['model'], state['optimizer'], saved)
    return
  check_native(state['model'], path, saved)
  has_scale = any(key.startswith('loss_scale/') for key in saved)
  if 'loss_scale' in state and not has_scale:
    state = {k: v for k, v in state.items() if k != 'loss_scale'}
  with _reading(path):
    status = tf.train.Checkpoint(**state).restore(path)
  if has_scale and 'loss_scale' not in state:
    status.expect_partial()
    status.assert_existing_objects_matched()
  else:
    status.assert_consumed()
  logging.info('resumed from %s', path)


def _resume_tf1(path, model, optimizer, saved):
  """Continues the original's training from its TF1 Saver checkpoint: the
  weights, the Adam moments (`<var>/Adam`, `<var>/Adam_1`), the beta powers
  and the float global_step, so the next step is the one the original would
  have taken."""
  names = model.tf1_variables()
  names.update(optimizer.tf1_variables(names))
  with _reading(path):
    _assign_tf1(path, names, saved)
    reader = tf.train.load_checkpoint(path)
    optimizer.step.assign(int(round(float(reader.get_tensor(
        TF1_GLOBAL_STEP)))))
  logging.info('resumed from %s (TF1 checkpoint, step %d)', path,
               int(optimizer.step.numpy()))


def _assign_tf1(path, names, saved):
  """Assigns {TF1 name: variable} from the checkpoint at path."""
  _check_variables(path, {n: (n, v) for n, v in names.items()}, saved)
  reader = tf.train.load_checkpoint(path)
  for name, variable in names.items():
    variable.assign(reader.get_tensor(name))


def save(manager, step):
  """Saves checkpoint `step`; a failed write (full disk, ...) is one error.

  TensorFlow writes to a temporary name and the manager updates its state
  file atomically afterwards, so a failed or killed save leaves the newest
  complete checkpoint the one that resumes and evaluates.
  """
  previous = manager.latest_checkpoint
  try:
    logging.info('saved %s', manager.save(checkpoint_number=step))
  except (tf.errors.OpError, OSError) as e:
    message = getattr(e, 'message', None) or str(e)
    raise ExperimentError('cannot write checkpoint %s-%d (%s); %s is intact' %
                          (manager._checkpoint_prefix, step,  # pylint: disable=protected-access
                           message.splitlines()[0],
                           previous or 'no earlier checkpoint')) from e


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
