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
# Images declaring more pixels are refused before decoding: a 388 KB PNG can
# declare 20,000 x 20,000 (6.9 GB once decoded). 40 megapixels (an 8K frame
# is 33) decode to at most 640 MB of float32 RGBA.
MAX_PIXELS = 40_000_000


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


def _gif_frames(data):
  """Number of images in a GIF's block stream (None if it cannot tell)."""
  def skip_color_table(flags, at):
    return at + 3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else at

  def skip_sub_blocks(at):
    while at < len(data) and data[at]:
      at += data[at] + 1
    return at + 1
  at, frames = skip_color_table(data[10], 13), 0
  while at < len(data):
    block = data[at]
    if block == 0x3B:  # Trailer.
      break
    if block == 0x21:  # Extension: label, then sub-blocks.
      at = skip_sub_blocks(at + 2)
    elif block == 0x2C:  # Image: descriptor, colour table, LZW size, data.
      frames += 1
      if at + 10 > len(data):
        break
      at = skip_sub_blocks(skip_color_table(data[at + 9], at + 10) + 1)
    else:
      return None
  return frames


def declared_size(data):
  """(width, height, frames) an image file's header declares, read without
  decoding its pixels; None for a format it does not know."""
  if data[:8] == b'\x89PNG\r\n\x1a\n' and data[12:16] == b'IHDR':
    return (int.from_bytes(data[16:20], 'big'),
            int.from_bytes(data[20:24], 'big'), 1)
  if data[:6] in (b'GIF87a', b'GIF89a') and len(data) >= 13:
    return (int.from_bytes(data[6:8], 'little'),
            int.from_bytes(data[8:10], 'little'), _gif_frames(data) or 1)
  if data[:2] == b'BM' and len(data) >= 26:
    return (abs(int.from_bytes(data[18:22], 'little', signed=True)),
            abs(int.from_bytes(data[22:26], 'little', signed=True)), 1)
  if data[:2] == b'\xff\xd8':
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    try:  # Reads the frame header only.
      height, width, _ = tf.io.extract_jpeg_shape(data).numpy()
    except tf.errors.OpError:
      return None
    return int(width), int(height), 1
  return None


def read_grayscale(path, max_pixels=MAX_PIXELS):
  """float32 [h, w] in [0, 1] of a PNG, JPEG, BMP or GIF (first frame);
  DataError naming the file if it cannot be read or decoded, or declares
  more than max_pixels pixels (all frames of a GIF counted: the decoder
  decodes them all), checked before any pixel is decoded."""
  image = decode(path, max_pixels, 'float32')  # 16-bit PNGs too.
  channels = image.shape[-1]
  if channels in (2, 4):  # Alpha: composite over white paper.
    alpha = image[..., -1:]
    image = image[..., :-1] * alpha + (1.0 - alpha)
  if image.shape[-1] == 3:
    image = image @ np.array([0.299, 0.587, 0.114], np.float32)
  else:
    image = image[..., 0]
  return image.astype(np.float32)


def decode(path, max_pixels=MAX_PIXELS, dtype='uint8'):
  """The image of a PNG, JPEG, BMP or GIF file (first frame), [h, w, c] numpy
  of dtype ('uint8', or 'float32' in [0, 1]), as stored (1 to 4 channels); a
  DataError naming the file if it cannot be read or decoded, or declares
  more than max_pixels pixels, checked before any pixel is decoded."""
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise DataError('%s: cannot be read (%s)' % (path, e.strerror)) from e
  if not data:
    raise DataError('%s: empty file' % path)
  size = declared_size(data)
  if size and size[0] * size[1] * size[2] > max_pixels:
    width, height, frames = size
    raise DataError('%s: %d x %d pixels%s, more than --max_pixels=%d: not '
                    'decoded (raise --max_pixels to read it)' % (
                        path, width, height,
                        ' x %d frames' % frames if frames > 1 else '',
                        max_pixels))
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    image = tf.io.decode_image(data, dtype=tf.as_dtype(dtype),
                               expand_animations=False)
  except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as e:
    # The op's message without its node and op names: '{{function_node
    # ...}} Unknown image file format. ... [Op:DecodeImage]'.
    reason = re.sub(r'\{\{.*?\}\}\s*|\s*\[Op:\w+\]', '',
                    e.message.splitlines()[0])
    raise DataError('%s: not a PNG, JPEG, BMP or GIF image (%s)' %
                    (path, reason)) from e
  image = image.numpy()
  if image.shape[0] == 0 or image.shape[1] == 0:
    raise DataError('%s: image has no pixels' % path)
  return image


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
