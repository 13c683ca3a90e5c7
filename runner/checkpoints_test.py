"""Tests of runner/checkpoints.py: native and the authors' TF1 checkpoints."""

import os

import numpy as np
import tensorflow as tf

from models import capsule_model
from models import hparams as hparams_lib
from models import model as model_lib
from runner import checkpoints
from runner.errors import ExperimentError


def _model(overrides=''):
  return capsule_model.CapsuleModel(
      hparams_lib.default_hparams().parse(overrides), 28, 1, 10)


class CheckpointsTest(tf.test.TestCase):

  def test_tf1_checkpoint_gives_the_native_scores(self):
    native = _model()
    names = native.tf1_variables()
    adam = model_lib.Adam(native.trainable_variables)
    slots = adam.tf1_variables(names)
    path = os.path.join(self.create_tempdir().full_path, 'model.ckpt-7')
    values = {n: v.numpy() for n, v in list(names.items()) +
              list(slots.items())}
    with tf.Graph().as_default():
      tf1_vars = [tf.compat.v1.Variable(v, name=n) for n, v in values.items()]
      tf1_vars.append(tf.compat.v1.Variable(7.0, name='global_step'))
      saver = tf.compat.v1.train.Saver(tf1_vars)
      with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        saver.save(sess, path)
    native_path = checkpoints.export_weights(
        native, os.path.join(self.create_tempdir().full_path, 'native'))
    features = {'images': np.random.RandomState(0).rand(4, 784)
                          .astype(np.float32),
                'recons_label': np.zeros([4], np.int64)}
    for checkpoint in (path, native_path):
      restored = _model()
      checkpoints.restore_model(restored, checkpoint)
      self.assertAllClose(restored.inference(features).logits,
                          native.inference(features).logits, atol=1e-6)
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
