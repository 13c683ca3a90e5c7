"""What a dataset declares: its name, its shape and how to build its source.

Each dataset experiment.py knows is one module of input_data/datasets/ with
a module-level `DATASET = DatasetSpec(...)`; input_data/datasets/__init__.py
collects them into the one table every list is derived from (--dataset's
help, the datasets SavedModels serve, benchmark.py's shapes). Imports no
TensorFlow: experiment.py checks its flags against the table before
TensorFlow starts, so `build` imports its reader when called.
"""

import dataclasses
from typing import Any, Callable, Optional


@dataclasses.dataclass(frozen=True)
class Shape:
  """The model input a dataset's reader gives: height x width x channels
  (square so far: the models take size x size), classes, targets."""
  height: int
  width: int
  channels: int
  classes: int
  targets: int = 1


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """One dataset of --dataset.

  Attributes:
    name: --dataset's value (with `argument`, the part before the colon:
      tfds:NAME).
    summary: one line for --dataset's help.
    build: (config, split) -> DataSource, split 'train' or 'test'; config is
      the run configuration (runner/config.py's RunConfig; a reader takes
      the fields it needs). Raises input_data.errors.DataError for bad data.
    shape: the input shape, or None when it comes from the data (own
      images).
    data_sources: the --data_source values the reader takes (None: it
      ignores the flag).
    multimnist: --num_targets=2 (MultiMNIST pairs) is defined.
    validate: --validate (a held-out part of the training data as the test
      split) is defined.
    served: the reader only scales the pixels (times 1/255), as the
      SavedModel's serving signature does, so --export_saved_model serves
      its models; False for readers that crop and standardize.
    argument: the name takes an argument after a colon (tfds:NAME).
  """
  name: str
  summary: str
  build: Callable[[Any, str], Any]
  shape: Optional[Shape] = None
  data_sources: Optional[tuple[str, ...]] = None
  multimnist: bool = False
  validate: bool = False
  served: bool = True
  argument: bool = False
