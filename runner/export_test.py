"""Tests of runner/export.py: the SavedModel loads and serves on its own."""

import json
import os
import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
import tensorflow as tf

from input_data import idx
from input_data import pixels
from models import capsule_model
from models import conv_model
from models import hparams as hparams_lib
from models import testing
from runner import checkpoints
from runner import export
from runner import tflite

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A fresh process whose path holds no code of this project.
LOAD = textwrap.dedent('''
    import importlib.util, json
    import numpy as np
    import tensorflow as tf
    for package in ('runner', 'models', 'input_data'):  # None of ours.
      assert importlib.util.find_spec(package) is None, package
    loaded = tf.saved_model.load({directory!r})
    serve = loaded.signatures['serving_default']
    images = np.load({images!r})
    out = {{}}
    for batch in (len(images), 3):  # Another batch size than exported.
      result = serve(images=tf.constant(images[:batch]))
      out[batch] = {{k: v.numpy().tolist() for k, v in result.items()}}
    print(json.dumps(out))
''')


class ExportTest(tf.test.TestCase):

  def _serve_elsewhere(self, directory, images):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'images.npy')
    np.save(path, images)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(
        [sys.executable, '-c', LOAD.format(directory=directory, images=path)],
        capture_output=True, text=True, cwd=tmp, env=env, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return {int(k): v for k, v in json.loads(
        proc.stdout.strip().splitlines()[-1]).items()}

  def test_class_names_are_served_beside_the_classes(self):
    # A model of one's own RGB images: 20x20x3, four named classes; the
    # names come out of the SavedModel and of its TFLite conversion.
    tf.random.set_seed(3)
    model = capsule_model.CapsuleModel(hparams_lib.HParams(), 20, 3, 4,
                                       **testing.TINY['capsule'])
    names = ['ant', 'bee', 'cat', 'dog']
    # Trained here: with the CPU formulations, which the SavedModel has not
    # (a portable graph: no XLA-compiled routing), and which stay on.
    model.set_cpu_kernels(True)
    directory = export.export_saved_model(
        model, os.path.join(self.create_tempdir().full_path, 'own'), names)
    self.assertTrue(model.digit_capsules.cpu_kernels)
    with open(os.path.join(directory, 'saved_model.pb'), 'rb') as f:
      self.assertNotIn(b'_XlaMustCompile', f.read())
    images = np.random.RandomState(0).randint(0, 256, [6, 20, 20, 3]).astype(
        np.uint8)
    served = export.Served(directory)
    self.assertEqual(served.input_shape, (20, 20, 3))
    self.assertIn('names', served.output_names)
    out = served(images)
    self.assertEqual(out['names'].shape, (6, 1))
    self.assertEqual([n.decode() for n in out['names'][:, 0]],
                     [names[c] for c in out['classes'][:, 0]])
    lite = tflite.TFLiteModel(content=tflite.convert(directory))
    self.assertAllEqual(lite(images)['names'], out['names'])
    # A digit model has no names.
    digits = export.export_saved_model(
        model, os.path.join(self.create_tempdir().full_path, 'digits'))
    self.assertNotIn('names', export.Served(digits).output_names)

  def test_capsule_model_serves_its_scores_alone(self):
    tf.random.set_seed(2)
    model = capsule_model.CapsuleModel(hparams_lib.HParams(), 28, 1, 10,
                                       **testing.TINY['capsule'])
    images, _ = idx.load_mnist(os.path.join(ROOT, 'data', 'mnist'), 'test')
    images = images[:8, :, :, None]  # Real test digits, [8, 28, 28, 1].
    features = {'images': pixels.to_unit(images.reshape(8, -1)),
                'recons_label': np.zeros(8, np.int64)}
    inferred = model.inference(features)
    directory = export.export_saved_model(
        model, os.path.join(self.create_tempdir().full_path, 'saved'))
    served = self._serve_elsewhere(directory, images)
    for batch in (8, 3):
      out = served[batch]
      self.assertAllClose(out['scores'], inferred.logits[:batch], atol=1e-5)
      self.assertAllClose(out['capsules'], inferred.capsules[:batch],
                          atol=1e-5)
      self.assertEqual(np.array(out['classes']).tolist(), np.argmax(
          inferred.logits[:batch], 1)[:, None].tolist())
      recons = np.array(out['reconstructions'])
      self.assertEqual(recons.shape, (batch, 1, 28, 28, 1))
      # The decoder fed the capsule of the predicted class.
      expected = model.reconstruction(tf.one_hot(np.argmax(
          inferred.logits[:batch], 1), 10), inferred.capsules[:batch])
      self.assertAllClose(recons.reshape(batch, -1), expected, atol=1e-5)

  def test_baseline_serves_scores_and_classes_only(self):
    tf.random.set_seed(3)
    model = conv_model.ConvModel(hparams_lib.HParams(), 28, 1, 10,
                                 **testing.TINY['baseline'])
    images = np.random.RandomState(0).randint(0, 256, [4, 28, 28, 1],
                                              np.uint8)
    logits = model.inference({'images': pixels.to_unit(
        images.reshape(4, -1))}).logits
    directory = export.export_saved_model(
        model, os.path.join(self.create_tempdir().full_path, 'saved'))
    out = self._serve_elsewhere(directory, images)[4]
    self.assertCountEqual(out, ['scores', 'classes'])
    self.assertAllClose(out['scores'], logits, atol=1e-5)

  def test_export_of_an_authors_tf1_checkpoint(self):
    """A checkpoint of the original's TF1 variable names (as the authors'
    Saver wrote them) restores and exports with the scores it was saved
    with."""
    def tiny(seed):
      tf.random.set_seed(seed)
      return capsule_model.CapsuleModel(hparams_lib.HParams(), 28, 1, 10,
                                        **testing.TINY['capsule'])
    original = tiny(5)
    # The authors' names, from a literal list, not from our model's map.
    path = testing.write_tf1_checkpoint(
        os.path.join(self.create_tempdir().full_path, 'model.ckpt-9'),
        {name: testing.variable_at(original, attr).numpy()
         for name, attr in testing.AUTHORS_CAPSULE_VARIABLES.items()})
    restored = tiny(6)  # Other initial weights, replaced by the restore.
    checkpoints.restore_model(restored, path)
    directory = export.export_saved_model(
        restored, os.path.join(self.create_tempdir().full_path, 'saved'))
    images = np.random.RandomState(1).randint(0, 256, [5, 28, 28, 1],
                                              np.uint8)
    expected = original.inference({
        'images': pixels.to_unit(images.reshape(5, -1)),
        'recons_label': np.zeros(5, np.int64)}).logits
    self.assertAllClose(export.Served(directory)(images)['scores'], expected,
                        atol=1e-5)


  def test_an_export_that_fails_leaves_nothing_that_loads(self):
    tf.random.set_seed(3)
    model = conv_model.ConvModel(hparams_lib.HParams(), 28, 1, 10,
                                 **testing.TINY['baseline'])
    out = self.create_tempdir().full_path
    directory = os.path.join(out, 'saved')
    save = tf.saved_model.save

    def save_then_fail(*args, **kwargs):  # Interrupted after writing.
      save(*args, **kwargs)
      raise OSError('interrupted')
    with mock.patch.object(tf.saved_model, 'save', save_then_fail):
      with self.assertRaisesRegex(OSError, 'interrupted'):
        export.export_saved_model(model, directory)
    self.assertEqual(os.listdir(out), [])
    # An earlier export stays whole until a new one is.
    export.export_saved_model(model, directory)
    with mock.patch.object(tf.saved_model, 'save', save_then_fail):
      with self.assertRaises(OSError):
        export.export_saved_model(model, directory)
    self.assertEqual(os.listdir(out), ['saved'])
    self.assertIn('scores', export.Served(directory)(
        np.zeros([1, 28, 28, 1], np.uint8)))


if __name__ == '__main__':
  tf.test.main()
