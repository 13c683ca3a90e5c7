"""Fashion-MNIST from its IDX files, shifted and flipped on the fly."""

from input_data import dataset_spec


def build(config, split):
  from input_data.mnist import mnist_input_record  # pylint: disable=g-import-not-at-top
  return mnist_input_record.mnist_source(
      config.data_dir, split, validate=config.validate, data_source='idx',
      flip=True)


DATASET = dataset_spec.DatasetSpec(
    name='fashion_mnist', summary='Fashion-MNIST IDX files '
    '(--data_source=idx), shifted and flipped on the fly',
    build=build, shape=dataset_spec.Shape(28, 28, 1, 10),
    data_sources=('idx',), validate=True)
