"""One's own labelled images held in memory: decoded once, made square and
of one channel count, split, and served as an InMemorySource.

Both own-data readers (folder_input.py: a folder of image files;
tfds_input.py: a prepared tensorflow-datasets set) give `collect` a tf.data
pipeline of (index, decoded image); everything after that is here:

  decode (reader, parallel) -> to_rgb -> to_square(size) -> uint8 in memory
  -> channels: 1 when every image is grey (R = G = B), else 3, or the flag
  -> holdout (stratified, by each image's key: stable as files come and go)
  -> InMemorySource: shifts scaled to the size, flips on request
"""

import collections
import hashlib
import os

from absl import logging
import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import source

# images: uint8 [n, size, size, channels]; labels: int64 [n]; keys: a stable
# name per image (its path under the folder, or its index in a tfds split),
# for the holdout; class_names: [classes]; describe: names the data.
ImageSet = collections.namedtuple(
    'ImageSet', ('images', 'labels', 'keys', 'class_names', 'describe'))

MNIST_SIZE, MNIST_SHIFT = 28, 2  # The original's MNIST training shift.
_BATCH = 256  # Images copied out of the pipeline at a time.
_CHUNK = 4096  # Images converted at a time.


def default_shift(size):
  """The original MNIST shift (2 of 28 pixels) scaled to size x size."""
  return int(round(MNIST_SHIFT * size / MNIST_SIZE))


def to_rgb(image):
  """uint8 [h, w, c] of 1 to 4 channels -> [h, w, 3]: grey repeated, alpha
  dropped (its colour as stored)."""
  pick = tf.constant([[0, 0, 0], [0, 0, 0], [0, 1, 2], [0, 1, 2]])
  return tf.gather(image, pick[tf.shape(image)[2] - 1], axis=2)


def to_square(image, size):
  """uint8 [h, w, c] -> [size, size, c]: resized so its shorter side is size
  (aspect kept, antialiased bilinear; untouched when it already is), then
  its centre size x size cropped."""
  shape = tf.shape(image)
  height, width = shape[0], shape[1]
  scale = size / tf.cast(tf.minimum(height, width), tf.float64)
  new_height = tf.maximum(size, tf.cast(tf.round(
      tf.cast(height, tf.float64) * scale), tf.int32))
  new_width = tf.maximum(size, tf.cast(tf.round(
      tf.cast(width, tf.float64) * scale), tf.int32))

  def resized():
    out = tf.image.resize(image, [new_height, new_width], 'bilinear',
                          antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)
  image = tf.cond(tf.minimum(height, width) == size, lambda: image, resized)
  top = (tf.shape(image)[0] - size) // 2
  left = (tf.shape(image)[1] - size) // 2
  return tf.ensure_shape(image[top:top + size, left:left + size],
                         [size, size, 3])


def collect(items, decode, count, size, describe_image, reference=None,
            rgb=None):
  """The images of a reader's pipeline, decoded once, in memory.

  Args:
    items: tf.data.Dataset of (index int64, item, label int64) for at most
      count images, in order.
    decode: item -> image uint8 [h, w, 3] (to_rgb's); one that fails raises
      (the image is then missing from the result).
    count: the number of images.
    size: the square side to make them.
    describe_image: index -> its name in messages (a path).
    reference: None when size came from --image_size (images of any size
      are resized); else (name, (height, width)) of the image whose size
      every image must have.
    rgb: the uint8 array [count, size, size, 3] to fill (a np.memmap for
      images too many for memory); default a new one.

  Returns:
    (rgb uint8 [n, size, size, 3], grey bool [n], labels int64 [n], read
    int64 [n]: the indices that decoded). Raises DataError for an image
    whose size is not the reference's.
  """
  if rgb is None:
    rgb = np.empty([count, size, size, 3], np.uint8)
  grey = np.empty([count], bool)
  labels = np.empty([count], np.int64)
  read = np.empty([count], np.int64)
  n = 0
  def prepared(index, item, label):  # One map: decoded and made square.
    image = decode(item)
    shape = tf.shape(image)  # [h, w, 3]
    return dict(index=index, image=to_square(image, size), height=shape[0],
                width=shape[1], label=label)
  pipeline = items.map(prepared, num_parallel_calls=tf.data.AUTOTUNE)
  for batch in pipeline.ignore_errors().batch(_BATCH).prefetch(2):
    batch = {k: v.numpy() for k, v in batch.items()}
    k = len(batch['index'])
    rgb[n:n + k] = batch['image']
    grey[n:n + k] = is_grey(batch['image'])
    read[n:n + k] = batch['index']
    labels[n:n + k] = batch['label']
    sizes = np.stack([batch['height'], batch['width']], 1)
    other = (np.flatnonzero((sizes != reference[1]).any(axis=1))
             if reference else [])
    if len(other):
      i = other[0]
      raise errors.DataError(
          '%s is %dx%d but %s is %dx%d: images of mixed sizes need '
          '--image_size=N (each resized, aspect kept, and centre-cropped to '
          'N x N)' % (describe_image(batch['index'][i]), sizes[i][0],
                      sizes[i][1], reference[0], reference[1][0],
                      reference[1][1]))
    n += k
  return rgb[:n], grey[:n], labels[:n], read[:n]


def is_grey(images):
  """bool [n] of uint8 RGB images [n, h, w, 3]: R = G = B everywhere."""
  return ((images[..., 0] == images[..., 1]) &
          (images[..., 1] == images[..., 2])).all(axis=(1, 2))


def square_size(height, width, describe):
  """The square side of the data's own images without --image_size: the
  shorter side (a non-square image's centre is used, said once)."""
  if height != width:
    logging.info('%s: images are %dx%d: their centre %dx%d is used '
                 '(--image_size=N resizes them instead)', describe, height,
                 width, min(height, width), min(height, width))
  return min(height, width)


def to_channels(rgb, grey, channels, describe, out=None):
  """[n, s, s, 3] -> [n, s, s, channels] (0: 1 when every image is grey,
  else 3): colour made grey by ITU-R 601 luma, grey repeated. Says once
  when images of other channels were converted. out: where a grey result
  goes (a np.memmap for images too many for memory); rgb itself is the
  RGB result."""
  if not channels:
    channels = 1 if grey.all() else 3
  converted = int(np.sum(grey if channels == 3 else ~grey))
  if converted and converted < len(rgb):
    logging.info('%s: %d of %d images converted to %s', describe, converted,
                 len(rgb), 'grey' if channels == 1 else 'RGB')
  if channels == 3:
    return rgb
  if out is None:
    out = np.empty(rgb.shape[:3] + (1,), np.uint8)
  luma = np.array([0.299, 0.587, 0.114], np.float32)
  for start in range(0, len(rgb), _CHUNK):  # A chunk in memory at a time.
    part = np.asarray(rgb[start:start + _CHUNK])
    colour = ~grey[start:start + _CHUNK]
    grey_part = part[..., :1].copy()
    if colour.any():
      grey_part[colour, ..., 0] = np.clip(np.round(
          part[colour].astype(np.float32) @ luma), 0, 255).astype(np.uint8)
    out[start:start + _CHUNK] = grey_part
  return out


def build_arrays(scratch, roles, decode_split, channels, describe):
  """The cache's arrays and header of a reader's splits, decoded once.

  Args:
    scratch: image_cache.Scratch, where arrays go (memory, or a file).
    roles: 'train' and, when the data has one, 'test'.
    decode_split: (role, allocate) -> (rgb [n, s, s, 3], grey [n], labels
      [n], keys [n], bad names); allocate(count, size) gives the rgb array
      to fill (collect's rgb).
    channels: --channels (0: 1 when every training image is grey, else 3).
    describe: role -> the split's name in messages.

  Returns:
    ({ROLE_images, ROLE_labels}, {ROLE_keys, bad}).
  """
  arrays, header, greys = {}, dict(bad=[]), {}
  for role in roles:
    rgb, greys[role], labels, keys, bad = decode_split(
        role, lambda count, size, name=role + '_rgb': scratch.allocate(
            name, [count, size, size, 3]))
    if not len(labels):
      raise errors.DataError('%s: no image decodes' % describe(role))
    arrays[role + '_rgb'], arrays[role + '_labels'] = rgb, labels
    header[role + '_keys'] = keys
    header['bad'] += bad
  channels = channels or (1 if greys['train'].all() else 3)
  for role in roles:
    rgb = arrays.pop(role + '_rgb')
    out = (scratch.allocate(role + '_images', rgb.shape[:3] + (1,))
           if channels == 1 else None)
    arrays[role + '_images'] = to_channels(rgb, greys[role], channels,
                                           describe(role), out)
    if out is not None and isinstance(rgb, np.memmap):
      path = rgb.filename
      del rgb
      os.remove(path)  # The RGB scratch file, now grey in out.
  return arrays, header


def _rank(key, salt):
  return hashlib.sha256(('%s:%s' % (salt, key)).encode()).digest()


def holdout(image_set, fraction, salt):
  """(kept, held out) ImageSets: of each class, the round(fraction x n)
  images whose keys hash first with salt (at least one, and at least one
  left, for a class of two or more images) are held out. A function of the
  keys alone: the same images whatever the order they were read in, and an
  image added later does not move the others."""
  held = []
  for label in range(len(image_set.class_names)):
    members = np.flatnonzero(image_set.labels == label)
    if len(members) < 2 or fraction <= 0:
      continue
    take = min(max(1, int(round(fraction * len(members)))), len(members) - 1)
    ranked = sorted(members, key=lambda i: _rank(image_set.keys[i], salt))
    held.extend(ranked[:take])
  mask = np.zeros(len(image_set.labels), bool)
  mask[held] = True

  def part(selected, name):
    index = np.flatnonzero(selected)
    return ImageSet(image_set.images[index], image_set.labels[index],
                    [image_set.keys[i] for i in index],
                    image_set.class_names,
                    '%s (%s)' % (image_set.describe, name))
  return (part(~mask, '%g%% held out' % (100 * fraction)),
          part(mask, 'the %g%% held out' % (100 * fraction)))


def split_source(train, test, config, split):
  """The InMemorySource of split 'train' or 'test' of one's own data: test
  is the data's test split, or (None) the --holdout fraction of train;
  with --validate, the --holdout fraction of the training part is the test
  split (valid_test) and the rest the training split (valid_train)."""
  if split not in ('train', 'test'):
    raise ValueError('split must be train or test, got %r' % (split,))
  if test is None:
    if not config.holdout:
      raise errors.DataError('%s: no test split; --holdout=F holds out a '
                             'fraction F of the training images as one' %
                             train.describe)
    train, test = holdout(train, config.holdout, 'test')
    logging.info('no test split: %s is the test split (--holdout)',
                 test.describe)
  if config.validate:
    train, test = holdout(train, config.holdout, 'validate')
  return make_source(train if split == 'train' else test, split,
                     config.max_shift, config.random_flip)


def make_source(image_set, split, max_shift=-1, flip=False):
  """An InMemorySource of image_set; training images are shifted by up to
  max_shift pixels (-1: default_shift of the size) and, with flip, mirrored
  left-right at random."""
  images = image_set.images
  count, size, _, channels = images.shape
  shift = default_shift(size) if max_shift < 0 else max_shift
  result = source.InMemorySource(
      images.reshape(count, -1), image_set.labels.astype(np.int64), size,
      image_set.describe, num_classes=len(image_set.class_names),
      shift=shift if split == 'train' else 0,
      flip=flip and split == 'train', depth=channels)
  result.class_names = tuple(image_set.class_names)
  return result
