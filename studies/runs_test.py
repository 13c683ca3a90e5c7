"""studies/runs.py with a stand-in for experiment.py and the generators:
which runs a study makes, in which order, on which GPU, what each record
keeps, what is skipped or continued, how a failure or a stop ends it.

reproduce_test.py runs a real study through reproduce.py.
"""

import dataclasses
import io
import json
import os
import signal
import subprocess
from unittest import mock

import tensorflow as tf

from runner import stop_signals
from studies import catalog
from studies import runs


def _plan(root, name, steps, seeds, schedule):
  """A study on stand-in data directories with its schedule cut to steps
  and seeds (as reproduce.py's --steps and --seeds do): the study and its
  planned runs under root."""
  study = catalog.get(name, catalog.DataDirs(root, fashion='f', cifar='c'),
                      schedule)
  chosen = study.schedules[schedule]
  chosen = dataclasses.replace(chosen, steps=steps, seeds=seeds,
                               save_step=min(chosen.save_step, steps))
  return study, runs.plan(study, schedule, chosen, root)


class FakeExperiment:
  """Stands in for subprocess.Popen of experiment.py and the generators:
  writes what they would (a checkpoint's index, run.json, a results.jsonl
  line of `wrong` errors; a generator's file), so that a study runs in this
  process in a second. A command with --seed=7 fails."""

  def __init__(self):
    self.calls = []  # (script, flags, CUDA_VISIBLE_DEVICES)
    self.wrong = 100
    self.timeouts = 0  # How many waits of each command time out first.
    self.failure = 'Traceback (most recent call last):\nValueError: boom\n'
    # Training saves step 1 and stops when sent SIGTERM, as experiment.py.
    self.stops_on_sigterm = False
    self.signals = []
    self.during_wait = None  # Called as each wait starts.

  def __call__(self, argv, env, stdout, stderr):
    del stderr
    script, flag_list = os.path.basename(argv[1]), argv[2:]
    self.calls.append((script, flag_list, env.get('CUDA_VISIBLE_DEVICES')))
    value = lambda name: catalog.flag_value(flag_list, name, None)
    self.returncode, self.waits = 0, 0
    if '--seed=7' in flag_list or '--num_pairs=7' in flag_list:
      stdout.write(self.failure)
      self.returncode = 1
    elif script != 'experiment.py':  # A generator: made-SPLIT.
      os.makedirs(value('output_dir'), exist_ok=True)
      open(os.path.join(value('output_dir'), 'made-' + value('split')),
           'w').close()
    elif value('train') != 'false':
      train = os.path.join(value('summary_dir'), 'train')
      os.makedirs(train, exist_ok=True)
      self.stopping = self.stops_on_sigterm and (stdout, train)
      if not self.stopping:
        open(os.path.join(train, 'model.ckpt-%s.index' % value('max_steps')),
             'w').close()
      with open(os.path.join(train, 'run.json'), 'w') as f:
        json.dump({'starts': [{'host': 'h', 'python': '3.11.2',
                               # Which run's record this is.
                               'revision': value('summary_dir')[-5:],
                               'devices': ['/CPU:0'],
                               'cpu': {'model': 'M', 'features': ['avx2']}}]},
                  f)
      stdout.write('trained\n')
    else:
      trials = int(value('num_trials') or 1)
      paths = [value('checkpoint').format(i) for i in range(trials)]
      results = os.path.join(os.path.dirname(os.path.dirname(paths[0])),
                             'test', 'results.jsonl')
      os.makedirs(os.path.dirname(results), exist_ok=True)
      self.wrong += 1
      with open(results, 'a') as f:
        f.write(json.dumps({
            'checkpoints': paths, 'step': int(paths[0].split('-')[-1]),
            'dataset': value('dataset') or 'mnist', 'examples': 10000,
            'wrong': self.wrong, 'wrong_percent': self.wrong / 100.0,
            'almost_wrong': 7, 'examples_per_sec': 99.5, 'time': 't'}) + '\n')
    return self

  def wait(self, timeout=None):
    self.waits += 1
    if self.during_wait:
      self.during_wait()
    if timeout is not None and (self.waits <= self.timeouts or (
        getattr(self, 'stopping', None) and not self.signals and
        self.waits < 5)):  # Waits for a signal, a few times.
      raise subprocess.TimeoutExpired('experiment.py', timeout)
    return self.returncode

  def send_signal(self, signum):
    self.signals.append(signum)
    stdout, train = self.stopping
    open(os.path.join(train, 'model.ckpt-1.index'), 'w').close()
    stdout.write('stopped at step 1 on SIGTERM; checkpoint %s; the same '
                 'command resumes\n' % os.path.join(train, 'model.ckpt-1'))

  def poll(self):
    return self.returncode

  def terminate(self):
    pass


class StudyLogicTest(tf.test.TestCase):
  """runs.execute and prepare with FakeExperiment: what is run, in which
  order, on which GPU, what each record keeps, what is skipped."""

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.fake = FakeExperiment()
    self.enter_context(mock.patch.object(runs.subprocess, 'Popen', self.fake))

  def _plan(self, name, seeds=1, schedule='budget'):
    return _plan(self.root, name, 20, seeds, schedule)

  def test_records_of_a_multimnist_study(self):
    _, planned = self._plan('multimnist')
    out = io.StringIO()
    runs.execute(planned, [None], out)
    # A training and one evaluation (both metrics) a run, in the plan's
    # order; every command printed as typed.
    self.assertEqual([(c[0], c[1][-1] if c[0] == 'experiment.py' else None)
                      for c in self.fake.calls],
                     [('experiment.py', '--log_every_secs=60'),
                      ('experiment.py', '--checkpoint=%s/multimnist/budget/'
                       'baseline/seed0/train/model.ckpt-20' % self.root)] +
                     [('experiment.py', mock.ANY)] * 4)
    self.assertEqual(out.getvalue().splitlines(),
                     [runs.shown(argv) for run in planned
                      for _, argv, _ in run.commands])
    self.assertEqual([c[1] for c in self.fake.calls],  # Every flag passed.
                     [list(argv[2:]) for run in planned
                      for _, argv, _ in run.commands])
    record = runs.read_record(planned[0])
    self.assertEqual(record['run'], 'multimnist/budget/baseline/seed0')
    self.assertEqual((record['setting'], record['seed'], record['steps'],
                      record['batch_size']), ('baseline', 0, 20, 128))
    self.assertEqual(record['commands'], runs.commands_shown(planned[0]))
    self.assertEqual(record['metrics'], {'both': 'wrong',
                                         'neither': 'almost_wrong'})
    self.assertEqual(record['results']['both'], {
        'examples': 10000, 'wrong': 101, 'wrong_percent': 1.01,
        'almost_wrong': 7, 'step': 20, 'dataset': 'mnist',
        'examples_per_sec': 99.5})
    self.assertEqual(record['results']['neither'], record['results']['both'])
    self.assertEqual(sorted(record['wall_seconds']), ['both', 'train'])
    self.assertEqual(record['environment'], {
        'python': '3.11.2', 'tensorflow': None, 'numpy': None,
        'revision': 'seed0', 'uncommitted_changes': None,
        'devices': ['/CPU:0'], 'cpu': {'model': 'M', 'features': ['avx2']},
        'cpu_count': os.cpu_count(), 'cuda_visible_devices': None})
    with open(os.path.join(planned[0].directory, 'log.txt')) as f:
      self.assertEqual(f.read(), '$ %s\ntrained\n$ %s\n' % tuple(
          runs.commands_shown(planned[0])))
    self.assertEqual([runs.read_record(r)['results']['both']['wrong']
                      for r in planned], [101, 102, 103])
    # Done runs are skipped: nothing runs again.
    out = io.StringIO()
    runs.execute(planned, [None], out)
    self.assertLen(self.fake.calls, 6)
    self.assertEqual(out.getvalue().splitlines(),
                     ['# done: ' + r.name for r in planned])

  def test_wall_time_is_saved_while_a_command_runs(self):
    _, planned = self._plan('fashion')
    run = planned[0]
    self.fake.timeouts = 1  # Each command is seen running once.
    clock = iter([100.0, 112.34, 120.04, 200.0, 201.5, 210.0])
    with mock.patch.object(runs.time, 'time', lambda: next(clock)):
      runs.execute([run], [None], io.StringIO())
    # Training: 12.34 s at its first save, 7.7 more at its end; evaluation
    # 1.5 + 8.5, each rounded to a tenth as saved.
    self.assertEqual(runs.wall_seconds(run), {'train': 20.0, 'test': 10.0})
    with open(os.path.join(run.directory, 'wall.json')) as f:
      self.assertEqual(f.read(), '{"test": 10.0, "train": 20.0}\n')
    with open(os.path.join(run.directory, 'record.json')) as f:
      text = f.read()
    self.assertEqual(json.loads(text)['wall_seconds'],
                     {'train': 20.0, 'test': 10.0})
    self.assertTrue(text.startswith('{\n  "batch_size": 128,\n  "commands"'))

  def test_a_dry_run_shows_the_progress_of_runs_under_way(self):
    _, planned = self._plan('fashion')
    first, second = planned[0], planned[1]
    for run, steps in ((first, (5, 10)), (second, (20,))):
      train = os.path.join(run.directory, 'train')
      os.makedirs(train)
      for step in steps:  # A checkpoint's index (and a file to ignore).
        open(os.path.join(train, 'model.ckpt-%d.index' % step), 'w').close()
      open(os.path.join(train, 'model.ckpt-99.data-00000-of-00001'),
           'w').close()
    with open(os.path.join(first.directory, runs.WALL), 'w') as f:
      json.dump({'train': 3725.0, 'test': 50.0}, f)
    out = io.StringIO()
    runs.execute(planned, [None], out, dry_run=True)
    lines = out.getvalue().splitlines()
    self.assertEqual(
        [l for l in lines if l.startswith('#')],
        ['# under way: fashion/budget/baseline/seed0 at step 10 of 20 (50%), '
         '1 h 02 min of training so far'])
    self.assertEqual(lines[1], runs.shown(first.commands[0][1]))
    self.assertEqual(self.fake.calls, [])  # Nothing was run.

  def test_a_run_without_its_evaluation_is_continued(self):
    _, planned = self._plan('fashion')
    run = planned[0]
    os.makedirs(os.path.join(run.directory, 'train'))
    open(run.checkpoint + '.index', 'w').close()  # Trained, not evaluated.
    runs.execute([run], [None], io.StringIO())
    self.assertEqual([c[1][-1] for c in self.fake.calls],
                     ['--checkpoint=' + run.checkpoint])
    # Trained and evaluated, its record lost: made again from its results.
    os.remove(os.path.join(run.directory, 'record.json'))
    done = []
    runs.execute([run], [None], io.StringIO(), on_done=done.append)
    self.assertLen(self.fake.calls, 1)
    self.assertEqual(done, [run])
    self.assertEqual(runs.read_record(run)['results']['test']['wrong'], 101)
    # A record of other steps is not this run's.
    self.assertIsNone(runs.read_record(dataclasses.replace(run, steps=30)))
    # Records are copied for the runs that have one, whatever their order;
    # a kept one is restored into the run's existing directory.
    records = self.create_tempdir().full_path
    self.assertEqual(runs.copy_records([planned[1], run], records),
                     [runs.record_path(run.name, records)])
    os.remove(os.path.join(run.directory, 'record.json'))
    runs.restore_record(run, runs.record_path(run.name, records))
    self.assertEqual(runs.read_record(run)['results']['test']['wrong'], 101)
    # A result of other steps is not this run's.
    os.remove(os.path.join(run.directory, 'record.json'))
    with open(os.path.join(run.directory, 'test', 'results.jsonl'), 'w') as f:
      f.write(json.dumps({'step': 19, 'dataset': 'fashion_mnist',
                          'checkpoints': [run.checkpoint]}) + '\n')
    with mock.patch.object(runs.Executor, 'command'):
      with self.assertRaisesWithLiteralMatch(
          runs.StudyError, 'reproduce.py: run fashion/budget/baseline/seed0: '
          'no result of test in its results.jsonl'):
        runs.execute([run], [None], io.StringIO())

  def test_gpus_and_the_ensemble_row_last(self):
    _, planned = self._plan('cifar10', seeds=2)
    out = io.StringIO()
    runs.execute(planned, ['3', '5'], out)
    self.assertEqual(planned[-1].name, 'cifar10/budget/capsule/ensemble')
    self.assertEqual(planned[-1].directory, os.path.join(
        self.root, 'cifar10', 'budget', 'capsule', 'ensemble'))
    for run in planned:
      gpu = runs.read_record(run)['environment']['cuda_visible_devices']
      self.assertIn(gpu, ('3', '5'))
      with open(os.path.join(run.directory, 'log.txt')) as f:
        self.assertTrue(f.read().startswith(
            '$ CUDA_VISIBLE_DEVICES=%s python experiment.py' % gpu))
      self.assertIn('CUDA_VISIBLE_DEVICES=%s %s' % (
          gpu, runs.commands_shown(run)[-1]), out.getvalue())
    # The ensemble's environment is its seed 0's training's.
    self.assertEqual(runs.read_record(planned[-1])['environment'][
        'revision'], 'seed0')
    gpus = {}
    for script, flag_list, gpu in self.fake.calls:
      gpus.setdefault(catalog.flag_value(flag_list, 'summary_dir', None) or
                      catalog.flag_value(flag_list, 'checkpoint', None),
                      set()).add(gpu)
    self.assertTrue(all(len(g) == 1 and g <= {'3', '5'}
                        for g in gpus.values()), gpus)
    # The ensemble's evaluation after every seed's training.
    last = self.fake.calls[-1][1]
    self.assertIn('--num_trials=2', last)
    self.assertEqual(runs.read_record(planned[-1])['results']['test'][
        'step'], 20)
    self.assertIsNone(runs.read_record(planned[-1])['seed'])

  def test_a_failing_run_is_one_line_and_stops_the_study(self):
    _, planned = self._plan('fashion')
    failing = dataclasses.replace(planned[0], commands=[
        (kind, argv + ('--seed=7',), scores)
        for kind, argv, scores in planned[0].commands])
    with self.assertRaises(runs.StudyError) as raised:
      runs.execute([failing, planned[1]], [None], io.StringIO())
    log = os.path.join(failing.directory, 'log.txt')
    # The log's last line.
    self.assertEqual(str(raised.exception), 'reproduce.py: run fashion/'
                     'budget/baseline/seed0 failed (train exit 1): '
                     'ValueError: boom; its log is %s' % log)
    self.assertLen(self.fake.calls, 1)  # The next run never started.
    self.assertIsNone(runs.read_record(planned[1]))
    self.fake.failure = ''
    with self.assertRaisesRegex(runs.StudyError, r'\(train exit 1\): '
                                r'\$ python experiment.py .*--seed=7; its'):
      runs.execute([failing], [None], io.StringIO())
    self.assertEqual(runs._last_line(log + '.missing'), 'no log')
    open(log, 'w').close()
    self.assertEqual(runs._last_line(log), 'no output')
    with open(log, 'wb') as f:  # Output that is not UTF-8.
      f.write(b'first\nbad byte \xff\n')
    self.assertEqual(runs._last_line(log), 'bad byte \ufffd')

  def test_sigterm_is_passed_on_and_the_same_command_continues(self):
    _, planned = self._plan('fashion')
    request = stop_signals.StopRequest()
    # The signal comes while the first training runs, to reproduce.py's
    # handler.
    self.fake.during_wait = lambda: request._handle(signal.SIGTERM, None)
    self.fake.stops_on_sigterm = True
    with self.assertRaises(runs.StudyStopped) as raised:
      runs.execute(planned, [None], io.StringIO(), stop_request=request)
    run = planned[0]
    self.assertEqual(self.fake.signals, [signal.SIGTERM])
    self.assertEqual(str(raised.exception), (
        'reproduce.py: run fashion/budget/baseline/seed0 stopped before its '
        'last step: stopped at step 1 on SIGTERM; checkpoint %s; the same '
        'command resumes; the same reproduce.py command continues it') %
                     os.path.join(run.directory, 'train', 'model.ckpt-1'))
    self.assertLen(self.fake.calls, 1)  # Not evaluated; nothing else run.
    self.assertIsNone(runs.read_record(run))
    # Asked to stop between runs: none starts.
    with self.assertRaisesWithLiteralMatch(
        runs.StudyStopped, 'reproduce.py: stopped on SIGTERM before run '
        'fashion/budget/baseline/seed0; the same reproduce.py command '
        'continues the study'):
      runs.execute(planned, [None], io.StringIO(), stop_request=request)
    self.assertLen(self.fake.calls, 1)
    # The same command, no signal: the run is trained and evaluated.
    self.fake.stops_on_sigterm = False
    runs.execute(planned[:1], [None], io.StringIO(),
                 stop_request=stop_signals.StopRequest())
    self.assertEqual(runs.read_record(run)['results']['test']['wrong'], 101)

  def test_prepare_runs_a_missing_generator_once(self):
    study, _ = self._plan('multimnist', schedule='paper')
    made = [(argv, os.path.join(os.path.dirname(makes), 'made-' +
                                catalog.flag_value(argv, 'split', None)))
            for argv, makes in study.prepare]
    out = io.StringIO()
    runs.prepare(made, out, dry_run=False)
    self.assertEqual([c[0] for c in self.fake.calls], ['mnist_shift.py'] * 2)
    runs.prepare(made, out, dry_run=True)
    self.assertLen(self.fake.calls, 2)
    failing = (made[0][0] + ('--num_pairs=7',), made[0][1] + '-other')
    with self.assertRaisesRegex(runs.StudyError, r'^reproduce.py: run data '
                                r'failed \(prepare exit 1\): ValueError: '
                                r'boom; its log is \S+/log.txt$'):
      runs.prepare([failing], io.StringIO(), dry_run=False)
    self.assertLen(self.fake.calls, 3)
    self.assertEqual(out.getvalue().splitlines(),
                     [runs.shown(a) for a, _ in made] +
                     ['# done: ' + runs.shown(a) for a, _ in made])


if __name__ == '__main__':
  tf.test.main()
