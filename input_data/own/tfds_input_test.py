"""Tests of input_data/own/tfds_input.py on tensorflow-datasets sets written
offline (tfds' store_as_tfds_dataset, through idx_images.py) from real
MNIST test digits."""

import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import idx
from input_data import testdata
from input_data.own import idx_images
from input_data.own import tfds_input
from runner import config as config_lib
from runner import registry


def _write_set(data_dir, name='digits_own/plain', test=True, n=(12, 6)):
  """Real test digits 0..n-1 as train, the next as test; returns the
  arrays written."""
  images, labels = idx.load_mnist(testdata.REAL_MNIST, 'test')
  splits = {'train': (images[:n[0]], labels[:n[0]])}
  if test:
    splits['test'] = (images[n[0]:n[0] + n[1]], labels[n[0]:n[0] + n[1]])
  list(idx_images.write_tfds(splits, idx_images.CLASS_NAMES['digits'],
                             data_dir, name))
  return splits


def _config(data_dir, dataset='tfds:digits_own/plain', **changes):
  return config_lib.RunConfig(dataset=dataset, data_dir=data_dir,
                              cache_dir=None, **changes)


class TfdsTest(tf.test.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data_dir = tempfile.mkdtemp()
    cls.splits = _write_set(cls.data_dir)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.data_dir)
    super().tearDownClass()

  def test_pixels_labels_and_names_as_written(self):
    test = tfds_input.tfds_source(_config(self.data_dir), 'test')
    self.assertEqual(tuple(test.info), (28, 1, 10, 1))
    self.assertEqual(test.class_names, tuple(str(d) for d in range(10)))
    features = next(iter(test.eval_dataset(6, 6)))
    images, labels = self.splits['test']
    self.assertAllEqual(features['recons_label'], labels)
    self.assertAllEqual(np.round(features['images'].numpy() * 255),
                        images.reshape(6, -1))

  def test_splits_in_tfds_syntax_and_versions(self):
    for changes, sizes in ((dict(), (12, 6)),
                           (dict(train_split='train[:75%]'), (9, 6)),
                           (dict(test_split='train[-3:]'), (12, 3)),
                           (dict(dataset='tfds:digits_own/plain:1.0.0'),
                            (12, 6))):
      config = _config(self.data_dir, **changes)
      self.assertEqual(tuple(tfds_input.tfds_source(config, s).num_examples
                             for s in ('train', 'test')), sizes, changes)

  def test_bad_names_each_one_line(self):
    for dataset, message in (
        ('tfds:digits_own', 'tfds:digits_own has configs in %s/digits_own: '
         'name one, e.g. tfds:digits_own/plain' % self.data_dir),
        ('tfds:digits_own/plain:2.0.0', 'tfds:digits_own/plain:2.0.0: '
         'version 2.0.0 is not in %s/digits_own/plain (prepared: 1.0.0)' %
         self.data_dir),
        ('tfds:mnist', 'tfds:mnist is not prepared in %s (no %s/mnist/'
         'VERSION/dataset_info.json); where there is a network, prepare it '
         'with: python -c "import tensorflow_datasets as tfds; '
         'tfds.builder(\'mnist\', data_dir=\'%s\').download_and_prepare()"'
         % ((self.data_dir,) * 3)),
        ('tfds:no_such_set_anywhere', 'tfds:no_such_set_anywhere: '
         'tensorflow-datasets has no such dataset, and %s holds no prepared '
         'set of that name' % self.data_dir)):
      with self.assertRaises(errors.DataError) as caught:
        tfds_input.tfds_source(_config(self.data_dir, dataset), 'train')
      self.assertEqual(str(caught.exception), message)
    with self.assertRaisesRegex(errors.DataError, r"no feature 'picture' "
                                r'\(--image_key\); it has image, label'):
      tfds_input.tfds_source(_config(self.data_dir, image_key='picture'),
                             'train')
    with self.assertRaisesRegex(errors.DataError, r"has no split 'valid' "
                                r'\(--test_split\); it has '):
      tfds_input.tfds_source(_config(self.data_dir, test_split='valid'),
                             'test')

  def test_a_set_without_a_test_split_holds_out(self):
    data_dir = self.create_tempdir().full_path
    _write_set(data_dir, 'train_only', test=False, n=(30, 0))
    config = _config(data_dir, 'tfds:train_only', holdout=0.5)
    train = tfds_input.tfds_source(config, 'train')
    test = tfds_input.tfds_source(config, 'test')
    self.assertEqual(train.num_examples + test.num_examples, 30)
    # Half of each digit's images (at least one held, one kept).
    _, labels = idx.load_mnist(testdata.REAL_MNIST, 'test')
    counts = np.bincount(labels[:30], minlength=10)
    self.assertAllEqual(np.bincount(test.labels, minlength=10),
                        [min(max(1, round(c / 2)), c - 1) if c > 1 else 0
                         for c in counts])


class SameAsIdxTest(tf.test.TestCase):

  def test_a_set_written_from_idx_files_trains_on_the_same_batches(self):
    # idx_images.py keeps the IDX files' order (tfds' shuffling off), so a
    # run on tfds:NAME reads the very batches --data_source=idx reads: the
    # same pixels, labels, order and on-the-fly shifts.
    tmp = self.create_tempdir().full_path
    idx_dir = testdata.write_mnist(os.path.join(tmp, 'idx'), 30, 10)
    written = list(idx_images.write(idx_dir, os.path.join(tmp, 'tfds'),
                                    'tfds', name='tiny_idx:2.0.0'))
    self.assertEqual(written, [os.path.join(tmp, 'tfds', 'tiny_idx',
                                            '2.0.0')])
    sources = [registry.get_source(config_lib.RunConfig(**kwargs), 'train')
               for kwargs in (dict(data_dir=idx_dir, data_source='idx'),
                              dict(dataset='tfds:tiny_idx',
                                   data_dir=os.path.join(tmp, 'tfds'),
                                   cache_dir=None))]
    streams = [iter(s.train_dataset(8, seed=4)) for s in sources]
    for _ in range(5):  # Past the first epoch (30 images, batch 8).
      idx_batch, tfds_batch = (next(s) for s in streams)
      for key in idx_batch:
        self.assertAllEqual(tfds_batch[key], idx_batch[key], msg=key)
    self.assertEqual(sources[1].class_names, tuple('0123456789'))


if __name__ == '__main__':
  tf.test.main()
