"""Tests of runner/config.py: validation, saving and the resume check."""

import dataclasses
import json
import os
import re

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
        (dict(save_step=0), '--save_step must be > 0, got 0'),
        (dict(batch_size=0), 'batch size must be > 0, got 0'),
        (dict(keep_checkpoints=0), '--keep_checkpoints must be >= 1, got 0'),
        (dict(steps_per_loop=0), '--steps_per_loop must be >= 1, got 0'),
        (dict(num_gpus=0), '--num_gpus must be >= 1, got 0'),
        (dict(num_targets=3), '--num_targets must be 1 or 2, got 3'),
        (dict(num_targets=0), '--num_targets must be 1 or 2, got 0'),
        (dict(eval_size=0), '--eval_size must be > 0, got 0'),
        (dict(num_trials=0), '--num_trials must be >= 1, got 0'),
        (dict(cpu_threads=-1), '--cpu_threads must be >= 0, got -1'),
        (dict(export_saved_model='/tmp/s', dataset='cifar10'),
         '--export_saved_model serves the models of affine_mnist, affnist, '
         'expanded_mnist, fashion_mnist, folder, mnist, tfds:NAME, whose '
         'readers only scale the pixels; --dataset=cifar10 crops and '
         r'standardizes its images \(not exported yet\)'),
        (dict(mixed_precision='int8'), "--mixed_precision must be one of "
         "none, bfloat16, float16, got 'int8'"),
        (dict(image_size=-1), "--image_size must be >= 0 \\(0: the data's "
         "own\\), got -1"),
        (dict(channels=2), "--channels must be 1 \\(grey\\), 3 \\(RGB\\) or 0 "
         "\\(the data's\\), got 2"),
        (dict(holdout=1.0), r'--holdout must be in \[0, 1\), got 1'),
        (dict(holdout=-0.1), r'--holdout must be in \[0, 1\), got -0.1'),
        (dict(max_memory_gb=-1), '--max_memory_gb must be >= 0, got -1'),
        (dict(max_shift=-2), r'--max_shift must be >= 0, or -1 \(2 pixels '
         r'per 28\), got -2')):
      with self.assertRaisesRegex(ExperimentError, '^%s$' % message):
        config_lib.RunConfig(**changes)
    # The edges are allowed.
    for edge in (dict(max_steps=0), dict(save_step=1), dict(batch_size=1),
                 dict(keep_checkpoints=1), dict(steps_per_loop=1),
                 dict(cpu_threads=0),
                 dict(num_gpus=1), dict(num_targets=1), dict(num_targets=2),
                 dict(eval_size=1), dict(num_trials=1),
                 dict(export_saved_model='/tmp/s', dataset='affine_mnist'),
                 dict(mixed_precision='float16')):
      config_lib.RunConfig(**edge)

  def test_what_each_mode_requires(self):
    summary = ('--summary_dir is required to train or to run the validation '
               'job')
    for fields, message in (
        (dict(), '--data_dir is required'),
        (dict(data_dir='d'), summary),  # Training.
        (dict(data_dir='d', train=False), summary),  # The validation job.
        (dict(data_dir='d', summary_dir='s'), None),
        (dict(data_dir='d', train=False, checkpoint='c'), None)):  # One.
      config = config_lib.RunConfig(**fields)
      if message:
        with self.assertRaisesWithLiteralMatch(ExperimentError, message):
          config.check_mode()
      else:
        config.check_mode()
    with self.assertRaisesWithLiteralMatch(ExperimentError, summary):
      config_lib.RunConfig(data_dir='d').require('summary_dir')
    config_lib.RunConfig(summary_dir='s').require('summary_dir')

  def test_what_a_resumed_run_may_not_change(self):
    # What defines the model and its objective, literally: every hparam
    # too. Everything else may change, and is recorded.
    refused = {'model': 'baseline', 'dataset': 'norb', 'num_targets': 2,
               'image_size': 40, 'channels': 3, 'class_names': ('a', 'b')}
    refused.update({'hparams.' + f.name: '?' for f in
                    dataclasses.fields(hparams_lib.HParams)})
    self.assertCountEqual(config_lib.MODEL_KEYS, refused)
    train_dir = self.create_tempdir().full_path
    config = config_lib.RunConfig()
    config_lib.save(config, train_dir, step=0)
    for key, value in refused.items():
      if key.startswith('hparams.'):
        continue
      with self.assertRaisesRegex(ExperimentError, r'objective: %s: ' % key):
        config_lib.check_resume(config.replace(**{key: value}), train_dir)
    for key, value in (('seed', 4), ('data_dir', '/elsewhere'),
                       ('validate', True), ('max_steps', 5),
                       ('mixed_precision', 'bfloat16'), ('num_gpus', 2)):
      self.assertEqual(config_lib.check_resume(
          config.replace(**{key: value}), train_dir),
                       {key: (getattr(config, key), value)})

  def test_a_config_of_an_earlier_version_still_resumes(self):
    # Earlier versions saved a `model_widths` key (null outside tests),
    # since dropped: keys the configuration no longer has are not compared.
    train_dir = self.create_tempdir().full_path
    config = config_lib.RunConfig()
    config_lib.save(config, train_dir, step=0)
    path = os.path.join(train_dir, config_lib.CONFIG_FILE)
    with open(path) as f:
      saved = json.load(f)
    with open(path, 'w') as f:
      json.dump(dict(saved, model_widths=None), f)
    self.assertEqual(config_lib.check_resume(config.replace(seed=2),
                                             train_dir), {'seed': (0, 2)})

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
    # A second resume appends; a start from step 0 records none.
    config_lib.save(allowed, train_dir, step=15)
    config_lib.save(allowed, train_dir, step=0)
    with open(os.path.join(train_dir, 'config.json')) as f:
      text = f.read()
    self.assertEqual([r['step'] for r in json.loads(text)['resumes']],
                     [10, 15])
    self.assertEqual(json.loads(text)['resumes'][1]['changed'], {})
    # Written for people to read: sorted keys, two-space indent.
    self.assertEqual(text.splitlines()[:2], ['{', '  "batch_size": 128,'])
    self.assertEqual(os.listdir(train_dir), ['config.json'])  # No temp file.
    with open(os.path.join(train_dir, 'config.json'), 'w') as f:
      f.write('{not json')
    with self.assertRaisesRegex(ExperimentError,
                                'config.json: not a readable run '
                                'configuration'):
      config_lib.check_resume(config, train_dir)

  def test_a_run_of_the_older_hparams_json(self):
    train_dir = self.create_tempdir().full_path
    with open(os.path.join(train_dir, 'hparams.json'), 'w') as f:
      json.dump(dict(dataclasses.asdict(hparams_lib.HParams()),
                     model='capsule'), f)
    config = config_lib.RunConfig()
    self.assertEqual(config_lib.check_resume(config, train_dir), {})
    self.assertEqual(config_lib.saved_config(train_dir)['model'], 'capsule')
    self.assertEqual(config_lib.saved_config(train_dir)['hparams.routing'], 3)
    with self.assertRaisesRegex(
        ExperimentError, '^%s holds a run of another model or objective: '
        'model: capsule -> baseline, hparams.routing: 3 -> 1; give a new '
        '--summary_dir, or the same flags$' % re.escape(train_dir)):
      config_lib.check_resume(config.replace(
          model='baseline', hparams=config.hparams.parse('routing=1')),
                              train_dir)
    with open(os.path.join(train_dir, 'hparams.json'), 'w') as f:
      f.write('[')
    with self.assertRaisesRegex(ExperimentError, r'^%s: not a readable run '
                                r'configuration \(.*\); move it away to '
                                r'resume without the check$' % re.escape(
                                    os.path.join(train_dir, 'hparams.json'))):
      config_lib.saved_config(train_dir)
    self.assertIsNone(config_lib.saved_config(
        self.create_tempdir().full_path))
    # Older files may lack a key: no model name, no hparams, no resumes.
    with open(os.path.join(train_dir, 'hparams.json'), 'w') as f:
      json.dump({'routing': 3}, f)
    self.assertEqual(config_lib.saved_config(train_dir),
                     {'model': None, 'hparams.routing': 3})
    with open(os.path.join(train_dir, 'config.json'), 'w') as f:
      json.dump({'model': 'capsule', 'max_steps': 5}, f)
    self.assertEqual(config_lib.check_resume(config, train_dir),
                     {'max_steps': (5, 1000)})
    config_lib.save(config, train_dir, step=5, changed={'max_steps': (5, 1000)})
    with open(os.path.join(train_dir, 'config.json')) as f:
      self.assertEqual(json.load(f)['resumes'], [
          {'step': 5, 'changed': {'max_steps': [5, 1000]}}])

  def test_trial_checkpoints_take_every_str_format_pattern(self):
    for pattern in ('m{}/c', 'm{0}/c', 'm{:d}/c', 'm{0:02d}/c'):
      paths = config_lib.trial_checkpoints(pattern, 3)
      self.assertLen(set(paths), 3)
    self.assertEqual(config_lib.trial_checkpoints('m{:02d}', 2),
                     ['m00', 'm01'])
    self.assertEqual(config_lib.trial_checkpoints('a/model.ckpt-5', 1),
                     ['a/model.ckpt-5'])
    for pattern, message in (
        ('m', '--num_trials=2 needs --checkpoint with a pattern that changes '
         'with the trial number, e.g. /tmp/model{}/model.ckpt-N; got m'),
        ('m{x}', r"--checkpoint=m{x} is not a str.format pattern of the "
         r"trial number \(KeyError: 'x'\)"),
        ('m{', r'--checkpoint=m{ is not a str.format pattern of the trial '
         r'number \(ValueError: .*\)'),
        ('m{0[1]}', r'--checkpoint=m{0\[1\]} is not .* \(TypeError: .*\)'),
        ('m{0.real.x}', r'.* \(AttributeError: .*\)'),
        ('m{1}', r'.* \(IndexError: .*\)'),
        (None, '--num_trials=2 needs --checkpoint, a pattern of the trial '
         'number such as /tmp/model{}/model.ckpt-N')):
      with self.assertRaisesRegex(ExperimentError, '^%s$' % message):
        config_lib.trial_checkpoints(pattern, 2)


if __name__ == '__main__':
  tf.test.main()
