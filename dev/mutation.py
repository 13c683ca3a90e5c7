r"""Mutation testing of the core: each module against its own tests (mutmut 3).

  pip install -r requirements-dev.txt
  python -m dev.mutation                              # every core module
  python -m dev.mutation --modules=runner/config.py   # one (or a list)
  python -m dev.mutation --report                     # the table only
  python -m dev.mutation --survivors                  # what survived

A mutant is the module with one small change (an operator, a constant, a
string, a removed argument, ...). It is *killed* when one of the module's
tests fails on it, and *survives* when they all pass: then either a test is
missing, or the change cannot alter behaviour (an equivalent mutant, listed
with its reason in docs/development.md).

Each module runs in its own work directory, runs/mutation/<module>/, made of
links to this tree and the mutmut configuration below; mutmut keeps its
results there, so a run that is stopped continues with the same command
(and a changed module is tested again). After each module, its counts are
written to runs/mutation/<module>/mutants/mutmut-cicd-stats.json and the
table of every module is printed (Markdown). When the module, its tests or
a project file they import changed since its last run, it starts afresh. Survivors:
`cd runs/mutation/<module> && mutmut results` and `mutmut show NAME`.

The tests run in processes forked from a server that has imported
TensorFlow but run none of it (its threads would not survive a fork).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

from absl import app
from absl import flags

from dev import source_tree

ROOT = source_tree.ROOT
WORK = os.path.join(ROOT, 'runs', 'mutation')
# The modules where a silent bug changes results, each with its own tests.
CORE = {
    'models/layers/layers.py': ['layers_test.py'],
    'models/layers/routing.py': ['layers_test.py'],
    'models/layers/losses.py': ['layers_test.py'],
    'models/layers/metrics.py': ['layers_test.py'],
    'models/layers/variables.py': ['layers_test.py'],
    'models/capsule_model.py': ['models/capsule_model_test.py'],
    'models/conv_model.py': ['models/conv_model_test.py'],
    'models/model.py': ['models/capsule_model_test.py',
                        'models/conv_model_test.py'],
    # The replicas' reduction is tested with the steps that call it.
    'models/optimizer.py': ['models/optimizer_test.py',
                            'models/steps_test.py'],
    'models/loss_scale.py': ['models/loss_scale_test.py',
                             'models/steps_test.py'],
    'models/steps.py': ['models/steps_test.py'],
    'input_data/mnist/mnist_shift.py': ['input_data/mnist/mnist_shift_test.py'],
    'input_data/mnist/mnist_input_record.py': [
        'input_data/mnist/mnist_input_record_test.py'],
    'input_data/source.py': ['input_data/source_test.py',
                             'input_data/mnist/mnist_input_record_test.py',
                             'input_data/cifar10/cifar10_input_test.py'],
    'input_data/augment.py': ['input_data/augment_test.py'],
    'runner/config.py': ['runner/config_test.py'],
    'runner/evaluation.py': ['runner/evaluation_test.py'],
    # The studies' numbers: means, spreads and Welch's t of the reports.
    'studies/report.py': ['studies/report_test.py'],
    # The studies' runs: which commands, what counts as done, the records.
    # Not the end-to-end StudyRunTest: a minute of experiment.py a mutant.
    'studies/runs.py': ['reproduce_test.py::CommandsTest',
                        'reproduce_test.py::DamagedFilesTest',
                        'studies/runs_test.py::StudyLogicTest'],
}
PACKAGES = ('models', 'input_data', 'runner', 'studies')
# Imported once by mutmut's fork server, not once per mutant (5 s each):
# importing TensorFlow starts none of its threads, so forking after it is
# safe; its runtime starts in each forked test process.
PRELOAD = ('numpy', 'tensorflow', 'absl.flags', 'absl.testing.parameterized',
           'pytest')
PRELOAD_FILE = 'preload.txt'
# Not linked into a work directory: they are not code, or are made here.
_SKIP = {'.git', '.venv', 'runs', 'mutants', 'setup.cfg', '__pycache__',
         '.pytest_cache', 'code.sha256', 'preload.txt'}


def _config(module, tests):
  lines = ['[mutmut]', 'source_paths =']
  lines += ['    ' + p for p in PACKAGES]
  lines += ['only_mutate =', '    ' + module, 'also_copy =']
  lines += ['    ' + name for name in sorted(os.listdir(ROOT))
            if name not in _SKIP and name not in PACKAGES]
  lines += ['pytest_add_cli_args_test_selection =']
  lines += ['    ' + t for t in tests]
  lines += ['pytest_add_cli_args =', '    -p', '    no:cacheprovider',
            'process_isolation = forkserver', 'forkserver_warmup = import',
            'preload_modules_file = ' + PRELOAD_FILE,
            # Which tests reach which function is measured afresh each run:
            # mutmut's reuse of it across git revisions kept stale maps.
            'use_git_change_detection = false']
  return '\n'.join(lines) + '\n'


def _fingerprint(module):
  """A hash of the code a module's mutants run: the module, its tests and
  every project file they import, directly or not, and conftest.py."""
  files, todo = set(), [module, 'conftest.py'] + [
      test.split('::')[0] for test in CORE[module]]  # FILE::CLASS: FILE.
  while todo:
    path = todo.pop()
    if path not in files:
      files.add(path)
      todo += sorted(source_tree.project_imports(path))
  digest = hashlib.sha256()
  for path in sorted(files):
    with open(os.path.join(ROOT, path), 'rb') as f:
      digest.update(path.encode() + b'\0' + f.read())
  return digest.hexdigest()


def work_dir(module):
  """runs/mutation/<module>: links to the tree, and the module's config.

  mutmut copies the code once and keeps its results: when the code they
  were made with changed, the copy and the results are dropped.
  """
  directory = os.path.join(WORK, module.replace('/', '.')[:-3])
  os.makedirs(directory, exist_ok=True)
  stamp = os.path.join(directory, 'code.sha256')
  fingerprint = _fingerprint(module)
  if os.path.exists(stamp):
    with open(stamp) as f:
      if f.read() != fingerprint:
        shutil.rmtree(os.path.join(directory, 'mutants'), ignore_errors=True)
  with open(stamp, 'w') as f:
    f.write(fingerprint)
  for name in os.listdir(ROOT):
    link = os.path.join(directory, name)
    if name not in _SKIP and not os.path.lexists(link):
      os.symlink(os.path.join(ROOT, name), link)
  with open(os.path.join(directory, 'setup.cfg'), 'w') as f:
    f.write(_config(module, CORE[module]))
  with open(os.path.join(directory, PRELOAD_FILE), 'w') as f:
    f.write('\n'.join(PRELOAD) + '\n')
  return directory


def stats(module):
  """mutmut's counts for module, or None before its first run."""
  path = os.path.join(WORK, module.replace('/', '.')[:-3], 'mutants',
                      'mutmut-cicd-stats.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def survivors(module, mutmut):
  """Each surviving mutant of module's last run and the lines it changes."""
  directory = os.path.join(WORK, module.replace('/', '.')[:-3])
  if not os.path.isdir(os.path.join(directory, 'mutants')):
    return '%s: not run' % module
  listed = subprocess.run([mutmut, 'results'], cwd=directory,
                          capture_output=True, text=True).stdout
  names = [line.split(':')[0].strip() for line in listed.splitlines()
           if line.strip().endswith('survived')]
  out = ['%s: %d survivors' % (module, len(names))]
  for name in names:
    shown = subprocess.run([mutmut, 'show', name], cwd=directory,
                           capture_output=True, text=True).stdout
    out.append('  ' + name.rsplit('.', 1)[-1])
    out += ['    ' + line for line in shown.splitlines()
            if line[:2] in ('- ', '+ ')]
  return '\n'.join(out)


def report(modules):
  """The Markdown table of the modules' mutation scores: killed (and timed
  out) among the mutants some test runs; "no tests" ones are counted apart
  (functions only subprocess tests reach, which mutmut cannot trace)."""
  rows = ['| module | tests | mutants | killed | timeout | survived | no tests '
          '| other | score |', '|---|---|---|---|---|---|---|---|---|']
  for module in modules:
    s = stats(module)
    if s is None:
      rows.append('| %s | %s | not run | | | | | | |' % (
          module, ', '.join(CORE[module])))
      continue
    tested = s['total'] - s['no_tests']
    other = tested - s['killed'] - s['survived'] - s['timeout']
    rows.append('| %s | %s | %d | %d | %d | %d | %d | %d | %.1f%% |' % (
        module, ', '.join(CORE[module]), s['total'], s['killed'],
        s['timeout'], s['survived'], s['no_tests'], other,
        100.0 * (s['killed'] + s['timeout']) / max(tested, 1)))
  return '\n'.join(rows)


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_list('modules', list(CORE), 'Core modules (default: all).')
  flags.DEFINE_integer('max_children', os.cpu_count(),
                       'Mutants tested at once.')
  flags.DEFINE_boolean('report', False, 'Print the table of earlier runs '
                       'only.')
  flags.DEFINE_boolean('survivors', False, 'Print each surviving mutant of '
                       'earlier runs with the lines it changes.')


def main(argv):
  del argv
  modules = [m for m in FLAGS.modules if m]
  unknown = [m for m in modules if m not in CORE]
  if unknown:
    sys.exit('dev/mutation.py: --modules: %s is not a core module (%s)' % (
        ', '.join(unknown), ', '.join(CORE)))
  mutmut = shutil.which('mutmut', path=os.path.dirname(sys.executable))
  if (FLAGS.survivors or not FLAGS.report) and not mutmut:
    sys.exit('dev/mutation.py: mutmut is not installed (pip install -r '
             'requirements-dev.txt)')
  if FLAGS.survivors:
    for module in modules:
      print(survivors(module, mutmut))
    return 0
  if not FLAGS.report:
    for module in modules:
      directory = work_dir(module)
      print('dev/mutation.py: %s against %s' % (module, ', '.join(CORE[module])),
            flush=True)
      env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3')
      for command in ([mutmut, 'run', '--max-children',
                       str(FLAGS.max_children)],
                      [mutmut, 'export-cicd-stats']):
        proc = subprocess.run(command, cwd=directory, env=env,
                              stdout=subprocess.DEVNULL)
        if proc.returncode:
          sys.exit('dev/mutation.py: %s failed for %s (exit %d); its state is in '
                   '%s' % (' '.join(command[1:2]), module, proc.returncode,
                           directory))
  print(report(modules))
  return 0


if __name__ == '__main__':
  define_flags()
  app.run(main)
