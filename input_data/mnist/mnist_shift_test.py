"""Tests of the shifted MNIST / MultiMNIST generator on tiny IDX files."""

import os

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

  def test_bad_split(self):
    with self.assertRaisesRegex(errors.DataError, '--split must be one of'):
      splits.load_split(self.create_tempdir().full_path, 'dev')


if __name__ == '__main__':
  tf.test.main()
