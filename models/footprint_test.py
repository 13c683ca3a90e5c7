"""Tests of models/footprint.py: sizes from shapes alone."""

from absl.testing import parameterized
import tensorflow as tf

from models import capsule_model
from models import conv_model
from models import footprint
from models import hparams as hparams_lib

CIFAR = 'num_prime_capsules=64,padding=SAME,leaky=true,remake=false'


class FootprintTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters((28, 1, 10, ''), (32, 2, 5, ''), (24, 3, 10, CIFAR),
                            (40, 1, 10, ''), (20, 3, 4, 'remake=false'),
                            (28, 1, 10, 'padding=SAME'))
  def test_parameters_are_the_built_models(self, size, depth, classes,
                                           overrides):
    hparams = hparams_lib.HParams().parse(overrides)
    for name, model_class in (('capsule', capsule_model.CapsuleModel),
                              ('baseline', conv_model.ConvModel)):
      built = model_class(hparams, size, depth, classes).num_params()
      self.assertEqual(footprint.FOOTPRINTS[name](
          hparams, size, depth, classes, 128).params, built, name)

  def test_the_mnist_capsule_step(self):
    size = footprint.capsule_footprint(hparams_lib.HParams(), 28, 1, 10, 128)
    # 32 types of 6x6; votes 128 x 1152 x 10 x 16 float32.
    self.assertEqual(size.primary_capsules, 1152)
    self.assertEqual(size.votes_bytes, 128 * 1152 * 10 * 16 * 4)
    self.assertEqual(size.step_bytes, int(2 ** 30 + 16 * 8215728 +
                                          11 * 94371840))
    self.assertEqual(footprint.describe(size, 128), '1152 primary capsules, '
                     'a vote tensor of 90 MB at batch 128, about 2.1 GB a '
                     'training step')
    big = footprint.capsule_footprint(hparams_lib.HParams(), 128, 3, 1000, 128)
    self.assertEqual(big.primary_capsules, 32 * 56 * 56)
    self.assertEqual(footprint.bytes_text(big.votes_bytes), '765.6 GB')

  def test_the_baseline_step(self):
    size = footprint.baseline_footprint(hparams_lib.HParams(), 28, 1, 10, 128)
    # Activations kept: 24x24x512 and 8x8x256 maps, three of each (conv,
    # ReLU, pooling input), float32, batch 128.
    self.assertEqual(size.step_bytes, int(
        2 ** 30 + 16 * 7495946 +
        128 * 4 * 3 * (24 * 24 * 512 + 8 * 8 * 256)))
    self.assertEqual(footprint.describe(size, 128), '7495946 parameters, '
                     'about 1.6 GB a training step')


if __name__ == '__main__':
  tf.test.main()
