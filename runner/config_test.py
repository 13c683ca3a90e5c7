"""Tests of runner/config.py: validation, saving and the resume check."""

import json
import os

import tensorflow as tf

from models import hparams as hparams_lib
from runner import config as config_lib
from runner.errors import ExperimentError


class RunConfigTest(tf.test.TestCase):

  def test_defaults_are_the_flag_defaults(self):
    config = config_lib.RunConfig()
    self.assertEqual(
        (config.max_steps, config.save_step, config.eval_size,
         config.batch_size, config.keep_checkpoints, config.conv_dtype),
        (1000, 1500, 10000, 128, 1000, None))
    self.assertEqual(config.hparams, hparams_lib.HParams())
    self.assertEqual(config.replace(mixed_precision='bfloat16').conv_dtype,
                     'bfloat16')

  def test_bad_values_name_the_flag(self):
    for changes, message in (
        (dict(max_steps=-1), '--max_steps must be >= 0, got -1'),
        (dict(save_step=0), '--save_step must be > 0'),
        (dict(keep_checkpoints=0), '--keep_checkpoints must be >= 1, got 0'),
        (dict(steps_per_loop=0), '--steps_per_loop must be >= 1, got 0'),
        (dict(num_targets=3), '--num_targets must be 1 or 2, got 3'),
        (dict(eval_size=0), '--eval_size must be > 0, got 0'),
        (dict(num_trials=0), '--num_trials must be >= 1, got 0'),
        (dict(export_saved_model='/tmp/s', dataset='cifar10'),
         '--export_saved_model serves the models of mnist, fashion_mnist, '
         'affnist, .* --dataset=cifar10 crops and standardizes'),
        (dict(mixed_precision='int8'), "--mixed_precision must be one of "
         "none, bfloat16, float16, got 'int8'")):
      with self.assertRaisesRegex(ExperimentError, message):
        config_lib.RunConfig(**changes)

  def test_check_resume(self):
    train_dir = self.create_tempdir().full_path
    config = config_lib.RunConfig(max_steps=10)
    self.assertEqual(config_lib.check_resume(config, train_dir), {})
    config_lib.save(config, train_dir, step=0)
    self.assertEqual(config_lib.check_resume(config, train_dir), {})
    other = config.replace(max_steps=20, seed=3, dataset='norb',
                           hparams=config.hparams.parse('routing=2'))
    with self.assertRaisesRegex(ExperimentError,
                                r'another model or objective: dataset: mnist '
                                r'-> norb, hparams.routing: 3 -> 2; give a '
                                r'new --summary_dir'):
      config_lib.check_resume(other, train_dir)
    allowed = config.replace(max_steps=20, seed=3)
    changed = config_lib.check_resume(allowed, train_dir)
    self.assertEqual(changed, {'max_steps': (10, 20), 'seed': (0, 3)})
    config_lib.save(allowed, train_dir, step=10, changed=changed)
    with open(os.path.join(train_dir, 'config.json')) as f:
      saved = json.load(f)
    self.assertEqual(saved['max_steps'], 20)
    self.assertEqual(saved['resumes'], [
        {'step': 10, 'changed': {'max_steps': [10, 20], 'seed': [0, 3]}}])
    with open(os.path.join(train_dir, 'config.json'), 'w') as f:
      f.write('{not json')
    with self.assertRaisesRegex(ExperimentError,
                                'config.json: not a readable run '
                                'configuration'):
      config_lib.check_resume(config, train_dir)

  def test_trial_checkpoints_take_every_str_format_pattern(self):
    for pattern in ('m{}/c', 'm{0}/c', 'm{:d}/c', 'm{0:02d}/c'):
      paths = config_lib.trial_checkpoints(pattern, 3)
      self.assertLen(set(paths), 3)
    self.assertEqual(config_lib.trial_checkpoints('m{:02d}', 2),
                     ['m00', 'm01'])
    self.assertEqual(config_lib.trial_checkpoints('a/model.ckpt-5', 1),
                     ['a/model.ckpt-5'])
    for pattern, message in (('m', 'changes with the trial number'),
                             ('m{x}', "KeyError: 'x'"),
                             ('m{', 'ValueError'),
                             ('m{0[1]}', 'TypeError'),
                             (None, 'needs --checkpoint')):
      with self.assertRaisesRegex(ExperimentError, message):
        config_lib.trial_checkpoints(pattern, 2)


if __name__ == '__main__':
  tf.test.main()
