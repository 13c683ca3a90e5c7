"""Tests of the CIFAR-10 binary reader on files in the published format."""

import os

import tensorflow as tf

from input_data import errors
from input_data import testdata
from input_data.cifar10 import cifar10_input



class Cifar10Test(tf.test.TestCase):

  def test_parse_record_layout(self):
    d = testdata.write_cifar(os.path.join(self.create_tempdir().full_path,
                                 'cifar-10-batches-bin'))
    with open(os.path.join(d, 'test_batch.bin'), 'rb') as f:
      record = f.read(cifar10_input.RECORD_BYTES)
    image, label = cifar10_input.parse_record(record)
    self.assertEqual(image.shape, (32, 32, 3))
    self.assertEqual(int(label), 5)  # Index 15 -> label 5.
    self.assertEqual(int(image[0, 0, 0]), 15)
    self.assertEqual(int(image[5, 7, 1]), 200)

  def test_source_finds_the_subdirectory_and_counts(self):
    root = self.create_tempdir().full_path
    testdata.write_cifar(os.path.join(root, 'cifar-10-batches-bin'))
    train = cifar10_input.cifar10_source(root, 'train')
    self.assertEqual(train.num_examples, 15)
    self.assertEqual(train.info.height, 24)
    self.assertEqual(train.info.depth, 3)
    batch = next(iter(train.train_dataset(4, seed=0)))
    self.assertEqual(batch['images'].shape, (4, 3 * 24 * 24))
    test = cifar10_input.cifar10_source(root, 'test')
    batches = list(test.eval_dataset(2, 3))
    self.assertEqual([b['images'].shape[0] for b in batches], [2, 1])
    self.assertAllEqual(batches[0]['recons_label'], [5, 6])
    # Central crop of a standardized image keeps the green pixel at (5-4,7-4).
    green = tf.reshape(batches[0]['images'][0], [3, 24, 24])[1]
    self.assertEqual(int(tf.argmax(tf.reshape(green, [-1]))), 1 * 24 + 3)

  def test_the_training_stream_resumes_where_it_stopped(self):
    root = testdata.write_cifar(self.create_tempdir().full_path)
    train = cifar10_input.cifar10_source(root, 'train')

    def stream(start, count):
      it = iter(train.train_dataset(1, 4, start=start))
      return [next(it) for _ in range(count)]
    whole = stream(0, 40)  # 2.7 epochs of 15.
    for start in (7, 15, 22):  # Mid epoch, on its end, in epoch 2.
      for a, b in zip(whole[start:], stream(start, 40 - start)):
        for key in a:  # The same crops, flips and brightness: same images.
          self.assertAllEqual(a[key], b[key], msg='start %d, %s' % (start, key))
    labels = [int(b['recons_label'][0]) for b in whole]
    # Each epoch every image once: images 0..14 of the data_batch files,
    # labels index % 10.
    for epoch in (labels[:15], labels[15:30]):
      self.assertCountEqual(epoch, [i % 10 for i in range(15)])
    self.assertNotEqual(labels[:15], labels[15:30])

  def test_bad_files(self):
    root = testdata.write_cifar(self.create_tempdir().full_path)
    os.remove(os.path.join(root, 'data_batch_3.bin'))
    with self.assertRaisesRegex(errors.DataError, 'missing data_batch_3.bin'):
      cifar10_input.cifar10_source(root, 'train')
    with open(os.path.join(root, 'test_batch.bin'), 'ab') as f:
      f.write(b'\0' * 10)
    with self.assertRaisesRegex(errors.DataError,
                                'test_batch.bin: 9229 bytes is not a whole'):
      cifar10_input.cifar10_source(root, 'test')

  def test_bad_label_byte(self):
    root = testdata.write_cifar(self.create_tempdir().full_path, per_file=1)
    path = os.path.join(root, 'test_batch.bin')
    with open(path, 'r+b') as f:
      f.write(bytes([11]))
    with self.assertRaisesRegex(tf.errors.InvalidArgumentError,
                                'label byte out of range'):
      list(cifar10_input.cifar10_source(root, 'test').eval_dataset(1, 1))


if __name__ == '__main__':
  tf.test.main()
