"""CIFAR-10 from its binary version, 24x24 crops standardized."""

from input_data import dataset_spec


def build(config, split):
  from input_data.cifar10 import cifar10_input  # pylint: disable=g-import-not-at-top
  return cifar10_input.cifar10_source(config.data_dir, split)


DATASET = dataset_spec.DatasetSpec(
    name='cifar10', summary='CIFAR-10 binary version '
    '(cifar-10-batches-bin), 24x24 crops', build=build,
    shape=dataset_spec.Shape(24, 24, 3, 10), served=False)
