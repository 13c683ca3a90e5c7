"""Tests of the MNIST-family tf.data readers."""

import collections
import os
import re
import zlib

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import idx
from input_data import testdata
from input_data import records
from input_data import source as source_lib
from input_data.mnist import mnist_input_record as reader
from input_data.mnist import mnist_shift
from runner import config as config_lib
from runner import registry


class ReaderTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    self.idx_dir = testdata.write_mnist(
        self.create_tempdir().full_path, n_train=20, n_test=7)
    self.out = self.create_tempdir().full_path

  def test_records_features_and_exact_eval_size(self):
    mnist_shift.generate(self.idx_dir, self.out, 'test', shift=0)
    source = reader.mnist_source(self.out, 'test')
    self.assertEqual(source.info, reader.DatasetInfo(28, 1, 10, 1))
    batches = list(source.eval_dataset(batch_size=2, eval_size=5))
    self.assertEqual([b['images'].shape[0] for b in batches], [2, 2, 1])
    first = batches[0]
    self.assertAllClose(first['labels'][1], np.eye(10)[1])
    self.assertAllEqual(first['recons_label'], [0, 1])
    images, _ = idx.load_mnist(self.idx_dir, 'test')
    self.assertAllClose(first['images'][1], images[1].ravel() / 255.0)
    self.assertAllEqual(first['recons_image'], first['images'])
    with self.assertRaisesRegex(errors.DataError,
                                'holds only 7 examples: pass --eval_size=7$'):
      source.eval_dataset(2, 8)

  def test_pixels_scale_as_the_original_times_one_over_255(self):
    images = np.zeros([2, 28, 28], np.uint8)
    images[0].flat[:256] = np.arange(256)
    d = self.create_tempdir().full_path
    for split in ('train', 'test'):
      image_name, label_name = idx.MNIST_FILES[split]
      idx.write_idx(os.path.join(d, image_name), images)
      idx.write_idx(os.path.join(d, label_name), np.arange(2))
    mnist_shift.generate(d, d, 'test', shift=0)
    expected = np.arange(256, dtype=np.float32) * np.float32(1.0 / 255)
    for data_source in ('records', 'idx'):
      batch = next(iter(reader.mnist_source(d, 'test', data_source=data_source)
                        .eval_dataset(2, 2)))
      # Bit for bit: x / 255 differs in the last bit for 126 of the values.
      self.assertAllEqual(batch['images'][0, :256], expected)

  def test_missing_records_say_how_to_make_them(self):
    with self.assertRaisesRegex(errors.DataError,
                                'train_2shifted_mnist.tfrecords: no such file'
                                '.*mnist_shift.py --split=train --shift=2'):
      reader.mnist_source(self.out, 'train')

  def test_wrong_sized_record_names_the_file(self):
    path = os.path.join(self.out, 'test_0shifted_mnist.tfrecords')
    examples = [records.single_example(np.zeros([28, 28]), 1),
                records.single_example(np.zeros([28, 27]), 2)]
    examples[1] = examples[1].replace(b'\x1b', b'\x1c', 1)  # width 27 -> 28
    records.write_records(path, examples)
    with self.assertRaisesRegex(errors.DataError,
                                'test_0shifted_mnist.tfrecords: corrupt record'):
      reader.mnist_source(self.out, 'test')

  def test_truncated_file_names_the_file(self):
    mnist_shift.generate(self.idx_dir, self.out, 'test', shift=0)
    path = os.path.join(self.out, 'test_0shifted_mnist.tfrecords')
    with open(path, 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:-100])
    with self.assertRaisesRegex(errors.DataError, 'test_0shifted_mnist'):
      reader.mnist_source(self.out, 'test')

  def test_training_epoch_is_a_permutation(self):
    source = reader.mnist_source(self.idx_dir, 'train', data_source='idx', shift=0)
    batches = iter(source.train_dataset(batch_size=5, seed=3))
    first_epoch = np.concatenate([next(batches)['images'][:, 3 * 28 + 3]
                                  for _ in range(4)])
    # Pixel (3, 3) holds the image index / 255: each image once per epoch.
    self.assertAllClose(np.sort(first_epoch * 255), np.arange(20))
    self.assertNotAllClose(first_epoch * 255, np.arange(20))

  def test_validate_reads_the_generator_files(self):
    d = testdata.write_mnist(self.create_tempdir().full_path,
                                     n_train=10003, n_test=1)
    mnist_shift.generate(d, self.out, 'valid_test', shift=0)
    mnist_shift.generate(d, self.out, 'valid_train', shift=2)
    self.assertEqual(reader.mnist_source(self.out, 'test',
                                         validate=True).num_examples, 10000)
    self.assertEqual(reader.mnist_source(self.out, 'train',
                                         validate=True).num_examples, 3 * 25)

  def test_multi_mnist_shards(self):
    mnist_shift.generate(
        self.idx_dir, self.out, 'test', shift=2, pad=4, multi_targets=True,
        num_pairs=2, max_shard=4)
    names = sorted(os.listdir(self.out))
    num_shards = len(names)
    pattern = os.path.join(self.out, 'multitest_2shifted_mnist.tfrecords@%d'
                           % num_shards)
    source = reader.mnist_source(pattern, 'test', num_targets=2)
    self.assertEqual(source.info, reader.DatasetInfo(36, 1, 10, 2))
    batch = next(iter(source.eval_dataset(3, 3)))
    self.assertEqual(batch['images'].shape, (3, 36 * 36))
    self.assertAllClose(tf.reduce_sum(batch['labels'], 1), [2.0, 2.0, 2.0])
    self.assertAllClose(batch['images'], tf.minimum(
        batch['recons_image'] + batch['spare_image'], 1.0), atol=1e-6)
    train = next(iter(source.train_dataset(4, seed=0)))
    self.assertEqual(train['spare_label'].shape, (4,))
    paths = [os.path.join(self.out, n) for n in names]
    total = sum(1 for _ in tf.data.TFRecordDataset(paths))
    self.assertEqual(records.count_records(paths, limit=total - 5), total - 5)
    self.assertLen(list(source.eval_dataset(total, total))[0]['labels'], total)
    # Raised when the evaluation is set up, before any pass over the data.
    with self.assertRaisesRegex(errors.DataError, '^--eval_size=%d but %s '
                                'holds only %d examples: pass --eval_size=%d$'
                                % (total + 1, re.escape(pattern), total,
                                   total)):
      source.eval_dataset(3, total + 1)
    with self.assertRaisesRegex(errors.DataError, 'shards missing'):
      reader.mnist_source(pattern.replace('@%d' % num_shards, '@99'), 'test',
                          num_targets=2)


class OnTheFlyTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters('mnist', 'folder')
  def test_on_the_fly_shifts_match_the_generator_distribution(self, dataset):
    # The generator writes each of the 25 shifts once per image; on the fly,
    # each training example should land on the 25 positions uniformly.
    # Through the reader experiment.py builds (runner.registry): the IDX
    # files, or the same image as PNG files of --dataset=folder.
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                   n_train=1, n_test=1)
    images, _ = idx.load_mnist(idx_dir, 'train')
    self.assertEqual(images[0, 3, 3], 0)  # Only the pixel at (10, 12).
    generated = collections.Counter(
        int(np.argmax(c)) for c in mnist_shift.all_shifts(images, 2)[0])
    data_dir = idx_dir
    if dataset == 'folder':  # Two classes of that one image.
      data_dir = self.create_tempdir().full_path
      for name in ('a', 'b'):
        os.makedirs(os.path.join(data_dir, 'train', name))
        tf.io.write_file(os.path.join(data_dir, 'train', name, '0.png'),
                         tf.io.encode_png(images[0][..., None]))
    source = registry.get_source(config_lib.RunConfig(
        dataset=dataset, data_dir=data_dir, data_source='idx'), 'train')
    batches = iter(source.train_dataset(batch_size=500, seed=0))
    drawn = collections.Counter(
        int(i) for b in (next(batches) for _ in range(10))
        for i in np.argmax(b['images'], axis=1))
    self.assertEqual(set(drawn), set(generated))
    self.assertLen(generated, 25)
    counts = np.array([drawn[k] for k in generated])
    # 5000 draws, 200 expected per position: chi-square, 24 d.o.f., p ~ 1e-4.
    chi2 = ((counts - 200.0) ** 2 / 200.0).sum()
    self.assertLess(chi2, 60.0)


class ResumeTest(tf.test.TestCase):

  def test_the_stream_from_a_position_is_the_stream_from_zero(self):
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                   n_train=10, n_test=10)
    _, train_labels = idx.load_mnist(idx_dir, 'train')
    for source in (
        reader.mnist_source(idx_dir, 'train', data_source='idx'),
        reader.mnist_source(idx_dir, 'train', data_source='idx',
                            num_targets=2)):
      def batches(start, count):
        it = iter(source.train_dataset(2, 7, start=start))
        return [next(it) for _ in range(count)]
      whole = batches(0, 12)  # 24 examples: 2.4 epochs of 10.
      for start in (6, 10, 14):  # Mid epoch, on a boundary, in epoch 2.
        for a, b in zip(whole[start // 2:], batches(start, 12 - start // 2)):
          for key in a:  # Same images (same shifts), same labels.
            self.assertAllEqual(a[key], b[key], msg='start %d, %s' % (start, key))
      # Each epoch is a permutation: every example (base) once in 10.
      labels = np.concatenate([b['recons_label'] for b in whole[:5]])
      self.assertAllEqual(np.sort(labels), np.sort(train_labels))
      self.assertNotAllEqual(whole[0]['images'], whole[5]['images'])

  def test_input_pipelines_split_each_epoch(self):
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                   n_train=10, n_test=10)
    images, _ = idx.load_mnist(idx_dir, 'train')
    source = reader.mnist_source(idx_dir, 'train', data_source='idx',
                                 shift=0)
    seen = []
    for pipeline in (0, 1):
      context = tf.distribute.InputContext(num_input_pipelines=2,
                                           input_pipeline_id=pipeline)
      batch = next(iter(source.train_dataset(5, 3, context)))
      seen.append(batch['images'].numpy())
    # The two pipelines' first 5 examples are the 10 digits, each once.
    flat = images.reshape(10, -1) / 255.0
    found = sorted(int(np.argmin(np.abs(flat - x).sum(1)))
                   for x in np.concatenate(seen))
    self.assertEqual(found, list(range(10)))


class ShardResumeTest(tf.test.TestCase):
  """MultiMNIST shards: 7 images x 2 pairs in shards of at most 4 records,
  read in windows of 3."""

  def setUp(self):
    super().setUp()
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                   n_train=10, n_test=7)
    out = self.create_tempdir().full_path
    self.paths = mnist_shift.generate(
        idx_dir, out, 'test', shift=2, pad=4, multi_targets=True, num_pairs=2,
        max_shard=4, seed=1)
    self.counts = [sum(1 for _ in tf.data.TFRecordDataset(p))
                   for p in self.paths]
    self.pattern = '%s@%d' % (self.paths[0].rsplit('-', 3)[0],
                              len(self.paths))

  def _source(self):
    return reader.MultiMnistSource(self.pattern, window=3)

  def test_an_epoch_reads_each_shard_whole_in_shuffled_windows(self):
    self.assertEqual(sum(self.counts), 14)
    self.assertEqual(len(self.paths), 4)
    stream = source_lib.positional_shards(self.paths, 5, 3, (0, 0, 0))
    read = [(p.decode(), int(i)) for p, i, _ in
            stream.take(2 * 14).as_numpy_iterator()]
    for epoch in (read[:14], read[14:]):
      # Every record of every shard once, a shard's records together, each
      # window of 3 (0-2, 3-5, ...) in some order of its own records.
      self.assertCountEqual(epoch, [(p, i) for p, c in
                                    zip(self.paths, self.counts)
                                    for i in range(c)])
      at = 0
      while at < 14:
        path = epoch[at][0]
        shard = epoch[at:at + self.counts[self.paths.index(path)]]
        self.assertEqual({p for p, _ in shard}, {path})
        windows = [sorted(i for _, i in shard[w:w + 3])
                   for w in range(0, len(shard), 3)]
        self.assertEqual(windows, [list(range(w, min(w + 3, len(shard))))
                                   for w in range(0, len(shard), 3)])
        at += len(shard)
    self.assertNotEqual(read[:14], read[14:])  # Each epoch its own order.
    # Within the shards too, not only the shards' order: the windows'
    # shuffles are drawn anew each epoch.
    def shard_orders(epoch):
      return {path: [i for p, i in epoch if p == path] for path in self.paths}
    self.assertNotEqual(shard_orders(read[:14]), shard_orders(read[14:]))

  def test_the_stream_from_a_position_is_the_stream_from_zero(self):
    source = self._source()

    def merged(start, count):
      it = iter(source.train_dataset(1, 7, start=start))
      return [zlib.crc32(next(it)["images"].numpy().tobytes())
              for _ in range(count)]
    whole = merged(0, 33)  # 2.4 epochs of 14.
    # Mid-window, on a window's end, on a shard's end, at an epoch's end,
    # in epoch 2 and 3.
    for start in (1, 3, self.counts[0], 14, 19, 30):
      self.assertEqual(merged(start, 33 - start), whole[start:], msg=start)
    # Only the shards before the position were counted.
    fresh = self._source()
    epoch, rank, offset = source_lib.locate(fresh.paths, 7, 1, fresh._count)
    self.assertEqual((epoch, offset), (0, 1))
    self.assertEqual(rank, 0)
    self.assertLen(fresh._counts, 1)

  def test_input_pipelines_read_their_own_shards(self):
    source = self._source()
    for pipeline in (0, 1):
      context = tf.distribute.InputContext(num_input_pipelines=2,
                                           input_pipeline_id=pipeline)
      share = sum(self.counts[pipeline::2])  # Shards 0 and 2, or 1 and 3.
      batch = next(iter(source.train_dataset(share, 3, context)))
      merged = [np.frombuffer(tf.train.Example.FromString(r).features.feature[
          'merged_raw'].bytes_list.value[0], np.uint8)
                for r in tf.data.TFRecordDataset(
                    self.paths[pipeline::2]).as_numpy_iterator()]
      self.assertAllClose(sorted(map(tuple, batch['images'].numpy())),
                          sorted(map(tuple, np.array(merged) / 255.0)))
    context = tf.distribute.InputContext(num_input_pipelines=5,
                                         input_pipeline_id=4)
    with self.assertRaisesRegex(errors.DataError, '^%s: 4 shards cannot feed '
                                '5 input pipelines$' % re.escape(self.pattern)):
      source.train_dataset(1, 3, context)


class MultiOnTheFlyTest(tf.test.TestCase):

  def test_pairs_follow_the_generator_rules_and_statistics(self):
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                   n_train=200, n_test=200)
    images, labels = idx.load_mnist(idx_dir, 'test')
    source = reader.MultiMnistOnTheFlySource(images, labels, 'test', shift=2,
                                             pad=4)
    self.assertEqual(source.info, reader.DatasetInfo(36, 1, 10, 2))
    batches = iter(source.train_dataset(batch_size=200, seed=0))
    fly = [next(batches) for _ in range(5)]
    self.assertAllClose(fly[0]['images'], tf.minimum(
        fly[0]['recons_image'] + fly[0]['spare_image'], 1.0), atol=1e-6)
    label_1 = np.concatenate([b['recons_label'] for b in fly])
    label_2 = np.concatenate([b['spare_label'] for b in fly])
    self.assertFalse(np.any(label_1 == label_2))
    self.assertAllClose(fly[0]['labels'][0], np.eye(10)[label_1[0]] +
                        np.eye(10)[label_2[0]])
    # The generator's pairs of the same images: same partner-label and
    # shift statistics (each label has 20 of 200 images: partners uniform
    # over the other 9 labels; bright-pixel rows uniform over 5 shifts).
    out = self.create_tempdir().full_path
    paths = mnist_shift.generate(
        idx_dir, out, 'test', shift=2, pad=4, multi_targets=True, num_pairs=10)
    gen = list(reader.MultiMnistSource(paths[0]).eval_dataset(500, 1000))
    gen_2 = np.concatenate([b['spare_label'] for b in gen])
    fly_diff = np.mod(label_2 - label_1, 10)
    gen_diff = np.mod(gen_2 - np.concatenate([b['recons_label']
                                              for b in gen]), 10)
    for diff in (fly_diff, gen_diff):
      counts = np.bincount(diff, minlength=10)[1:]
      self.assertLess(np.abs(counts / diff.size - 1 / 9).max(), 0.04)

    def bright_rows(batches):
      spare = np.concatenate([b['spare_image'] for b in batches])
      spare = spare.reshape(-1, 36, 36)[:, 5:, :]  # Below the marker pixel.
      return np.argmax(spare.max(axis=2), axis=1)
    # Row 10 + i % 5 + pad 4 + dy (the marker row 3 is cut off above).
    self.assertAllClose(np.mean(bright_rows(fly)), np.mean(bright_rows(gen)),
                        atol=0.3)

  def test_eval_pairs_are_fixed(self):
    idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                           n_train=20, n_test=20)
    images, labels = idx.load_mnist(idx_dir, 'test')
    source = reader.MultiMnistOnTheFlySource(images, labels, 'test')
    first = list(source.eval_dataset(4, 10))
    second = list(source.eval_dataset(5, 10))
    self.assertAllEqual(np.concatenate([b['images'] for b in first]),
                        np.concatenate([b['images'] for b in second]))
    self.assertEqual(first[-1]['images'].shape, (2, 36 * 36))
    # One pair per test digit: more is an error, not pairs counted twice.
    with self.assertRaisesRegex(errors.DataError, '^--eval_size=21 but %s '
                                'holds only 20 examples: pass --eval_size=20$'
                                % re.escape(source.describe)):
      source.eval_dataset(4, 21)



class SourceContractTest(tf.test.TestCase):
  """What every MNIST-family source promises its callers."""

  def setUp(self):
    super().setUp()
    self.idx_dir = testdata.write_mnist(self.create_tempdir().full_path,
                                        n_train=10, n_test=10)

  def test_flips_mirror_about_half_of_the_images(self):
    source = reader.mnist_source(self.idx_dir, 'train', data_source='idx',
                                 shift=0, flip=True)
    batches = iter(source.train_dataset(10, 3))
    images = np.concatenate([next(batches)['images'] for _ in range(20)])
    # Each digit's bright pixel is in column 12, or 15 when mirrored.
    columns = np.argmax(images.reshape(-1, 28, 28).max(axis=1), axis=1)
    self.assertCountEqual(set(columns), {12, 15})
    self.assertBetween(np.mean(columns == 15), 0.35, 0.65)

  def _shards(self, pair_shape=(36, 36)):
    """Two MultiMNIST shards of pairs of pair_shape: their pattern."""
    out = self.create_tempdir().full_path
    prefix = os.path.join(out, 'multi')
    rng = np.random.RandomState(0)
    pairs = [records.multi_example(*[rng.randint(0, 255, pair_shape)
                                     .astype(np.uint8) for _ in range(3)],
                                   i % 10, (i + 1) % 10) for i in range(6)]
    records.write_sharded(prefix, ((i % 2, p) for i, p in enumerate(pairs)),
                          2)
    return prefix + '@2'

  def test_multimnist_shards_must_hold_square_single_channel_pairs(self):
    pattern = self._shards((36, 30))
    with self.assertRaisesRegex(errors.DataError, '^%s: 36x30x1 images, '
                                'expected square, depth 1$' % re.escape(
                                    records.shard_name(pattern[:-2], 0, 2))):
      reader.MultiMnistSource(pattern)

  def test_the_split_must_be_train_or_test(self):
    with self.assertRaisesRegex(ValueError, "^split must be train or test, "
                                "got 'dev'$"):
      reader.mnist_source(self.idx_dir, 'dev', data_source='idx')

  def test_descriptions_name_the_data(self):
    self.assertEqual(reader.mnist_source(self.idx_dir, 'test',
                                         data_source='idx',
                                         num_targets=2).describe,
                     self.idx_dir)

  def test_no_shift_unless_asked(self):
    images, labels = idx.load_mnist(self.idx_dir, 'test')
    source = source_lib.InMemorySource(images.reshape(10, -1), labels, 28, 'd')
    batch = next(iter(source.train_dataset(10, 0)))
    self.assertCountEqual(
        [tuple(x) for x in np.round(batch['images'].numpy() * 255)],
        [tuple(x) for x in images.reshape(10, -1).astype(float)])

  def test_training_batches_have_a_static_size(self):
    images, labels = idx.load_mnist(self.idx_dir, 'test')
    for source in (reader.mnist_source(self.idx_dir, 'train',
                                       data_source='idx'),
                   reader.MultiMnistOnTheFlySource(images, labels, 'test'),
                   reader.MultiMnistSource(self._shards())):
      spec = source.train_dataset(4, 0).element_spec
      for key, value in spec.items():
        self.assertEqual(value.shape[0], 4, key)

  def test_eval_size_up_to_the_whole_split(self):
    images, labels = idx.load_mnist(self.idx_dir, 'test')
    for source in (reader.mnist_source(self.idx_dir, 'test',
                                       data_source='idx'),
                   reader.MultiMnistOnTheFlySource(images, labels, 'test')):
      batches = list(source.eval_dataset(4, 10))
      self.assertEqual([len(b['labels']) for b in batches], [4, 4, 2])
      with self.assertRaisesRegex(errors.DataError, '^--eval_size=11 but %s '
                                  'holds only 10 examples: pass '
                                  '--eval_size=10$' % re.escape(
                                      source.describe)):
        source.eval_dataset(4, 11)

  def test_on_the_fly_partners_are_every_image_of_another_label(self):
    # Labels 0 (images 0, 1) and 1 (images 2, 3); no 2..9 at all.
    images, _ = idx.load_mnist(self.idx_dir, 'test')
    source = reader.MultiMnistOnTheFlySource(images[:4], np.array(
        [0, 0, 1, 1]), 'test', shift=0)
    batches = iter(source.train_dataset(4, 5))
    seen = collections.defaultdict(set)
    for _ in range(25):
      batch = next(batches)
      # The partner's identity: its pixel (3 + pad, 3 + pad) = its index.
      spare = batch['spare_image'].numpy().reshape(-1, 36, 36)[:, 7, 7]
      for label, partner in zip(batch['recons_label'].numpy(),
                                np.round(spare * 255).astype(int)):
        seen[int(label)].add(int(partner))
    self.assertEqual(dict(seen), {0: {2, 3}, 1: {0, 1}})

  def test_on_the_fly_pipelines_split_each_epoch(self):
    images, labels = idx.load_mnist(self.idx_dir, 'test')
    source = reader.MultiMnistOnTheFlySource(images, labels, 'test', shift=0)
    bases = []
    for pipeline in (0, 1):
      context = tf.distribute.InputContext(num_input_pipelines=2,
                                           input_pipeline_id=pipeline)
      batch = next(iter(source.train_dataset(5, 3, context)))
      base = batch['recons_image'].numpy().reshape(-1, 36, 36)[:, 7, 7]
      bases.append(sorted(np.round(base * 255).astype(int)))
    self.assertEqual(bases, [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]])

if __name__ == '__main__':
  tf.test.main()
