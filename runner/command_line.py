"""The flags experiment.py shares with the tools that build its models and
read its data (benchmark.py, figures.py): one definition each, so their
names, defaults, choices and help cannot drift apart.

A program defines the ones it takes with `define('model', 'xla', ...)`;
reading them stays with the program (experiment.py builds its RunConfig
from them).
"""

import os

from absl import flags

from input_data import datasets
from runner import config as config_lib

# The flags defined here belong to the program that asks for them (its
# --helpxml, the run record's replay command), not to this module.
flags.disclaim_key_flags()

DATA_SOURCES = ('records', 'idx')

# name: (absl DEFINE_* function name, default, help; for enums the choices).
SHARED = {
    'model': ('string', 'capsule', 'capsule or baseline.'),
    'hparams_override': ('string', None, 'key=value,key=value over the model '
                         'defaults, applied left to right.'),
    'num_targets': ('integer', 1, '1, or 2 for MultiMNIST.'),
    'data_dir': ('string', None, 'Data directory; for MultiMNIST a shard '
                 'pattern PREFIX@N.'),
    'dataset': ('string', 'mnist', datasets.help_text() + '.'),
    'data_source': ('enum', 'records', 'records: the generator\'s TFRecords; '
                    'idx: the MNIST IDX files in data_dir, training shifts '
                    'drawn on the fly.', DATA_SOURCES),
    'xla': ('boolean', False, 'XLA-compile the forward and backward pass '
            '(same results within float noise).'),
    'mixed_precision': ('enum', 'none', 'Run the convolutions in this dtype; '
                        'routing, losses and weights stay float32. float16 '
                        'trains with dynamic loss scaling (its gradients '
                        'underflow otherwise).', config_lib.MIXED_PRECISIONS),
    'steps_per_loop': ('integer', 1, 'Training steps per compiled call: fewer '
                       'host round trips, for GPUs whose step takes '
                       'milliseconds (e.g. 50); same results, and logs and '
                       'checkpoints land on the same steps.'),
    'deterministic': ('boolean', False, 'TensorFlow\'s op determinism: '
                      'deterministic kernels (GPU ones too) and tf.data '
                      'order; two runs of one command on one machine write '
                      'the same checkpoints (see docs/determinism.md).'),
    # One's own images (--dataset=folder, tfds:NAME).
    'image_size': ('integer', 0, 'Own images: resize (aspect kept) and '
                   'centre-crop to N x N; 0: the data\'s own size (all '
                   'alike; a non-square image\'s centre).'),
    'channels': ('integer', 0, 'Own images: 1 (grey) or 3 (RGB); 0: 1 when '
                 'every training image is grey, else 3.'),
    'holdout': ('float', 0.1, 'Own images: without a test split, this '
                'stratified fraction of the training images is it; with '
                '--validate, this fraction of the training part is '
                'valid_test.'),
    'train_split': ('string', 'train', 'tfds:NAME: the training split, in '
                    'TFDS syntax (train[:90%]).'),
    'test_split': ('string', 'test', 'tfds:NAME: the test split, in TFDS '
                   'syntax.'),
    'image_key': ('string', None, 'tfds:NAME: the image feature (default: '
                  'the supervised keys\', else "image").'),
    'label_key': ('string', None, 'tfds:NAME: the label feature (default: '
                  'the supervised keys\', else "label").'),
    'skip_bad_images': ('boolean', False, 'Own images: skip (and count) '
                        'files that do not decode or declare too many '
                        'pixels, instead of stopping.'),
    'max_shift': ('integer', -1, 'Own images: training shifts of up to N '
                  'pixels each way; -1: 2 per 28 pixels of the size (the '
                  'original\'s MNIST shift, scaled).'),
    'random_flip': ('boolean', False, 'Own images: mirror training images '
                    'left-right at random.'),
    'cache_dir': ('string', os.path.join('~', '.cache', 'capsules'),
                  'Own images: decoded images are cached here (one file per '
                  'data and options; empty: no cache).'),
}
OWN_DATA = ('image_size', 'channels', 'holdout', 'train_split', 'test_split',
            'image_key', 'label_key', 'skip_bad_images', 'max_shift',
            'random_flip', 'cache_dir')


def own_data_config(values):
  """The RunConfig fields of the OWN_DATA flags (values: parsed FlagValues),
  the cache directory with ~ expanded."""
  config = {name: values[name].value for name in OWN_DATA}
  config['cache_dir'] = (os.path.expanduser(config['cache_dir'])
                         if config['cache_dir'] else None)
  return config


def define(*names, flag_values=flags.FLAGS):
  """Defines the shared flags named, as SHARED gives them."""
  for name in names:
    kind, default, help_text, *choices = SHARED[name]
    define_flag = getattr(flags, 'DEFINE_' + kind)
    define_flag(name, default, *[list(c) for c in choices], help_text,
                flag_values=flag_values)
