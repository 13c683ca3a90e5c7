"""Expanded MNIST: trains as affnist, tests on the MNIST test digits
centred in 40x40."""

from input_data import dataset_spec


def build(config, split):
  from input_data.affnist import affnist_input  # pylint: disable=g-import-not-at-top
  return affnist_input.expanded_mnist_source(config.data_dir, split)


DATASET = dataset_spec.DatasetSpec(
    name='expanded_mnist', summary='trains as affnist, tests on the MNIST '
    'test digits centred in 40x40', build=build,
    shape=dataset_spec.Shape(40, 40, 1, 10))
