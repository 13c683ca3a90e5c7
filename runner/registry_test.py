"""Tests of runner/registry.py: every dataset trains and evaluates."""

import os

from unittest import mock

from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from input_data import source as source_lib
from input_data import testdata
from input_data.affnist import affine_mnist
from input_data.norb import smallnorb_convert
from models import footprint
from models import hparams as hparams_lib
from runner import config as config_lib
from runner import evaluation
from runner import registry
from runner import training
from runner.errors import ExperimentError


class RegistryTest(tf.test.TestCase, parameterized.TestCase):

  @parameterized.parameters(
      # (height, depth, classes, targets): the readers' crops and channels.
      ('norb', 'records', 9327184, (32, 2, 5, 1)),
      ('cifar10', 'records', 22476448, (24, 3, 10, 1)),
      ('fashion_mnist', 'idx', 8215728, (28, 1, 10, 1)),
      ('affine_mnist', 'idx', 13475808, (40, 1, 10, 1)))  # 4,608 primaries.
  def test_train_one_step_then_evaluate(self, dataset, data_source, params,
                                        info):
    tmp = self.create_tempdir().full_path
    data = os.path.join(tmp, 'data')
    if dataset == 'norb':
      raw = testdata.write_smallnorb(os.path.join(tmp, 'raw'), n=4, size=96)
      for split in ('train', 'test'):
        smallnorb_convert.convert(raw, data, split)
    elif dataset == 'cifar10':
      testdata.write_cifar(data, per_file=2)
    else:
      testdata.write_mnist(data, 10, 4)
      if dataset == 'affine_mnist':
        affine_mnist.generate(data, data)
    config = config_lib.RunConfig(
        dataset=dataset, data_dir=data, data_source=data_source,
        hparams=config_lib.RunConfig().hparams.parse(
            hparams_lib.PAPER_OVERRIDES.get(dataset, '')),
        summary_dir=tmp, max_steps=1, save_step=1, batch_size=2,
        eval_size=2, checkpoint=os.path.join(tmp, 'train', 'model.ckpt-1'))
    train = registry.get_source(config, 'train')
    self.assertEqual(tuple(train.info), info)
    result = training.train(config, train)
    self.assertEqual(result.step, 1)
    self.assertEqual(result.model.num_params(), params)
    test = registry.get_source(config, 'test')
    self.assertEqual(tuple(test.info), info)
    wrong, total = evaluation.evaluate_checkpoints(config, test)
    # Counted here from the trained model's own scores on the same digits.
    features = next(iter(test.eval_dataset(2, 2)))
    predicted = np.argmax(result.model.inference(features).logits, axis=1)
    self.assertEqual((wrong, total), (
        int(np.sum(predicted != features['recons_label'].numpy())), 2))

  def test_validate_reads_held_out_digits_except_for_ensembles(self):
    # The first 10,000 training digits are the held-out test split; the
    # original's ensemble evaluation read the test split even so.
    data = testdata.write_mnist(self.create_tempdir().full_path, 10003, 7)
    config = config_lib.RunConfig(data_dir=data, data_source='idx',
                                  validate=True)
    sizes = [(registry.get_source(c, 'train').num_examples,
              registry.get_source(c, 'test').num_examples)
             for c in (config, config.replace(num_trials=3),
                       config.replace(validate=False))]
    self.assertEqual(sizes, [(3, 10000), (3, 7), (10003, 7)])

  def test_a_step_too_large_for_memory_is_refused_before_any_model(self):
    info = source_lib.DatasetInfo(128, 3, 1000, 1)
    config = config_lib.RunConfig(dataset='folder')
    with self.assertRaises(ExperimentError) as caught:
      registry.check_memory(config, info, 128)
    # 11 vote tensors (8,422 GB), 16 bytes of each of the 12.9G parameters
    # (capsule2 alone: 100352 x 8 x 1000 x 16) and 1 GB: 8,615 GB.
    self.assertEqual(str(caught.exception), (
        '--dataset=folder at 128x128x3 with 1000 classes: 100352 primary '
        'capsules, a vote tensor of 765.6 GB at batch 128, about 8615.2 GB a '
        'training step, more than this machine\'s memory (%s); lower it with '
        '--image_size, --channels=1, --hparams_override=num_prime_capsules=N '
        '(now 32) or padding, or fewer classes; --max_memory_gb sets the '
        'limit' % footprint.bytes_text(registry.machine_bytes())))
    registry.check_memory(config, info, 128, on_gpu=True)  # Its own memory.
    mnist = source_lib.DatasetInfo(28, 1, 10, 1)
    registry.check_memory(config, mnist, 128)  # 2.1 GB.
    with self.assertRaisesRegex(ExperimentError, r'about 2\.1 GB a training '
                                r'step, more than --max_memory_gb \(1\.5 GB\)'):
      registry.check_memory(config.replace(max_memory_gb=1.5), mnist, 128)
    with mock.patch.object(registry, 'machine_bytes', return_value=2 ** 30):
      with self.assertRaisesRegex(ExperimentError, r"more than this "
                                  r"machine's memory \(1\.0 GB\)"):
        registry.check_memory(config, mnist, 128)
      # The limit given wins over the machine's.
      registry.check_memory(config.replace(max_memory_gb=3), mnist, 128)

  def test_bad_names_are_one_error(self):
    for changes, message in (
        (dict(dataset='imagenet'), '--dataset=imagenet is not supported'),
        (dict(num_targets=2, dataset='norb'), 'needs --dataset=mnist'),
        (dict(dataset='fashion_mnist'), 'use --data_source=idx'),
        (dict(validate=True, dataset='cifar10'), 'only defined for MNIST'),
        (dict(data_dir=None), '--data_dir is required')):
      with self.assertRaisesRegex(ExperimentError, message):
        registry.get_source(config_lib.RunConfig(data_dir='/x').replace(
            **changes), 'train')
    with self.assertRaisesRegex(ExperimentError, '--model=resnet is unknown'):
      registry.build_model('resnet', None, None)

  def test_the_cpu_formulations_are_chosen_where_no_gpu_is(self):
    info = source_lib.DatasetInfo(28, 1, 10, 1)
    hparams = hparams_lib.default_hparams('capsule')

    def layers_flags(model):
      return {m.cpu_kernels for m in (model,) + tuple(model.submodules)
              if hasattr(m, 'cpu_kernels')}
    self.assertEqual(layers_flags(registry.build_model(
        'capsule', hparams, info)), {True})
    gpu = tf.config.LogicalDevice('/device:GPU:0', 'GPU')
    with mock.patch.object(tf.config, 'list_logical_devices',
                           lambda kind=None: [gpu]):
      self.assertEqual(layers_flags(registry.build_model(
          'capsule', hparams, info)), {False})


if __name__ == '__main__':
  tf.test.main()
