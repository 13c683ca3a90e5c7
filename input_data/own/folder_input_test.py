"""Tests of input_data/own/folder_input.py on small real folders (MNIST
test digits written as image files) and on damaged ones."""

import os
from unittest import mock

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import testdata
from input_data.own import folder_input
from input_data.own import image_cache
from runner import config as config_lib


def _config(data_dir, **changes):
  return config_lib.RunConfig(dataset='folder', data_dir=data_dir,
                              cache_dir=None, **changes)


class FolderTest(tf.test.TestCase):

  def test_pixels_labels_and_class_names_as_written(self):
    root, written = testdata.write_image_folder(
        self.create_tempdir().full_path, classes=3, per_class=(3, 2),
        formats=('png', 'bmp', 'gif'), names=['cat', 'ant', 'bee'])
    train = folder_input.folder_source(_config(root), 'train')
    test = folder_input.folder_source(_config(root), 'test')
    # Sorted folder names: ant 0, bee 1, cat 2.
    self.assertEqual(train.class_names, ('ant', 'bee', 'cat'))
    self.assertEqual(tuple(train.info), (28, 1, 3, 1))
    self.assertEqual((train.num_examples, test.num_examples), (9, 6))
    # By class, then file name: the pixels and labels of every file.
    paths = sorted((p for p in written if '/test/' in p),
                   key=lambda p: (['ant', 'bee', 'cat'].index(
                       p.split('/')[-2]), p))
    features = next(iter(test.eval_dataset(6, 6)))
    self.assertAllEqual(features['recons_label'],
                        [0, 0, 1, 1, 2, 2])
    expected = np.stack([written[p][1] for p in paths]).reshape(6, -1)
    self.assertAllEqual(np.round(features['images'].numpy() * 255), expected)
    self.assertEqual([written[p][0] for p in paths], [1, 1, 2, 2, 0, 0])

  def test_rgb_odd_size_jpeg_and_png_and_fifteen_classes(self):
    root, _ = testdata.write_image_folder(
        self.create_tempdir().full_path, classes=15, per_class=(2, 1),
        size=(40, 32), rgb=True, formats=('png', 'jpg'))
    test = folder_input.folder_source(_config(root), 'test')
    # 40x32: the centre 32x32; colour: 3 channels; one capsule a class.
    self.assertEqual(tuple(test.info), (32, 3, 15, 1))
    self.assertEqual(test.class_names, tuple('c%02d' % i for i in range(15)))
    resized = folder_input.folder_source(_config(root, image_size=20,
                                                 channels=1), 'train')
    self.assertEqual(tuple(resized.info), (20, 1, 15, 1))
    self.assertEqual(resized.num_examples, 30)

  def test_holdout_without_a_test_folder_and_validate(self):
    root, _ = testdata.write_image_folder(
        self.create_tempdir().full_path, classes=2, per_class=(10, 0))
    config = _config(root, holdout=0.3)
    sizes = [folder_input.folder_source(c, s).num_examples
             for c in (config, config.replace(validate=True))
             for s in ('train', 'test')]
    # 3 of each class's 10 are the test split; with --validate, 2 of the
    # other 7 (round(2.1)) are valid_test.
    self.assertEqual(sizes, [14, 6, 10, 4])
    with self.assertRaisesRegex(errors.DataError, 'no test split; '
                                '--holdout=F holds out'):
      folder_input.folder_source(_config(root, holdout=0.0), 'test')

  def test_the_cache_is_used_and_made_anew_when_a_file_changes(self):
    root, written = testdata.write_image_folder(
        self.create_tempdir().full_path, classes=2, per_class=(2, 1))
    cache = self.create_tempdir().full_path
    config = _config(root).replace(cache_dir=cache)
    first = folder_input.folder_source(config, 'train')
    self.assertLen(os.listdir(cache), 1)
    with mock.patch.object(folder_input, '_decode_split',
                           side_effect=AssertionError('decoded again')):
      again = folder_input.folder_source(config, 'train')
    self.assertAllEqual(again.images, first.images)
    os.utime(sorted(written)[0], ns=(1, 1))  # Another time: decoded again.
    with mock.patch.object(folder_input, '_decode_split',
                           wraps=folder_input._decode_split) as decode:
      folder_input.folder_source(config, 'train')
    self.assertEqual(decode.call_count, 2)  # train and test.
    self.assertLen(os.listdir(cache), 2)


  def test_a_split_too_large_for_memory_streams_from_its_cache_file(self):
    # With the memory limit below the images' size, they are decoded into
    # the cache's .npy files and read from there (np.memmap) as training
    # and evaluation ask: the same batches as the split held in memory.
    for rgb in (False, True):
      root, _ = testdata.write_image_folder(
          self.create_tempdir().full_path, classes=3, per_class=(5, 2),
          rgb=rgb)
      cache = self.create_tempdir().full_path
      held = _config(root, random_flip=True)
      with mock.patch.object(image_cache, 'memory_limit', return_value=1000):
        streamed = {split: folder_input.folder_source(
            held.replace(cache_dir=cache), split) for split in ('train',
                                                                'test')}
        again = folder_input.folder_source(held.replace(cache_dir=cache),
                                           'test')
      self.assertIsInstance(streamed['train'].images, np.memmap)
      self.assertIsInstance(again.images, np.memmap)
      (folder,) = os.listdir(cache)
      self.assertCountEqual(os.listdir(os.path.join(cache, folder)), [
          'header.json', 'train_images.npy', 'train_labels.npy',
          'test_images.npy', 'test_labels.npy'])
      for split, source in streamed.items():
        memory = folder_input.folder_source(held, split)
        self.assertNotIsInstance(memory.images, np.memmap)
        self.assertEqual(tuple(source.info), tuple(memory.info))
        batches = [source.eval_dataset(4, source.num_examples),
                   memory.eval_dataset(4, memory.num_examples)]
        if split == 'train':
          batches = [s.train_dataset(4, seed=3).take(6)
                     for s in (source, memory)]
        for a, b in zip(*batches):
          for key in a:
            self.assertAllEqual(a[key], b[key], msg=key)


class BadFolderTest(tf.test.TestCase):
  """Each bad folder is one DataError naming the path and what is wrong."""

  def _folder(self, **kwargs):
    kwargs.setdefault('per_class', (2, 1))
    root, written = testdata.write_image_folder(
        self.create_tempdir().full_path, **kwargs)
    return root, sorted(written)

  def _error(self, root, **changes):
    with self.assertRaises(errors.DataError) as caught:
      folder_input.folder_source(_config(root, **changes), 'train')
    return str(caught.exception)

  def test_no_train_folder(self):
    root = self.create_tempdir().full_path
    self.assertEqual(self._error(root), '%s/train: no such folder (own '
                     'images are DIR/train/CLASS/IMAGE files, and '
                     'DIR/test/CLASS/IMAGE or --holdout)' % root)

  def test_fewer_than_two_classes(self):
    root, _ = self._folder(classes=1)
    self.assertEqual(self._error(root), '%s/train: 1 class folder (c00); a '
                     'classifier needs two or more' % root)

  def test_a_class_folder_without_images(self):
    root, _ = self._folder(classes=2)
    os.makedirs(os.path.join(root, 'train', 'c02'))
    with open(os.path.join(root, 'train', 'c02', 'notes.txt'), 'w') as f:
      f.write('not an image')
    self.assertEqual(self._error(root), '%s/train/c02: no images (PNG, JPEG, '
                     'BMP or GIF files)' % root)

  def test_a_test_class_the_training_split_lacks(self):
    root, _ = self._folder(classes=2)
    os.makedirs(os.path.join(root, 'test', 'zebra'))
    self.assertEqual(self._error(root), '%s/test: class folder zebra not in '
                     '%s/train' % (root, root))

  def test_a_test_folder_without_class_folders(self):
    root, _ = self._folder(classes=2, per_class=(2, 0))
    os.makedirs(os.path.join(root, 'test'))
    self.assertEqual(self._error(root), '%s/test: no class folders '
                     '(CLASS/IMAGE files)' % root)

  def test_a_file_that_is_not_an_image_and_a_truncated_one(self):
    root, paths = self._folder(classes=2)
    # paths: test/c00, test/c01, then train/c00 (two), train/c01 (two).
    with open(paths[0], 'w') as f:
      f.write('hello')
    with open(paths[3], 'rb') as f:
      data = f.read()
    with open(paths[3], 'wb') as f:
      f.write(data[:len(data) // 2])
    message = self._error(root)  # train/ is read first.
    self.assertStartsWith(message, '%s: not a PNG, JPEG, BMP or GIF image (' %
                          paths[3])
    self.assertEndsWith(message, '(1 file of %s/train; --skip_bad_images '
                        'skips them)' % root)
    # Skipped and counted instead.
    sizes = [folder_input.folder_source(
        _config(root, skip_bad_images=True), split).num_examples
             for split in ('train', 'test')]
    self.assertEqual(sizes, [3, 1])
    with open(paths[1], 'w') as f:
      f.write('hello')
    self.assertEqual(self._error(root, skip_bad_images=True),
                     '%s/test: no image decodes' % root)

  def test_mixed_sizes_need_image_size(self):
    root, paths = self._folder(classes=2)
    testdata.write_image_folder(root + '_big', classes=1, per_class=(1, 0),
                                size=(30, 30))
    big = os.path.join(root + '_big', 'train', 'c00')
    name = os.listdir(big)[0]
    os.replace(os.path.join(big, name), os.path.join(root, 'train', 'c01',
                                                     'z' + name))
    self.assertEqual(self._error(root), (
        '%s/train/c01/z%s is 30x30 but %s is 28x28: images of mixed sizes '
        'need --image_size=N (each resized, aspect kept, and centre-cropped '
        'to N x N)' % (root, name, paths[[p for p in paths].index(
            sorted(p for p in paths if '/train/c00/' in p)[0])])))
    self.assertEqual(folder_input.folder_source(
        _config(root, image_size=28), 'train').num_examples, 5)

  def test_an_image_declaring_too_many_pixels(self):
    root, paths = self._folder(classes=2)
    with open(paths[-1], 'r+b') as f:  # The PNG header's width: 100,000.
      f.seek(16)
      f.write((100000).to_bytes(4, 'big'))
      f.seek(20)
      f.write((1000).to_bytes(4, 'big'))
    self.assertEqual(self._error(root), '%s: declares 100000000 pixels, '
                     'more than 40000000: not decoded (--skip_bad_images '
                     'skips it)' % paths[-1])


if __name__ == '__main__':
  tf.test.main()
