"""TFRecord helpers shared by the generators and readers.

Writers never leave a half-written file under a final name: they write to
`NAME.tmp-PID` and rename when every record is written (also for all the
shards of a sharded set), and delete the temporaries on any error.
"""

import contextlib
import glob
import os
import re

import numpy as np
import tensorflow as tf

from common import files
from input_data.errors import DataError


def _int64(value):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def single_example(image, label):
  """Serialized tf.Example of one digit: image uint8 [h, w] (or [h, w, d])."""
  image = np.asarray(image, np.uint8)
  depth = image.shape[2] if image.ndim == 3 else 1
  return tf.train.Example(features=tf.train.Features(feature={
      'height': _int64(image.shape[0]), 'width': _int64(image.shape[1]),
      'depth': _int64(depth), 'label': _int64(label),
      'image_raw': _bytes(image.tobytes())})).SerializeToString()


def multi_example(image_1, image_2, merged, label_1, label_2):
  """Serialized tf.Example of a MultiMNIST pair (uint8 [h, w] each)."""
  return tf.train.Example(features=tf.train.Features(feature={
      'height': _int64(merged.shape[0]), 'width': _int64(merged.shape[1]),
      'depth': _int64(1), 'label_1': _int64(label_1),
      'label_2': _int64(label_2), 'image_raw_1': _bytes(image_1.tobytes()),
      'image_raw_2': _bytes(image_2.tobytes()),
      'merged_raw': _bytes(merged.tobytes())})).SerializeToString()


def shard_name(prefix, index, num_shards):
  return '%s-%05d-of-%05d' % (prefix, index, num_shards)


@contextlib.contextmanager
def _atomic_writers(paths):
  """TFRecord writers to temporary names, renamed together on success."""
  with files.replaced_together(paths) as temporaries:
    writers = [tf.io.TFRecordWriter(t) for t in temporaries]
    try:
      yield writers
    finally:  # Closed (flushed) before they are renamed or removed.
      for writer in writers:
        writer.close()


def write_records(path, examples, num_shards=0, total=None):
  """Writes serialized examples in order: one file, or num_shards shards.

  With shards, consecutive runs of ceil(total / num_shards) records go to
  each shard. Returns the list of paths written.
  """
  if not num_shards:
    with _atomic_writers([path]) as (writer,):
      for example in examples:
        writer.write(example)
    return [path]
  per_shard = -(-total // num_shards)
  return write_sharded(path, ((i // per_shard, e)
                              for i, e in enumerate(examples)), num_shards)


def write_sharded(prefix, shard_examples, num_shards):
  """Writes (shard index, serialized example) pairs; returns the shard paths."""
  paths = [shard_name(prefix, i, num_shards) for i in range(num_shards)]
  with _atomic_writers(paths) as writers:
    for shard, example in shard_examples:
      writers[shard].write(example)
  return paths


def first_record_shape(path, features):
  """(height, width, depth) of the first record of path, parsed with the
  feature spec `features`; DataError naming the file if it cannot be."""
  try:
    first = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    if first is None:
      raise DataError('%s: no records' % path)
    parsed = tf.io.parse_single_example(first, features)
  except tf.errors.OpError as e:
    raise DataError('%s: not a readable TFRecord file of the expected '
                    'features (%s)' % (path, e.message.splitlines()[0])) from e
  return tuple(int(parsed[k]) for k in ('height', 'width', 'depth'))


def decode_image(raw, num_pixels, feature='image_raw', where=()):
  """uint8 bytes -> [num_pixels] uint8, failing on a record of another size.

  The failure reads `<where...> feature <feature> has N bytes instead of
  M`; `where` (strings and scalar tensors, e.g. ('record', 39, 'of', path))
  says which record, when the pipeline knows it.
  """
  image = tf.io.decode_raw(raw, tf.uint8)

  def wrong_size():
    check = tf.debugging.Assert(False, list(where) + [
        'feature %s has' % feature, tf.size(image), 'bytes instead of',
        num_pixels])
    with tf.control_dependencies([check]):
      return tf.zeros([num_pixels], tf.uint8)
  # A cond, not a control dependency: the data path itself goes through the
  # check, so no graph rewrite can move a reshape of the bytes before it.
  return tf.cond(tf.equal(tf.size(image), num_pixels),
                 lambda: tf.reshape(image, [num_pixels]), wrong_size)


def numbered_records(path):
  """(path, index in the file, serialized record) of each record of path:
  a pipeline that knows where each record came from."""
  return tf.data.TFRecordDataset(path).enumerate().map(
      lambda index, record: (path, index, record))


def locate_damage(paths, parse, chunk=1024):
  """'record I of PATH: what is wrong' for the first record of the files
  that does not read or parse (parse: serialized -> tensors, failing on a
  bad record), or None. Reads every file up to the damage, a chunk of
  records at a time, then the chunk that failed record by record: for
  errors the pipeline itself cannot place (a record cut short, a bad
  checksum, a record that is not an Example)."""
  for path in paths:
    read = 0
    try:
      for _ in tf.data.TFRecordDataset(path).map(parse).batch(chunk):
        read += chunk  # Whole chunks: only the last one can be short.
    except tf.errors.OpError:
      try:
        for record in tf.data.TFRecordDataset(path).skip(read):
          parse(record)
          read += 1
      except tf.errors.OpError as e:
        message = getattr(e, 'message', str(e)).splitlines()[0]
        return 'record %d of %s: %s' % (read, path, message)
  return None


def expand_pattern(pattern):
  """Files of `PREFIX@N` (N shards), a glob, or one path; DataError if none."""
  match = re.fullmatch(r'(.+)@(\d+)', pattern)
  if match:
    prefix, num_shards = match.group(1), int(match.group(2))
    paths = [shard_name(prefix, i, num_shards) for i in range(num_shards)]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
      raise DataError('%s: %d of %d shards missing, first %s' %
                      (pattern, len(missing), num_shards, missing[0]))
    return paths
  paths = sorted(glob.glob(pattern))
  if not paths:
    raise DataError('%s: no such file (nor matching files)' % pattern)
  return paths


def records_in(path, limit=None):
  """Number of records in one file, at most `limit` (reading no further).
  A damaged file raises the reader's op error."""
  ds = tf.data.TFRecordDataset(path)
  if limit is not None:
    ds = ds.take(limit)
  return int(ds.reduce(np.int64(0), lambda n, _: n + 1))


def count_records(paths, limit=None):
  """Number of records in the files, at most `limit` (reading no further);
  DataError naming a corrupt file."""
  total = 0
  for path in paths:
    if limit is not None and total >= limit:
      break
    try:
      total += records_in(path, None if limit is None else limit - total)
    except tf.errors.OpError as e:
      raise DataError('%s: corrupt or truncated TFRecord file (%s)' %
                      (path, e.message.splitlines()[0])) from e
  return total
