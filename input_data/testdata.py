"""Tiny data files in the published formats, written by the tests."""

import os

import numpy as np

from input_data import idx
from input_data.cifar10 import cifar10_input
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from input_data.norb import smallnorb_convert


def write_mnist(directory, n_train=20, n_test=10):
  """Tiny IDX files: image i has one bright pixel at (10 + i % 5, 12)."""
  os.makedirs(directory, exist_ok=True)
  for split, n in (('train', n_train), ('test', n_test)):
    images = np.zeros([n, 28, 28], np.uint8)
    for i in range(n):
      images[i, 10 + i % 5, 12] = 200
      images[i, 3, 3] = i % 256  # Tells the images apart.
    image_name, label_name = idx.MNIST_FILES[split]
    idx.write_idx(os.path.join(directory, image_name + '.gz'), images)
    idx.write_idx(os.path.join(directory, label_name), np.arange(n) % 10)
  return directory


def write_cifar(directory, per_file=3):
  """Tiny data_batch_{1..5}.bin and test_batch.bin; pixel (0,0) red = index."""
  os.makedirs(directory, exist_ok=True)
  index = 0
  for name in cifar10_input.TRAIN_FILES + cifar10_input.TEST_FILES:
    records = []
    for _ in range(per_file):
      planes = np.zeros([3, 32, 32], np.uint8)
      planes[0, 0, 0] = index
      planes[1, 5, 7] = 200  # Green pixel at row 5, column 7.
      records.append(bytes([index % 10]) + planes.tobytes())
      index += 1
    with open(os.path.join(directory, name), 'wb') as f:
      f.write(b''.join(records))
  return directory


def write_smallnorb(directory, n=6, size=96, gz=False):
  """Tiny smallNORB .mat files: pair i has value i in the left image."""
  os.makedirs(directory, exist_ok=True)
  for split, prefix in smallnorb_convert.PREFIX.items():
    images = np.zeros([n, 2, size, size], np.uint8)
    images[:, 0] = np.arange(n)[:, None, None]
    images[:, 1, 0, 0] = 255
    labels = (np.arange(n) % 5).astype(np.int32)
    info = np.stack([np.arange(n), np.full(n, 3), np.full(n, 4),
                     np.full(n, 5)], 1).astype(np.int32)
    suffix = '.gz' if gz else ''
    smallnorb_convert.write_matrix(
        os.path.join(directory, prefix + 'dat.mat' + suffix), images)
    smallnorb_convert.write_matrix(
        os.path.join(directory, prefix + 'cat.mat' + suffix), labels)
    smallnorb_convert.write_matrix(
        os.path.join(directory, prefix + 'info.mat' + suffix), info)
    del split
  return directory


def idx_sources(tmp, n_train=8, n_test=4):
  """(train, test) sources over tiny IDX files, digits shifted on the fly."""
  data = write_mnist(os.path.join(tmp, 'idx'), n_train, n_test)
  return tuple(mnist_input_record.mnist_source(data, split, data_source='idx')
               for split in ('train', 'test'))


def make_mnist_records(tmp):
  idx_dir = write_mnist(os.path.join(tmp, 'idx'), n_train=20,
                                         n_test=7)
  data_dir = os.path.join(tmp, 'records')
  # The names experiment.py reads by default: train shifted by 2, test by 0.
  mnist_shift.generate(idx_dir, data_dir, 'train', shift=2)
  mnist_shift.generate(idx_dir, data_dir, 'test', shift=0)
  return data_dir


REAL_MNIST = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'data', 'mnist')


def write_image_folder(directory, classes=3, per_class=(4, 2), size=None,
                       rgb=False, formats=('png',), names=None):
  """A folder of real MNIST digits in --dataset=folder's layout:
  DIRECTORY/{train,test}/CLASS/NNNNN.EXT, class i the digit i (names: the
  folders' names, default c00, c01, ...; more than 10 classes reuse digits
  i % 10, inverted for the second ten). size (height, width) resizes
  them (nearest), rgb puts the digit in the red and green channels only,
  formats cycles over 'png', 'jpg', 'bmp', 'gif' per file. per_class:
  (train, test) images of each class; test 0 writes no test/.

  Returns:
    (directory, {path: (label, uint8 [h, w, c] as written)}).
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  images, labels = idx.load_mnist(REAL_MNIST, 'test')
  names = names or ['c%02d' % i for i in range(classes)]
  written = {}
  k = 0
  for split, count in zip(('train', 'test'), per_class):
    for label in range(classes if count else 0):
      folder = os.path.join(directory, split, names[label])
      os.makedirs(folder, exist_ok=True)
      chosen = np.flatnonzero(labels == label % 10)[
          (0 if split == 'train' else 50):][:count]
      for i in chosen:
        image = images[i] if label < 10 else 255 - images[i]
        if size:
          image = np.array(Image.fromarray(image).resize(size[::-1],
                                                         Image.NEAREST))
        if rgb:
          image = np.stack([image, image // 2, np.zeros_like(image)], -1)
        ext = formats[k % len(formats)]
        k += 1
        path = os.path.join(folder, '%05d.%s' % (i, ext))
        Image.fromarray(image).save(path, quality=95)
        with Image.open(path) as saved:
          kept = np.array(saved.convert('RGB' if rgb else 'L'))
        written[path] = (label, kept if rgb else kept[..., None])
  return directory, written
