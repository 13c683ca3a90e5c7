r"""Writes the example images of the README's "Use a trained model" into
docs/examples/digits/ (needs matplotlib, for the typed digits only):

  mnist_<i>_label<d>.png     real MNIST test digits i (light on dark)
  paper_<i>_label<d>.jpg     the same digits as pen on paper: inverted,
                             enlarged, off centre, on grey paper, JPEG
  typed_<digit>_<font>.png   digits typed in a font (dark on white):
                             not handwriting at all

  python docs/examples/make_examples.py
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REAL = (0, 1, 2, 3, 4, 8)  # Test digit indices.
PAPER = (11, 18, 61)
TYPED = (('1', 'DejaVu Sans'), ('4', 'DejaVu Serif'), ('7', 'DejaVu Sans'),
         ('9', 'DejaVu Serif'))


def typed(digit, font, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure = pyplot.figure(figsize=(1, 1), dpi=64)
  figure.text(0.5, 0.5, digit, fontsize=40, family=font, ha='center',
              va='center')
  figure.savefig(path, facecolor='white')
  pyplot.close(figure)


def main():
  sys.path.insert(0, ROOT)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from input_data import idx  # pylint: disable=g-import-not-at-top
  out = os.path.join(HERE, 'digits')
  os.makedirs(out, exist_ok=True)
  images, labels = idx.load_mnist(os.path.join(ROOT, 'data', 'mnist'), 'test')
  for i in REAL:
    tf.io.write_file(os.path.join(out, 'mnist_%d_label%d.png' % (i, labels[i])),
                     tf.io.encode_png(images[i][..., None]))
  noise = np.random.RandomState(0)
  for i in PAPER:
    ink = tf.image.resize(images[i][..., None].astype(np.float32),
                          [70, 60]).numpy()
    page = 215.0 - 0.75 * np.pad(ink, [(12, 30), (35, 10), (0, 0)])
    page += noise.normal(0, 4, page.shape)
    tf.io.write_file(
        os.path.join(out, 'paper_%d_label%d.jpg' % (i, labels[i])),
        tf.io.encode_jpeg(np.clip(page, 0, 255).astype(np.uint8), quality=85))
  for digit, font in TYPED:
    typed(digit, font, os.path.join(out, 'typed_%s_%s.png' % (
        digit, font.replace(' ', ''))))


if __name__ == '__main__':
  main()
