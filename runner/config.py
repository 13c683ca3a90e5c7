"""The run configuration: everything one run of experiment.py was asked for.

experiment.py builds one `RunConfig` from its flags (the only place that
reads them) and hands it whole to training or evaluation. Training saves it
as `summary_dir/train/config.json`, and a resumed run is checked against it
(`check_resume`): a change in what defines the model or its objective stops
the run with one line naming each changed key, before any checkpoint is
touched; other changes (steps, saving, precision, logging) are allowed and
recorded in the file's `resumes` list.
"""

import dataclasses
import json
import os
from typing import Any, Optional

from common import files
from input_data import datasets
from models import hparams as hparams_lib
from runner.errors import ExperimentError

CONFIG_FILE = 'config.json'
# Written by earlier versions: the resolved hparams and the model name only.
LEGACY_HPARAMS_FILE = 'hparams.json'
# What defines the model and its objective: a resumed run may not change it.
MODEL_KEYS = ('model', 'dataset', 'num_targets', 'image_size', 'channels',
              'class_names') + tuple(
    'hparams.' + f.name for f in dataclasses.fields(hparams_lib.HParams))
MIXED_PRECISIONS = ('none', 'bfloat16', 'float16')
# The fields a mode needs (RunConfig.require), and the line when one is unset.
REQUIRED = {
    'data_dir': '--data_dir is required',
    'summary_dir': ('--summary_dir is required to train or to run the '
                    'validation job'),
}
# Datasets whose readers only scale the pixels (runner/export.py does the
# same in the SavedModel's serving signature).
SERVED_DATASETS = datasets.served()


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """One run; defaults are experiment.py's flag defaults (the original's)."""
  # What is trained or evaluated, on what.
  model: str = 'capsule'
  hparams: hparams_lib.HParams = dataclasses.field(
      default_factory=hparams_lib.HParams)
  dataset: str = 'mnist'
  data_dir: Optional[str] = None
  data_source: str = 'records'
  num_targets: int = 1
  validate: bool = False
  seed: int = 0
  summary_dir: Optional[str] = None
  # One's own images (--dataset=folder, tfds:NAME; input_data/own/): the
  # square side and channels (0: the data's own), the fraction held out as
  # the test split without one (and as valid_test with --validate), the
  # tfds splits and features, the shifts (-1: 2 pixels per 28) and flips
  # of training, where decoded images are cached (None: not cached).
  image_size: int = 0
  channels: int = 0
  holdout: float = 0.1
  train_split: str = 'train'
  test_split: str = 'test'
  image_key: Optional[str] = None
  label_key: Optional[str] = None
  skip_bad_images: bool = False
  max_shift: int = -1
  random_flip: bool = False
  cache_dir: Optional[str] = None
  # Training refuses a step estimated above this many GB (0: the machine's
  # memory, unless on a GPU): models/footprint.py.
  max_memory_gb: float = 0.0
  # The class names of the data (own images), set from the data source.
  class_names: Optional[tuple[str, ...]] = None
  # Training.
  max_steps: int = 1000
  save_step: int = 1500
  batch_size: int = 128  # The original's global training batch.
  num_gpus: int = 1
  keep_checkpoints: int = 1000  # The original's Saver(max_to_keep=1000).
  log_every_secs: float = 10.0
  # Stop (saved, as on SIGTERM) after this many seconds of training; 0: no
  # budget.
  max_train_secs: float = 0.0
  steps_per_loop: int = 1
  skip_nonfinite: bool = False
  # Speed options of training and evaluation (same results).
  xla: bool = False
  mixed_precision: str = 'none'
  # Evaluation.
  eval_size: Optional[int] = 10000  # None: the whole test split.
  checkpoint: Optional[str] = None
  num_trials: int = 1
  export_weights: Optional[str] = None
  export_saved_model: Optional[str] = None
  # The validation job: stop after this long without a new checkpoint, and,
  # when set, after the checkpoint at or past eval_stop_at_step.
  eval_timeout_secs: int = 6 * 3600
  eval_poll_secs: int = 60
  eval_stop_at_step: Optional[int] = None
  # The mode and the process: train, or evaluate (--checkpoint) / run the
  # validation job (neither); TensorFlow's op determinism; threads per op
  # pool on the CPU (0: TensorFlow's choice; the validation job: 1).
  train: bool = True
  deterministic: bool = False
  cpu_threads: int = 0

  def __post_init__(self):
    checks = (
        (self.max_steps >= 0, '--max_steps must be >= 0, got %d' %
         self.max_steps),
        (self.save_step > 0, '--save_step must be > 0, got %d' %
         self.save_step),
        (self.batch_size > 0, 'batch size must be > 0, got %d' %
         self.batch_size),
        (self.keep_checkpoints >= 1, '--keep_checkpoints must be >= 1, got '
         '%d' % self.keep_checkpoints),
        (self.steps_per_loop >= 1, '--steps_per_loop must be >= 1, got %d' %
         self.steps_per_loop),
        (self.num_gpus >= 1, '--num_gpus must be >= 1, got %d' %
         self.num_gpus),
        (self.num_targets in (1, 2), '--num_targets must be 1 or 2, got %d' %
         self.num_targets),
        (self.eval_size is None or self.eval_size > 0,
         '--eval_size must be > 0, got %s' % self.eval_size),
        (self.num_trials >= 1, '--num_trials must be >= 1, got %d' %
         self.num_trials),
        (self.cpu_threads >= 0, '--cpu_threads must be >= 0, got %d' %
         self.cpu_threads),
        (not self.export_saved_model or
         self.dataset.split(':')[0] in SERVED_DATASETS,
         '--export_saved_model serves the models of %s, whose readers only '
         'scale the pixels; --dataset=%s crops and standardizes its images '
         '(not exported yet)' % (', '.join(datasets.names(served=True)),
                                 self.dataset)),
        (self.mixed_precision in MIXED_PRECISIONS, '--mixed_precision must '
         'be one of %s, got %r' % (', '.join(MIXED_PRECISIONS),
                                   self.mixed_precision)),
        (self.image_size >= 0, '--image_size must be >= 0 (0: the data\'s '
         'own), got %d' % self.image_size),
        (self.channels in (0, 1, 3), '--channels must be 1 (grey), 3 (RGB) '
         'or 0 (the data\'s), got %d' % self.channels),
        (0.0 <= self.holdout < 1.0, '--holdout must be in [0, 1), got %g' %
         self.holdout),
        (self.max_train_secs >= 0, '--max_train_secs must be >= 0, got %g'
         % self.max_train_secs),
        (self.max_memory_gb >= 0, '--max_memory_gb must be >= 0, got %g' %
         self.max_memory_gb),
        (self.max_shift >= -1, '--max_shift must be >= 0, or -1 (2 pixels '
         'per 28), got %d' % self.max_shift),
    )
    for ok, message in checks:
      if not ok:
        raise ExperimentError(message)

  def require(self, name):
    """ExperimentError naming the flag when field `name` (data_dir or
    summary_dir) is not set."""
    if not getattr(self, name):
      raise ExperimentError(REQUIRED[name])

  def check_mode(self):
    """What the run's mode needs: data, and a run directory to train or to
    run the validation job (experiment.py checks before TensorFlow starts;
    the library checks what it uses)."""
    self.require('data_dir')
    if self.train or not self.checkpoint:
      self.require('summary_dir')

  @property
  def conv_dtype(self):
    """The convolutions' dtype name, or None for float32."""
    return None if self.mixed_precision == 'none' else self.mixed_precision

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def replace(self, **changes) -> 'RunConfig':
    return dataclasses.replace(self, **changes)


def _flat(config_dict):
  """{'hparams.routing': 3, 'model': ...}: nested hparams flattened."""
  flat = {k: v for k, v in config_dict.items() if k != 'hparams'}
  flat.update({'hparams.' + k: v
               for k, v in config_dict.get('hparams', {}).items()})
  return flat


def saved_config(train_dir):
  """The configuration a run saved in train_dir, flattened, or None.

  Runs written before config.json existed saved hparams.json (the resolved
  hparams and the model name): that is read instead.
  """
  path = os.path.join(train_dir, CONFIG_FILE)
  legacy = os.path.join(train_dir, LEGACY_HPARAMS_FILE)
  try:
    if os.path.exists(path):
      with open(path) as f:
        return _flat(json.load(f))
    if os.path.exists(legacy):
      with open(legacy) as f:
        hparams = json.load(f)
      model = hparams.pop('model', None)
      return _flat({'model': model, 'hparams': hparams})
  except (OSError, ValueError) as e:
    raise ExperimentError('%s: not a readable run configuration (%s); move '
                          'it away to resume without the check' %
                          (path if os.path.exists(path) else legacy, e)) from e
  return None


def check_resume(config, train_dir):
  """Raises ExperimentError if config changes the saved model or objective.

  Returns:
    {key: (saved, new)} of the other keys that changed (allowed), or {} when
    nothing was saved yet.
  """
  saved = saved_config(train_dir)
  if saved is None:
    return {}
  new = _flat(json.loads(json.dumps(config.to_dict())))  # As it is saved.
  changed = {k: (saved[k], new[k]) for k in new
             if k in saved and saved[k] != new[k]}
  refused = [k for k in MODEL_KEYS if k in changed]
  if refused:
    raise ExperimentError(
        '%s holds a run of another model or objective: %s; give a new '
        '--summary_dir, or the same flags' % (train_dir, ', '.join(
            '%s: %s -> %s' % (k, changed[k][0], changed[k][1])
            for k in refused)))
  return changed


def with_data(config, source):
  """config with the class names of its data source (own images; None for
  the paper's datasets, whose classes are numbers)."""
  names = getattr(source, 'class_names', None)
  return config.replace(class_names=tuple(names) if names else None)


def check_class_names(config, checkpoint):
  """Raises ExperimentError when the run that wrote checkpoint (its
  config.json beside it) had other class names than config's data."""
  saved = saved_config(os.path.dirname(os.path.abspath(checkpoint)))
  if saved is None:
    return
  saved_names = saved.get('class_names') or None
  names = list(config.class_names) if config.class_names else None
  if saved_names != names:
    raise ExperimentError(
        '%s was trained on the classes %s, but the data has %s; evaluate it '
        'on the data it was trained on' % (checkpoint, _names(saved_names),
                                           _names(names)))


def _names(names):
  if not names:
    return 'of the dataset\'s numbers'
  shown = ', '.join(names[:12]) + (', ...' if len(names) > 12 else '')
  return '%d (%s)' % (len(names), shown)


def save(config, train_dir, step, changed=None):
  """Writes config.json (atomically), appending this resume to `resumes`."""
  path = os.path.join(train_dir, CONFIG_FILE)
  resumes = []
  if os.path.exists(path):
    with open(path) as f:
      resumes = json.load(f).get('resumes', [])
  if step:
    resumes.append({'step': step, 'changed': {
        k: list(v) for k, v in sorted((changed or {}).items())}})
  data = dict(config.to_dict(), resumes=resumes)
  return files.write_whole(path, json.dumps(data, indent=2, sort_keys=True))


def trial_checkpoints(pattern, num_trials):
  """The checkpoints of --checkpoint: pattern.format(i) for each trial, as
  the original (so {}, {0} and {:d} all work), or the path itself."""
  if num_trials == 1:
    return [pattern]
  if not pattern:
    raise ExperimentError('--num_trials=%d needs --checkpoint, a pattern of '
                          'the trial number such as /tmp/model{}/'
                          'model.ckpt-N' % num_trials)
  try:
    paths = [pattern.format(i) for i in range(num_trials)]
  except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:
    raise ExperimentError('--checkpoint=%s is not a str.format pattern of '
                          'the trial number (%s: %s)' %
                          (pattern, type(e).__name__, e)) from e
  if paths[0] == paths[1]:
    raise ExperimentError(
        '--num_trials=%d needs --checkpoint with a pattern that changes with '
        'the trial number, e.g. /tmp/model{}/model.ckpt-N; got %s' %
        (num_trials, pattern))
  return paths
