"""The flags experiment.py shares with the tools that build its models and
read its data (benchmark.py, figures.py): one definition each, so their
names, defaults, choices and help cannot drift apart.

A program defines the ones it takes with `define('model', 'xla', ...)`;
reading them stays with the program (experiment.py builds its RunConfig
from them).
"""

from absl import flags

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
    'dataset': ('string', 'mnist', 'mnist, fashion_mnist, norb, cifar10, or '
                'one of the 40x40 sets that train on MNIST IDX files placed '
                'at random in 40x40: affnist (test: the affNIST .mat files), '
                'affine_mnist (test: the stand-in files of '
                'input_data/affnist/affine_mnist.py), expanded_mnist (test: '
                'MNIST test digits centred in 40x40).'),
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
}


def define(*names, flag_values=flags.FLAGS):
  """Defines the shared flags named, as SHARED gives them."""
  for name in names:
    kind, default, help_text, *choices = SHARED[name]
    define_flag = getattr(flags, 'DEFINE_' + kind)
    define_flag(name, default, *[list(c) for c in choices], help_text,
                flag_values=flag_values)
