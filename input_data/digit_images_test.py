"""Tests of input_data/digit_images.py: one's own images made MNIST-like."""

import io
import os
import re
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image
import tensorflow as tf

from input_data import digit_images
from input_data import idx
from input_data.errors import DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bar_image():
  """A 4x2 bar of full ink in a dark 10x10 image, off centre."""
  image = np.zeros([10, 10], np.float32)
  image[1:5, 6:8] = 1.0
  return image


class ToMnistTest(tf.test.TestCase):

  def test_box_of_20_and_centre_of_mass_on_14(self):
    # By hand: the 4x2 bar scales by 20/4 = 5 to a 20x10 block of ink, whose
    # centre of mass (9.5, 4.5) goes to (14, 14): top-left corner
    # (round(4.5), round(9.5)) = (4, 10) (numpy rounds halves to even).
    expected = np.zeros([28, 28], np.float32)
    expected[4:24, 10:20] = 1.0
    self.assertAllClose(digit_images.to_mnist(bar_image()), expected,
                        atol=1e-6)

  def test_dark_on_light_is_inverted(self):
    paper = 0.9 - 0.8 * bar_image()  # Grey ink on light paper.
    expected = digit_images.to_mnist(bar_image())
    self.assertAllClose(digit_images.to_mnist(paper), expected, atol=1e-6)
    self.assertAllClose(digit_images.to_mnist(paper, polarity='dark_on_light'),
                        expected, atol=1e-6)
    with self.assertRaisesRegex(DataError, 'img: no digit found'):
      # Read as light ink, the paper has no ink brighter than its ground.
      digit_images.to_mnist(paper, polarity='light_on_dark', path='img')

  def test_other_field_sizes_keep_mnists_proportions(self):
    out = digit_images.to_mnist(bar_image(), size=40)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    self.assertEqual(rows[-1] - rows[0] + 1, 29)  # round(40 * 20 / 28)

  def test_real_digits_come_back_unchanged(self):
    images, _ = idx.load_mnist(os.path.join(ROOT, 'data', 'mnist'), 'test')
    moved = []
    for i, image in enumerate(images[:100] / 255.0):
      # Peak to 1, and the faint pixels outside the ink's box dropped.
      out = digit_images.to_mnist(image)
      if np.abs(out - image / image.max()).max() >= digit_images.INK:
        moved.append(i)
    # Digit 63's centre of mass is at column 13.504, on the rounding edge:
    # without its faint pixels it rounds the other way, one pixel right.
    self.assertEqual(moved, [63])

  def test_blank_and_bad_polarity(self):
    with self.assertRaisesRegex(DataError, 'x.png: no digit found'):
      digit_images.to_mnist(np.full([5, 5], 0.3), path='x.png')
    with self.assertRaisesRegex(ValueError, 'polarity'):
      digit_images.to_mnist(bar_image(), polarity='white')


class ReadTest(tf.test.TestCase):

  def write(self, name, data):
    path = os.path.join(self.create_tempdir().full_path, name)
    with open(path, 'wb') as f:
      f.write(data)
    return path

  def test_colour_is_luma_and_transparency_is_paper(self):
    rgba = np.array([[[255, 0, 0, 255], [0, 0, 0, 0], [0, 0, 255, 255],
                      [0, 0, 0, 128]]], np.uint8)
    path = self.write('a.png', tf.io.encode_png(rgba).numpy())
    self.assertAllClose(digit_images.read_grayscale(path),
                        [[0.299, 1.0, 0.114, 1 - 128 / 255]], atol=1e-6)

  def test_sixteen_bit_png(self):
    path = self.write('b.png', tf.io.encode_png(
        np.array([[[0], [65535], [32768]]], np.uint16)).numpy())
    self.assertAllClose(digit_images.read_grayscale(path),
                        [[0.0, 1.0, 32768 / 65535]], atol=1e-6)

  def test_unreadable_files_are_one_line_naming_them(self):
    empty = self.write('empty.png', b'')
    text = self.write('notes.jpg', b'not an image')
    for path, message in (
        (empty, re.escape(empty) + ': empty file$'),
        (text, re.escape(text) + r': not a PNG, JPEG, BMP or GIF image \(Unknown image '
         r'file format\. One of JPEG, JPEG XL, PNG, GIF, BMP, WebP '
         r'required\.\)$'),
        ('/no/such.png', r'^/no/such.png: cannot be read \(No such file or '
         r'directory\)$')):
      with self.assertRaisesRegex(DataError, message):
        digit_images.read_grayscale(path)

  def test_an_image_declaring_too_many_pixels_is_refused_undecoded(self):
    # A PNG whose header declares 20,000 x 20,000 pixels (6.9 GB decoded),
    # with a few bytes of data: refused from its header, in a fresh process
    # that never decodes it (nor imports TensorFlow to).
    ihdr = b'IHDR' + (20000).to_bytes(4, 'big') * 2 + bytes([8, 0, 0, 0, 0])
    chunk = lambda body: (len(body) - 4).to_bytes(4, 'big') + body + (
        zlib.crc32(body).to_bytes(4, 'big'))
    path = self.write('huge.png', b'\x89PNG\r\n\x1a\n' + chunk(ihdr) + chunk(
        b'IDAT' + zlib.compress(bytes(100000))) + chunk(b'IEND'))
    code = ('import sys, time; sys.path.insert(0, %r)\n'
            'from input_data import digit_images\n'
            'start = time.time()\n'
            'try:\n'
            '  digit_images.read_grayscale(%r)\n'
            'except ValueError as e:\n'
            '  print(e)\n'
            'peak = [l for l in open("/proc/self/status")\n'
            '        if l.startswith("VmHWM")][0].split()[1]\n'
            'print(time.time() - start, "tensorflow" in sys.modules, peak)'
            % (ROOT, path))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=60).stdout.splitlines()
    self.assertEqual(out[0], '%s: 20000 x 20000 pixels, more than '
                     '--max_pixels=40000000: not decoded (raise --max_pixels '
                     'to read it)' % path)
    seconds, imported, max_kb = out[1].split()
    self.assertLess(float(seconds), 1.0)
    self.assertEqual(imported, 'False')
    self.assertLess(int(max_kb), 200 * 1024)  # Peak memory under 200 MB.
    with self.assertRaisesRegex(DataError, '20000 x 20000 pixels'):
      digit_images.read_grayscale(path, max_pixels=20000 * 20000 - 1)

  def test_declared_sizes_of_each_format(self):
    frames = [Image.fromarray(np.full((5, 7), v, np.uint8), 'L')
              for v in (0, 128, 255)]
    files = {}
    for name, image, options in (
        ('a.png', frames[0], {}), ('a.bmp', frames[0], {}),
        ('a.jpg', frames[0], {}),
        ('a.gif', frames[0], dict(save_all=True, append_images=frames[1:]))):
      data = io.BytesIO()
      image.save(data, name.split('.')[1].replace('jpg', 'jpeg'), **options)
      files[name] = data.getvalue()
    self.assertEqual({n: digit_images.declared_size(d)
                      for n, d in files.items()},
                     {'a.png': (7, 5, 1), 'a.bmp': (7, 5, 1),
                      'a.jpg': (7, 5, 1), 'a.gif': (7, 5, 3)})
    self.assertIsNone(digit_images.declared_size(b'not an image'))
    path = self.write('a.gif', files['a.gif'])
    # Three frames of 35 pixels: 105 counted against the limit.
    with self.assertRaisesRegex(DataError, r'^%s: 7 x 5 pixels x 3 frames, '
                                'more than --max_pixels=104' % re.escape(path)):
      digit_images.read_grayscale(path, max_pixels=104)
    # Read: the first frame.
    self.assertAllEqual(digit_images.read_grayscale(path, max_pixels=105),
                        np.zeros([5, 7]))

  def test_palette_png_and_cmyk_jpeg(self):
    ramp = np.tile(np.arange(0, 256, 32, dtype=np.uint8), (8, 1))  # [8, 8]
    palette, cmyk = io.BytesIO(), io.BytesIO()
    Image.fromarray(ramp, 'L').convert('P').save(palette, 'PNG')
    Image.fromarray(np.stack([ramp] * 3, -1), 'RGB').convert('CMYK').save(
        cmyk, 'JPEG', quality=100)
    self.assertAllClose(digit_images.read_grayscale(
        self.write('p.png', palette.getvalue())), ramp / 255.0, atol=1e-6)
    # Decoded as RGB (not as four raw ink channels, nor inverted): the same
    # grey ramp within JPEG's loss at its sharp steps.
    read = digit_images.read_grayscale(self.write('c.jpg', cmyk.getvalue()))
    self.assertAllClose(read, ramp / 255.0, atol=0.05)
    self.assertLess(np.abs(read - ramp / 255.0).mean(), 0.02)

  def test_folders_list_their_images_in_order(self):
    folder = self.create_tempdir().full_path
    for name in ('b.PNG', 'a.jpg', 'a.reconstruction.png', 'notes.txt'):
      open(os.path.join(folder, name), 'wb').close()
    self.assertEqual(
        digit_images.list_images([folder, 'x.png'], '.reconstruction.png'),
        [os.path.join(folder, 'a.jpg'), os.path.join(folder, 'b.PNG'),
         'x.png'])


if __name__ == '__main__':
  tf.test.main()
