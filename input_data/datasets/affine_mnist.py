"""affine-MNIST: trains as affnist, tests on the stand-in files of
input_data/affnist/affine_mnist.py."""

from input_data import dataset_spec


def build(config, split):
  from input_data.affnist import affnist_input  # pylint: disable=g-import-not-at-top
  return affnist_input.affine_mnist_source(config.data_dir, split)


DATASET = dataset_spec.DatasetSpec(
    name='affine_mnist', summary='trains as affnist, tests on the stand-in '
    'files of input_data/affnist/affine_mnist.py', build=build,
    shape=dataset_spec.Shape(40, 40, 1, 10))
