r"""The paper's results, one command each: runs a study and writes its report.

  python reproduce.py --study=table1                   # CPU budget, 3 seeds
  python reproduce.py --study=table1 --schedule=paper  # the authors' steps
  python reproduce.py --study=table1 --gpus=0,1        # a run per GPU
  python reproduce.py --study=table1 --dry_run         # print the commands
  python reproduce.py --report                         # tables from records
  python reproduce.py --study=table1 --reuse_records   # continue the
                                                       # committed runs
  python reproduce.py --study=multimnist --settings=baseline  # one row
  python reproduce.py --study=table1 --schedule=epochs50 \
      --settings=routing3_recon           # MNIST, 50 epochs, on a CPU

Studies (studies/catalog.py): table1, multimnist, affine, ensemble, fashion,
smallnorb, cifar10. A study runs experiment.py (and the data generators) as
subprocesses, printing each command; a finished run is skipped, an
interrupted one continues (the same command again resumes it). Runs live in
--root/STUDY/SCHEDULE/SETTING/seedN; when one is complete its record (a
small JSON file of its commands, results, wall time and environment) is
copied to --results_dir/records/STUDY/, and the report,
--results_dir/STUDY.md and .csv, is regenerated from those records.
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags

from runner import stop_signals
from studies import catalog
from studies import report
from studies import runs

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """The command line, in flag_values (absl's, or a test's own)."""
  fv = {'flag_values': flag_values}
  flags.DEFINE_enum('study', None, list(catalog.STUDIES), 'The study to run.',
                    **fv)
  flags.DEFINE_enum('schedule', 'budget', list(catalog.SCHEDULES),
                    'budget: CPU-sized; paper: the authors\' steps and data; '
                    'epochs50: MNIST for 50 epochs on a CPU (table1).',
                    **fv)
  flags.DEFINE_integer('steps', None, 'Training steps of each run (default: '
                       'the schedule\'s).', **fv)
  flags.DEFINE_integer('seeds', None, 'Seeds per setting (default: the '
                       'schedule\'s).', **fv)
  flags.DEFINE_string('root', 'runs/studies', 'Where the runs and generated '
                      'data go.', **fv)
  flags.DEFINE_string('results_dir', 'docs/results', 'Where the records and '
                      'reports go.', **fv)
  flags.DEFINE_list('settings', [], 'Run only these settings of the study '
                    '(its report keeps every setting\'s records): a study '
                    'split across machines. Default: all.', **fv)
  flags.DEFINE_list('gpus', [], 'GPU ids: one run per GPU at a time '
                    '(CUDA_VISIBLE_DEVICES); none: one run at a time.', **fv)
  flags.DEFINE_boolean('dry_run', False, 'Print the commands it would run.',
                       **fv)
  flags.DEFINE_boolean('reuse_records', False, 'Count as done the runs '
                       'whose record is already in --results_dir/records '
                       '(the same steps and commands): a study committed by '
                       'one checkout is continued by another.', **fv)
  flags.DEFINE_boolean('report', False, 'Only write the reports (of --study, '
                       'or of every study with records) from the records.',
                       **fv)
  flags.DEFINE_string('mnist_dir', 'data/mnist', 'The MNIST IDX files.', **fv)
  flags.DEFINE_string('fashion_dir', None, 'The Fashion-MNIST IDX files.',
                      **fv)
  flags.DEFINE_string('norb_dir', None, 'smallNORB records.', **fv)
  flags.DEFINE_string('cifar_dir', None, 'The directory of '
                      'cifar-10-batches-bin/.', **fv)
  flags.DEFINE_string('affnist_dir', None, 'affNIST test .mat files (the '
                      'affine study then scores them too).', **fv)


def study_schedule(study, name, steps=None, seeds=None):
  """The study's schedule with --steps and --seeds applied."""
  if name not in study.schedules:
    raise runs.StudyError('reproduce.py: --schedule=%s: the study %s has no '
                          'such schedule (it has %s)' % (
                              name, study.name, ', '.join(study.schedules)))
  schedule = study.schedules[name]
  changes = {}
  if steps is not None:
    if steps < 1:
      raise runs.StudyError('reproduce.py: --steps=%d must be >= 1' % steps)
    changes.update(steps=steps, save_step=min(schedule.save_step, steps))
  if seeds is not None:
    if seeds < 1:
      raise runs.StudyError('reproduce.py: --seeds=%d must be >= 1' % seeds)
    changes['seeds'] = seeds
  return dataclasses.replace(schedule, **changes)


def chosen_settings(study, names):
  """The names of the study's settings to run: names (checked), or all."""
  known = [s.name for s in study.settings]
  unknown = [n for n in names if n not in known]
  if unknown:
    raise runs.StudyError(
        'reproduce.py: --settings=%s: %s has no setting %s (its settings: %s)'
        % (','.join(names), study.name, ', '.join(unknown), ', '.join(known)))
  return set(names or known)


def run_study(study, schedule_name, schedule, root, results_dir, gpus=(),
              dry_run=False, out=sys.stdout, reuse_records=False,
              settings=(), stop_request=None):
  """Runs what the study still lacks under the schedule; returns the
  report's paths. Each run completed adds its record and rewrites the
  report; a run that fails raises StudyError (one line). reuse_records:
  the runs whose records are kept in results_dir count as done (their
  checkpoints are not there: an ensemble row of such seeds fails).
  settings: the names of the settings to run (default: all); the report
  is the whole study's. stop_request: a runner.stop_signals.StopRequest
  whose SIGTERM is passed on to the run in flight (runs.StudyStopped
  then)."""
  chosen = chosen_settings(study, settings)
  planned = [run for run in runs.plan(study, schedule_name, schedule, root)
             if run.setting in chosen]
  records_dir = os.path.join(results_dir, 'records', study.name)
  for run, path in runs.kept_records(planned, records_dir) if reuse_records \
      else ():
    print('# done (%s): %s' % (path, run.name), file=out, flush=True)
    if dry_run:
      planned.remove(run)
    else:
      runs.restore_record(run, path)

  def publish(run):
    """A completed run's record joins the study's; the report follows."""
    runs.copy_records([run], records_dir)
    report.write(study, results_dir)
  if not dry_run:  # Runs finished earlier belong to the report too.
    runs.copy_records(planned, records_dir)
    report.write(study, results_dir)
  runs.prepare(study.prepare, out, dry_run)
  runs.execute(planned, list(gpus) or [None], out, dry_run, publish,
               stop_request)
  if not dry_run:
    report.write(study, results_dir)
  return [os.path.join(results_dir, study.name + ext)
          for ext in ('.md', '.csv')]


def run_flags(values, out=sys.stdout, stop_request=None):
  """What the command line in values asks: a study's runs and report, or
  the reports only; StudyError, MissingData or OSError for the user."""
  dirs = catalog.DataDirs(
      root=values.root, mnist=values.mnist_dir, fashion=values.fashion_dir,
      norb=values.norb_dir, cifar=values.cifar_dir,
      affnist=values.affnist_dir)
  if values.report:
    studies = ([catalog.get(values.study, report.REPORT_DIRS, 'budget')]
               if values.study else
               report.studies_with_records(values.results_dir))
    for study in studies:
      paths = report.write(study, values.results_dir)
      print('wrote %s' % ', '.join(paths) if paths else
            '%s: no records in %s' % (study.name, values.results_dir),
            file=out)
    return
  if not values.study:
    raise runs.StudyError('reproduce.py: --study is required (one of %s)' %
                          ', '.join(catalog.STUDIES))
  study = catalog.get(values.study, dirs, values.schedule)
  schedule = study_schedule(study, values.schedule, values.steps,
                            values.seeds)
  paths = run_study(study, values.schedule, schedule, values.root,
                    values.results_dir, values.gpus, values.dry_run, out=out,
                    reuse_records=values.reuse_records,
                    settings=values.settings, stop_request=stop_request)
  if not values.dry_run:
    print('wrote %s' % ', '.join(paths), file=out)


def main(argv):
  del argv
  request = stop_signals.StopRequest()
  try:
    with request.installed():
      run_flags(FLAGS, stop_request=request)
  except runs.StudyStopped as e:
    # The run saved its step: exit as experiment.py does on that signal.
    print(e, flush=True)
    return request.exit_status()
  except (runs.StudyError, catalog.MissingData, OSError) as e:
    # OSError: a full disk or a path that cannot be written, in one line.
    sys.exit(str(e) if str(e).startswith('reproduce.py') else
             'reproduce.py: %s' % e)
  return 0


if __name__ == '__main__':
  define_flags()
  app.run(main)
