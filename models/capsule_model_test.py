"""Tests of the capsule model: sizes, primary capsules, hparams, training."""

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from models import capsule_model
from models import hparams as hparams_lib
from models import optimizer as optimizer_lib
from models import testing


def _model(overrides='', image_size=28, depth=1, num_classes=10,
           num_targets=1):
  hparams = hparams_lib.default_hparams().parse(overrides)
  return capsule_model.CapsuleModel(hparams, image_size, depth, num_classes,
                                    num_targets)


class CapsuleModelTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.named_parameters(
      ('mnist', '', 28, 1, 10, 1, 8215728),
      ('mnist_no_remake', 'remake=false', 28, 1, 10, 1, 6804384),
      ('cifar10', 'num_prime_capsules=64,padding=SAME,leaky=true,remake=false',
       24, 3, 10, 1, 22476448),
      ('multimnist', '', 36, 1, 10, 2, 11361968),
      ('smallnorb', '', 32, 2, 5, 1, 9327184))
  def test_parameter_count(self, overrides, size, depth, classes, targets,
                           expected):
    self.assertEqual(
        _model(overrides, size, depth, classes, targets).num_params(), expected)

  def test_grids_widths_and_leak_are_built_as_asked(self):
    # Odd sizes tell the kernels apart: 29 -> conv1 (9x9) 21 -> primary
    # capsules (9x9, stride 2) 7x7; 17 -> 9 -> 1x1; 16 -> 8: too small.
    hparams = hparams_lib.default_hparams()
    widths = dict(conv1_channels=6, primary_atoms=4, digit_atoms=3,
                  decoder_sizes=(5, 7))
    m = capsule_model.CapsuleModel(hparams, 29, 1, 10, **widths)
    self.assertEqual(m.num_targets, 1)  # The default.
    self.assertEqual(m.digit_capsules.weights.shape.as_list(),
                     [32 * 7 * 7, 4, 10 * 3])
    self.assertEqual(m.primary_capsules.weights.shape.as_list(),
                     [9, 9, 6, 32 * 4])
    self.assertEqual(m.inference(testing.feature_batch(
        2, image_size=29)).capsules.shape, (2, 10, 3))
    self.assertEqual(capsule_model.CapsuleModel(
        hparams, 17, 1, 10, **widths).digit_capsules.input_dim, 32)
    with self.assertRaisesRegex(ValueError, '^images of 16x16 are too small '
                                'for the capsule model with padding VALID$'):
      capsule_model.CapsuleModel(hparams, 16, 1, 10, **widths)
    # conv1's kernels as the original: truncated normal of stddev 0.05.
    tf.random.set_seed(4)
    std = _model().conv1.weights.numpy().std()
    self.assertAllClose(std, 0.05 * 0.8796, atol=0.002)
    # leaky=true reaches both capsule layers' routing.
    for leaky in (False, True):
      m = capsule_model.CapsuleModel(hparams.parse('leaky=%s' % leaky), 28, 1,
                                     10, **widths)
      self.assertEqual((m.primary_capsules.leaky, m.digit_capsules.leaky),
                       (leaky, leaky))

  def test_forward_flops_by_hand(self):
    h = hparams_lib.default_hparams()
    # conv1 20*20*81*256*2 + primary 6*6*81*256*256*2 + votes 1152*8*160*2
    # + routing 3*2*1152*160*2 + decoder 2*(160*512+512*1024+1024*784).
    self.assertEqual(
        capsule_model.CapsuleModel(h, 28, 1, 10).forward_flops(),
        16588800 + 382205952 + 2949120 + 2211840 + 2818048)
    # The tiny widths, RGB 20x20 and two targets: conv1 12*12*81*3*16*2,
    # primary 2*2*81*16*128*2 (32 types of 4 atoms), votes 128*4*40*2,
    # routing 3*2*128*40*2, decoder twice 2*(40*16+16*16+16*1200).
    self.assertEqual(
        capsule_model.CapsuleModel(h, 20, 3, 10, 2, **testing.TINY[
            'capsule']).forward_flops(),
        1119744 + 1327104 + 40960 + 61440 + 2 * 40192)

  def test_tf1_names(self):
    names = set(_model().tf1_variables())
    self.assertEqual(names, {
        'conv1/weights', 'conv1/biases', 'conv_capsule1/weights',
        'conv_capsule1/biases', 'capsule2/weights', 'capsule2/biases',
        'recons/recons_1/weights', 'recons/recons_1/biases',
        'recons/recons_2/weights', 'recons/recons_2/biases',
        'recons/recons_3/weights', 'recons/recons_3/biases'})
    self.assertNotIn('recons/recons_1/weights',
                     _model('remake=false').tf1_variables())

  @parameterized.parameters((False, 32), (True, 33))
  def test_primary_capsules_are_squashed_conv_over_types(self, leaky, share):
    m = _model('leaky=%s' % leaky)
    images = testing.feature_batch(2)['images']
    conv1 = tf.nn.relu(tf.nn.conv2d(images.reshape(2, 28, 28, 1),
                                    m.conv1.weights, 1, 'VALID')
                       + m.conv1.biases)
    conv = tf.nn.conv2d(conv1, m.primary_capsules.weights, 2, 'VALID').numpy()
    # Channel c = type * 8 + atom; zero routing logits give each vote 1/32
    # (1/33 when leaky), then the bias, then squash over the 8 atoms.
    s = conv.reshape(2, 6, 6, 32, 8) / share + m.primary_capsules.biases.numpy()[
        :, :, 0, 0]
    norm = np.sqrt((s ** 2).sum(-1, keepdims=True))
    v = s / norm * norm ** 2 / (1 + norm ** 2)  # [b, row, col, type, atom]
    expected = np.zeros([2, 1152, 8], np.float32)
    for t in range(32):
      for r in range(6):
        for c in range(6):
          expected[:, t * 36 + r * 6 + c] = v[:, r, c, t]
    self.assertAllClose(m.primary(images), expected, rtol=1e-4, atol=1e-6)

  def test_outputs_and_hparams_act(self):
    features = testing.feature_batch(3)
    tf.random.set_seed(3)
    base = _model()
    inferred = base.inference(features)
    self.assertEqual(inferred.logits.shape, (3, 10))
    self.assertEqual(inferred.capsules.shape, (3, 10, 16))
    self.assertAllClose(inferred.logits, tf.norm(inferred.capsules, axis=-1))
    self.assertLen(inferred.remakes, 1)
    self.assertEqual(inferred.remakes[0].shape, (3, 784))
    # The verbose activation histogram: conv1's ReLU output.
    (name, relu), = base.activations(features).items()
    self.assertEqual((name, relu.shape), ('conv1', (3, 20, 20, 256)))
    self.assertEqual(float(tf.reduce_min(relu)), 0.0)
    # Same weights, other routing: other scores.
    for overrides in ('routing=1', 'leaky=true'):
      other = _model(overrides)
      for a, b in zip(other.trainable_variables, base.trainable_variables):
        a.assign(b)
      self.assertNotAllClose(other.inference(features).logits,
                             inferred.logits)

  def test_two_targets_reconstruct_both_with_shared_weights(self):
    m = _model(image_size=36, num_targets=2)
    features = testing.feature_batch(2, image_size=36, num_targets=2)
    inferred = m.inference(features)
    self.assertLen(inferred.remakes, 2)
    self.assertNotAllClose(inferred.remakes[0], inferred.remakes[1])
    _, reconstruction = m.per_example_losses(features, inferred)
    expected = sum(
        0.0005 * np.sum((r.numpy() - features[k]) ** 2, axis=1)
        for r, k in zip(inferred.remakes, ('recons_image', 'spare_image')))
    self.assertAllClose(reconstruction, expected, rtol=1e-5)

  def test_per_example_margin_losses_by_hand(self):
    m = _model()
    features = testing.feature_batch(3)
    inferred = m.inference(features)
    classification, _ = m.per_example_losses(features, inferred)
    # The original's margin loss of each example, averaged over its classes.
    logits, labels = inferred.logits.numpy() - 0.5, features['labels']
    cost = (labels * (logits < 0.4) * (logits - 0.4) ** 2 +
            0.5 * (1 - labels) * (logits > -0.4) * (logits + 0.4) ** 2)
    self.assertAllClose(classification, 0.5 * cost.mean(axis=1), rtol=1e-5)
    self.assertEqual(classification.shape, (3,))

  def test_one_or_two_targets_only(self):
    with self.assertRaisesRegex(ValueError,
                                r'^num_targets must be 1 or 2, got 3$'):
      _model(num_targets=3)

  def test_zero_image_gives_finite_gradients(self):
    m = _model()
    features = testing.feature_batch(2)
    features['images'] = np.zeros_like(features['images'])
    for v in m.trainable_variables:  # Every capsule zero: the worst case.
      v.assign(tf.zeros_like(v))
    with tf.GradientTape() as tape:
      inferred = m.inference(features)
      loss = tf.add_n([tf.reduce_sum(x) for x in
                       m.per_example_losses(features, inferred)])
    grads = tape.gradient(loss, m.trainable_variables)
    self.assertTrue(all(np.all(np.isfinite(g.numpy())) for g in grads))

  @parameterized.parameters('margin', 'softmax')
  def test_training_lowers_the_loss(self, loss_type):
    tf.random.set_seed(0)
    m = _model('loss_type=%s' % loss_type)
    optimizer = optimizer_lib.Adam(m.trainable_variables)
    strategy = tf.distribute.get_strategy()
    step = testing.make_train_step(m, optimizer, strategy, global_batch_size=8)
    features = testing.feature_batch(8)
    losses = [float(step(features)['total_loss']) for _ in range(10)]
    self.assertLess(losses[-1], 0.8 * losses[0])
    self.assertEqual(int(optimizer.step), 10)


if __name__ == '__main__':
  tf.test.main()
