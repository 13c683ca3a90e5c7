"""Test helpers of the runner: tiny models, the shipped checkpoint and real
test digits."""

import contextlib
import functools
import os
from unittest import mock

from input_data import idx
from models import testing as models_testing
from runner import checkpoints
from runner import config as config_lib
from runner import export
from runner import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, 'data', 'mnist')
SHIPPED = os.path.join(ROOT, 'checkpoints', 'mnist', 'model.ckpt-8000')


@contextlib.contextmanager
def tiny_models():
  """While active, the registry builds every model at models.testing.TINY's
  widths: the paper's structure, seconds to train (runs of the real
  training and evaluation code, in tests)."""
  tiny = {name: functools.partial(model_class, **models_testing.TINY[name])
          for name, model_class in registry.MODELS.items()}
  with mock.patch.dict(registry.MODELS, tiny):
    yield


def export_shipped(directory):
  """The shipped checkpoint (capsule model, paper hparams) as a SavedModel
  at directory; returns directory."""
  config = config_lib.RunConfig(data_dir=MNIST, data_source='idx')
  source = registry.get_source(config, 'test')
  model = registry.build_model('capsule', config.hparams, source.info)
  checkpoints.restore_model(model, SHIPPED)
  return export.export_saved_model(model, directory)


@functools.lru_cache(maxsize=None)
def mnist_digits(n):
  """The first n real MNIST test digits: (uint8 [n, 28, 28, 1], labels)."""
  images, labels = idx.load_mnist(MNIST, 'test')
  return images[:n, :, :, None], labels[:n]


def quiet_env():
  """os.environ without TF_CPP_MIN_LOG_LEVEL: a command run with it starts
  quietly (common/quiet.py), so its stderr holds its own lines only."""
  return {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
