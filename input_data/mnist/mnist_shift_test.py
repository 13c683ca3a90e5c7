"""Tests of the shifted MNIST / MultiMNIST generator on tiny IDX files."""

import io
import os
import re
import time
from unittest import mock

import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import idx
from input_data import testdata
from input_data.mnist import mnist_input_record
from input_data.mnist import mnist_shift
from input_data.mnist import splits
from models import testing



def read_records(path, keys):
  out = []
  for record in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(record.numpy())
    feature = example.features.feature
    out.append({k: (feature[k].int64_list.value[0] if feature[k].int64_list.value
                    else feature[k].bytes_list.value[0]) for k in keys})
  return out


class ShiftTest(tf.test.TestCase):

  def test_shift_image_by_hand(self):
    image = np.arange(9, dtype=np.uint8).reshape(3, 3)
    self.assertAllEqual(mnist_shift.shift_image(image, 1, -1),
                        [[0, 0, 0], [1, 2, 0], [4, 5, 0]])
    self.assertAllEqual(mnist_shift.shift_image(image, 0, 0), image)

  def test_all_shifts_row_major(self):
    image = np.arange(16, dtype=np.uint8).reshape(1, 4, 4)
    copies = mnist_shift.all_shifts(image, 1)[0]
    self.assertEqual(copies.shape, (9, 4, 4))
    order = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    for copy, (dy, dx) in zip(copies, order):
      self.assertAllEqual(copy, mnist_shift.shift_image(image[0], dy, dx))

  def test_shift_batch_moves_each_image_by_its_offsets(self):
    images = np.random.RandomState(0).randint(1, 256, [3, 5, 5]).astype(
        np.uint8)
    offsets = np.array([[1, -2], [0, 0], [-2, 1]])
    shifted = mnist_shift.shift_batch(images, offsets, 2)
    self.assertEqual(shifted.shape, (3, 5, 5))
    for image, (dy, dx), out in zip(images, offsets, shifted):
      self.assertAllEqual(out, mnist_shift.shift_image(image, dy, dx))
    # Moved down by 1 and left by 2: row 0 and the last two columns empty.
    self.assertAllEqual(shifted[0, 0], np.zeros(5))
    self.assertAllEqual(shifted[0, 1:, :3], images[0, :4, 2:])

  def test_single_digit_records_byte_exact(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    paths = mnist_shift.generate(d, out, 'test', shift=1, pad=0,
                                 multi_targets=False, num_pairs=0,
                                 max_shard=0, seed=0)
    self.assertEqual(paths, [os.path.join(out,
                                          'test_1shifted_mnist.tfrecords')])
    records = read_records(paths[0], ('height', 'width', 'depth', 'label',
                                      'image_raw'))
    self.assertLen(records, 10 * 9)
    images, _ = idx.load_mnist(d, 'test')
    r = records[9 * 3 + 5]  # Image 3, shift (dy, dx) = (0, 1).
    self.assertEqual((r['height'], r['width'], r['depth'], r['label']),
                     (28, 28, 1, 3))
    self.assertEqual(r['image_raw'],
                     mnist_shift.shift_image(images[3], 0, 1).tobytes())
    self.assertFalse([f for f in os.listdir(out) if '.tmp-' in f])

  def test_pad_and_validation_split_names(self):
    d = testdata.write_mnist(self.create_tempdir().full_path, n_train=10005)
    out = self.create_tempdir().full_path
    (path,) = mnist_shift.generate(d, out, 'valid_train', shift=0, pad=2)
    self.assertEndsWith(path, 'valid_train_0shifted_mnist.tfrecords')
    records = read_records(path, ('height', 'label'))
    self.assertLen(records, 5)  # Train images 10000..10004.
    self.assertEqual(records[0]['height'], 32)
    self.assertEqual(records[0]['label'], 0)  # Image 10000: label 0.

  def test_multi_mnist_rules(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    paths = mnist_shift.generate(d, out, 'train', shift=2, pad=4,
                                 multi_targets=True, num_pairs=3,
                                 max_shard=25, seed=1)
    self.assertEqual([os.path.basename(p) for p in paths], [
        'multitrain_2shifted_mnist.tfrecords-0000%d-of-00003' % i
        for i in range(3)])
    keys = ('height', 'label_1', 'label_2', 'image_raw_1', 'image_raw_2',
            'merged_raw')
    pairs = [r for p in paths for r in read_records(p, keys)]
    self.assertBetween(len(pairs), 50, 60)  # <= 3 per image, 20 images.
    base_images, _ = idx.load_mnist(d, 'train')
    padded = np.pad(base_images, ((0, 0), (4, 4), (4, 4)))
    for r in pairs:
      self.assertEqual(r['height'], 36)
      self.assertNotEqual(r['label_1'], r['label_2'])
      a = np.frombuffer(r['image_raw_1'], np.uint8).reshape(36, 36)
      b = np.frombuffer(r['image_raw_2'], np.uint8).reshape(36, 36)
      merged = np.frombuffer(r['merged_raw'], np.uint8).reshape(36, 36)
      self.assertAllEqual(merged, np.minimum(a.astype(int) + b, 255))
      # Image 1 is a base image of its label shifted within [-2, 2].
      shifts = [(i, dy, dx) for i in np.flatnonzero(
          np.arange(20) % 10 == r['label_1']) for dy in range(-2, 3)
                for dx in range(-2, 3)
                if np.array_equal(mnist_shift.shift_image(padded[i], dy, dx),
                                  a)]
      self.assertNotEmpty(shifts)

  def _tagged_mnist(self, n=12):
    """IDX files whose image i is a 3x3 block of value i + 1 (labels i % 10):
    the value names the image after any shift."""
    d = self.create_tempdir().full_path
    images = np.zeros([n, 28, 28], np.uint8)
    for i in range(n):
      images[i, 12:15, 12:15] = i + 1
    for split in ('train', 'test'):
      image_name, label_name = idx.MNIST_FILES[split]
      idx.write_idx(os.path.join(d, image_name), images)
      idx.write_idx(os.path.join(d, label_name), np.arange(n) % 10)
    return d

  def _pairs(self, paths):
    keys = ('label_1', 'label_2', 'image_raw_1', 'image_raw_2')
    return [dict(r, base=max(r['image_raw_1']) - 1,
                 partner=max(r['image_raw_2']) - 1, shard=shard)
            for shard, p in enumerate(paths) for r in read_records(p, keys)]

  def test_multi_one_shift_per_base_and_candidates_without_replacement(self):
    # 12 images, 6 pairs each: the 12 candidates drawn without replacement
    # are all 12 images, so every base keeps 6 distinct partners of another
    # label (with replacement, repeats and fewer partners would appear).
    d = self._tagged_mnist(12)
    paths = mnist_shift.generate(d, self.create_tempdir().full_path, 'train',
                                 shift=2, pad=4, multi_targets=True,
                                 num_pairs=6, max_shard=0, seed=3)
    self.assertLen(paths, 1)
    pairs = self._pairs(paths)
    self.assertEqual([r['base'] for r in pairs],
                     [i for i in range(12) for _ in range(6)])
    for i in range(12):
      mine = pairs[6 * i:6 * i + 6]
      # One shift of the base image in all of its pairs.
      self.assertLen({r['image_raw_1'] for r in mine}, 1)
      partners = [r['partner'] for r in mine]
      self.assertLen(set(partners), 6)
      self.assertNotIn(i % 10, [p % 10 for p in partners])
    # Partners are shifted each on its own: base 0's six differ in place.
    offsets = {np.argmax(np.frombuffer(r['image_raw_2'], np.uint8) > 0)
               for r in pairs}
    self.assertGreater(len(offsets), 1)

  def test_multi_shards_never_exceed_max_shard(self):
    d = self._tagged_mnist(12)
    paths = mnist_shift.generate(d, self.create_tempdir().full_path, 'train',
                                 shift=1, pad=4, multi_targets=True,
                                 num_pairs=6, max_shard=8, seed=4)
    self.assertLen(paths, 9)  # 72 pairs, 8 a shard.
    pairs = self._pairs(paths)
    self.assertEqual(np.bincount([r['shard'] for r in pairs]).tolist(),
                     [8] * 9)
    # Pairs go to shards in a random permutation of the turns, not in runs:
    # the first shard's 8 pairs come from across the 12 bases.
    self.assertGreater(np.ptp([r['base'] for r in pairs if r['shard'] == 0]),
                       4)
    # Two shards too (40 turns each for 72 pairs): spread, not 40 then 32.
    two = self._pairs(mnist_shift.generate(
        d, self.create_tempdir().full_path, 'train', shift=1, pad=4,
        multi_targets=True, num_pairs=6, max_shard=40, seed=4))
    self.assertGreater(np.ptp([r['base'] for r in two if r['shard'] == 1]), 8)
    # Within a shard, records keep the base order.
    for shard in range(9):
      bases = [r['base'] for r in pairs if r['shard'] == shard]
      self.assertEqual(bases, sorted(bases))

  def test_single_digit_ignores_max_shard_and_the_reader_finds_it(self):
    d = testdata.write_mnist(self.create_tempdir().full_path, 6, 4)
    for max_shard in (0, 50):
      out = self.create_tempdir().full_path
      for split, shift in (('train', 2), ('test', 0)):
        (path,) = mnist_shift.generate(
            d, out, split, shift=shift, max_shard=max_shard)
        self.assertEqual(os.path.basename(path),
                         '%s_%dshifted_mnist.tfrecords' % (split, shift))
      train = mnist_input_record.mnist_source(out, 'train')
      self.assertEqual(train.num_examples, 6 * 25)
      self.assertEqual(mnist_input_record.mnist_source(out, 'test')
                       .num_examples, 4)

  def test_multi_is_reproducible_with_a_seed(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    digests = []
    for seed in (5, 5, 6):
      out = self.create_tempdir().full_path
      (path,) = mnist_shift.generate(
          d, out, 'test', shift=1, pad=4, multi_targets=True, num_pairs=2,
          seed=seed)
      with open(path, 'rb') as f:
        digests.append(f.read())
    self.assertEqual(digests[0], digests[1])
    self.assertNotEqual(digests[0], digests[2])

  def test_choose_partners_never_same_label(self):
    labels = np.array([0, 0, 0, 1])
    partners = mnist_shift.choose_partners(labels, 2, np.random.RandomState(0))
    for i, row in enumerate(partners):
      for p in row[row >= 0]:
        self.assertNotEqual(labels[p], labels[i])

  def test_the_originals_flags_keep_their_defaults(self):
    self.assertEqual(testing.flag_defaults('input_data/mnist/mnist_shift.py'),
                     {'data_dir': '/tmp/tensorflow/mnist/input_data',
                      'shift': '2', 'pad': '0', 'multi_targets': 'false',
                      'max_shard': '0', 'num_pairs': '0', 'split': 'train',
                      # Added by this project.
                      'output_dir': '', 'seed': '0', 'source': 'files',
                      'tfds_dataset': 'mnist'})

  def test_candidates_of_another_label_on_an_imbalanced_set(self):
    # 90 images of label 0, 10 of label 1, 5 pairs each. The original draws
    # 10 candidates and keeps those of another label: a base of label 0
    # finds min(X, 5) partners, X hypergeometric (100 images, 10 of label 1,
    # 10 drawn): 0.9995 on average. Drawing until 5 partners of another
    # label are found would give 5.
    labels = np.array([0] * 90 + [1] * 10)
    partners = mnist_shift.choose_partners(labels, 5,
                                           np.random.RandomState(0))
    found = (partners >= 0).sum(1)
    # Mean over 90 bases: standard deviation 0.095; 4 of them either way.
    self.assertBetween(found[:90].mean(), 0.62, 1.38)
    # A base of label 1 nearly always finds 5 among 10 candidates (of which
    # 9 of label 0 on average): P(fewer) = P(X <= 4 of label 0) < 1e-3.
    self.assertGreaterEqual(found[90:].mean(), 4.9)
    # Found partners come first, in drawn order; -1 fills the rest.
    for row in partners:
      kept = row[row >= 0]
      self.assertAllEqual(row[:len(kept)], kept)
      self.assertLen(set(kept), len(kept))

  def test_multi_shifts_cover_the_range_for_both_digits(self):
    # Image i's 3x3 block sits at rows and columns 12-14, 16-18 after the
    # padding of 4: where it lands gives each digit's shift.
    d = self._tagged_mnist(60)
    paths = mnist_shift.generate(d, self.create_tempdir().full_path, 'train',
                                 shift=2, pad=4, multi_targets=True,
                                 num_pairs=6, seed=5)
    base, partner = set(), set()
    for r in self._pairs(paths):
      for raw, seen in ((r['image_raw_1'], base), (r['image_raw_2'], partner)):
        rows, cols = np.nonzero(np.frombuffer(raw, np.uint8).reshape(36, 36))
        seen.update({('dy', rows.min() - 16), ('dx', cols.min() - 16)})
    # 60 base draws and 360 partner draws: every shift in [-2, 2] on each
    # axis appears (a missing one has probability below 1e-5), none other.
    expected = {(axis, v) for axis in ('dy', 'dx') for v in range(-2, 3)}
    self.assertEqual(base, expected)
    self.assertEqual(partner, expected)

  def test_choose_partners_block_by_block(self):
    # 20 images, labels i % 10, 18 candidates each without replacement,
    # blocks of 3 base images: every base finds 9 distinct partners of
    # another label, and every image serves as a partner (image 0 too).
    labels = np.arange(20) % 10
    partners = mnist_shift.choose_partners(labels, 9, np.random.RandomState(2),
                                           block=3)
    self.assertEqual(partners.shape, (20, 9))
    for i, row in enumerate(partners):
      self.assertLen(set(row), 9)
      self.assertTrue(np.all(row >= 0))
      self.assertFalse(np.any(labels[row] == labels[i]))
    self.assertEqual(set(partners.ravel()), set(range(20)))
    with self.assertRaisesRegex(
        errors.DataError, r'^--num_pairs=11 draws 2\*num_pairs=22 candidates '
        r'without replacement from only 20 images$'):
      mnist_shift.choose_partners(labels, 11, np.random.RandomState(2))

  def test_every_image_is_an_equally_likely_candidate(self):
    # Labels 0, 1, 0, 1; one pair each: 2 candidates of 4. Base 1's partner
    # is the first of its candidates of label 0: image 0 or 2, each with
    # probability 5/12 (neither drawn: 1/6). 400 draws: 0.417 +- 0.025.
    labels = np.array([0, 1, 0, 1])
    rng = np.random.RandomState(0)
    partners = np.array([mnist_shift.choose_partners(labels, 1, rng)[1, 0]
                         for _ in range(400)])
    self.assertBetween(np.mean(partners == 0), 0.33, 0.51)
    self.assertBetween(np.mean(partners == 2), 0.33, 0.51)
    self.assertBetween(np.mean(partners == -1), 0.09, 0.25)

  def test_bad_arguments_are_one_line(self):
    d = testdata.write_mnist(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    for kwargs, message in (
        (dict(multi_targets=True, num_pairs=0),
         '--num_pairs must be >= 1 with --multi_targets, got 0'),
        (dict(shift=-1), '--shift, --pad and --max_shard must be >= 0'),
        (dict(pad=-1), '--shift, --pad and --max_shard must be >= 0'),
        (dict(max_shard=-1), '--shift, --pad and --max_shard must be >= 0')):
      with self.assertRaisesRegex(errors.DataError, '^%s$' % message):
        mnist_shift.generate(d, out, 'test', **kwargs)
    # One pair per image is allowed.
    (path,) = mnist_shift.generate(d, out, 'test', multi_targets=True,
                                   num_pairs=1)
    self.assertNotEmpty(read_records(path, ('label_1',)))

  def test_progress_lines(self):
    # Logged after each block (log_every < 0: every time), counting what
    # was written so far of the whole.
    out = self.create_tempdir().full_path
    images = np.zeros([2001, 4, 4], np.uint8)
    labels = np.arange(2001) % 10
    path = os.path.join(out, 'single')
    with mock.patch('sys.stdout', new_callable=io.StringIO) as printed:
      mnist_shift.write_single(images, labels, 1, 0, path, log_every=-1)
    self.assertEqual([re.sub(r', \d+ records/s$', '', line) for line in
                      printed.getvalue().splitlines()],
                     ['%s: %d/18009 records' % (path, done)
                      for done in (9000, 18000, 18009)])
    self.assertLen(read_records(path, ('label',)), 18009)
    path = os.path.join(out, 'multi')
    with mock.patch('sys.stdout', new_callable=io.StringIO) as printed:
      (written,) = mnist_shift.write_multi(
          images[:20], labels[:20], 1, 0, 2, path, 0,
          np.random.RandomState(0), log_every=-1, block=7)
    total = len(read_records(written, ('label_1',)))
    self.assertBetween(total, 30, 40)
    self.assertEqual([re.sub(r', \d+ pairs/s$', '', line) for line in
                      printed.getvalue().splitlines()],
                     ['%s: %d/%d pairs' % (path, done, total)
                      for done in list(range(7, total, 7)) + [total]] +
                     # The count the evaluation needs, from the records.
                     ['%s: %d pairs in 1 shard (--eval_size=%d evaluates '
                      'them all)' % (path, total, total)])

  def test_progress_rates_and_cadence(self):
    images = np.zeros([2001, 4, 4], np.uint8)
    labels = np.arange(2001) % 10
    out = self.create_tempdir().full_path
    for write, unit in (
        (lambda path, every: mnist_shift.write_single(
            images, labels, 1, 0, path, log_every=every), 'records'),
        (lambda path, every: mnist_shift.write_multi(
            images[:20], labels[:20], 1, 0, 2, path, 0,
            np.random.RandomState(0), log_every=every, block=7), 'pairs')):
      start = time.time()
      with mock.patch('sys.stdout', new_callable=io.StringIO) as printed:
        write(os.path.join(out, unit + '_every'), -1)
      elapsed = time.time() - start
      lines = [line for line in printed.getvalue().splitlines()
               if '--eval_size' not in line]  # The count, after progress.
      self.assertNotEmpty(lines)
      for line in lines:
        done, rate = re.search(r': (\d+)/\d+ %s, (\d+) %s/s$' % (unit, unit),
                               line).groups()
        # Written so far over the time since the start: no less than over
        # the whole call's time.
        self.assertGreaterEqual(int(rate), int(done) / elapsed - 1, line)
      # Not due before log_every seconds: no progress line at all.
      with mock.patch('sys.stdout', new_callable=io.StringIO) as printed:
        write(os.path.join(out, unit + '_quiet'), 1e9)
      self.assertEqual([line for line in printed.getvalue().splitlines()
                        if '--eval_size' not in line], [])

  def test_generate_defaults(self):
    d = testdata.write_mnist(self.create_tempdir().full_path, 6, 4)
    # Single digits: shift 2, no padding, one file.
    out = self.create_tempdir().full_path
    (path,) = mnist_shift.generate(d, out, 'test')
    self.assertEqual(os.path.basename(path), 'test_2shifted_mnist.tfrecords')
    records = read_records(path, ('height', 'image_raw'))
    self.assertLen(records, 4 * 25)
    self.assertEqual(records[0]['height'], 28)
    # MultiMNIST: --num_pairs must be given; seed 0.
    with self.assertRaisesRegex(errors.DataError, '^--num_pairs must be >= 1 '
                                'with --multi_targets, got 0$'):
      mnist_shift.generate(d, out, 'test', multi_targets=True)
    pairs = [read_records(mnist_shift.generate(
        d, self.create_tempdir().full_path, 'test', multi_targets=True,
        num_pairs=2, **seed)[0], ('merged_raw',)) for seed in ({}, {'seed': 0})]
    self.assertEqual(pairs[0], pairs[1])

  def test_tfds_arrays_are_the_source_when_asked(self):
    images = np.zeros([3, 28, 28, 1], np.uint8)
    images[:, 5, 5, 0] = 200
    with mock.patch.object(splits.tfds_export, 'tfds_arrays',
                           return_value=(images, np.array([7, 8, 9]))) as tfds:
      (path,) = mnist_shift.generate('TFDS_DIR', self.create_tempdir()
                                     .full_path, 'test', shift=0,
                                     tfds_dataset='fashion_mnist')
    tfds.assert_called_once_with('fashion_mnist', 'test', 'TFDS_DIR')
    records = read_records(path, ('label', 'image_raw'))
    self.assertEqual([r['label'] for r in records], [7, 8, 9])
    self.assertEqual(records[0]['image_raw'], images[0, ..., 0].tobytes())

  def test_max_shard_with_single_digits_says_it_is_ignored(self):
    d = testdata.write_mnist(self.create_tempdir().full_path, 6, 4)
    out = self.create_tempdir().full_path
    with mock.patch('sys.stdout', new_callable=io.StringIO) as printed:
      (path,) = mnist_shift.generate(d, out, 'test', shift=0, max_shard=3)
    self.assertEqual(printed.getvalue(), '--max_shard applies to MultiMNIST '
                     'only: single-digit records go to one file, %s, as the '
                     'original wrote them\n' % path)

  def test_bad_split(self):
    with self.assertRaisesRegex(errors.DataError, '--split must be one of'):
      splits.load_split(self.create_tempdir().full_path, 'dev')


if __name__ == '__main__':
  tf.test.main()
