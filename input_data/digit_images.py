"""One's own digit images made to look like MNIST's, for predictions.

MNIST's recipe (LeCun, Cortes and Burges): each digit was scaled to fit a
20x20 box keeping its aspect ratio (anti-aliased, hence grey levels), then
placed in the 28x28 field with its centre of mass at the centre, white ink
on black. `to_mnist` does the same to any image:

  1. grayscale (ITU-R 601 luma; transparent pixels count as white paper);
  2. polarity: MNIST is light ink on a dark ground; a dark-on-light image
     (pen on paper) is inverted. 'auto' decides by the image's border:
     a border brighter than mid-grey is paper;
  3. the ground (median of the border) becomes 0 and the brightest ink 1;
  4. the ink's bounding box (pixels above INK) is cropped and resized so its
     longer side is 20 (of a 28 field; size * 20 / 28 in general);
  5. it is placed in the size x size field with its intensity-weighted
     centre of mass on pixel (14, 14) (size / 2), rounded to whole pixels
     as MNIST's were: the real test digits' centres lie at 14.0 +- 0.5.

A real MNIST digit goes through unchanged but for step 3's rescaling of its
peak (254 -> 255 in a tenth of them): its box is already 20 pixels long
(9,997 of the 10,000 test digits) and its centre already on (14, 14).
"""

import os
import re

import numpy as np

from input_data.errors import DataError

EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')
INK = 0.1  # Of the 0..1 range after step 3: what counts as the digit's box.
POLARITIES = ('auto', 'light_on_dark', 'dark_on_light')


def list_images(paths, skip_suffix=None):
  """Files of `paths` (files, or folders read one level deep for files with
  EXTENSIONS, sorted); names ending in skip_suffix (this tool's own outputs)
  are left out of folders. A path that does not exist is kept: reading it
  gives its one-line error."""
  files = []
  for path in paths:
    if os.path.isdir(path):
      names = sorted(n for n in os.listdir(path)
                     if n.lower().endswith(EXTENSIONS) and not (
                         skip_suffix and n.endswith(skip_suffix)))
      files += [os.path.join(path, n) for n in names]
    else:
      files.append(path)
  return files


def read_grayscale(path):
  """float32 [h, w] in [0, 1] of a PNG, JPEG, BMP or GIF (first frame);
  DataError naming the file if it cannot be read or decoded."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise DataError('%s: cannot be read (%s)' % (path, e.strerror)) from e
  if not data:
    raise DataError('%s: empty file' % path)
  try:
    image = tf.io.decode_image(data, dtype=tf.float32,  # 16-bit PNGs too.
                               expand_animations=False)
  except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
    # The op's message without its node and op names: '{{function_node
    # ...}} Unknown image file format. ... [Op:DecodeImage]'.
    reason = re.sub(r'\{\{.*?\}\}\s*|\s*\[Op:\w+\]', '',
                    e.message.splitlines()[0])
    raise DataError('%s: not a PNG, JPEG, BMP or GIF image (%s)' %
                    (path, reason)) from e
  image = image.numpy()  # [h, w, c] in [0, 1]
  if image.shape[0] == 0 or image.shape[1] == 0:
    raise DataError('%s: image has no pixels' % path)
  channels = image.shape[-1]
  if channels in (2, 4):  # Alpha: composite over white paper.
    alpha = image[..., -1:]
    image = image[..., :-1] * alpha + (1.0 - alpha)
  if image.shape[-1] == 3:
    image = image @ np.array([0.299, 0.587, 0.114], np.float32)
  else:
    image = image[..., 0]
  return image.astype(np.float32)


def _border(image):
  return np.concatenate([image[0], image[-1], image[1:-1, 0],
                         image[1:-1, -1]])


def to_mnist(image, size=28, polarity='auto', path='image'):
  """float32 [size, size] in [0, 1]: image [h, w] in [0, 1] as MNIST's.

  Args:
    image: grayscale float [h, w] in [0, 1].
    size: the model's field (28 for MNIST).
    polarity: one of POLARITIES.
    path: names the image in errors.

  Raises:
    DataError: no digit in the image (blank after step 3).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if polarity not in POLARITIES:
    raise ValueError('polarity must be one of %s, got %r' % (POLARITIES,
                                                             polarity))
  image = np.asarray(image, np.float32)
  if polarity == 'dark_on_light' or (
      polarity == 'auto' and np.median(_border(image)) > 0.5):
    image = 1.0 - image
  ground = np.median(_border(image))
  peak = image.max()
  if peak - ground < INK:
    raise DataError('%s: no digit found (the image is blank: its brightest '
                    'ink is within %.1f of its ground)' % (path, INK))
  image = np.clip((image - ground) / (peak - ground), 0.0, 1.0)
  rows = np.flatnonzero((image > INK).any(axis=1))
  cols = np.flatnonzero((image > INK).any(axis=0))
  crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
  box = size * 20 / 28  # MNIST's 20x20 box in its 28x28 field.
  height, width = crop.shape
  scale = box / max(height, width)
  new = (max(1, int(round(height * scale))), max(1, int(round(width * scale))))
  if new != crop.shape:  # Anti-aliased, as MNIST's normalisation.
    crop = tf.image.resize(crop[..., None], new, method='bilinear',
                           antialias=True).numpy()[..., 0]
    crop = np.clip(crop, 0.0, 1.0)
  height, width = crop.shape
  mass = crop.sum()
  centre_y = (crop.sum(axis=1) * np.arange(height)).sum() / mass
  centre_x = (crop.sum(axis=0) * np.arange(width)).sum() / mass
  # Top-left corner that puts the centre of mass on (size/2, size/2), kept
  # inside the field.
  top = int(np.clip(np.round(size / 2 - centre_y), 0, size - height))
  left = int(np.clip(np.round(size / 2 - centre_x), 0, size - width))
  field = np.zeros([size, size], np.float32)
  field[top:top + height, left:left + width] = crop
  return field


def to_uint8(image):
  """[h, w] in [0, 1] -> uint8, as the readers' inverse (x * 255)."""
  return np.round(np.asarray(image) * 255.0).astype(np.uint8)
