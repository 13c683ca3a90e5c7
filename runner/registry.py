"""The models and datasets experiment.py knows.

`get_source(config, split)` returns the data source a run configuration
names (see input_data.source.DataSource), `build_model` the model for a
source's DatasetInfo. (The hparams the authors gave per dataset are
models.hparams.PAPER_OVERRIDES.)
"""

from input_data import errors
from input_data.affnist import affnist_input
from input_data.cifar10 import cifar10_input
from input_data.mnist import mnist_input_record
from input_data.norb import norb_input_record
from models import capsule_model
from models import conv_model
from runner.errors import ExperimentError

MODELS = {'capsule': capsule_model.CapsuleModel,
          'baseline': conv_model.ConvModel}
DATASETS = ('mnist', 'fashion_mnist', 'norb', 'cifar10', 'affnist',
            'affine_mnist', 'expanded_mnist')


def check_num_targets(dataset, num_targets):
  """Two targets are MultiMNIST: MNIST only."""
  if num_targets == 2 and dataset != 'mnist':
    raise ExperimentError('--num_targets=2 (MultiMNIST) needs --dataset=mnist')


def get_source(config, split):
  """The data source of config's dataset for split 'train' or 'test'."""
  dataset, data_source = config.dataset, config.data_source
  if dataset not in DATASETS:
    raise ExperimentError('--dataset=%s is not supported; choose one of %s' %
                          (dataset, ', '.join(DATASETS)))
  check_num_targets(dataset, config.num_targets)
  if dataset == 'fashion_mnist' and data_source != 'idx':
    raise ExperimentError('--dataset=fashion_mnist reads IDX files: use '
                          '--data_source=idx')
  if config.validate and dataset not in ('mnist', 'fashion_mnist'):
    raise ExperimentError('--validate=true is only defined for MNIST')
  if not config.data_dir:
    raise ExperimentError('--data_dir is required')
  try:
    if dataset == 'norb':
      return norb_input_record.norb_source(config.data_dir, split)
    if dataset == 'cifar10':
      return cifar10_input.cifar10_source(config.data_dir, split)
    if dataset == 'affnist':
      return affnist_input.affnist_source(config.data_dir, split)
    if dataset == 'affine_mnist':
      return affnist_input.affine_mnist_source(config.data_dir, split)
    if dataset == 'expanded_mnist':
      return affnist_input.expanded_mnist_source(config.data_dir, split)
    # The original's ensemble evaluation (evaluate_ensemble) always read the
    # test split, whatever --validate said.
    validate = config.validate and not (split == 'test' and
                                        config.num_trials > 1)
    return mnist_input_record.mnist_source(
        config.data_dir, split, num_targets=config.num_targets,
        validate=validate, data_source=data_source,
        flip=dataset == 'fashion_mnist')
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
  return model
