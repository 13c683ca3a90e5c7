"""Tests of the typed hparams and the override parser."""

from absl.testing import parameterized
import tensorflow as tf

from models import hparams as hparams_lib


class HParamsTest(tf.test.TestCase, parameterized.TestCase):

  def test_defaults_are_the_originals(self):
    self.assertEqual(hparams_lib.default_hparams().to_dict(), {
        'decay_rate': 0.96, 'decay_steps': 2000, 'leaky': False,
        'learning_rate': 0.001, 'loss_type': 'margin',
        'num_prime_capsules': 32, 'padding': 'VALID', 'remake': True,
        'routing': 3, 'verbose': False})
    # One set for both models, as the original: the baseline's loss is margin.
    self.assertEqual(hparams_lib.default_hparams('baseline'),
                     hparams_lib.default_hparams('capsule'))

  def test_authors_cifar_override(self):
    h = hparams_lib.default_hparams().parse(
        'num_prime_capsules=64,padding=SAME,leaky=true,remake=false')
    self.assertEqual((h.num_prime_capsules, h.padding, h.leaky, h.remake),
                     (64, 'SAME', True, False))

  def test_types_and_order(self):
    h = hparams_lib.default_hparams().parse(
        ' learning_rate=1e-4 , routing=1,routing=2,decay_rate=1')
    self.assertEqual(h.learning_rate, 1e-4)
    self.assertEqual(h.routing, 2)  # Later overrides win.
    self.assertIsInstance(h.decay_rate, float)
    self.assertEqual(hparams_lib.default_hparams().parse(''),
                     hparams_lib.default_hparams())

  @parameterized.parameters(
      ('routng=3', "unknown key 'routng'"),
      ('routing=3.5', "routing='3.5' is not a valid int"),
      ('remake=maybe', "remake='maybe' is not a valid bool"),
      ('learning_rate=fast', "learning_rate='fast' is not a valid float"),
      ('routing', "'routing' is not of the form key=value"),
      ('routing=0', 'routing=0 is invalid, expected >= 1'),
      ('loss_type=hinge', "loss_type='hinge' is invalid"),
      ('padding=same', "padding='same' is invalid"))
  def test_rejects(self, overrides, message):
    with self.assertRaisesRegex(hparams_lib.HParamsError, message):
      hparams_lib.default_hparams().parse(overrides)

  def test_unknown_model(self):
    with self.assertRaisesRegex(ValueError, "unknown model 'resnet'"):
      hparams_lib.default_hparams('resnet')


if __name__ == '__main__':
  tf.test.main()
