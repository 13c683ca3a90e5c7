"""reproduce.py: the commands of the studies, damaged records and reports,
and a real study run (studies/runs_test.py tests runs.py's logic).

The end-to-end test runs experiment.py as the studies do, on tiny IDX files
with a small capsule model (one primary capsule type), a few steps each.
"""

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from unittest import mock

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from input_data import testdata
from studies import catalog
from studies import report
from studies import runs
from studies import testing

import reproduce

ROOT = os.path.dirname(os.path.abspath(__file__))


def _plan(root, name, steps=None, seeds=None, schedule='budget'):
  """A study on stand-in data directories, its runs under root: (the
  study, its schedule with steps and seeds, its planned runs)."""
  study = catalog.get(name, catalog.DataDirs(root, fashion='f', cifar='c'),
                      schedule)
  chosen = reproduce.study_schedule(study, schedule, steps, seeds)
  return study, chosen, runs.plan(study, schedule, chosen, root)


def dry_run(*args):
  """The lines `python reproduce.py --dry_run ARGS` prints, in this process
  (so that mutation testing sees the code it runs)."""
  values = flags.FlagValues()
  reproduce.define_flags(values)
  values(['reproduce.py', '--dry_run', *args])
  out = io.StringIO()
  reproduce.run_flags(values, out)
  return out.getvalue().splitlines()


class CommandsTest(tf.test.TestCase):

  def test_table1_budget_runs_the_authors_settings(self):
    lines = dry_run('--study=table1', '--root=/r')
    self.assertLen(lines, 5 * 3 * 2)  # Settings x seeds x (train, eval).
    common = ('--data_dir=data/mnist --data_source=idx')
    budget = '--mixed_precision=bfloat16 --deterministic'
    self.assertEqual(lines[:2], [
        'python experiment.py %s --model=baseline --hparams_override='
        'loss_type=softmax %s --summary_dir=/r/table1/budget/baseline/seed0 '
        '--max_steps=1000 --save_step=500 --seed=0 --log_every_secs=60'
        % (common, budget),
        'python experiment.py --model=baseline --hparams_override='
        'loss_type=softmax %s %s --train=false --checkpoint=/r/table1/budget/'
        'baseline/seed0/train/model.ckpt-1000' % (common, budget)])
    # Seed 0 of every setting first, then seed 1, ...
    overrides = [re.search(r'--hparams_override=(\S+)', line)
                 for line in lines[:10:2]]
    self.assertEqual([m and m.group(1) for m in overrides],
                     ['loss_type=softmax', 'routing=1,remake=false',
                      'routing=1', 'remake=false', None])
    self.assertEqual(re.findall(r' --seed=(\d)', ' '.join(lines)),
                     ['0'] * 5 + ['1'] * 5 + ['2'] * 5)

  def test_paper_schedule_makes_the_records_first(self):
    lines = dry_run('--study=table1', '--schedule=paper', '--root=/r',
                    '--seeds=1')
    self.assertEqual(lines[:2], [
        'python input_data/mnist/mnist_shift.py --data_dir=data/mnist '
        '--output_dir=/r/data/mnist_records --split=train --shift=2',
        'python input_data/mnist/mnist_shift.py --data_dir=data/mnist '
        '--output_dir=/r/data/mnist_records --split=test --shift=0'])
    self.assertIn('--data_dir=/r/data/mnist_records --max_steps=300000 '
                  '--save_step=1500', lines[2].replace(
                      ' --model=baseline --hparams_override=loss_type=softmax '
                      '--summary_dir=/r/table1/paper/baseline/seed0', ''))

  def test_gpus_take_one_run_each(self):
    lines = dry_run('--study=ensemble', '--root=/r', '--seeds=3',
                    '--gpus=0,1', '--steps=20')
    self.assertEqual([line.split()[0] for line in lines], [
        'CUDA_VISIBLE_DEVICES=0', 'CUDA_VISIBLE_DEVICES=0',
        'CUDA_VISIBLE_DEVICES=1', 'CUDA_VISIBLE_DEVICES=1',
        'CUDA_VISIBLE_DEVICES=0', 'CUDA_VISIBLE_DEVICES=0',
        'CUDA_VISIBLE_DEVICES=1'])
    self.assertIn('--save_step=20 --seed=2', lines[4])
    self.assertTrue(lines[6].endswith(
        '--num_trials=3 --train=false --checkpoint=/r/table1/budget/'
        'routing3_recon/seed{}/train/model.ckpt-20'), lines[6])
    # The seeds are table1's own runs: its capsule setting's directories.
    self.assertIn('--summary_dir=/r/table1/budget/routing3_recon/seed2 ',
                  lines[4])

  def test_kept_records_count_as_done_when_they_would_be_made_again(self):
    results = self.create_tempdir().full_path
    kept = os.path.join(results, 'records', 'table1', 'budget')
    os.makedirs(kept)
    budget = ('--data_dir=data/mnist --data_source=idx '
              '--mixed_precision=bfloat16 --deterministic')
    baseline = [  # The commands of the baseline's seed 0, as a user types.
        'python experiment.py --data_dir=data/mnist --data_source=idx '
        '--model=baseline --hparams_override=loss_type=softmax '
        '--mixed_precision=bfloat16 --deterministic --summary_dir=/r/table1/'
        'budget/baseline/seed0 --max_steps=1000 --save_step=500 --seed=0 '
        '--log_every_secs=60',
        'python experiment.py --model=baseline --hparams_override=loss_type='
        'softmax %s --train=false --checkpoint=/r/table1/budget/baseline/'
        'seed0/train/model.ckpt-1000' % budget]
    other = [c.replace('seed0', 'seed1').replace('seed=0', 'seed=1')
             for c in baseline]
    routing1 = [  # routing1_norecon's, kept with other steps.
        'python experiment.py --data_dir=data/mnist --data_source=idx '
        '--hparams_override=routing=1,remake=false --mixed_precision=bfloat16 '
        '--deterministic --summary_dir=/r/table1/budget/routing1_norecon/seed0 '
        '--max_steps=1000 --save_step=500 --seed=0 --log_every_secs=60',
        'python experiment.py --hparams_override=routing=1,remake=false %s '
        '--train=false --checkpoint=/r/table1/budget/routing1_norecon/seed0/'
        'train/model.ckpt-1000' % budget]
    for name, steps, commands in (
        ('baseline-seed0', 1000, baseline),  # Made again: done.
        ('routing1_norecon-seed0', 500, routing1),  # Other steps.
        ('routing1_recon-seed0', 1000, other),  # Other commands.
        ('baseline-seed1', 1000, other)):  # Not asked for (--seeds=1).
      with open(os.path.join(kept, name + '.json'), 'w') as f:
        json.dump({'steps': steps, 'commands': commands}, f)
    args = ('--study=table1', '--root=/r', '--seeds=1',
            '--results_dir=' + results)
    lines = dry_run(*args, '--reuse_records')
    self.assertEqual(lines[0], '# done (%s): table1/budget/baseline/seed0'
                     % os.path.join(kept, 'baseline-seed0.json'))
    self.assertLen(lines, 1 + 4 * 2)
    self.assertEqual([re.search(r'--summary_dir=\S+/(\w+)/seed0', line)[1]
                      for line in lines[1::2]],
                     ['routing1_norecon', 'routing1_recon',
                      'routing3_norecon', 'routing3_recon'])
    # Without the flag, every run is made again.
    lines = dry_run(*args)
    self.assertEqual(lines[:4], baseline + routing1)

  def test_a_kept_record_becomes_the_runs_own(self):
    root = self.create_tempdir().full_path
    results = self.create_tempdir().full_path
    study, schedule, planned = _plan(root, 'fashion', 20, 1)
    self.assertEqual([r.setting for r in planned], ['baseline', 'capsule'])
    kept = {}
    for run, wrong in zip(planned, (1111, 1234)):
      record = testing.record(run.setting, 0, wrong, steps=20)
      record['commands'] = [runs.shown(argv) for _, argv, _ in run.commands]
      kept[run.setting] = record
      testing.write_record(results, 'fashion', record)
    # The capsule run has a record of its own (made here): it stays.
    own = dict(kept['capsule'], results={'test': {'examples': 10000,
                                                  'wrong': 999}})
    os.makedirs(planned[1].directory)
    with open(os.path.join(planned[1].directory, 'record.json'), 'w') as f:
      json.dump(own, f)
    kept['capsule'] = own
    out = io.StringIO()
    with mock.patch.object(runs.Executor, 'command') as command:
      reproduce.run_study(study, 'budget', schedule, root, results, out=out,
                          reuse_records=True)
    command.assert_not_called()  # Nothing trained or evaluated again.
    for run in planned:
      with open(os.path.join(run.directory, 'record.json')) as f:
        self.assertEqual(json.load(f), kept[run.setting])
    with open(os.path.join(results, 'fashion.md')) as f:
      text = f.read()
    self.assertIn('| baseline CNN, cross-entropy | 11.11 | - | 1 |', text)
    self.assertIn('| capsule, 3 routing, + reconstruction | 9.99 | - | 1 |',
                  text)
    with open(os.path.join(results, 'records', 'fashion', 'budget',
                           'baseline-seed0.json'), 'w') as f:
      f.write('{"steps": 20, "comm')
    with self.assertRaisesRegex(runs.StudyError, r'^reproduce.py: \S+'
                                r'baseline-seed0.json: not a run record'):
      runs.kept_records(planned[:1] + [dataclasses.replace(
          planned[0], directory=root + '/elsewhere')], os.path.join(
              results, 'records', 'fashion'))

  def test_missing_data_is_one_line(self):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'reproduce.py'),
         '--study=cifar10'], capture_output=True, text=True, cwd=ROOT,
        timeout=120)
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr, 'reproduce.py: --study=cifar10 needs '
                     '--cifar_dir (the directory of cifar-10-batches-bin/)\n')


  def test_settings_run_only_those_rows(self):
    lines = dry_run('--study=multimnist', '--root=/r', '--seeds=2',
                    '--settings=routing3_recon,baseline')
    self.assertLen(lines, 2 * 2 * 2)  # Settings x seeds x (train, eval).
    # The study's order of settings, not the flag's.
    self.assertEqual(re.findall(r'--summary_dir=/r/multimnist/budget/(\w+/'
                                r'seed\d)', ' '.join(lines)),
                     ['baseline/seed0', 'routing3_recon/seed0',
                      'baseline/seed1', 'routing3_recon/seed1'])
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'reproduce.py'),
         '--study=multimnist', '--settings=baseline,routing3', '--dry_run'],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr, 'reproduce.py: --settings=baseline,'
                     'routing3: multimnist has no setting routing3 (its '
                     'settings: baseline, routing1_recon, routing3_recon)\n')


  def test_fifty_epochs_of_table1(self):
    lines = dry_run('--study=table1', '--root=/r', '--schedule=epochs50',
                    '--settings=routing3_recon')
    self.assertLen(lines, 2)  # One seed: its training and evaluation.
    self.assertEqual(lines[0], (
        'python experiment.py --data_dir=data/mnist --data_source=idx '
        '--mixed_precision=bfloat16 --deterministic '
        '--summary_dir=/r/table1/epochs50/routing3_recon/seed0 '
        '--max_steps=23438 --save_step=1500 --seed=0 --log_every_secs=60'))
    with self.assertRaisesWithLiteralMatch(
        runs.StudyError, 'reproduce.py: --schedule=epochs50: the study '
        'fashion has no such schedule (it has paper, budget)'):
      reproduce.study_schedule(catalog.get('fashion', catalog.DataDirs(
          root='/r', fashion='/f'), 'epochs50'), 'epochs50')


class DamagedFilesTest(tf.test.TestCase):
  """A damaged record, wall time or result is one line naming the file."""

  def test_a_committed_record_with_conflict_markers(self):
    results = self.create_tempdir().full_path
    path = testing.write_record(results, 'table1',
                                testing.record('baseline', 0, 100))
    with open(path, 'w') as f:  # What a merge of two machines' runs leaves.
      f.write('<<<<<<< HEAD\n{"steps": 1000}\n=======\n')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'reproduce.py'), '--report',
         '--results_dir=' + results], capture_output=True, text=True,
        cwd=ROOT, timeout=120)
    self.assertEqual(proc.returncode, 1)
    self.assertEqual(proc.stderr, 'reproduce.py: %s: not a run record '
                     '(Expecting value: line 1 column 1 (char 0))\n' % path)
    # A record of another format, without its wall time.
    record = testing.record('baseline', 0, 100)
    del record['wall_seconds']
    testing.write_record(results, 'table1', record)
    with self.assertRaisesWithLiteralMatch(
        runs.StudyError, 'reproduce.py: %s: not a run record (no '
        'wall_seconds)' % path):
      report.load(os.path.dirname(os.path.dirname(path)))

  def _first_run(self):
    """The first run of the fashion study's budget, in a new root."""
    return _plan(self.create_tempdir().full_path, 'fashion')[2][0]

  def test_a_runs_own_record_wall_time_and_results(self):
    run = self._first_run()
    os.makedirs(os.path.join(run.directory, 'test'))
    execute = lambda: runs.execute([run], [None], io.StringIO())
    for name, text, call, message in (
        ('record.json', '[1000]', execute,
         ': not a run record (a JSON list, not an object)'),
        ('record.json', '{"steps": 1000, "results": {}}', execute,
         ': not a run record (no run, setting, seed, batch_size, commands, '
         'metrics, wall_seconds)'),
        ('wall.json', '{"train": 12', lambda: runs.wall_seconds(run),
         ': not the wall seconds of a run (Expecting \',\' delimiter: line 1 '
         'column 13 (char 12))'),
        ('test/results.jsonl', '{"step": 1000}\n\n{"step": 10\n', execute,
         ' line 3: not an evaluation\'s result (Expecting \',\' delimiter)')):
      path = os.path.join(run.directory, name)
      with open(path, 'w') as f:
        f.write(text)
      with mock.patch.object(runs.Executor, 'command'):
        with self.assertRaisesWithLiteralMatch(
            runs.StudyError, 'reproduce.py: %s%s' % (path, message)):
          call()
      os.remove(path)

  def test_a_full_disk_leaves_the_kept_record_whole(self):
    run = self._first_run()
    records = self.create_tempdir().full_path
    os.makedirs(run.directory)
    with open(os.path.join(run.directory, 'record.json'), 'w') as f:
      json.dump(testing.record('baseline', 0, 1234), f)
    kept = runs.record_path(run.name, records)
    os.makedirs(os.path.dirname(kept))
    with open(kept, 'w') as f:
      f.write('{"old": 1}')
    # The copy's temporary name, pointed at /dev/full: a real ENOSPC.
    os.symlink('/dev/full', '%s.tmp-%d' % (kept, os.getpid()))
    with self.assertRaisesRegex(OSError, 'No space left on device'):
      runs.copy_records([run], records)
    with open(kept) as f:
      self.assertEqual(f.read(), '{"old": 1}')

  def test_a_report_that_cannot_be_written(self):
    results = self.create_tempdir().full_path
    testing.write_record(results, 'table1', testing.record('baseline', 0, 100))
    os.makedirs(os.path.join(results, 'table1.md'))
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'reproduce.py'), '--report',
         '--results_dir=' + results], capture_output=True, text=True,
        cwd=ROOT, timeout=120)
    self.assertEqual(proc.returncode, 1)
    self.assertRegex(proc.stderr, r"^reproduce.py: \[Errno 21\] Is a "
                     r"directory: .*'%s'\n$" % re.escape(
                         os.path.join(results, 'table1.md')))
    # A full disk keeps the old report whole.
    os.rmdir(os.path.join(results, 'table1.md'))
    with open(os.path.join(results, 'table1.md'), 'w') as f:
      f.write('the old report')
    os.symlink('/dev/full', '%s.tmp-%d' % (
        os.path.join(results, 'table1.md'), os.getpid()))
    with self.assertRaisesRegex(OSError, 'No space left on device'):
      report.write(catalog.get('table1', report.REPORT_DIRS, 'budget'),
                   results)
    with open(os.path.join(results, 'table1.md')) as f:
      self.assertEqual(f.read(), 'the old report')


def _tiny_study(settings):
  """MNIST on tiny IDX files, a capsule model with one primary capsule
  type, 2 steps of a one-checkpoint-a-step schedule."""
  return catalog.Study(
      'tiny', 'A tiny study', settings, ('--data_dir={data}',
                                         '--data_source=idx'),
      (catalog.Eval('test', ('--data_dir={data}', '--data_source=idx',
                             '--eval_size=10')),),
      {'budget': catalog.Schedule(2, 1, 2)}, 20)


def _fill(study, data):
  fill = lambda flags: tuple(f.format(data=data) for f in flags)
  return dataclasses.replace(
      study, train_flags=fill(study.train_flags),
      evals=tuple(dataclasses.replace(e, flags=fill(e.flags))
                  for e in study.evals))


class StudyRunTest(tf.test.TestCase):

  @pytest.mark.slow
  def test_a_study_fails_in_one_line_resumes_and_skips_what_is_done(self):
    tmp = self.create_tempdir().full_path
    data = testdata.write_mnist(os.path.join(tmp, 'idx'), n_train=20,
                                n_test=10)
    root, results = os.path.join(tmp, 'runs'), os.path.join(tmp, 'results')
    one = catalog.Setting('one', 'one routing',
                          ('--hparams_override=routing=1,'
                           'num_prime_capsules=1',), {'test': '0.29'})
    three = catalog.Setting('three', 'three routings',
                            ('--hparams_override=num_prime_capsules=1',))
    bad = catalog.Setting('bad', 'a bad flag', ('--hparams_override=routng=2',))
    schedule = catalog.Schedule(2, 1, 2)

    # 1: the bad setting stops the study, in one line naming its log.
    study = _fill(_tiny_study((one, bad)), data)
    out = io.StringIO()
    planned = runs.plan(study, 'budget', schedule, root)
    with self.assertRaises(runs.StudyError) as raised:
      runs.execute(planned, [None], out)
    log = os.path.join(root, 'tiny', 'budget', 'bad', 'seed0', 'log.txt')
    self.assertRegex(str(raised.exception), r"^reproduce.py: run tiny/budget/"
                     r"bad/seed0 failed \(train exit 1\): .*unknown key "
                     r"'routng'.*; its log is %s$" % re.escape(log))
    self.assertNotIn('\n', str(raised.exception))
    self.assertEqual([r.name for r in planned if runs.read_record(r)],
                     ['tiny/budget/one/seed0'])

    # 2: an interrupted run (its training stopped at step 1) continues, the
    # finished ones are skipped.
    study = _fill(_tiny_study((one, three)), data)
    planned = runs.plan(study, 'budget', schedule, root)
    partial = planned[1]
    self.assertEqual(partial.name, 'tiny/budget/three/seed0')
    train = [a for a in partial.commands[0][1] if
             not a.startswith('--max_steps')] + ['--max_steps=1']
    subprocess.run([sys.executable, os.path.join(ROOT, train[1])] +
                   train[2:], check=True, capture_output=True, timeout=300)
    out = io.StringIO()
    published = []
    with mock.patch.object(report, 'write', side_effect=lambda study, d: (
        published.append(sorted(os.listdir(os.path.join(
            d, 'records', 'tiny', 'budget')))))):
      reproduce.run_study(study, 'budget', schedule, root, results, out=out)
    # The report of the records of runs finished earlier first; then each
    # run's record joined the study's as it completed, the report rewritten
    # each time (and once at the end).
    self.assertEqual(published, [
        ['one-seed0.json'],
        ['one-seed0.json', 'three-seed0.json'],
        ['one-seed0.json', 'one-seed1.json', 'three-seed0.json'],
        ['one-seed0.json', 'one-seed1.json', 'three-seed0.json',
         'three-seed1.json']] + [published[-1]])
    printed = out.getvalue().splitlines()
    self.assertEqual(printed[0], '# done: tiny/budget/one/seed0')
    self.assertEqual(printed[1], runs.shown(partial.commands[0][1]))
    self.assertLen(printed, 1 + 3 * 2)  # Three runs: train and eval each.
    with open(os.path.join(partial.directory, 'log.txt')) as f:
      self.assertIn('resumed from %s' % os.path.join(
          partial.directory, 'train', 'model.ckpt-1'), f.read())

    # 3: the report's numbers are the evaluations' counts.
    wrong = {}
    for run in planned:
      with open(os.path.join(run.directory, 'test', 'results.jsonl')) as f:
        line = json.loads(f.read().splitlines()[-1])
      self.assertEqual((line['step'], line['examples']), (2, 10))
      wrong.setdefault(run.setting, []).append(line['wrong'] * 10.0)
    table = report.rows(study, report.load(os.path.join(
        results, 'records', 'tiny'))['budget'])
    self.assertEqual([row['setting'] for row in table],
                     ['one routing', 'three routings'])
    for row, setting in zip(table, ('one', 'three')):
      self.assertAllClose(row['test values'], wrong[setting])
      self.assertAllClose(row['test'][1], np.mean(wrong[setting]))
      self.assertEqual(row['n'], 2)
      self.assertGreater(row['wall_minutes'], 0.0)

    # 4: nothing left to do.
    out = io.StringIO()
    runs.execute(planned, [None], out)
    self.assertLen(out.getvalue().splitlines(), 4)


if __name__ == '__main__':
  tf.test.main()
