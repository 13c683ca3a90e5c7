"""The paper's results as studies: which runs make each, with what commands.

A study is a set of settings (rows of the paper's table), each trained with
K seeds and evaluated on one or more test sets, under one of two schedules:

  paper   the authors' steps and checkpoint cadence, on the data they used
          (records made by the generators when missing);
  budget  a CPU-sized schedule (an hour or two a run on 2 cores), on the
          data the repository ships or that are made on the fly.

Every command is one a user could type: `python experiment.py ...` and the
generators, with paths relative to the checkout. Nothing here runs them
(studies/runs.py does).
"""

import dataclasses
import os
from typing import Optional

from models import hparams

# Examples of one training epoch, for the report's epochs column.
MNIST_TRAIN = 60000


@dataclasses.dataclass(frozen=True)
class Eval:
  """One test set a setting is scored on.

  name: its column in the report; flags: experiment.py flags that select it
  (beside the setting's model flags); metric: 'wrong' (the top class, or
  both MultiMNIST digits, not right) or 'almost_wrong' (MultiMNIST: neither
  digit found)."""
  name: str
  flags: tuple
  metric: str = 'wrong'


@dataclasses.dataclass(frozen=True)
class Setting:
  """One row: a model configuration, its test sets and the paper's numbers
  ({eval name: text as the paper prints it})."""
  name: str
  label: str
  model_flags: tuple
  paper: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Comparison:
  """One of the paper's claims as two settings' difference in error:
  setting `a` minus setting `b` (negative: `a` errs less), in words."""
  a: str
  b: str
  claim: str


@dataclasses.dataclass(frozen=True)
class Schedule:
  steps: int
  save_step: int
  seeds: int
  extra_flags: tuple = ()  # Training and evaluation flags of the schedule.
  note: str = ''


@dataclasses.dataclass(frozen=True)
class Study:
  """name, title; settings; train_flags (the data, shared by the settings);
  evals; schedules {'paper', 'budget'}; train_examples (one epoch); prepare
  (commands that make the data, each with the file it makes: skipped when
  that exists); ensemble (also score all seeds together, --num_trials);
  paper_ensemble (the paper's number for that row, per eval); runs_of
  (another study whose runs of the same settings these are, shared);
  comparisons (the paper's claims the report tests against the seeds)."""
  name: str
  title: str
  settings: tuple
  train_flags: tuple
  evals: tuple
  schedules: dict
  train_examples: int
  prepare: tuple = ()
  ensemble: bool = False
  paper_ensemble: dict = dataclasses.field(default_factory=dict)
  note: str = ''
  runs_of: Optional[str] = None  # Another study whose runs these are.
  comparisons: tuple = ()


@dataclasses.dataclass(frozen=True)
class DataDirs:
  """Where the data are (reproduce.py's flags); None: not given."""
  root: str  # The studies' root: runs and generated data go under it.
  mnist: str = 'data/mnist'
  fashion: Optional[str] = None
  norb: Optional[str] = None
  cifar: Optional[str] = None
  affnist: Optional[str] = None


def flag_value(argv, name, default=None):
  """The value of --name=VALUE in argv (flags or a command), else default."""
  for arg in argv:
    if arg.startswith('--%s=' % name):
      return arg.split('=', 1)[1]
  return default


class MissingData(ValueError):
  """A study needs data that were not given (names the flag)."""


CAPSULE = Setting('capsule', 'capsule, 3 routing, + reconstruction', ())
BASELINE_SOFTMAX = ('--model=baseline', '--hparams_override=loss_type=softmax')
BF16_BUDGET_FLAGS = ('--mixed_precision=bfloat16', '--deterministic')
# The original README's MNIST command (300,000 steps) and experiment.py's
# checkpoint cadence (--save_step's default).
PAPER_MNIST = Schedule(300000, 1500, 3, note='the original README\'s MNIST '
                       'command: 300,000 steps of 128')
CPU_NOTE = ('CPU budget: float32, op determinism, far fewer steps than the '
            'paper')
# 1,000 steps of 128 (about 2 epochs of MNIST), 3 seeds, float32: the
# authors' numerics, and fast on every CPU (bfloat16 convolutions are 1.5x
# faster on CPUs with AVX512-BF16 but about 10x slower on AVX2-only ones,
# where they are emulated: docs/performance.md).
BUDGET = Schedule(1000, 500, 3, ('--deterministic',), CPU_NOTE)
# Table 1's budget (and the ensemble's, the same runs): its committed runs
# were made with bfloat16 convolutions on a CPU with AVX512-BF16.
BF16_BUDGET = Schedule(1000, 500, 3, BF16_BUDGET_FLAGS,
                       'CPU budget: bfloat16 convolutions (float32 elsewhere), '
                       'op determinism, far fewer steps than the paper')

# 50 epochs of MNIST at batch 128 (23,438 steps), the paper's capsule setting
# on the shipped IDX files, one seed: as far as a CPU goes in a day or two
# (a run resumes with the same command after every stop).
EPOCHS50 = Schedule(23438, 1500, 1, BF16_BUDGET_FLAGS,
                    '50 epochs on a CPU: bfloat16 convolutions (float32 '
                    'elsewhere), op determinism, one seed')


def _need(directory, message):
  if not directory:
    raise MissingData(message)
  return directory


def _mnist_records(dirs):
  """The authors' MNIST data: the generator's records (2-px shifts)."""
  out = os.path.join(dirs.root, 'data', 'mnist_records')
  prepare = tuple(
      (('python', 'input_data/mnist/mnist_shift.py', '--data_dir=' + dirs.mnist,
        '--output_dir=' + out, '--split=' + split, '--shift=%d' % shift),
       os.path.join(out, '%s_%dshifted_mnist.tfrecords' % (split, shift)))
      for split, shift in (('train', 2), ('test', 0)))
  return out, prepare


def table1(dirs, schedule):
  """Table 1: MNIST test error, routing 1 or 3, with and without the
  reconstruction loss, and the baseline CNN (the paper's cross-entropy)."""
  if schedule == 'paper':
    data_dir, prepare = _mnist_records(dirs)
    data = ('--data_dir=' + data_dir,)
  else:
    data, prepare = ('--data_dir=' + dirs.mnist, '--data_source=idx'), ()
  settings = (
      Setting('baseline', 'baseline CNN, cross-entropy', BASELINE_SOFTMAX,
              {'test': '0.39'}),
      Setting('routing1_norecon', 'capsule, 1 routing, no reconstruction',
              ('--hparams_override=routing=1,remake=false',),
              {'test': '0.34 ± 0.032'}),
      Setting('routing1_recon', 'capsule, 1 routing, + reconstruction',
              ('--hparams_override=routing=1',), {'test': '0.29 ± 0.011'}),
      Setting('routing3_norecon', 'capsule, 3 routing, no reconstruction',
              ('--hparams_override=remake=false',), {'test': '0.35 ± 0.036'}),
      Setting('routing3_recon', 'capsule, 3 routing, + reconstruction', (),
              {'test': '0.25 ± 0.005'}),
  )
  return Study(
      'table1', 'MNIST test error (%), the paper\'s Table 1', settings, data,
      (Eval('test', data),),
      {'paper': PAPER_MNIST,
       'budget': BF16_BUDGET,
       'epochs50': EPOCHS50},
      MNIST_TRAIN, prepare,
      note='The paper gives mean ± standard deviation over 3 trials; the '
      'baseline is the original code\'s CNN (7.5M parameters, not the '
      'paper\'s 35.4M) with the paper\'s cross-entropy loss.',
      comparisons=(
          Comparison('routing3_recon', 'baseline',
                     'capsules (3 routing, + reconstruction) err less than '
                     'the baseline'),
          Comparison('routing3_recon', 'routing1_recon',
                     '3 routing iterations err less than 1 (with '
                     'reconstruction)'),
          Comparison('routing3_norecon', 'routing1_norecon',
                     '3 routing iterations against 1 (no reconstruction)'),
          Comparison('routing3_recon', 'routing3_norecon',
                     'the reconstruction loss helps (3 routing)'),
          Comparison('routing1_recon', 'routing1_norecon',
                     'the reconstruction loss helps (1 routing)')))


def multimnist(dirs, schedule):
  """MultiMNIST: both digits of two overlapping ones; capsules (routing 1
  and 3, + reconstruction) against the baseline (sigmoid outputs)."""
  if schedule == 'paper':
    out = os.path.join(dirs.root, 'data', 'multimnist')
    prepare = tuple(
        (('python', 'input_data/mnist/mnist_shift.py',
          '--data_dir=' + dirs.mnist, '--output_dir=' + out, '--split=' + split,
          '--shift=4', '--pad=4', '--multi_targets=true', '--num_pairs=1000',
          '--max_shard=1000000'),
         os.path.join(out, 'multi%s_4shifted_mnist.tfrecords-00000-of-%05d' %
                      (split, shards)))
        for split, shards in (('train', 60), ('test', 10)))
    train = ('--data_dir=%s@60' % os.path.join(
        out, 'multitrain_4shifted_mnist.tfrecords'),)
    test = ('--data_dir=%s@10' % os.path.join(
        out, 'multitest_4shifted_mnist.tfrecords'), '--eval_size=10000000')
  else:
    prepare = ()
    train = test = ('--data_dir=' + dirs.mnist, '--data_source=idx')
  settings = (
      Setting('baseline', 'baseline CNN, sigmoid outputs',
              ('--model=baseline', '--hparams_override=loss_type=sigmoid'),
              {'both': '8.1'}),
      Setting('routing1_recon', 'capsule, 1 routing, + reconstruction',
              ('--hparams_override=routing=1',), {'both': '7.5'}),
      Setting('routing3_recon', 'capsule, 3 routing, + reconstruction', (),
              {'both': '5.2'}),
  )
  return Study(
      'multimnist', 'MultiMNIST test error (%): two overlapping digits',
      settings, ('--num_targets=2',) + train,
      (Eval('both', ('--num_targets=2',) + test),
       Eval('neither', ('--num_targets=2',) + test, 'almost_wrong')),
      {'paper': Schedule(300000, 1500, 1, note='60M pairs (1,000 per '
                         'training digit); steps as the README\'s MNIST '
                         'command (the paper gives none)'),
       'budget': dataclasses.replace(BUDGET, note=CPU_NOTE + '; pairs made '
                                     'on the fly, 10,000 test pairs (one per '
                                     'test digit)')},
      MNIST_TRAIN, prepare,
      note='"both": a pair counts as right when its two digits are the '
      'two highest scores (the paper\'s metric); "neither": the original '
      'code\'s second count, neither digit among the two.',
      comparisons=(
          Comparison('routing3_recon', 'baseline',
                     'capsules (3 routing) err less than the baseline'),
          Comparison('routing3_recon', 'routing1_recon',
                     '3 routing iterations err less than 1')))


def affine(dirs, schedule):
  """Trained on MNIST placed at random in 40x40 (expanded MNIST), tested
  on expanded MNIST, on the affine-MNIST stand-in and, when given, on
  affNIST."""
  out = os.path.join(dirs.root, 'data', 'affine_mnist')
  prepare = ((('python', 'input_data/affnist/affine_mnist.py',
               '--data_dir=' + dirs.mnist, '--output_dir=' + out, '--seed=0'),
              os.path.join(out, 'affine-mnist-t10k-labels-idx1-ubyte.gz')),)
  evals = (Eval('expanded', ('--dataset=expanded_mnist',
                             '--data_dir=' + dirs.mnist)),
           Eval('affine_mnist', ('--dataset=affine_mnist',
                                 '--data_dir=' + out)))
  if dirs.affnist:
    evals += (Eval('affnist', ('--dataset=affnist',
                               '--data_dir=' + dirs.affnist)),)
  settings = (
      Setting('baseline', 'baseline CNN, cross-entropy', BASELINE_SOFTMAX,
              {'expanded': '0.78', 'affnist': '34'}),
      Setting('capsule', CAPSULE.label, (),
              {'expanded': '0.77', 'affnist': '21'}),
  )
  del schedule  # The same data for both schedules.
  return Study(
      'affine', 'Affine generalisation: test error (%) after training on '
      'expanded MNIST', settings,
      ('--dataset=expanded_mnist', '--data_dir=' + dirs.mnist), evals,
      {'paper': PAPER_MNIST,
       'budget': BUDGET},
      MNIST_TRAIN, prepare,
      note='affine-MNIST is a stand-in for affNIST (docs/data.md), not '
      'affNIST: the paper\'s numbers are affNIST\'s. The paper compares the '
      'two models at the same expanded-MNIST accuracy (99.23% and 99.22%); '
      'a schedule compares them at the same steps, where their '
      'expanded-MNIST errors may differ: read the affine difference beside '
      'the expanded one (docs/results.md matches them checkpoint by '
      'checkpoint in single runs).',
      comparisons=(Comparison('capsule', 'baseline', 'capsules generalise '
                              'to affine transformations better'),))


def ensemble(dirs, schedule):
  """Table 1's capsule model (3 routing, + reconstruction): its seeds alone
  and their summed scores. The seeds are table1's own runs (the same
  commands), so a study run after the other trains nothing again."""
  capsule = table1(dirs, schedule)
  return dataclasses.replace(
      capsule, name='ensemble',
      title='MNIST test error (%): seeds alone and as an ensemble',
      settings=capsule.settings[-1:], ensemble=True, runs_of='table1',
      comparisons=(),
      note='The paper gives no MNIST ensemble; its CIFAR-10 number is an '
      'ensemble of 7 models.')


def fashion(dirs, schedule):
  """Fashion-MNIST (IDX files): the capsule model and the baseline."""
  directory = _need(dirs.fashion, '--study=fashion needs --fashion_dir (the '
                    'Fashion-MNIST IDX files)')
  data = ('--dataset=fashion_mnist', '--data_source=idx',
          '--data_dir=' + directory)
  del schedule
  return Study(
      'fashion', 'Fashion-MNIST test error (%)',
      (Setting('baseline', 'baseline CNN, cross-entropy', BASELINE_SOFTMAX),
       CAPSULE), data, (Eval('test', data),),
      {'paper': PAPER_MNIST,
       'budget': BUDGET},
      MNIST_TRAIN, note='The paper has no Fashion-MNIST result.')


def smallnorb(dirs, schedule):
  """smallNORB (records from input_data/norb/smallnorb_convert.py)."""
  directory = _need(dirs.norb, '--study=smallnorb needs --norb_dir '
                    '(trainduo.tfrecords and testduo.tfrecords)')
  data = ('--dataset=norb', '--data_dir=' + directory)
  del schedule
  return Study(
      'smallnorb', 'smallNORB test error (%)',
      (Setting('capsule', CAPSULE.label, (), {'test': '2.7'}),), data,
      (Eval('test', data + ('--eval_size=24300',)),),
      {'paper': PAPER_MNIST,
       'budget': BUDGET}, 24300)


CIFAR_HPARAMS = ('--hparams_override=%s' %
                 hparams.PAPER_OVERRIDES['cifar10'],)


def cifar10(dirs, schedule):
  """CIFAR-10: 7 capsule models and their ensemble (the README's)."""
  directory = _need(dirs.cifar, '--study=cifar10 needs --cifar_dir (the '
                    'directory of cifar-10-batches-bin/)')
  data = ('--dataset=cifar10', '--data_dir=' + directory)
  del schedule
  return Study(
      'cifar10', 'CIFAR-10 test error (%)',
      (Setting('capsule', 'capsule, 64 primary capsule types, leaky routing, '
               'no reconstruction', CIFAR_HPARAMS),), data,
      (Eval('test', data),),
      {'paper': Schedule(600000, 1500, 7, note='the original README\'s '
                         'CIFAR-10 command: 600,000 steps, 7 models'),
       'budget': BUDGET},
      50000, ensemble=True, paper_ensemble={'test': '10.6'})


STUDIES = {
    'table1': table1,
    'multimnist': multimnist,
    'affine': affine,
    'ensemble': ensemble,
    'fashion': fashion,
    'smallnorb': smallnorb,
    'cifar10': cifar10,
}
SCHEDULES = ('budget', 'paper', 'epochs50')  # epochs50: table1's only.


def get(name, dirs, schedule):
  """The study `name` for the data in dirs, under `schedule`."""
  if name not in STUDIES:
    raise KeyError('unknown study %r: one of %s' % (name,
                                                    ', '.join(STUDIES)))
  if schedule not in SCHEDULES:
    raise KeyError('unknown schedule %r: one of %s' % (
        schedule, ', '.join(SCHEDULES)))
  return STUDIES[name](dirs, schedule)
