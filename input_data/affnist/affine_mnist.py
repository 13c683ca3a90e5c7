r"""affine-MNIST: a stand-in for affNIST's test set, made from MNIST here.

NOT affNIST. affNIST (Tieleman) is the paper's affine-generalisation test;
where its files cannot be had, this writes the same kind of test set from
the 10,000 MNIST test digits: each digit centred in 40x40 (6 pixels of
ground around it, affNIST's "untransformed" layout), then moved by its own
seeded random affine map in the ranges affNIST's page gives:

  rotation   uniform in [-20, 20] degrees (positive: counter-clockwise)
  shear      uniform in [-0.2, 0.2] (horizontal: x += shear * y)
  scale      uniform in [0.8, 1.2], horizontal and vertical drawn apart
  translation uniform over every shift that keeps the digit's ink (its
             nonzero pixels' centres) at least one pixel inside the image

How it differs from affNIST: other random draws (one transform per test
digit, where affNIST has 32 per training digit and one per test digit);
this composition order and bilinear resampling (affNIST's own resampling
is not documented to the pixel); uint8 rounding; and, like affNIST, the
test digits themselves are MNIST's. Compare numbers on it with each other,
not with the paper's affNIST table.

The map, in pixel coordinates (x = column, y = row, pixel centres at
integers, c = (19.5, 19.5) the image centre):
  q = A (p - c) + c + t,  A = R(rotation) Sh(shear) S(scale_x, scale_y)
  R = [[cos, sin], [-sin, cos]] (counter-clockwise as displayed, y down),
  Sh = [[1, shear], [0, 1]], S = diag(scale_x, scale_y).
Each output pixel q takes the source at p = A^-1 (q - c - t) + c, bilinear,
zero outside.

Files written (in --output_dir; IDX as MNIST's, gzip):
  affine-mnist-t10k-images-idx3-ubyte.gz   uint8 [10000, 40, 40]
  affine-mnist-t10k-labels-idx1-ubyte.gz   uint8 [10000]
  affine-mnist-t10k-transforms.csv         per image: index, label,
      rotation_deg, shear, scale_x, scale_y, translate_x, translate_y, and
      the forward map q = M p + m as m11, m12, m21, m22, m1, m2

  python input_data/affnist/affine_mnist.py --data_dir=data/mnist \
    --output_dir=data/affine_mnist --seed=0

`experiment.py --dataset=affine_mnist --data_dir=D` reads D's MNIST training
IDX files for training (digits at random in 40x40, as for affNIST) and
these files for testing; `--dataset=expanded_mnist` tests on the MNIST test
digits centred in 40x40 instead (expanded MNIST's own test accuracy).
"""

import csv
import os
import sys

from absl import app
from absl import flags
import numpy as np

if __name__ == '__main__':
  # Run as a script: the repository root on the path.
  sys.path.insert(0, os.path.abspath(os.path.join(
      os.path.dirname(__file__), '..', '..')))

# pylint: disable=g-import-not-at-top,wrong-import-position
from common import files
from input_data import errors
from input_data import idx
# pylint: enable=g-import-not-at-top,wrong-import-position

SIZE = 40
PAD = (SIZE - 28) // 2  # 6
CENTRE = (SIZE - 1) / 2.0  # 19.5
ROTATION_DEG = 20.0
SHEAR = 0.2
SCALE = (0.8, 1.2)
MARGIN = 1.0  # Ink centres stay this far inside: the bilinear footprint fits.
PREFIX = 'affine-mnist-t10k-'
IMAGES = PREFIX + 'images-idx3-ubyte.gz'
LABELS = PREFIX + 'labels-idx1-ubyte.gz'
TRANSFORMS = PREFIX + 'transforms.csv'
COLUMNS = ('index', 'label', 'rotation_deg', 'shear', 'scale_x', 'scale_y',
           'translate_x', 'translate_y', 'm11', 'm12', 'm21', 'm22', 'm1',
           'm2')


def linear_part(rotation_deg, shear, scale_x, scale_y):
  """A = R Sh S, the 2x2 linear part of the map (x, y coordinates)."""
  theta = np.deg2rad(rotation_deg)
  rotation = np.array([[np.cos(theta), np.sin(theta)],
                       [-np.sin(theta), np.cos(theta)]])
  return rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(
      [scale_x, scale_y])


def forward_map(a, translation):
  """(M, m) with q = M p + m: the map about the centre, in pixel coords."""
  centre = np.array([CENTRE, CENTRE])
  return a, centre + np.asarray(translation) - a @ centre


def warp(image, matrix, offset):
  """image [h, w] float, resampled so that source p lands at M p + m.

  Each output pixel q reads the source at p = M^-1 (q - m), bilinear, zero
  outside the image.
  """
  h, w = image.shape
  inverse = np.linalg.inv(matrix)
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  q = np.stack([xs.ravel(), ys.ravel()]) - np.asarray(offset)[:, None]
  px, py = inverse @ q  # Source coordinates of every output pixel.
  x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
  fx, fy = px - x0, py - y0
  padded = np.pad(np.asarray(image, np.float64), 1)  # Zero outside.

  def at(y, x):
    inside = (y >= -1) & (y <= h) & (x >= -1) & (x <= w)
    return np.where(inside, padded[np.clip(y + 1, 0, h + 1),
                                   np.clip(x + 1, 0, w + 1)], 0.0)

  out = ((1 - fy) * (1 - fx) * at(y0, x0) + (1 - fy) * fx * at(y0, x0 + 1) +
         fy * (1 - fx) * at(y0 + 1, x0) + fy * fx * at(y0 + 1, x0 + 1))
  return out.reshape(h, w)


def translation_range(image, a):
  """Per axis (x, y): [low, high] of the translations keeping image's ink
  centres within [MARGIN, SIZE - 1 - MARGIN] once mapped by a."""
  ys, xs = np.nonzero(image)
  centre = np.array([[CENTRE], [CENTRE]])
  mapped = a @ (np.stack([xs, ys]).astype(np.float64) - centre) + centre
  low = MARGIN - mapped.min(axis=1)
  high = (SIZE - 1 - MARGIN) - mapped.max(axis=1)
  return low, high


def transform_images(images, rng):
  """(uint8 [n, 40, 40], rows of COLUMNS without index/label) of MNIST
  images [n, 28, 28], each by its own random map."""
  n = images.shape[0]
  out = np.zeros([n, SIZE, SIZE], np.uint8)
  rows = []
  for i in range(n):
    source = np.pad(images[i], PAD).astype(np.float64)
    rotation = rng.uniform(-ROTATION_DEG, ROTATION_DEG)
    shear = rng.uniform(-SHEAR, SHEAR)
    scale_x, scale_y = rng.uniform(*SCALE, size=2)
    a = linear_part(rotation, shear, scale_x, scale_y)
    low, high = translation_range(source, a)
    if np.any(low > high):  # Cannot happen in these ranges (28 * 1.2 * ...).
      raise errors.DataError('test digit %d does not fit in %dx%d after its '
                             'transform' % (i, SIZE, SIZE))
    translation = rng.uniform(low, high)
    matrix, offset = forward_map(a, translation)
    out[i] = np.clip(np.round(warp(source, matrix, offset)), 0, 255)
    rows.append([rotation, shear, scale_x, scale_y, translation[0],
                 translation[1], matrix[0, 0], matrix[0, 1], matrix[1, 0],
                 matrix[1, 1], offset[0], offset[1]])
  return out, rows


def _replace(path, write):
  """write(a temporary path), then rename it over path: never a
  half-written file."""
  with files.replaced(path) as temporary:
    write(temporary)
  return path


def generate(data_dir, output_dir, seed=0, limit=None):
  """Writes the affine-MNIST test files; returns their paths. limit: only
  the first `limit` test digits (tests)."""
  images, labels = idx.load_mnist(data_dir, 'test')
  if limit is not None:
    images, labels = images[:limit], labels[:limit]
  warped, rows = transform_images(images, np.random.RandomState(seed))
  os.makedirs(output_dir, exist_ok=True)

  def write_csv(path):
    with open(path, 'w', newline='') as f:
      writer = csv.writer(f)
      writer.writerow(COLUMNS)
      for i, row in enumerate(rows):
        writer.writerow([i, int(labels[i])] + ['%.9g' % v for v in row])

  return [
      _replace(os.path.join(output_dir, IMAGES),
               lambda tmp: idx.write_idx(tmp, warped, gzipped=True)),
      _replace(os.path.join(output_dir, LABELS),
               lambda tmp: idx.write_idx(tmp, labels, gzipped=True)),
      _replace(os.path.join(output_dir, TRANSFORMS), write_csv)]


def load(data_dir):
  """(images uint8 [n, 40, 40], labels int64 [n]) of the files in data_dir."""
  images = idx.read_idx(idx.find_file(data_dir, IMAGES[:-3]), 3)
  labels = idx.read_idx(idx.find_file(data_dir, LABELS[:-3]), 1)
  if images.shape[1:] != (SIZE, SIZE) or images.shape[0] != labels.shape[0]:
    raise errors.DataError(
        '%s: affine-MNIST images must be [n, %d, %d] with n labels; got %s '
        'and %d labels' % (data_dir, SIZE, SIZE, images.shape,
                           labels.shape[0]))
  if labels.size and labels.max() > 9:
    raise errors.DataError('%s: affine-MNIST labels must be 0..9' % data_dir)
  return images, labels.astype(np.int64)


def read_transforms(data_dir):
  """The rows of the transforms CSV: a list of dicts of floats (index and
  label as ints)."""
  with open(os.path.join(data_dir, TRANSFORMS), newline='') as f:
    rows = list(csv.DictReader(f))
  return [{k: (int(v) if k in ('index', 'label') else float(v))
           for k, v in row.items()} for row in rows]


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string('data_dir', None, 'Directory of the MNIST IDX files '
                      '(its t10k files are transformed).')
  flags.DEFINE_string('output_dir', None, 'Where to write (default: '
                      'data_dir).')
  flags.DEFINE_integer('seed', 0, 'Seed of the random maps.')


def main(argv):
  del argv
  if not FLAGS.data_dir:
    sys.exit('affine_mnist.py: --data_dir is required (the MNIST IDX files)')
  errors.report_writes('affine_mnist.py', lambda: generate(
      FLAGS.data_dir, FLAGS.output_dir or FLAGS.data_dir, FLAGS.seed))


if __name__ == '__main__':
  define_flags()
  app.run(main)
