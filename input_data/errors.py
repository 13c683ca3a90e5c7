"""The one error type of the data readers and writers, and how the data
scripts report what they wrote or why they could not."""

import sys


class DataError(ValueError):
  """A data file is missing, damaged or not in its published format.

  The message names the file (and the record where it can be known);
  experiment.py and the data scripts print it as one line and exit non-zero.
  """


def too_few_examples(eval_size, describe, available):
  """The DataError for --eval_size above the examples `describe` holds."""
  return DataError('--eval_size=%d but %s holds only %d examples: pass '
                   '--eval_size=%d' % (eval_size, describe, available,
                                       available))


def check_eval_size(eval_size, describe, available):
  """Raises too_few_examples when eval_size is above available."""
  if eval_size > available:
    raise too_few_examples(eval_size, describe, available)


def report_writes(script, write):
  """Runs write(), an iterable of the paths it writes, printing `wrote PATH`
  for each as it comes; a DataError or OSError exits with one line,
  `SCRIPT: message`, after the paths already written."""
  try:
    for path in write():
      print('wrote %s' % path, flush=True)
  except (DataError, OSError) as e:
    sys.exit('%s: %s' % (script, e))
