"""Tests of the smallNORB converter and reader on published-format files."""

import os

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from input_data import errors
from input_data import testdata
from input_data.norb import norb_input_record
from input_data.norb import smallnorb_convert



class MatrixTest(tf.test.TestCase, parameterized.TestCase):

  def test_header_bytes_are_the_published_layout(self):
    path = os.path.join(self.create_tempdir().full_path, 'cat.mat')
    smallnorb_convert.write_matrix(path, np.array([4, 1], np.int32))
    with open(path, 'rb') as f:
      data = f.read()
    self.assertEqual(data[:8], bytes([0x54, 0x4C, 0x3D, 0x1E, 1, 0, 0, 0]))
    self.assertEqual(np.frombuffer(data[8:20], '<i4').tolist(), [2, 1, 1])
    self.assertEqual(np.frombuffer(data[20:], '<i4').tolist(), [4, 1])

  @parameterized.parameters(False, True)
  def test_round_trip(self, gz):
    d = testdata.write_smallnorb(self.create_tempdir().full_path, n=3, size=8, gz=gz)
    images, labels, info = smallnorb_convert.load_split(d, 'test')
    self.assertEqual(images.shape, (3, 2, 8, 8))
    self.assertAllEqual(labels, [0, 1, 2])
    self.assertAllEqual(info[2], [2, 3, 4, 5])

  def test_bad_magic_and_truncation(self):
    path = os.path.join(self.create_tempdir().full_path, 'x.mat')
    with open(path, 'wb') as f:
      f.write(np.array([7, 1, 1, 1, 1], '<i4').tobytes())
    with self.assertRaisesRegex(errors.DataError, 'x.mat: bad binary matrix '
                                'magic 0x00000007'):
      smallnorb_convert.read_matrix(path)
    smallnorb_convert.write_matrix(path, np.zeros([4, 2], np.uint8))
    with open(path, 'rb') as f:
      data = f.read()
    with open(path, 'wb') as f:
      f.write(data[:-1])
    with self.assertRaisesRegex(errors.DataError, '7 data bytes for shape'):
      smallnorb_convert.read_matrix(path)


class NorbTest(tf.test.TestCase):

  def test_convert_then_read(self):
    raw = testdata.write_smallnorb(self.create_tempdir().full_path)
    out = self.create_tempdir().full_path
    for split in ('train', 'test'):
      smallnorb_convert.convert(raw, out, split)
    first = next(iter(tf.data.TFRecordDataset(
        os.path.join(out, 'testduo.tfrecords'))))
    parsed = tf.io.parse_single_example(first,
                                        norb_input_record.FEATURES)
    self.assertEqual([int(parsed[k]) for k in ('height', 'width', 'depth')],
                     [96, 96, 2])
    self.assertAllEqual(parsed['meta'], [0, 3, 4, 5])
    image, label = norb_input_record.parse_record(first, 96, 96, 2)
    self.assertEqual(image.shape, (96, 96, 2))
    self.assertEqual(int(image[0, 0, 1]), 255)
    self.assertEqual(int(label), 0)

    test = norb_input_record.norb_source(out, 'test')
    self.assertEqual(test.info, norb_input_record.source.DatasetInfo(
        32, 2, 5, 1))
    batches = list(test.eval_dataset(4, 6))
    self.assertEqual([b['images'].shape for b in batches],
                     [(4, 2 * 32 * 32), (2, 2 * 32 * 32)])
    self.assertAllEqual(batches[0]['recons_label'], [0, 1, 2, 3])
    train = next(iter(norb_input_record.norb_source(out, 'train')
                      .train_dataset(3, seed=1)))
    self.assertEqual(train['images'].shape, (3, 2048))
    # Per-image standardization: mean 0 up to float32 sums of 2,048 values
    # (1.5e-4 measured for a low-contrast draw).
    self.assertAllClose(tf.reduce_mean(train['images'], 1), [0.0] * 3,
                        atol=1e-3)

  def test_missing_and_mismatched_files(self):
    raw = testdata.write_smallnorb(self.create_tempdir().full_path, n=4, size=8)
    cat = os.path.join(raw, smallnorb_convert.PREFIX['train'] + 'cat.mat')
    smallnorb_convert.write_matrix(cat, np.zeros([3], np.int32))
    with self.assertRaisesRegex(errors.DataError, 'do not match 4 images'):
      smallnorb_convert.load_split(raw, 'train')
    os.remove(cat)
    with self.assertRaisesRegex(errors.DataError, 'training-cat.mat: no such'):
      smallnorb_convert.load_split(raw, 'train')
    with self.assertRaisesRegex(errors.DataError, 'smallnorb_convert.py'):
      norb_input_record.norb_source(raw, 'train')
    # A damaged record file is one DataError naming it, not a traceback.
    with open(os.path.join(raw, 'trainduo.tfrecords'), 'wb') as f:
      f.write(b'\x07' * 40)
    with self.assertRaisesRegex(errors.DataError, 'trainduo.tfrecords: not a '
                                'readable TFRecord'):
      norb_input_record.norb_source(raw, 'train')


class NorbPreprocessingTest(tf.test.TestCase):
  """The original's TF1 resize and distortion order."""

  def test_resize_is_tf1_bilinear_without_half_pixel_centres(self):
    image = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    # Output pixel i samples input i * 4 / 2: every other pixel.
    self.assertAllEqual(norb_input_record.resize(image, 2)[..., 0],
                        [[0.0, 2.0], [8.0, 10.0]])
    # A fractional step: samples at 0 and 1.5, interpolated bilinearly.
    image = np.arange(9, dtype=np.uint8).reshape(3, 3, 1)
    self.assertAllEqual(norb_input_record.resize(image, 2)[..., 0],
                        [[0.0, 1.5], [4.5, 6.0]])
    # smallNORB's 96 -> 48 is exactly every other row and column.
    image = np.random.RandomState(0).randint(0, 256, [96, 96, 2], np.uint8)
    self.assertAllEqual(norb_input_record.resize(image),
                        image[::2, ::2].astype(np.float32))

  def test_brightness_and_contrast_act_on_the_whole_image_before_the_crop(
      self):
    # Both channels have mean 100 over the whole 48x48 image, but every
    # 32x32 crop off the diagonal has channels of different means. Contrast
    # about the whole image's channel means (the original) is then one
    # affine map for both channels, which standardization removes: the result
    # is the standardized crop, whatever the factor. Contrast about the
    # crop's channel means (cropping first) is not.
    small = np.zeros([48, 48, 2], np.float32)
    small[:, 24:, 0] = 200.0
    small[24:, :, 1] = 200.0
    image = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1).astype(np.uint8)
    raw = testdata.write_smallnorb(self.create_tempdir().full_path, n=2)
    smallnorb_convert.convert(raw, raw, 'train')
    train_fn = norb_input_record.norb_source(raw, 'train').train_fn
    crops = np.stack([
        tf.image.per_image_standardization(small[r:r + 32, c:c + 32]).numpy()
        for r in range(17) for c in range(17)])
    for seed in range(4):
      out = train_fn(image, tf.constant([seed, 5])).numpy()
      distance = np.abs(crops - out[None]).max(axis=(1, 2, 3)).min()
      self.assertLess(distance, 1e-4, 'seed %d' % seed)


if __name__ == '__main__':
  tf.test.main()
