"""A quiet start: TensorFlow's C++ start-up notices hidden by default.

Importing TensorFlow prints lines from C++ before its logging is configured
(oneDNN notices, and on machines without a GPU an alarming `E0000 ... failed
call to cuInit` line); TF_CPP_MIN_LOG_LEVEL does not reach them. The entry
points call `import_tensorflow()` first: unless the user has set
TF_CPP_MIN_LOG_LEVEL (then nothing is hidden), the process's stderr is
pointed at /dev/null while TensorFlow loads and finds its devices, and
C++ logging below errors is off afterwards. Python errors are raised after
stderr is back, so they still show.
"""

import os

LEVEL = 'TF_CPP_MIN_LOG_LEVEL'


def import_tensorflow():
  """Imports TensorFlow (quietly unless TF_CPP_MIN_LOG_LEVEL is set)."""
  if LEVEL in os.environ:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf
  os.environ[LEVEL] = '2'
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.list_physical_devices()  # Device discovery logs too.
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)
  return tf
