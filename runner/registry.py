"""The models and datasets experiment.py knows.

`get_source(config, split)` returns the data source a run configuration
names (see input_data.source.DataSource), `build_model` the model for a
source's DatasetInfo. The datasets are input_data/datasets/'s table (one
module each); the hparams the authors gave per dataset are
models.hparams.PAPER_OVERRIDES.
"""

import os

import tensorflow as tf

from input_data import datasets
from input_data import errors
from models import capsule_model
from models import conv_model
from models import footprint
from runner.errors import ExperimentError

MODELS = {'capsule': capsule_model.CapsuleModel,
          'baseline': conv_model.ConvModel}
DATASETS = tuple(datasets.DATASETS)


def spec_of(dataset):
  """The DatasetSpec of --dataset, or one error listing the choices."""
  spec = datasets.lookup(dataset)
  if spec is None:
    raise ExperimentError('--dataset=%s is not supported; choose one of %s' %
                          (dataset, ', '.join(datasets.names())))
  return spec


def check_num_targets(dataset, num_targets):
  """Two targets are MultiMNIST: MNIST only."""
  if num_targets == 2 and not spec_of(dataset).multimnist:
    raise ExperimentError('--num_targets=2 (MultiMNIST) needs --dataset=mnist')


def get_source(config, split):
  """The data source of config's dataset for split 'train' or 'test'."""
  spec = spec_of(config.dataset)
  check_num_targets(config.dataset, config.num_targets)
  if spec.data_sources and config.data_source not in spec.data_sources:
    raise ExperimentError('--dataset=%s reads %s files: use --data_source=%s'
                          % (config.dataset, spec.data_sources[0].upper(),
                             spec.data_sources[0]))
  if config.validate and not spec.validate:
    raise ExperimentError(
        '--validate=true is only defined for MNIST and %s, not --dataset=%s'
        % (', '.join(name for name, s in datasets.DATASETS.items()
                     if s.validate and name != 'mnist'), config.dataset))
  config.require('data_dir')
  # The original's ensemble evaluation (evaluate_ensemble) always read the
  # test split, whatever --validate said.
  validate = config.validate and not (split == 'test' and
                                      config.num_trials > 1)
  try:
    return spec.build(config.replace(validate=validate), split)
  except errors.DataError as e:
    raise ExperimentError(str(e)) from e


def build_model(model_name, hparams, info, conv_dtype=None):
  """The model for a source's DatasetInfo; conv_dtype: mixed precision."""
  if model_name not in MODELS:
    raise ExperimentError('--model=%s is unknown; choose %s' %
                          (model_name, ' or '.join(MODELS)))
  model = MODELS[model_name](hparams, info.height, info.depth,
                             info.num_classes, info.num_targets)
  if conv_dtype:
    model.set_conv_dtype(conv_dtype)
  # The one choice of formulation: a GPU keeps cuDNN's gradients and XLA
  # as --xla asks (models/layers/cpu_kernels.py).
  model.set_cpu_kernels(not tf.config.list_logical_devices('GPU'))
  return model


def machine_bytes():
  """The machine's physical memory in bytes."""
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')


def check_memory(config, info, batch_size, on_gpu=False):
  """Refuses, before any model is built, a training step estimated
  (models/footprint.py) to need more than --max_memory_gb, or without it
  (and without a GPU, whose memory is its own) the machine's memory: one
  line with the numbers and the flags that lower them."""
  if config.max_memory_gb:
    limit, what = config.max_memory_gb * footprint.GIB, '--max_memory_gb'
  elif on_gpu:
    return
  else:
    limit, what = machine_bytes(), 'this machine\'s memory'
  size = footprint.FOOTPRINTS[config.model](
      config.hparams, info.height, info.depth, info.num_classes, batch_size)
  if size.step_bytes <= limit:
    return
  raise ExperimentError(
      '--dataset=%s at %dx%dx%d with %d classes: %s, more than %s (%s); '
      'lower it with --image_size, --channels=1, --hparams_override='
      'num_prime_capsules=N (now %d) or padding, or fewer classes; '
      '--max_memory_gb sets the limit' % (
          config.dataset, info.height, info.height, info.depth,
          info.num_classes, footprint.describe(size, batch_size), what,
          footprint.bytes_text(limit), config.hparams.num_prime_capsules))
