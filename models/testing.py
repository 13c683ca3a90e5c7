"""Small fixtures shared by the tests."""

import os
import subprocess
import sys
from xml.etree import ElementTree

import tensorflow as tf

from input_data import source
from models import steps as steps_lib


# Layer widths of tiny models with the paper's structure, for fast tests
# (the models' keyword arguments; runner.testing.tiny_models() makes the
# registry build them).
TINY = {
    'capsule': dict(conv1_channels=16, primary_atoms=4, digit_atoms=4,
                    decoder_sizes=(16, 16)),
    'baseline': dict(conv_channels=(8, 8), fc_size=16),
}


def split_cpu(num_devices=2):
  """Splits the CPU into logical devices so tests can run several replicas.

  Must run before TensorFlow initialises its devices (at import of a test
  module); later calls find the split already made and do nothing.
  """
  cpu = tf.config.list_physical_devices('CPU')[0]
  if len(tf.config.get_logical_device_configuration(cpu) or []) >= num_devices:
    return
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)


def feature_batch(batch_size, image_size=28, depth=1, num_classes=10,
                  num_targets=1, seed=0):
  """A batch of the features dict the models read, random but fixed."""
  return source.synthetic_batch(batch_size, source.DatasetInfo(
      image_size, depth, num_classes, num_targets), seed)


def tf1_baseline_logits(images, image_size, depth, num_classes,
                        padding='VALID'):
  """The original baseline's forward pass, built in the current TF1 graph.

  Written from the original's conv_model.py with plain TF ops and in its
  order, NOT through this project's model code: variables made by
  `tf.compat.v1.get_variable` under the original's scopes (`conv1`,
  `conv2`, `fc1`, `softmax_layer`, each `weights`/`biases`, initialised as
  there: conv kernels truncated normal 0.05, dense 0.1, biases 0.1),
  the convolutions and pooling of its NCHW graph, and the last pooled map
  flattened in NCHW order (channel, row, column).

  Args:
    images: [batch, depth*size*size] depth-major float tensor.

  Returns:
    logits [batch, num_classes].
  """
  v1 = tf.compat.v1
  bias_init = v1.constant_initializer(0.1)
  x = tf.reshape(images, [-1, depth, image_size, image_size])
  # The original runs NCHW (a GPU layout); TensorFlow's CPU kernels take
  # NCHW only with oneDNN, so the same convolutions and pooling run here in
  # NHWC, between two transposes.
  x = tf.transpose(x, [0, 2, 3, 1])
  channels = [depth, 512, 256]
  for i in (1, 2):
    with v1.variable_scope('conv%d' % i):
      kernel = v1.get_variable(
          'weights', [5, 5, channels[i - 1], channels[i]],
          initializer=v1.truncated_normal_initializer(stddev=5e-2))
      biases = v1.get_variable('biases', [channels[i]], initializer=bias_init)
      conv = tf.nn.conv2d(x, kernel, [1, 1, 1, 1], padding=padding)
      relu = tf.nn.relu(tf.nn.bias_add(conv, biases))
      x = v1.nn.max_pool(relu, [1, 2, 2, 1], [1, 2, 2, 1], 'SAME')
  x = tf.transpose(x, [0, 3, 1, 2])
  hidden = tf.reshape(x, [-1, x.shape[1] * x.shape[2] * x.shape[3]])
  for scope, size, relu in (('fc1', 1024, True),
                            ('softmax_layer', num_classes, False)):
    with v1.variable_scope(scope):
      weights = v1.get_variable(
          'weights', [hidden.shape[1], size],
          initializer=v1.truncated_normal_initializer(stddev=0.1))
      biases = v1.get_variable('biases', [size], initializer=bias_init)
      hidden = tf.matmul(hidden, weights) + biases
      if relu:
        hidden = tf.nn.relu(hidden)
  return hidden


def tf1_margin_loss(labels, logits):
  """The original's margin loss, mean over batch and classes (plain ops)."""
  l = logits - 0.5
  positive = labels * tf.cast(l < 0.4, tf.float32) * tf.square(l - 0.4)
  negative = (1 - labels) * tf.cast(l > -0.4, tf.float32) * tf.square(l + 0.4)
  return tf.reduce_mean(0.5 * positive + 0.25 * negative)


def make_train_step(model, optimizer, strategy, global_batch_size,
                    jit_compile=False, loss_scale=None):
  """One compiled training step over a batch (or a distributed batch): the
  step `model.make_train_loop` runs, callable on a features dict."""
  return tf.function(steps_lib.train_step_fn(
      model, optimizer, strategy, global_batch_size, jit_compile, loss_scale))


def compiled_graph_facts(function, *args):
  """What a tf.function traced for args really runs, read from its graph
  (and the graphs of the functions it calls), not from our code:
  {'xla': whether its convolutions are in a function marked for XLA
   compilation (the whole step compiled, as --xla asks),
   'compiled': which of the CPU formulations' functions are marked
   (models/layers/cpu_kernels.py: votes and routing, the Adam update),
   'conv_dtypes': the sorted dtype names of its Conv2D ops}."""
  graph_def = function.get_concrete_function(*args).graph.as_graph_def()
  functions = list(graph_def.library.function)
  marked = [f for f in functions if '_XlaMustCompile' in f.attr and
            f.attr['_XlaMustCompile'].b]
  nodes = list(graph_def.node) + [n for f in functions for n in f.node_def]
  conv_dtypes = sorted({tf.as_dtype(n.attr['T'].type).name for n in nodes
                        if n.op == 'Conv2D'})
  return {'xla': any(n.op == 'Conv2D' for f in marked for n in f.node_def),
          'compiled': [name for name in ('adam_update', 'votes_and_routing')
                       if any('_%s_' % name in f.signature.name
                              for f in marked)],
          'conv_dtypes': conv_dtypes}


# The authors' TF1 variable names of the capsule model (their capsule_model.py
# and layers.py: `conv1`, `conv_capsule1` and `capsule2` variable scopes, and
# the decoder's tf.contrib.layers.stack(scope='recons'), which names its
# layers recons_1..3), written out here rather than taken from our code, each
# with the attribute path of our variable that holds it.
AUTHORS_CAPSULE_VARIABLES = {
    'conv1/weights': 'conv1.weights',
    'conv1/biases': 'conv1.biases',
    'conv_capsule1/weights': 'primary_capsules.weights',
    'conv_capsule1/biases': 'primary_capsules.biases',
    'capsule2/weights': 'digit_capsules.weights',
    'capsule2/biases': 'digit_capsules.biases',
    'recons/recons_1/weights': 'reconstruction.layers.0.weights',
    'recons/recons_1/biases': 'reconstruction.layers.0.biases',
    'recons/recons_2/weights': 'reconstruction.layers.1.weights',
    'recons/recons_2/biases': 'reconstruction.layers.1.biases',
    'recons/recons_3/weights': 'reconstruction.layers.2.weights',
    'recons/recons_3/biases': 'reconstruction.layers.2.biases',
}


def variable_at(model, path):
  """The variable at an attribute path such as 'reconstruction.layers.0.w'."""
  for part in path.split('.'):
    model = model[int(part)] if part.isdigit() else getattr(model, part)
  return model


def write_tf1_checkpoint(path, values):
  """Saves {TF1 name: array} as the original's tf.compat.v1 Saver did."""
  with tf.Graph().as_default():
    variables = [tf.compat.v1.Variable(v, name=n) for n, v in values.items()]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      tf.compat.v1.train.Saver(variables).save(sess, path)
  return path


def flag_defaults(script):
  """{flag: default as absl prints it} of a script's own flags, read from
  its `--helpxml` in a fresh process (as a user's command line sees them;
  None shows as '')."""
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
  out = subprocess.run([sys.executable, os.path.join(root, script),
                        '--helpxml'], capture_output=True, text=True,
                       env=env, timeout=300).stdout  # absl exits 1 here.
  return {flag.findtext('name'): flag.findtext('default')
          for flag in ElementTree.fromstring(out).iter('flag')
          if flag.findtext('file', '').endswith(os.path.basename(script))}
