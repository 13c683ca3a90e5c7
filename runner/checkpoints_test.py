"""Tests of runner/checkpoints.py: native and the authors' TF1 checkpoints."""

import os

import numpy as np
import tensorflow as tf

from models import capsule_model
from models import hparams as hparams_lib
from models import optimizer as optimizer_lib
from models import testing
from runner import checkpoints
from runner.errors import ExperimentError


def _model(overrides=''):
  return capsule_model.CapsuleModel(
      hparams_lib.default_hparams().parse(overrides), 28, 1, 10)


class CheckpointsTest(tf.test.TestCase):

  def test_the_authors_tf1_names_restore_and_resume(self):
    # A checkpoint of the authors' names (a literal list) and other values
    # than a fresh model's: each lands in the variable that holds it, its
    # Adam moments in that variable's slots.
    rng = np.random.RandomState(0)
    fresh = _model()
    values = {name: rng.randn(*testing.variable_at(fresh, attr).shape)
                       .astype(np.float32)
              for name, attr in testing.AUTHORS_CAPSULE_VARIABLES.items()}
    slots = {'%s/Adam%s' % (name, suffix): (v * 0.01 + i).astype(np.float32)
             for name, v in values.items() for i, suffix in enumerate(
                 ('', '_1'))}
    path = testing.write_tf1_checkpoint(
        os.path.join(self.create_tempdir().full_path, 'model.ckpt-7'),
        dict(values, **slots, beta1_power=np.float32(0.9 ** 7),
             beta2_power=np.float32(0.999 ** 7), global_step=np.float32(7)))
    restored = _model()
    checkpoints.restore_model(restored, path)
    for name, attr in testing.AUTHORS_CAPSULE_VARIABLES.items():
      self.assertAllEqual(testing.variable_at(restored, attr), values[name],
                          msg=name)
    model = _model()
    adam = optimizer_lib.Adam(model.trainable_variables)
    checkpoints.resume(path, dict(model=model, optimizer=adam))
    self.assertEqual(int(adam.step), 7)
    self.assertAllClose([adam.beta1_power, adam.beta2_power],
                        [0.9 ** 7, 0.999 ** 7])
    by_variable = {id(v): (m, s) for v, m, s in
                   zip(adam.variables_to_train, adam.m, adam.v)}
    for name, attr in testing.AUTHORS_CAPSULE_VARIABLES.items():
      m, s = by_variable[id(testing.variable_at(model, attr))]
      self.assertAllEqual(m, slots[name + '/Adam'], msg=name)
      self.assertAllEqual(s, slots[name + '/Adam_1'], msg=name)
    self.assertEqual(checkpoints.step_of(path), 7)
    self.assertEqual(checkpoints.step_of('/tmp/native'), -1)

  def test_mismatched_checkpoints_name_the_variable(self):
    path = checkpoints.export_weights(
        _model('remake=false'),
        os.path.join(self.create_tempdir().full_path, 'a'))
    with self.assertRaisesRegex(ExperimentError,
                                r'variable reconstruction/layers/0/\w+ '
                                'missing'):
      checkpoints.restore_model(_model(), path)
    path = checkpoints.export_weights(
        _model('num_prime_capsules=16'),
        os.path.join(self.create_tempdir().full_path, 'b'))
    with self.assertRaisesRegex(ExperimentError,
                                r'primary_capsules/weights has shape '
                                r'\[9, 9, 256, 128\] in the checkpoint, the '
                                r'model expects \[9, 9, 256, 256\]'):
      checkpoints.restore_model(_model(), path)

  def test_unreadable_checkpoint_is_one_error(self):
    path = os.path.join(self.create_tempdir().full_path, 'model.ckpt-1')
    with open(path + '.index', 'wb') as f:
      f.write(b'not a checkpoint')
    with self.assertRaisesRegex(ExperimentError,
                                'model.ckpt-1: not a readable checkpoint'):
      checkpoints.restore_model(_model(), path)


if __name__ == '__main__':
  tf.test.main()
