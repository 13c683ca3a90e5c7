"""pytest setup shared by every test module.

Splits the host CPU into two logical devices before TensorFlow initialises,
so tests can run a MirroredStrategy with two replicas on a machine without
GPUs. Tests that use one device are unaffected (ops go to /cpu:0).
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # pylint: disable=g-import-not-at-top

_cpus = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)

# absl's test helpers (create_tempdir, ...) read flags; pytest never parses
# them, so take the defaults.
from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position

flags.FLAGS.mark_as_parsed()
