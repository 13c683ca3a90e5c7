"""Runs a study: its commands as subprocesses, resumable, one run per GPU.

Each run (a setting and a seed) lives in ROOT/STUDY/SCHEDULE/SETTING/seedN:
  train/, test/   what experiment.py writes (checkpoints, results.jsonl)
  log.txt         the output of its commands, appended
  wall.json       seconds spent in its commands so far, by kind
  record.json     written when the run is complete: its commands, steps,
                  results, wall time and environment (the study's data)
A run with its record is skipped; one without is continued by the same
commands (training resumes from its newest checkpoint). With an ensemble,
the row of all seeds together is run after them (ROOT/.../ensemble).
"""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from common import files
from runner import config as config_lib
from runner import stop_signals
from studies import catalog

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORD = 'record.json'
CHECKPOINT_PREFIX = 'model.ckpt-'  # experiment.py's: train/model.ckpt-STEP.
WALL = 'wall.json'
LOG = 'log.txt'
ENSEMBLE = 'ensemble'
# How often a running command's wall time is saved (a killed study loses
# at most this much of it).
WALL_EVERY_SECS = 30.0
POLL_SECS = 1.0  # How soon a stop request reaches the command in flight.


class StudyError(Exception):
  """A run failed, or the study cannot start: one line for the user."""


class StudyStopped(StudyError):
  """A training run stopped at a saved step before its last (SIGTERM,
  Ctrl-C): the same reproduce.py command continues it."""


@dataclasses.dataclass
class Run:
  """name: STUDY/SCHEDULE/SETTING/seedN (or .../ensemble); commands:
  [(kind, argv, evals it scores)] in order, kind 'train' or the name of
  the first eval it scores; evals: {eval
  name: (metric, dataset, number of checkpoints)}; seed None for the
  ensemble row."""
  name: str
  directory: str
  setting: str
  seed: Optional[int]
  steps: int
  commands: list
  evals: dict
  checkpoint: str


def plan(study, schedule_name, schedule, root):
  """The runs of a study under a schedule: seed 0 of every setting, then
  seed 1 of every setting, ... (so a study stopped early has rows to
  compare), then the ensemble rows when the study has them."""
  runs, ensembles = [], []
  # A study may share another's runs (the ensemble study, table1's seeds).
  runs_dir = study.runs_of or study.name
  def setting_dir(setting):
    return os.path.join(root, runs_dir, schedule_name, setting.name)
  for seed in range(schedule.seeds):
    for setting in study.settings:
      directory = os.path.join(setting_dir(setting), 'seed%d' % seed)
      checkpoint = os.path.join(directory, 'train',
                                CHECKPOINT_PREFIX + str(schedule.steps))
      train = ('python', 'experiment.py', *study.train_flags,
               *setting.model_flags, *schedule.extra_flags,
               '--summary_dir=' + directory, '--max_steps=%d' % schedule.steps,
               '--save_step=%d' % schedule.save_step, '--seed=%d' % seed,
               '--log_every_secs=60')
      runs.append(Run(
          '/'.join((study.name, schedule_name, setting.name, 'seed%d' % seed)),
          directory, setting.name, seed, schedule.steps,
          [('train', train, ())] + _evals(study, setting, schedule,
                                          checkpoint),
          _eval_keys(study, 1), checkpoint))
  for setting in study.settings if study.ensemble else ():
    pattern = os.path.join(setting_dir(setting), 'seed{}', 'train',
                           CHECKPOINT_PREFIX + str(schedule.steps))
    directory = os.path.join(setting_dir(setting), ENSEMBLE)
    ensembles.append(Run(
        '/'.join((study.name, schedule_name, setting.name, ENSEMBLE)),
        directory, setting.name, None, schedule.steps,
        _evals(study, setting, schedule, pattern,
               ('--num_trials=%d' % schedule.seeds,)),
        _eval_keys(study, schedule.seeds), pattern))
  return runs + ensembles


def _evals(study, setting, schedule, checkpoint, more=()):
  """One evaluation command per distinct test set, named after the first
  eval it scores (two metrics of one set share it)."""
  commands = {}
  for ev in study.evals:
    if ev.flags not in commands:
      commands[ev.flags] = (ev.name, (
          'python', 'experiment.py', *setting.model_flags, *ev.flags,
          *schedule.extra_flags, *more, '--train=false',
          '--checkpoint=' + checkpoint), [])
    commands[ev.flags][2].append(ev.name)
  return [(kind, argv, tuple(scores))
          for kind, argv, scores in commands.values()]


def _eval_keys(study, trials):
  return {ev.name: (ev.metric,
                    catalog.flag_value(ev.flags, 'dataset', 'mnist'), trials)
          for ev in study.evals}


def _results(run):
  """{eval name: its results.jsonl line} of the run's evaluations so far."""
  # Where experiment.py writes them: RUN/test/ for a checkpoint of
  # RUN/train (the ensemble: of its first checkpoint, seed 0).
  first = run.checkpoint.format(0)
  path = os.path.join(os.path.dirname(os.path.dirname(first)), 'test',
                      'results.jsonl')
  lines = []
  if os.path.exists(path):
    with open(path) as f:
      for number, line in enumerate(f, 1):
        if not line.strip():
          continue
        try:
          lines.append(json.loads(line))
        except json.JSONDecodeError as e:
          raise StudyError('reproduce.py: %s line %d: not an evaluation\'s '
                           'result (%s)' % (path, number, e.msg))
  found = {}
  for name, (_, dataset, trials) in run.evals.items():
    for line in lines:
      if (line.get('step') == run.steps and line.get('dataset') == dataset
          and len(line.get('checkpoints', ())) == trials):
        found[name] = line  # The last one wins.
  return found


# What a report reads of every record (write_record writes them all).
RECORD_KEYS = ('run', 'setting', 'seed', 'steps', 'batch_size', 'commands',
               'results', 'metrics', 'wall_seconds')


def read_json(path, what='a run record', keys=()):
  """The JSON object in path, with keys. A damaged file (a merge's
  conflict markers in a committed record, an edit) is a StudyError naming
  it in one line."""
  try:
    with open(path) as f:
      value = json.load(f)
  except ValueError as e:
    raise StudyError('reproduce.py: %s: not %s (%s)' % (path, what, e))
  if not isinstance(value, dict):
    raise StudyError('reproduce.py: %s: not %s (a JSON %s, not an object)'
                     % (path, what, type(value).__name__))
  missing = [k for k in keys if k not in value]
  if missing:
    raise StudyError('reproduce.py: %s: not %s (no %s)' % (
        path, what, ', '.join(missing)))
  return value


def read_record(run):
  path = os.path.join(run.directory, RECORD)
  if not os.path.exists(path):
    return None
  record = read_json(path, keys=RECORD_KEYS)
  return record if record['steps'] == run.steps else None


def shown(argv, gpu=None):
  """The command as a user types it."""
  prefix = 'CUDA_VISIBLE_DEVICES=%s ' % gpu if gpu is not None else ''
  return prefix + ' '.join(argv)


def commands_shown(run):
  """The run's commands as its record keeps them (a reused record must
  match them exactly)."""
  return [shown(argv) for _, argv, _ in run.commands]


class Executor:
  """Runs commands for one GPU slot (or the default devices), logging to
  the run's log and timing them into its wall.json."""

  def __init__(self, gpu, out, stop, on_done=None, stop_request=None):
    self.gpu = gpu
    self.out = out
    self.stop = stop  # threading.Event: another run failed.
    self.on_done = on_done  # Called with each run completed.
    # runner.stop_signals.StopRequest of reproduce.py, or None: a SIGTERM
    # it receives is passed on to the command in flight.
    self.stop_request = stop_request
    self.proc = None

  def _wall(self, run, kind, seconds):
    wall = wall_seconds(run)
    wall[kind] = round(wall.get(kind, 0.0) + seconds, 1)
    files.write_whole(os.path.join(run.directory, WALL),
                      json.dumps(wall, sort_keys=True) + '\n')

  def command(self, run, kind, argv):
    """Runs one command; StudyError naming the run and its log on failure."""
    env = dict(os.environ)
    if self.gpu is not None:
      env['CUDA_VISIBLE_DEVICES'] = self.gpu
    print(shown(argv, self.gpu), file=self.out, flush=True)
    os.makedirs(run.directory, exist_ok=True)
    log_path = os.path.join(run.directory, LOG)
    with open(log_path, 'a') as log:
      log.write('$ %s\n' % shown(argv, self.gpu))
      log.flush()
      # argv[1] is a script of the checkout; paths in the flags are the
      # user's (relative to where reproduce.py runs).
      self.proc = subprocess.Popen([sys.executable,
                                    os.path.join(ROOT, argv[1])] +
                                   list(argv[2:]), env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
      saved = time.time()
      passed_on = False
      while True:
        try:
          code = self.proc.wait(timeout=POLL_SECS)
          break
        except subprocess.TimeoutExpired:
          now = time.time()
          if now - saved >= WALL_EVERY_SECS:
            self._wall(run, kind, now - saved)
            saved = now
        # Ctrl-C reaches every process of the terminal's group by itself (a
        # second would stop the run at once); a SIGTERM sent to reproduce.py
        # alone is passed on, and the run saves its step.
        if (not passed_on and self.stop_request is not None and
            self.stop_request.reason == 'SIGTERM'):
          self.proc.send_signal(signal.SIGTERM)
          passed_on = True
      self._wall(run, kind, time.time() - saved)
    if (kind == 'train' and code in stop_signals.EXIT_STATUS.values() and
        not os.path.exists(run.checkpoint + '.index')):
      raise StudyStopped('reproduce.py: run %s stopped before its last step: '
                         '%s; the same reproduce.py command continues it' %
                         (run.name, _last_line(log_path)))
    if code and not self.stop.is_set():
      raise StudyError('reproduce.py: run %s failed (%s exit %d): %s; its log '
                       'is %s' % (run.name, kind, code, _last_line(log_path),
                                  log_path))
    if code:
      raise StudyError('stopped')

  def run(self, run):
    """Runs what the run still lacks, then writes its record."""
    for kind, argv, scores in run.commands:
      if kind == 'train':
        if not os.path.exists(run.checkpoint + '.index'):
          self.command(run, kind, argv)
      elif not set(scores) <= set(_results(run)):
        self.command(run, kind, argv)
    found = _results(run)
    missing = sorted(set(run.evals) - set(found))
    if missing:
      raise StudyError('reproduce.py: run %s: no result of %s in its '
                       'results.jsonl' % (run.name, ', '.join(missing)))
    write_record(run, found, self.gpu)
    if self.on_done:
      self.on_done(run)


def _last_line(path):
  try:
    with open(path, errors='replace') as f:
      lines = [line.strip() for line in f if line.strip()]
  except OSError:
    return 'no log'
  return lines[-1] if lines else 'no output'


def _environment(run):
  """The training run's environment from its run record (no host name)."""
  seed0 = os.path.dirname(os.path.dirname(run.checkpoint.format(0)))
  path = os.path.join(seed0, 'train', 'run.json')
  try:
    with open(path) as f:
      start = json.load(f)['starts'][-1]
  except (OSError, ValueError, KeyError, IndexError):
    return {}
  return {k: start.get(k) for k in ('python', 'tensorflow', 'numpy',
                                    'revision', 'uncommitted_changes',
                                    'devices', 'cpu')}


def progress(run):
  """'RUN at step N of STEPS (P%), T of training so far' for a run that
  trained part of its steps (its newest checkpoint), else None."""
  train_dir = os.path.join(run.directory, 'train')
  steps = [int(name[len(CHECKPOINT_PREFIX):-len('.index')])
           for name in (os.listdir(train_dir) if os.path.isdir(train_dir)
                        else ())
           if re.fullmatch(re.escape(CHECKPOINT_PREFIX) + r'\d+\.index', name)]
  if not steps or max(steps) >= run.steps:
    return None
  minutes = round(wall_seconds(run).get('train', 0.0) / 60)
  return '%s at step %d of %d (%d%%), %d h %02d min of training so far' % (
      run.name, max(steps), run.steps, 100 * max(steps) // run.steps,
      minutes // 60, minutes % 60)


def wall_seconds(run):
  """{kind: seconds} the run's commands took so far."""
  path = os.path.join(run.directory, WALL)
  if not os.path.exists(path):
    return {}
  return read_json(path, 'the wall seconds of a run')


def write_record(run, found, gpu):
  record = {
      'run': run.name, 'setting': run.setting, 'seed': run.seed,
      # experiment.py's global batch (it has no flag for it).
      'steps': run.steps, 'batch_size': config_lib.RunConfig.batch_size,
      'commands': commands_shown(run),
      'results': {name: {k: line.get(k) for k in (
          'examples', 'wrong', 'wrong_percent', 'almost_wrong', 'step',
          'dataset', 'examples_per_sec')} for name, line in found.items()},
      'metrics': {name: run.evals[name][0] for name in found},
      'wall_seconds': wall_seconds(run),
      'environment': dict(_environment(run), cpu_count=os.cpu_count(),
                          cuda_visible_devices=gpu),
  }
  files.write_whole(os.path.join(run.directory, RECORD),
                    json.dumps(record, indent=2, sort_keys=True) + '\n')
  return record


def prepare(steps, out, dry_run):
  """Runs each (argv, makes) whose file is missing."""
  stop = threading.Event()
  for argv, makes in steps:
    if os.path.exists(makes):
      print('# done: %s' % shown(argv), file=out, flush=True)
      continue
    if dry_run:
      print(shown(argv), file=out, flush=True)
      continue
    data_run = Run('data', os.path.dirname(makes), '',
                   None, 0, [], {}, '')
    Executor(None, out, stop).command(data_run, 'prepare', argv)


def execute(runs, gpus, out, dry_run=False, on_done=None,
            stop_request=None):
  """Runs the runs without records, one per GPU at a time (gpus: list of
  ids, or [None]: one at a time on the default devices); the ensemble rows
  after the rest; on_done(run) after each run completes (one at a time).
  The first failure stops the others (they resume with the same command
  later) and is raised."""
  pending = [r for r in runs if read_record(r) is None]
  for r in runs:
    if r not in pending:
      print('# done: %s' % r.name, file=out, flush=True)
  if dry_run:
    for i, r in enumerate(pending):
      gpu = gpus[i % len(gpus)]
      under_way = progress(r)
      if under_way:
        print('# under way: %s' % under_way, file=out, flush=True)
      for _, argv, _ in r.commands:
        print(shown(argv, gpu), file=out, flush=True)
    return
  singles = [r for r in pending if r.seed is not None]
  ensembles = [r for r in pending if r.seed is None]
  for group in (singles, ensembles):
    _execute_parallel(group, gpus, out, on_done, stop_request)


def _execute_parallel(runs, gpus, out, on_done, stop_request):
  queue = list(runs)
  lock = threading.Lock()
  stop = threading.Event()
  errors = []

  def done(run):
    with lock:
      if on_done:
        on_done(run)
  executors = [Executor(gpu, out, stop, done, stop_request) for gpu in gpus]

  def work(executor):
    while not stop.is_set():
      with lock:
        if not queue:
          return
        if stop_request is not None and stop_request.reason:
          # Asked to stop between runs: none is started.
          errors.append(StudyStopped(
              'reproduce.py: stopped on %s before run %s; the same '
              'reproduce.py command continues the study' % (
                  stop_request.reason, queue[0].name)))
          stop.set()
          return
        run = queue.pop(0)
      try:
        executor.run(run)
      except StudyError as e:
        with lock:
          if not stop.is_set():
            errors.append(e)
            stop.set()
            for other in executors:
              if other is not executor and other.proc is not None:
                if other.proc.poll() is None:
                  other.proc.terminate()
        return

  if len(executors) == 1:
    work(executors[0])
  else:
    threads = [threading.Thread(target=work, args=(e,)) for e in executors]
    for t in threads:
      t.start()
    for t in threads:
      t.join()
  if errors:
    raise errors[0]


def record_path(name, records_dir):
  """Where the record of the run named STUDY/SCHEDULE/SETTING/LEAF is kept
  with the study's: records_dir/SCHEDULE/SETTING-LEAF.json."""
  _, schedule, setting, leaf = name.split('/')
  return os.path.join(records_dir, schedule, '%s-%s.json' % (setting, leaf))


def copy_records(runs, records_dir):
  """Copies each finished run's record to records_dir/SCHEDULE/NAME.json
  (the study's data, small enough to commit)."""
  copied = []
  for run in runs:
    if read_record(run) is None:
      continue
    target = record_path(run.name, records_dir)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    _copy_whole(os.path.join(run.directory, RECORD), target)
    copied.append(target)
  return copied


def kept_records(runs, records_dir):
  """The runs without a record of their own whose record is kept in
  records_dir with the same steps and the same commands (flags, paths and
  seed), so that they would make it again: [(run, its kept record path)]."""
  kept = []
  for run in runs:
    path = record_path(run.name, records_dir)
    if read_record(run) is not None or not os.path.exists(path):
      continue
    record = read_json(path)
    if (record.get('steps') == run.steps and
        record.get('commands') == commands_shown(run)):
      kept.append((run, path))
  return kept


def restore_record(run, path):
  """The kept record becomes the run's own: the run counts as done."""
  os.makedirs(run.directory, exist_ok=True)
  _copy_whole(path, os.path.join(run.directory, RECORD))


def _copy_whole(source, target):
  """A copy that is whole or not made: a study killed or a disk filled
  mid-copy leaves no record cut short."""
  with open(source, 'rb') as f:
    files.write_whole(target, f.read())
