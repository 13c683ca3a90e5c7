"""pytest setup shared by every test module."""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags

from models import testing

# Before any test touches TensorFlow: two logical CPUs for the replica tests.
testing.split_cpu()


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'slow: a whole-program test of half a minute or more (the '
      'kill -9 soak, two deterministic runs, the two-worker run, CIFAR-10 '
      'memory, a tiny study, the shipped checkpoint on all test digits); skip '
      'them locally with `pytest -m "not slow"`. CI runs everything.')


def pytest_collection_modifyitems(items):
  # tf.test.TestCase inherits test_session, a deprecated helper that skips
  # itself ("Not a test."): pytest would collect and skip one per class.
  items[:] = [item for item in items if item.name != 'test_session']


# absl's test helpers (create_tempdir, ...) read flags; pytest never parses
# them, so take the defaults.
flags.FLAGS.mark_as_parsed()
