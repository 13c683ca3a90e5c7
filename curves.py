r"""Learning curves of runs: test error (the validation job's) and training
loss against the step, from the event files the two jobs wrote.

  python curves.py --summary_dir=runs/caps --output=docs/figures/curves.png
  python curves.py --summary_dir=runs/a,runs/b --labels=capsule,baseline ...
  python curves.py --summary_dir=runs/caps --csv_prefix=docs/results/caps

With --csv_prefix (one run), the numbers are also written as CSV:
PREFIX_validation.csv (step, test_wrong, test_error_percent) and
PREFIX_training_loss.csv (step, total_loss).

Reads summary_dir/test (`wrong_prediction`, `correct_prediction`: the error
is wrong / (wrong + correct)) and summary_dir/train (`total_loss`). The same
curves show in TensorBoard (`tensorboard --logdir=runs/caps`). Drawing needs
matplotlib (`pip install matplotlib`); nothing else in the project does.
"""

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_list('summary_dir', None, 'Run directories (comma-separated).')
  flags.DEFINE_list('labels', None, 'A legend label per run (default: the '
                    'directory names).')
  flags.DEFINE_string('output', 'curves.png', 'PNG to write.')
  flags.DEFINE_string('title', None, 'Figure title.')
  flags.DEFINE_string('csv_prefix', None, 'Also write the curves of the '
                      '(one) run as PREFIX_validation.csv and '
                      'PREFIX_training_loss.csv.')


def _test_counts(summary_dir):
  """[(step, wrong, correct)] of the validation job's evaluations."""
  from runner import events  # pylint: disable=g-import-not-at-top
  test = events.read_scalars(os.path.join(summary_dir, 'test'))
  wrong = dict(test.get('wrong_prediction', []))
  correct = dict(test.get('correct_prediction', []))
  return [(step, wrong[step], correct[step]) for step in sorted(wrong)
          if step in correct]


def _train_loss(summary_dir):
  from runner import events  # pylint: disable=g-import-not-at-top
  train = events.read_scalars(os.path.join(summary_dir, 'train'))
  return sorted(train.get('total_loss', []))


def curves(summary_dir):
  """(test [(step, error %)], train [(step, total_loss)]) of one run."""
  errors = [(step, 100.0 * wrong / (wrong + correct))
            for step, wrong, correct in _test_counts(summary_dir)]
  return errors, _train_loss(summary_dir)


def write_csv(summary_dir, prefix):
  """The run's curves as two CSV files; returns their paths."""
  validation = ['step,test_wrong,test_error_percent'] + [
      '%d,%d,%.2f' % (step, wrong, 100.0 * wrong / (wrong + correct))
      for step, wrong, correct in _test_counts(summary_dir)]
  loss = ['step,total_loss'] + ['%d,%.6f' % (step, value)
                                for step, value in _train_loss(summary_dir)]
  os.makedirs(os.path.dirname(prefix) or '.', exist_ok=True)
  paths = []
  for suffix, lines in (('_validation.csv', validation),
                        ('_training_loss.csv', loss)):
    with open(prefix + suffix, 'w') as f:
      f.write('\n'.join(lines) + '\n')
    paths.append(prefix + suffix)
  return paths


def draw(runs, output, title=None):
  """runs: [(label, test curve, train curve)] -> a two-panel PNG."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 3.8), dpi=100)
  for label, test, train in runs:
    if test:
      left.plot(*zip(*test), marker='o', markersize=3, label=label)
    if train:
      right.plot(*zip(*train), label=label)
  left.set(xlabel='training step', ylabel='test error (%)',
           title='validation job: test error')
  right.set(xlabel='training step', ylabel='total loss', yscale='log',
            title='training loss (log window means)')
  for axes in (left, right):
    axes.grid(alpha=0.3)
    if len(runs) > 1:
      axes.legend()
  if title:
    figure.suptitle(title)
  figure.tight_layout()
  os.makedirs(os.path.dirname(output) or '.', exist_ok=True)
  figure.savefig(output)
  return output


def main(argv):
  del argv
  if not FLAGS.summary_dir:
    sys.exit('curves.py: --summary_dir is required')
  labels = FLAGS.labels or [os.path.basename(d.rstrip('/'))
                            for d in FLAGS.summary_dir]
  if len(labels) != len(FLAGS.summary_dir):
    sys.exit('curves.py: --labels needs one label per --summary_dir')
  runs = []
  for label, directory in zip(labels, FLAGS.summary_dir):
    test, train = curves(directory)
    if not test and not train:
      sys.exit('curves.py: %s: no test or train event files with the '
               'scalars wrong_prediction or total_loss' % directory)
    runs.append((label, test, train))
  if FLAGS.csv_prefix:
    if len(runs) != 1:
      sys.exit('curves.py: --csv_prefix takes one --summary_dir')
    for path in write_csv(FLAGS.summary_dir[0], FLAGS.csv_prefix):
      print('wrote %s' % path)
  try:
    print('wrote %s' % draw(runs, FLAGS.output, FLAGS.title))
  except ImportError:
    sys.exit('curves.py: drawing needs matplotlib (pip install matplotlib)')


if __name__ == '__main__':
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
