"""The one error type of the data readers and writers."""


class DataError(ValueError):
  """A data file is missing, damaged or not in its published format.

  The message names the file (and the record where it can be known);
  experiment.py and the data scripts print it as one line and exit non-zero.
  """
