"""affNIST: trains on MNIST IDX files placed at random in 40x40, tests on
the affNIST .mat files."""

from input_data import dataset_spec


def build(config, split):
  from input_data.affnist import affnist_input  # pylint: disable=g-import-not-at-top
  return affnist_input.affnist_source(config.data_dir, split)


DATASET = dataset_spec.DatasetSpec(
    name='affnist', summary='trains on MNIST IDX files at random in 40x40, '
    'tests on the affNIST .mat files', build=build,
    shape=dataset_spec.Shape(40, 40, 1, 10))
