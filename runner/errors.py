"""The runner's error for bad input: one line for the user (training,
evaluation, export and TFLite conversion all raise it).

Imports no TensorFlow: experiment.py checks its flags (runner/config.py)
before TensorFlow starts.
"""

import re


class ExperimentError(ValueError):
  """Bad input found before or during a run: one line for the user.

  experiment.py prints it as `experiment.py: <message>` and exits non-zero;
  the data readers' `input_data.errors.DataError` is caught the same way.
  """


def damaged_data():
  """The exceptions a tf.data pipeline raises on damaged data while a loop
  drives it (UnicodeDecodeError: TensorFlow quoting the raw bytes of a
  record that does not parse)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return (tf.errors.InvalidArgumentError, tf.errors.DataLossError,
          UnicodeDecodeError)


def op_error_line(error):
  """The line of a TensorFlow op error that says what went wrong, not the
  'Graph execution error:' / 'Detected at node' preamble around it."""
  if isinstance(error, UnicodeDecodeError):
    return 'a record that does not parse (%s)' % error.reason
  message = getattr(error, 'message', None) or str(error)
  lines = [line.strip() for line in message.splitlines()]
  for line in lines:
    if 'assertion failed' in line:
      # tf.debugging.Assert prints each item in brackets: [record] [39] ...
      items = re.findall(r'\[([^\[\]]*)\]', line.split('assertion failed',
                                                       1)[1])
      return ' '.join(items).replace(" of b'", ' of ').replace("' feature",
                                                              ' feature')
  noise = ('Graph execution error', 'Detected at node', 'File ', '[[',
           'Stack trace', '{{')
  meaningful = [line for line in lines if line and not line.startswith(noise)]
  line = (meaningful or lines or [''])[0]
  # Eager ops wrap it: '{{function_node ...}} MESSAGE [Op:RestoreV2]'.
  line = re.sub(r'^\{\{function_node [^}]*\}\}\s*', '', line)
  return re.sub(r'\s*\[Op:\w+\]( name: \S*)?$', '', line)


def where_damaged(error, source):
  """What is damaged, for an op error met reading source: the record, its
  file and feature when the pipeline says so, else (for sources that can
  look: streamed shards) found by reading the files, else the op's line."""
  line = op_error_line(error)
  if not line.startswith('record ') and hasattr(source, 'locate_damage'):
    return source.locate_damage() or line
  return line
