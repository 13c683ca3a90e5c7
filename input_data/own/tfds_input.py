"""A tensorflow-datasets image classification set already prepared in a
TFDS data directory: --dataset=tfds:NAME[/CONFIG][:VERSION] --data_dir=DIR.

Read with tfds.builder_from_directory(DIR/NAME[/CONFIG]/VERSION): the
prepared files and their dataset_info.json alone, never a download, and no
need for the set's builder code (sets written by tfds'
store_as_tfds_dataset, which have none, read the same way). The image and
label are the set's supervised keys, else its `image` and `label` features
(--image_key, --label_key name others); class names are the label's
ClassLabel names. Splits in TFDS syntax (--train_split=train[:90%]); a set
without --test_split's split holds out --holdout of the training one.
Decoded once into memory as the folder reader does (image_set.py), and
cached in --cache_dir.
"""

import os

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data.own import image_cache
from input_data.own import image_set

INFO_FILE = 'dataset_info.json'


def _version_key(version):
  try:
    return tuple(int(part) for part in version.split('.'))
  except ValueError:
    return ()


def prepared_dir(name, data_dir):
  """DIR/NAME[/CONFIG]/VERSION of tfds:NAME[/CONFIG][:VERSION] (the newest
  version when none is named); DataError naming what is missing and the
  command that prepares the set where there is a network."""
  base, _, version = name.partition(':')
  where = os.path.join(data_dir, base)
  prepare = ('tfds:%s is not prepared in %s (no %s); where there is a '
             'network, prepare it with: python -c "import '
             'tensorflow_datasets as tfds; tfds.builder(\'%s\', '
             'data_dir=\'%s\').download_and_prepare()"' % (
                 name, data_dir, os.path.join(where, version or 'VERSION',
                                              INFO_FILE),
                 base + (':' + version if version else ''), data_dir))
  if not os.path.isdir(where):
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    if base.split('/')[0] not in tfds.list_builders():
      raise errors.DataError('tfds:%s: tensorflow-datasets has no such '
                             'dataset, and %s holds no prepared set of that '
                             'name' % (name, data_dir))
    raise errors.DataError(prepare)
  versions = sorted((v for v in os.listdir(where)
                     if os.path.isfile(os.path.join(where, v, INFO_FILE))),
                    key=_version_key)
  if not versions:
    configs = sorted(c for c in os.listdir(where) if not c.startswith('.')
                     and os.path.isdir(os.path.join(where, c)))
    if configs and '/' not in base:
      raise errors.DataError('tfds:%s has configs in %s: name one, e.g. '
                             'tfds:%s/%s' % (name, where, base, configs[0]))
    raise errors.DataError(prepare)
  if version and version not in versions:
    raise errors.DataError('tfds:%s: version %s is not in %s (prepared: %s)'
                           % (name, version, where, ', '.join(versions)))
  return os.path.join(where, version or versions[-1])


def _keys(info, image_key, label_key):
  supervised = info.supervised_keys or ('image', 'label')
  if isinstance(supervised[0], (tuple, list, dict)):  # Nested keys.
    supervised = ('image', 'label')
  image_key, label_key = image_key or supervised[0], label_key or supervised[1]
  features = info.features
  for key, flag in ((image_key, '--image_key'), (label_key, '--label_key')):
    if key not in features:
      raise errors.DataError('%s: no feature %r (%s); it has %s' % (
          info.full_name, key, flag, ', '.join(sorted(features))))
  names = getattr(features[label_key], 'names', None)
  if not names:
    raise errors.DataError('%s: the label feature %r has no class names (a '
                           'ClassLabel is needed)' % (info.full_name,
                                                      label_key))
  return image_key, label_key, list(names)


def _split(builder, split, image_key, label_key, size, reference, allocate):
  """(rgb, grey, labels, keys, bad: none) of a split, decoded once;
  allocate(count, size): the rgb array to fill."""
  try:
    ds = builder.as_dataset(split=split, shuffle_files=False)
    count = int(ds.cardinality())
  except (ValueError, KeyError, AssertionError) as e:
    raise errors.DataError('%s: split %r does not read (%s); it has %s' % (
        builder.info.full_name, split, e, ', '.join(builder.info.splits)))
  items = ds.enumerate().map(lambda i, ex: (
      i, ex[image_key], tf.cast(ex[label_key], tf.int64)))
  rgb, grey, labels, read = image_set.collect(
      items, image_set.to_rgb, count, size, lambda i: '%s %s example %d' % (
          builder.info.full_name, split, i), reference,
      allocate(count, size))
  if len(read) != count:
    raise errors.DataError('%s %s: %d of %d examples do not decode' % (
        builder.info.full_name, split, count - len(read), count))
  return rgb, grey, labels, ['%s:%d' % (split, i) for i in read], []


def tfds_source(config, split):
  """The InMemorySource of split 'train' or 'test' of config.dataset
  (tfds:NAME...) prepared in config.data_dir."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  name = config.dataset.split(':', 1)[1]
  directory = prepared_dir(name, config.data_dir)
  builder = tfds.builder_from_directory(directory)
  image_key, label_key, names = _keys(builder.info, config.image_key,
                                      config.label_key)
  splits = {'train': config.train_split}
  if config.test_split.split('[')[0] in builder.info.splits:
    splits['test'] = config.test_split
  elif config.test_split != 'test':  # Asked for by name: it must exist.
    raise errors.DataError('%s has no split %r (--test_split); it has %s' % (
        builder.info.full_name, config.test_split,
        ', '.join(builder.info.splits)))

  def build(scratch):
    size, reference = config.image_size, None
    if not size:
      first = next(iter(builder.as_dataset(split=config.train_split,
                                           shuffle_files=False).take(1)))
      shape = first[image_key].shape
      reference = ('%s %s example 0' % (builder.info.full_name,
                                        config.train_split),
                   (shape[0], shape[1]))
      size = image_set.square_size(shape[0], shape[1], reference[0])
    return image_set.build_arrays(
        scratch, list(splits), lambda role, allocate: _split(
            builder, splits[role], image_key, label_key, size, reference,
            allocate),
        config.channels, lambda role: '%s %s' % (builder.info.full_name,
                                                 splits[role]))

  info_file = os.path.join(directory, INFO_FILE)
  arrays, header = image_cache.cached(config.cache_dir, 'tfds', dict(
      directory=os.path.abspath(directory), splits=splits,
      info=os.stat(info_file).st_mtime_ns, image_key=image_key,
      label_key=label_key, image_size=config.image_size,
      channels=config.channels), build, directory)
  sets = [image_set.ImageSet(
      arrays[role + '_images'], arrays[role + '_labels'].astype(np.int64),
      header[role + '_keys'], names, 'tfds:%s %s (%s)' % (
          name, splits[role], directory)) if role in splits else None
          for role in ('train', 'test')]
  return image_set.split_source(*sets, config, split)
