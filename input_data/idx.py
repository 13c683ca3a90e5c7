"""Reading IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.

IDX layout: 2 zero bytes, a type byte (0x08 = uint8), a rank byte, then rank
big-endian uint32 sizes, then the data. Images are rank 3 [n, rows, cols],
labels rank 1 [n].
"""

import gzip
import hashlib
import os

import numpy as np

from input_data.errors import DataError

MNIST_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
SHA256SUMS = 'SHA256SUMS.uncompressed'


def find_file(data_dir, name):
  """The path of `name` or `name.gz` in data_dir; DataError if neither."""
  for candidate in (name, name + '.gz'):
    path = os.path.join(data_dir, candidate)
    if os.path.isfile(path):
      return path
  raise DataError('%s: no such file (nor %s.gz)' %
                  (os.path.join(data_dir, name), name))


def read_bytes(path):
  """The bytes of path, gunzipped if it ends in .gz; DataError if unreadable."""
  opener = gzip.open if path.endswith('.gz') else open
  try:
    with opener(path, 'rb') as f:
      return f.read()
  except (OSError, EOFError) as e:  # gzip raises these for damaged files.
    raise DataError('%s: cannot be read: %s' % (path, e)) from e


def _expected_digests(data_dir):
  """{uncompressed file name: sha256 hex} from SHA256SUMS.uncompressed."""
  path = os.path.join(data_dir, SHA256SUMS)
  if not os.path.isfile(path):
    return {}
  digests = {}
  with open(path) as f:
    for line in f:
      parts = line.split()
      if len(parts) == 2:
        digests[parts[1].lstrip('*')] = parts[0].lower()
  return digests


def read_idx(path, expected_rank, verify_sha256=None):
  """Reads one IDX file of uint8 into a numpy array.

  Args:
    path: the file, raw or ending in .gz.
    expected_rank: 3 for images, 1 for labels.
    verify_sha256: hex digest the uncompressed bytes must have, or None.

  Returns:
    uint8 array of the file's shape.

  Raises:
    DataError: naming the file, for a bad magic number, rank, size or digest.
  """
  data = read_bytes(path)
  if verify_sha256 and hashlib.sha256(data).hexdigest() != verify_sha256:
    raise DataError('%s: SHA-256 of the uncompressed bytes is %s, expected %s '
                    '(file damaged or not the canonical one)' %
                    (path, hashlib.sha256(data).hexdigest(), verify_sha256))
  if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
    raise DataError('%s: bad IDX magic number %s (expected 00 00 08 0r)' %
                    (path, data[:4].hex() or 'in an empty file'))
  rank = data[3]
  if rank != expected_rank:
    raise DataError('%s: IDX rank %d, expected %d' % (path, rank,
                                                      expected_rank))
  header = 4 + 4 * rank
  if len(data) < header:
    raise DataError('%s: truncated IDX header' % path)
  shape = tuple(int(x) for x in np.frombuffer(data, '>u4', rank, 4))
  size = int(np.prod(shape))
  if len(data) - header != size:
    raise DataError('%s: %d data bytes for shape %s, expected %d (truncated '
                    'or padded)' % (path, len(data) - header, shape, size))
  return np.frombuffer(data, np.uint8, size, header).reshape(shape)


def load_mnist(data_dir, split):
  """(images [n, 28, 28] uint8, labels [n] uint8) of 'train' or 'test'.

  Reads the canonical file names, raw or .gz. Where data_dir holds
  SHA256SUMS.uncompressed, each file is checked against it.
  """
  if split not in MNIST_FILES:
    raise DataError('split must be train or test, got %r' % (split,))
  digests = _expected_digests(data_dir)
  image_name, label_name = MNIST_FILES[split]
  images = read_idx(find_file(data_dir, image_name), 3,
                    digests.get(image_name))
  labels = read_idx(find_file(data_dir, label_name), 1,
                    digests.get(label_name))
  if images.shape[0] != labels.shape[0]:
    raise DataError('%s: %d images but %d labels in %s' %
                    (data_dir, images.shape[0], labels.shape[0], label_name))
  if labels.size and labels.max() > 9:
    raise DataError('%s: label %d out of range 0..9' %
                    (label_name, labels.max()))
  return images, labels


def write_idx(path, array, gzipped=None):
  """Writes a uint8 array as IDX, gzipped if asked (None: if path ends in
  .gz); for tests and tools."""
  array = np.asarray(array, np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(
      array.shape, '>u4').tobytes()
  if gzipped is None:
    gzipped = path.endswith('.gz')
  opener = gzip.open if gzipped else open
  with opener(path, 'wb') as f:
    f.write(header + array.tobytes())
