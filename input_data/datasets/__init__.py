"""The datasets experiment.py knows: one module each in this folder, each
declaring `DATASET = dataset_spec.DatasetSpec(...)`.

DATASETS is built from the modules found here, so adding a dataset is one
file (and its test and BUILD entry): see docs/design.md. Imports no
TensorFlow (each spec's `build` imports its reader when called).
"""

import importlib
import os
import pkgutil

from input_data import dataset_spec


def collect(path, package):
  """{name: DatasetSpec} of the modules of package (a folder on path), each
  declaring DATASET; TypeError for a module without one, or two of one
  name."""
  found = {}
  for module_info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
    if module_info.name.endswith('_test'):
      continue
    module = importlib.import_module('%s.%s' % (package, module_info.name))
    spec = getattr(module, 'DATASET', None)
    if not isinstance(spec, dataset_spec.DatasetSpec):
      raise TypeError('%s declares no DATASET = DatasetSpec(...)' %
                      module.__name__)
    if spec.name in found:
      raise TypeError('two modules declare --dataset=%s' % spec.name)
    found[spec.name] = spec
  return found  # By name: the modules were read in their names' order.


# (__package__: also when this file is imported by its own module name.)
DATASETS = collect([os.path.dirname(os.path.abspath(__file__))], __package__)


def lookup(name):
  """The spec of --dataset=name (tfds:NAME is the tfds spec's), or None."""
  spec = DATASETS.get((name or '').split(':', 1)[0])
  if spec is None or spec.argument != (':' in name):
    return None
  return spec


def names(served=False):
  """--dataset's values as its help and errors list them (served: those
  whose models --export_saved_model serves)."""
  return [spec.name + (':NAME' if spec.argument else '')
          for spec in DATASETS.values() if spec.served or not served]


def fixed_shapes():
  """{name: Shape} of the datasets whose shape is known without data."""
  return {name: spec.shape for name, spec in DATASETS.items() if spec.shape}


def served():
  """Names of the datasets whose models --export_saved_model serves."""
  return tuple(name for name, spec in DATASETS.items() if spec.served)


def help_text():
  """--dataset's help: each dataset's name and summary."""
  return '; '.join('%s: %s' % (name, spec.summary)
                   for name, spec in zip(names(), DATASETS.values()))
