"""MNIST: the generator's shifted records, or the IDX files shifted on the
fly; with --num_targets=2, MultiMNIST pairs."""

from input_data import dataset_spec


def build(config, split):
  from input_data.mnist import mnist_input_record  # pylint: disable=g-import-not-at-top
  return mnist_input_record.mnist_source(
      config.data_dir, split, num_targets=config.num_targets,
      validate=config.validate, data_source=config.data_source)


DATASET = dataset_spec.DatasetSpec(
    name='mnist', summary='MNIST (records of input_data/mnist/mnist_shift.py, '
    'or IDX files with --data_source=idx); MultiMNIST with --num_targets=2',
    build=build, shape=dataset_spec.Shape(28, 28, 1, 10),
    data_sources=('records', 'idx'), multimnist=True, validate=True)
