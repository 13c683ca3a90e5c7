"""Tests of the dataset table: one module a dataset, every list from it."""

import os
import sys

from absl.testing import absltest

from input_data import dataset_spec
from input_data import datasets

PAPER = ('affine_mnist', 'affnist', 'cifar10', 'expanded_mnist',
         'fashion_mnist', 'mnist', 'norb')


class DatasetsTest(absltest.TestCase):

  def test_the_table(self):
    self.assertEqual(list(datasets.DATASETS), sorted(PAPER + ('folder',
                                                              'tfds')))
    self.assertEqual(datasets.names(), [
        'affine_mnist', 'affnist', 'cifar10', 'expanded_mnist',
        'fashion_mnist', 'folder', 'mnist', 'norb', 'tfds:NAME'])
    self.assertEqual(datasets.served(), (
        'affine_mnist', 'affnist', 'expanded_mnist', 'fashion_mnist',
        'folder', 'mnist', 'tfds'))
    self.assertEqual(
        {name: (s.height, s.width, s.channels, s.classes, s.targets)
         for name, s in datasets.fixed_shapes().items()},
        {'affine_mnist': (40, 40, 1, 10, 1), 'affnist': (40, 40, 1, 10, 1),
         'cifar10': (24, 24, 3, 10, 1), 'expanded_mnist': (40, 40, 1, 10, 1),
         'fashion_mnist': (28, 28, 1, 10, 1), 'mnist': (28, 28, 1, 10, 1),
         'norb': (32, 32, 2, 5, 1)})
    self.assertEqual(
        [n for n, s in datasets.DATASETS.items() if s.validate],
        ['fashion_mnist', 'folder', 'mnist', 'tfds'])
    self.assertEqual(
        [n for n, s in datasets.DATASETS.items() if s.multimnist], ['mnist'])

  def test_lookup_of_names_with_and_without_an_argument(self):
    self.assertEqual(datasets.lookup('mnist').name, 'mnist')
    self.assertEqual(datasets.lookup('tfds:beans/x:1.0.0').name, 'tfds')
    for name in ('tfds', 'mnist:x', 'folder:a', 'imagenet', ''):
      self.assertIsNone(datasets.lookup(name), name)

  def test_the_help_names_each_dataset(self):
    text = datasets.help_text()
    for name in datasets.names():
      self.assertIn(name + ': ', text)

  def test_a_new_module_is_a_new_dataset(self):
    root = self.create_tempdir().full_path
    package = os.path.join(root, 'extra_sets')
    os.makedirs(package)
    open(os.path.join(package, '__init__.py'), 'w').close()
    with open(os.path.join(package, 'beans.py'), 'w') as f:
      f.write('from input_data import dataset_spec\n'
              'DATASET = dataset_spec.DatasetSpec(name="beans", summary="b",'
              ' build=lambda config, split: None)\n')
    with open(os.path.join(package, 'beans_test.py'), 'w') as f:
      f.write('raise AssertionError("tests are not datasets")\n')
    sys.path.insert(0, root)
    self.addCleanup(sys.path.remove, root)
    found = datasets.collect([package], 'extra_sets')
    self.assertEqual(list(found), ['beans'])
    self.assertIsInstance(found['beans'], dataset_spec.DatasetSpec)
    with open(os.path.join(package, 'notes.py'), 'w') as f:
      f.write('X = 1\n')
    with self.assertRaisesRegex(TypeError, '^extra_sets.notes declares no '
                                r'DATASET = DatasetSpec\(...\)$'):
      datasets.collect([package], 'extra_sets')
    os.remove(os.path.join(package, 'notes.py'))
    with open(os.path.join(package, 'same.py'), 'w') as f:
      f.write('from extra_sets.beans import DATASET\n')
    with self.assertRaisesRegex(TypeError, '^two modules declare '
                                '--dataset=beans$'):
      datasets.collect([package], 'extra_sets')


if __name__ == '__main__':
  absltest.main()
