"""Tests of the shared flags: their names, defaults and choices."""

import os

from absl import flags
from absl.testing import absltest

from runner import command_line


class CommandLineTest(absltest.TestCase):

  def _parse(self, *argv):
    values = flags.FlagValues()
    command_line.define(*command_line.SHARED, flag_values=values)
    values(['program'] + list(argv))
    return values

  def test_defaults_are_experiment_pys(self):
    values = self._parse()
    self.assertEqual(
        {name: values[name].value for name in command_line.SHARED},
        {'model': 'capsule', 'hparams_override': None, 'num_targets': 1,
         'data_dir': None, 'dataset': 'mnist', 'data_source': 'records',
         'xla': False, 'mixed_precision': 'none', 'steps_per_loop': 1,
         'deterministic': False, 'image_size': 0, 'channels': 0,
         'holdout': 0.1, 'train_split': 'train', 'test_split': 'test',
         'image_key': None, 'label_key': None, 'skip_bad_images': False,
         'max_shift': -1, 'random_flip': False,
         'cache_dir': '~/.cache/capsules'})

  def test_own_data_config_expands_the_cache_directory(self):
    values = self._parse('--cache_dir=~/c', '--image_size=40', '--holdout=0.25')
    config = command_line.own_data_config(values)
    self.assertEqual(
        (config['cache_dir'], config['image_size'], config['holdout']),
        (os.path.join(os.path.expanduser('~'), 'c'), 40, 0.25))
    self.assertIsNone(command_line.own_data_config(
        self._parse('--cache_dir='))['cache_dir'])

  def test_values_and_choices(self):
    values = self._parse('--data_source=idx', '--mixed_precision=float16',
                         '--num_targets=2', '--xla')
    self.assertEqual((values.data_source, values.mixed_precision,
                      values.num_targets, values.xla),
                     ('idx', 'float16', 2, True))
    for bad in ('--data_source=csv', '--mixed_precision=half'):
      with self.assertRaises(flags.IllegalFlagValueError):
        self._parse(bad)

  def test_only_the_flags_named_and_they_are_the_callers(self):
    values = flags.FlagValues()
    command_line.define('model', 'xla', flag_values=values)
    self.assertCountEqual(list(values), ['model', 'xla'])
    # Attributed to the module that asked (experiment.py lists and replays
    # its own flags), not to runner/command_line.py.
    self.assertCountEqual(
        [f.name for f in values.get_flags_for_module(__name__)],
        ['model', 'xla'])


if __name__ == '__main__':
  absltest.main()
