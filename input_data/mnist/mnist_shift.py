r"""Writes shifted MNIST and MultiMNIST TFRecords (the original generator).

Single digit (`--multi_targets=false`): every image, then its (2*shift+1)^2
shifted copies in row-major (dy, dx) order, dy and dx in [-shift, shift],
zero-filled, after `pad` zero pixels on each side. Output
`{output_dir}/{split}_{shift}shifted_mnist.tfrecords`, features
  height, width, depth, label: int64;  image_raw: bytes (uint8 [h, w]).

MultiMNIST (`--multi_targets=true`), the original's rules: for each base
image, 2*num_pairs candidates drawn without replacement, of which those of
another label are kept in drawn order, at most num_pairs; after `pad`, the
base image is shifted by ONE random (dy, dx) in [-shift, shift] used in all
of its pairs, each partner by its own; merged = min(a + b, 255). Output
`multi{split}_{shift}shifted_mnist.tfrecords-0000k-of-0000n` (read back as
`PREFIX@n`), n = ceil(images * num_pairs / max_shard); each pair goes to the
shard of its turn in a random permutation of every shard index repeated
max_shard times, so no shard exceeds --max_shard. Features
  height, width, depth, label_1, label_2: int64;
  image_raw_1, image_raw_2, merged_raw: bytes.
--max_shard applies to MultiMNIST only: single-digit records always go to
one file, as the original wrote them (and as the readers look for them).

Splits: train, test, valid_train (train images 10000..60000), valid_test
(train images 0..10000). `experiment.py --validate=true` reads exactly the
valid_* files written here.

Example (the paper's MultiMNIST test set, 10 shards):
  python input_data/mnist/mnist_shift.py --data_dir=data/mnist \
    --output_dir=/tmp/mnist --split=test --shift=4 --pad=4 \
    --multi_targets=true --num_pairs=1000 --max_shard=1000000
"""

import os
import sys
import time

from absl import app
from absl import flags
import numpy as np

if __name__ == '__main__':
  # Run as a script: the repository root on the path, and TensorFlow's C++
  # start-up notices hidden unless the user chose a level (common/quiet.py).
  sys.path.insert(0, os.path.abspath(os.path.join(
      os.path.dirname(__file__), '..', '..')))
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
from input_data import errors
from input_data import records
from input_data.mnist import splits
# pylint: enable=g-import-not-at-top,wrong-import-position

DEFAULT_DATA_DIR = '/tmp/tensorflow/mnist/input_data'  # The original's.


def shift_image(image, dy, dx):
  """image [h, w] moved down dy and right dx, zero-filled."""
  h, w = image.shape
  out = np.zeros_like(image)
  out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = (
      image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)])
  return out


def all_shifts(images, shift):
  """[n, h, w] -> [n, (2s+1)^2, h, w]: every shift, row-major (dy, dx)."""
  n, h, w = images.shape
  padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
  copies = [padded[:, shift - dy:shift - dy + h, shift - dx:shift - dx + w]
            for dy in range(-shift, shift + 1)
            for dx in range(-shift, shift + 1)]
  return np.stack(copies, axis=1)


def choose_partners(labels, num_pairs, rng, block=2048):
  """[n, num_pairs] partner indices of another label (-1: none found).

  As the original: for each base image, 2*num_pairs candidates drawn
  WITHOUT replacement (its `np.random.choice(n, 2 * num_pairs,
  replace=False)`); those of another label are kept in drawn order, at most
  num_pairs of them (fewer when too few differ). Vectorised over blocks of
  base images: each draw is uniform over the block's rows and redrawn where
  that row already took it, which is sequential sampling without
  replacement.
  """
  n = labels.shape[0]
  k = 2 * num_pairs
  if k > n:
    raise errors.DataError('--num_pairs=%d draws 2*num_pairs=%d candidates '
                           'without replacement from only %d images' %
                           (num_pairs, k, n))
  partners = np.full((n, num_pairs), -1, np.int64)
  taken = np.zeros((min(block, n), n), bool)  # taken[row, image]
  for begin in range(0, n, block):
    rows = np.arange(begin, min(begin + block, n))
    r = np.arange(rows.size)
    candidates = np.empty((rows.size, k), np.int64)
    for j in range(k):
      draw = rng.randint(0, n, size=rows.size)
      clash = np.flatnonzero(taken[r, draw])
      while clash.size:  # Rare: k draws among n images.
        draw[clash] = rng.randint(0, n, size=clash.size)
        clash = clash[taken[clash, draw[clash]]]
      taken[r, draw] = True
      candidates[:, j] = draw
    taken[r[:, None], candidates] = False
    valid = labels[candidates] != labels[rows, None]
    # A stable sort puts the valid candidates first, in their drawn order.
    order = np.argsort(~valid, axis=1, kind='stable')[:, :num_pairs]
    partners[rows] = np.where(np.take_along_axis(valid, order, axis=1),
                              np.take_along_axis(candidates, order, axis=1),
                              -1)
  return partners


def shard_turns(num_images, num_pairs, max_shard, rng):
  """([num_images, num_pairs] shard of each pair, number of shards).

  As the original's sharded_writers: a random permutation of every shard
  index repeated max_shard times, so no shard exceeds max_shard; pairs not
  written (too few partners) leave their turn unused. max_shard=0: one
  shard (the original divided by zero).
  """
  size = num_images * num_pairs
  if not max_shard:
    return np.zeros((num_images, num_pairs), np.int32), 1
  num_shards = -(-size // max_shard)
  turns = np.repeat(np.arange(num_shards, dtype=np.int32), max_shard)
  if num_shards > 1:  # Then max_shard < size: at most 2 * size turns.
    turns = rng.permutation(turns)
  return turns[:size].reshape(num_images, num_pairs), num_shards


def shift_batch(images, offsets, shift):
  """Each image [n, h, w] moved by its own (dy, dx) offsets [n, 2], each in
  [-shift, shift], zero-filled (the original's shift_2d)."""
  n, h, w = images.shape
  padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
  rows = (np.arange(h)[None, :] + shift - offsets[:, :1])  # [n, h]
  cols = (np.arange(w)[None, :] + shift - offsets[:, 1:])  # [n, w]
  return padded[np.arange(n)[:, None, None], rows[:, :, None],
                cols[:, None, :]]


def merge(a, b):
  """min(a + b, 255) in uint8."""
  return np.minimum(a.astype(np.int32) + b, 255).astype(np.uint8)


def write_single(images, labels, shift, pad, path, log_every=5.0):
  """Writes the shifted single-digit records to one file; returns [path]."""
  images = splits.pad_images(images, pad)
  n, h, w = images.shape
  per_image = (2 * shift + 1) ** 2
  total = n * per_image

  def examples():
    start = last = time.time()
    for begin in range(0, n, 1000):
      block = all_shifts(images[begin:begin + 1000], shift)
      for i in range(block.shape[0]):
        label = int(labels[begin + i])
        for copy in block[i]:
          yield records.single_example(copy, label)
      now = time.time()
      if now - last > log_every:
        last = now
        done = min(begin + 1000, n) * per_image
        print('%s: %d/%d records, %.0f records/s' %
              (path, done, total, done / (now - start)), flush=True)
  return records.write_records(path, examples())


def write_multi(images, labels, shift, pad, num_pairs, path, max_shard, rng,
                log_every=5.0, block=10000):
  """Writes MultiMNIST pairs into shards; returns the paths written.

  The original's rules: each base image gets ONE random shift, used in all
  of its pairs; each partner its own; partners as `choose_partners`, shards
  as `shard_turns`; records in base order, then partner order.
  """
  if num_pairs < 1:
    raise errors.DataError('--num_pairs must be >= 1 with --multi_targets, got '
                           '%d' % num_pairs)
  images = splits.pad_images(images, pad)
  n = images.shape[0]
  partners = choose_partners(labels, num_pairs, rng)  # [n, num_pairs]
  base_shifts = rng.randint(-shift, shift + 1, size=(n, 2))
  partner_shifts = rng.randint(-shift, shift + 1, size=(n, num_pairs, 2))
  turns, num_shards = shard_turns(n, num_pairs, max_shard, rng)
  base_index, pair_index = np.nonzero(partners >= 0)  # Row-major: in order.
  total = base_index.shape[0]

  def examples():
    start = last = time.time()
    for begin in range(0, total, block):
      i = base_index[begin:begin + block]
      j = pair_index[begin:begin + block]
      partner = partners[i, j]
      a = shift_batch(images[i], base_shifts[i], shift)
      b = shift_batch(images[partner], partner_shifts[i, j], shift)
      merged = merge(a, b)
      shards = turns[i, j]
      for k in range(a.shape[0]):
        yield shards[k], records.multi_example(
            a[k], b[k], merged[k], int(labels[i[k]]), int(labels[partner[k]]))
      now = time.time()
      if now - last > log_every:
        last = now
        done = min(begin + block, total)
        print('%s: %d/%d pairs, %.0f pairs/s' %
              (path, done, total, done / (now - start)), flush=True)
  paths = records.write_sharded(path, examples(), num_shards)
  # How many pairs depends on the seed (a digit may find fewer partners of
  # another class): the evaluation's --eval_size.
  print('%s: %d pairs in %d shard%s (--eval_size=%d evaluates them all)' % (
      path, total, num_shards, 's' * (num_shards > 1), total), flush=True)
  return paths


def generate(data_dir, output_dir, split, *, shift=2, pad=0,
             multi_targets=False, num_pairs=0, max_shard=0, seed=0,
             tfds_dataset=None):
  """Generates one split; returns the list of files written. The keyword
  arguments are the program's flags, with their defaults."""
  if shift < 0 or pad < 0 or max_shard < 0:
    raise errors.DataError('--shift, --pad and --max_shard must be >= 0')
  images, labels = splits.load_split(data_dir, split, tfds_dataset)
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir,
                      splits.record_name(split, shift, multi_targets))
  if multi_targets:
    return write_multi(images, labels, shift, pad, num_pairs, path, max_shard,
                       np.random.RandomState(seed))
  if max_shard:
    print('--max_shard applies to MultiMNIST only: single-digit records go '
          'to one file, %s, as the original wrote them' % path, flush=True)
  return write_single(images, labels, shift, pad, path)


FLAGS = flags.FLAGS


def define_flags():
  """The original's flags; defined only when run as a program."""
  flags.DEFINE_string('data_dir', DEFAULT_DATA_DIR, 'Directory of the four '
                      'MNIST IDX files (raw or .gz); records are written here '
                      'too unless --output_dir is given.')
  flags.DEFINE_string('output_dir', None, 'Where to write (default: data_dir).')
  flags.DEFINE_integer('shift', 2, 'Maximum shift in pixels.')
  flags.DEFINE_integer('pad', 0, 'Zero pixels added on each side first.')
  flags.DEFINE_boolean('multi_targets', False, 'Write MultiMNIST pairs.')
  flags.DEFINE_integer('max_shard', 0, 'At most this many records per shard '
                       '(0: one file).')
  flags.DEFINE_integer('num_pairs', 0, 'MultiMNIST partners per image.')
  flags.DEFINE_string('split', 'train', 'train, test, valid_train or '
                      'valid_test.')
  flags.DEFINE_integer('seed', 0, 'Seed of the MultiMNIST pairing and shifts.')
  flags.DEFINE_enum('source', 'files', ['files', 'tfds'], 'files: the IDX '
                    'files in data_dir; tfds: tensorflow-datasets (online, or '
                    'data_dir is its filled data_dir).')
  flags.DEFINE_enum('tfds_dataset', 'mnist', ['mnist', 'fashion_mnist'],
                    'With --source=tfds: which dataset.')


def main(argv):
  del argv
  if not FLAGS.data_dir and FLAGS.source == 'files':
    sys.exit('mnist_shift.py: --data_dir is required (the MNIST IDX files)')
  if not (FLAGS.output_dir or FLAGS.data_dir):
    sys.exit('mnist_shift.py: --output_dir is required with --source=tfds')
  errors.report_writes('mnist_shift.py', lambda: generate(
      FLAGS.data_dir, FLAGS.output_dir or FLAGS.data_dir, FLAGS.split,
      shift=FLAGS.shift, pad=FLAGS.pad, multi_targets=FLAGS.multi_targets,
      num_pairs=FLAGS.num_pairs, max_shard=FLAGS.max_shard, seed=FLAGS.seed,
      tfds_dataset=FLAGS.tfds_dataset if FLAGS.source == 'tfds' else None))


if __name__ == '__main__':
  define_flags()
  app.run(main)
