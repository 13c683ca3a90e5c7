"""A folder of one's own images: DIR/train/CLASS/* and DIR/test/CLASS/*.

The layout of Keras' image_dataset_from_directory and tensorflow-datasets'
ImageFolder. Classes are train/'s sub-folders, sorted by name (label i is
the i-th); files whose names end in .png, .jpg, .jpeg, .bmp or .gif (any
case) are read, others (.DS_Store, notes) left alone. Without test/, a
stratified --holdout fraction of train/ is the test split.

Images are decoded once, in parallel (tf.data), and kept in memory as uint8
(image_set.py makes them square and of one channel count); the arrays are
cached in --cache_dir, keyed by every file's path, size and modification
time and the options, so a later run with the same files starts from the
cache.
"""

import os

from absl import logging
import tensorflow as tf

from input_data import digit_images
from input_data import errors
from input_data.own import image_cache
from input_data.own import image_set

EXTENSIONS = digit_images.EXTENSIONS
_HEAD = 65536  # Bytes read for a header's declared size (GIFs: all).


def _is_image(name):
  return name.lower().endswith(EXTENSIONS) and not name.startswith('.')


def class_names(train_dir):
  """The sorted class folders of train/; DataError unless two or more."""
  if not os.path.isdir(train_dir):
    raise errors.DataError(
        '%s: no such folder (own images are DIR/train/CLASS/IMAGE files, '
        'and DIR/test/CLASS/IMAGE or --holdout)' % train_dir)
  names = sorted(n for n in os.listdir(train_dir)
                 if os.path.isdir(os.path.join(train_dir, n))
                 and not n.startswith('.'))
  if len(names) < 2:
    raise errors.DataError('%s: %d class folder%s (%s); a classifier needs '
                           'two or more' % (train_dir, len(names),
                                            '' if len(names) == 1 else 's',
                                            ', '.join(names) or 'none'))
  return names


def list_split(split_dir, names, known=None):
  """[(path, label, size, mtime_ns)] of a split folder's images, by class
  then name. DataError for a class folder without images, or (known: the
  training classes) a class the training split lacks."""
  present = sorted(n for n in os.listdir(split_dir)
                   if os.path.isdir(os.path.join(split_dir, n))
                   and not n.startswith('.'))
  if not present:
    raise errors.DataError('%s: no class folders (CLASS/IMAGE files)' %
                           split_dir)
  unknown = [n for n in present if n not in names]
  if unknown:
    raise errors.DataError('%s: class folder%s %s not in %s' % (
        split_dir, 's' if len(unknown) > 1 else '', ', '.join(unknown),
        known))
  files = []
  for label, name in enumerate(names):
    class_dir = os.path.join(split_dir, name)
    if not os.path.isdir(class_dir):
      continue  # A test split may lack a class.
    entries = sorted((e for e in os.scandir(class_dir)
                      if e.is_file() and _is_image(e.name)),
                     key=lambda e: e.name)
    if not entries:
      raise errors.DataError('%s: no images (PNG, JPEG, BMP or GIF files)' %
                             class_dir)
    for entry in entries:
      stat = entry.stat()
      files.append((entry.path, label, stat.st_size, stat.st_mtime_ns))
  return files


def _declared_pixels(path):
  """Width x height (x frames) the file's header declares, or None."""
  with open(path, 'rb') as f:
    head = f.read(_HEAD)
    if head[:3] == b'GIF':
      head += f.read()
  size = digit_images.declared_size(head)
  return size and size[0] * size[1] * size[2]


def _decode(path):
  """uint8 [h, w, 3] of an image file: grey repeated, alpha dropped (the
  decoders' own conversion)."""
  return tf.io.decode_image(tf.io.read_file(path), channels=3,
                            dtype=tf.uint8, expand_animations=False)


def _reason(path):
  """Why a file does not decode: the reader's own line."""
  try:
    digit_images.decode(path)
  except errors.DataError as e:
    return str(e)
  return '%s: does not decode' % path


def _size_of_first(paths):
  """(path, (height, width)) of the first file that decodes."""
  for path in paths:
    try:
      shape = _decode(path).shape
      return path, (shape[0], shape[1])
    except tf.errors.OpError:
      continue
  return None


def _decode_split(files, size, reference, skip_bad, split_dir, allocate):
  """(rgb [n, s, s, 3], grey [n], labels [n], keys [n], bad paths);
  allocate(count, size): the rgb array to fill."""
  paths = [f[0] for f in files]
  bad = []
  for path in paths:  # Before any pixel is decoded.
    pixels = _declared_pixels(path)
    if pixels and pixels > digit_images.MAX_PIXELS:
      message = ('%s: declares %d pixels, more than %d: not decoded' %
                 (path, pixels, digit_images.MAX_PIXELS))
      if not skip_bad:
        raise errors.DataError(message + ' (--skip_bad_images skips it)')
      bad.append(path)
  refused = set(bad)
  wanted = [i for i, p in enumerate(paths) if p not in refused]
  items = tf.data.Dataset.from_tensor_slices((
      tf.constant(wanted, tf.int64),
      tf.constant([paths[i] for i in wanted] or [''], tf.string)[
          :len(wanted)],
      tf.constant([files[i][1] for i in wanted], tf.int64)))
  rgb, grey, labels, read = image_set.collect(
      items, _decode, len(wanted), size, lambda i: paths[i], reference,
      allocate(len(wanted), size))
  missing = sorted(set(wanted) - set(read.tolist()))
  if missing and not skip_bad:
    raise errors.DataError('%s (%d file%s of %s; --skip_bad_images skips '
                           'them)' % (_reason(paths[missing[0]]), len(missing),
                                      's' if len(missing) > 1 else '',
                                      split_dir))
  bad += [paths[i] for i in missing]
  root = os.path.dirname(os.path.dirname(split_dir.rstrip('/')))
  keys = [os.path.relpath(paths[i], root) for i in read]
  return rgb, grey, labels, keys, bad


def _load(data_dir, image_size, channels, skip_bad, cache_dir):
  """(train ImageSet, test ImageSet or None) of the folder, from the cache
  when its files and the options are those cached."""
  train_dir = os.path.join(data_dir, 'train')
  test_dir = os.path.join(data_dir, 'test')
  names = class_names(train_dir)
  splits = {'train': list_split(train_dir, names)}
  if os.path.isdir(test_dir):
    splits['test'] = list_split(test_dir, names, known=train_dir)

  def build(scratch):
    reference = None
    size = image_size
    if not size:
      reference = _size_of_first([f[0] for f in splits['train']])
      if reference is None:
        raise errors.DataError('%s: no image decodes (%s)' % (
            train_dir, _reason(splits['train'][0][0])))
      size = image_set.square_size(*reference[1], reference[0])
    return image_set.build_arrays(
        scratch, list(splits), lambda role, allocate: _decode_split(
            splits[role], size, reference, skip_bad,
            os.path.join(data_dir, role), allocate),
        channels, lambda role: os.path.join(data_dir, role))

  arrays, header = image_cache.cached(cache_dir, 'folder', dict(
      folder=os.path.abspath(data_dir), image_size=image_size,
      channels=channels, skip_bad=skip_bad, classes=names,
      files={k: [f[:1] + f[2:] for f in v] for k, v in splits.items()}),
                                      build, data_dir)
  if header['bad']:
    logging.warning('%s: skipped %d image%s that do not decode or are too '
                    'large (--skip_bad_images), the first %s', data_dir,
                    len(header['bad']), 's' * (len(header['bad']) > 1),
                    header['bad'][0])
  return tuple(
      image_set.ImageSet(arrays[s + '_images'], arrays[s + '_labels'],
                         header[s + '_keys'], names, os.path.join(data_dir, s))
      if s in splits else None for s in ('train', 'test'))


def folder_source(config, split):
  """The InMemorySource of config.data_dir's images for split 'train' or
  'test' (config: runner/config.py's RunConfig)."""
  train, test = _load(config.data_dir, config.image_size, config.channels,
                      config.skip_bad_images, config.cache_dir)
  return image_set.split_source(train, test, config, split)
