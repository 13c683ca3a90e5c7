"""affNIST, the paper's generalisation test, its stand-in affine-MNIST, and
the expanded MNIST both train on (MNIST digits at random in 40x40).

Training: MNIST digits placed at a uniformly random position of a black
40x40 image (padded by 6, shifted by up to 6 pixels each way), made on the
fly from the MNIST IDX files in data_dir. Evaluation: affine_mnist, the
files of input_data/affnist/affine_mnist.py; expanded_mnist, the MNIST test
digits centred in 40x40; affnist, the published affNIST files, MATLAB .mat
holding a struct `affNISTdata` with fields `image`
(uint8 [1600, N], one 40x40 image per column, row-major) and `label_int`
([1, N]). data_dir holds either `test.mat` or the batches `1.mat` ...
`32.mat` (as in test_batches.zip); either may be gzip-compressed.
"""

import glob
import os
import re

import numpy as np

from input_data import errors
from input_data import source
from input_data.affnist import affine_mnist
from input_data.affnist import matfile
from input_data.mnist import splits

SIZE = 40
PAD = (SIZE - 28) // 2  # 6: a 28x28 digit can sit anywhere inside 40x40.


def _batch_files(data_dir):
  """The .mat files of an affNIST directory, batches in numeric order."""
  for name in ('test.mat', 'test.mat.gz'):
    if os.path.isfile(os.path.join(data_dir, name)):
      return [os.path.join(data_dir, name)]
  batches = [p for p in glob.glob(os.path.join(data_dir, '*.mat*'))
             if re.fullmatch(r'\d+\.mat(\.gz)?', os.path.basename(p))]
  if not batches:
    raise errors.DataError('%s: no affNIST test.mat nor numbered batches '
                           '(1.mat, 2.mat, ...)' % data_dir)
  return sorted(batches, key=lambda p: int(os.path.basename(p).split('.')[0]))


def load_affnist(data_dir):
  """(images uint8 [n, 40, 40], labels int64 [n]) of the affNIST test set."""
  images, labels = [], []
  for path in _batch_files(data_dir):
    data = matfile.read_mat(path).get('affNISTdata')
    if not isinstance(data, dict) or not {'image', 'label_int'} <= set(data):
      raise errors.DataError('%s: no struct affNISTdata with fields image and '
                             'label_int' % path)
    image, label = data['image'], np.ravel(data['label_int'])
    if image.ndim != 2 or image.shape[0] != SIZE * SIZE or (
        image.shape[1] != label.size):
      raise errors.DataError('%s: image has shape %s and label_int %d values, '
                             'expected [1600, N] and N' % (path, image.shape,
                                                        label.size))
    if label.size and (label.min() < 0 or label.max() > 9):
      raise errors.DataError('%s: label_int out of range 0..9' % path)
    images.append(image.T.reshape(-1, SIZE, SIZE).astype(np.uint8))
    labels.append(label.astype(np.int64))
  return np.concatenate(images), np.concatenate(labels)


def _training_source(data_dir):
  """MNIST training digits (IDX files in data_dir) at random in 40x40:
  padded by 6, shifted by up to 6 each way on the fly (expanded MNIST)."""
  images, labels = splits.load_split(data_dir, 'train')
  images = splits.pad_images(images, PAD)
  return source.InMemorySource(
      images.reshape(images.shape[0], -1), labels.astype(np.int64), SIZE,
      describe=data_dir, shift=PAD)


def _test_source(images, labels, describe):
  return source.InMemorySource(
      images.reshape(images.shape[0], -1), labels, SIZE, describe=describe)


def _check_split(split):
  if split not in ('train', 'test'):
    raise ValueError('split must be train or test, got %r' % (split,))


def affnist_source(data_dir, split):
  """train: MNIST (IDX files in data_dir) at random in 40x40; test: affNIST."""
  _check_split(split)
  if split == 'train':
    return _training_source(data_dir)
  return _test_source(*load_affnist(data_dir), data_dir)


def affine_mnist_source(data_dir, split):
  """train: as affnist_source; test: the affine-MNIST stand-in files that
  input_data/affnist/affine_mnist.py wrote in data_dir (not affNIST)."""
  _check_split(split)
  if split == 'train':
    return _training_source(data_dir)
  return _test_source(*affine_mnist.load(data_dir), data_dir)


def expanded_mnist_source(data_dir, split):
  """train: as affnist_source; test: the MNIST test digits centred in 40x40
  (padded by 6: affNIST's untransformed layout), expanded MNIST's own test."""
  _check_split(split)
  if split == 'train':
    return _training_source(data_dir)
  images, labels = splits.load_split(data_dir, 'test')
  return _test_source(splits.pad_images(images, PAD), labels.astype(np.int64),
                      data_dir)
