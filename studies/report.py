"""A study's report from its run records: a Markdown table and a CSV.

records/SCHEDULE/SETTING-seedN.json (and SETTING-ensemble.json), as
studies/runs.py writes them, give one row per schedule and setting: each
test set's error as mean ± standard deviation over the seeds (sample
standard deviation, n - 1 in the denominator, as the paper's ± over
trials), n, steps, epochs, hardware and wall time, and the paper's number;
then each of the paper's claims the study lists (two settings' difference)
against the spread of the seeds, by Welch's t-test. Only the records are
read, so the tables regenerate without training.
"""

import csv
import glob
import io
import math
import os
import statistics
import textwrap

from common import files
from studies import catalog
from studies import runs


def load(records_dir):
  """{schedule: [record, ...]} of a study's records, in file-name order."""
  out = {}
  for path in sorted(glob.glob(os.path.join(records_dir, '*', '*.json'))):
    out.setdefault(os.path.basename(os.path.dirname(path)), []).append(
        runs.read_json(path, keys=runs.RECORD_KEYS))
  return out


def error_percent(record, name):
  """The record's error (%) on eval `name`, by the eval's metric."""
  result = record['results'][name]
  wrong = (result['almost_wrong'] if record['metrics'][name] == 'almost_wrong'
           else result['wrong'])
  return 100.0 * wrong / result['examples']


def _errors(records, setting, name, ensemble=False):
  """The errors (%) on eval `name` of the setting's seeds, or of its
  ensembles, among records."""
  return [error_percent(r, name) for r in records
          if r['setting'] == setting and (r['seed'] is None) == ensemble and
          name in r['results']]


# The CPU feature that sets a budget's speed, widest first: bfloat16
# convolutions run on AMX or AVX512-BF16 and are emulated without them.
CPU_TIERS = (('amx_bf16', 'AMX'), ('avx512_bf16', 'AVX512-BF16'),
             ('avx512f', 'AVX-512'), ('avx2', 'AVX2'))


def _hardware(record):
  """'1 GPU', or '2 CPU cores (MODEL, FEATURE)': the CPU's model and
  widest feature where the run recorded them (a CPU budget's wall time and
  bfloat16 speed depend on them: one model name covers CPUs with and
  without AVX-512)."""
  env = record.get('environment', {})
  gpus = [d for d in env.get('devices') or () if ':GPU:' in d]
  if gpus:
    return '%d GPU' % len(gpus)
  cores = '%s CPU cores' % env.get('cpu_count', '?')
  cpu = env.get('cpu') or {}
  features = cpu.get('features') or ()
  tier = next((name for flag, name in CPU_TIERS if flag in features), None)
  named = ', '.join(x for x in (cpu.get('model'), tier) if x)
  return '%s (%s)' % (cores, named) if named else cores


def _mean_sd(values):
  if len(values) == 1:
    return '%.2f' % values[0], values[0], None
  mean, sd = statistics.mean(values), statistics.stdev(values)
  return '%.2f ± %.2f' % (mean, sd), mean, sd


def rows(study, records):
  """One dict per (setting, seeds or ensemble) with the records' numbers."""
  out = []
  for setting in study.settings:
    for ensemble in (False, True):
      group = [r for r in records if r['setting'] == setting.name and
               (r['seed'] is None) == ensemble]
      if not group:
        continue
      label = setting.label
      if ensemble:
        trials = catalog.flag_value(group[0]['commands'][-1].split(),
                                    'num_trials', '?')
        label = '%s: ensemble of %s seeds' % (label, trials)
      row = {'setting': label, 'n': len(group), 'steps': group[0]['steps'],
             # Each kind of machine its seeds ran on, in their order.
             'hardware': ' / '.join(dict.fromkeys(map(_hardware, group)))}
      row['epochs'] = (row['steps'] * group[0]['batch_size'] /
                       study.train_examples)
      row['wall_minutes'] = statistics.mean(
          sum(r['wall_seconds'].values()) for r in group) / 60.0
      for ev in study.evals:
        values = _errors(records, setting.name, ev.name, ensemble)
        if values:
          row[ev.name] = _mean_sd(values)
          row[ev.name + ' values'] = values
        paper = (study.paper_ensemble if ensemble else setting.paper)
        row['paper ' + ev.name] = paper.get(ev.name, '-')
      out.append(row)
  return out


# Two-sided 95% critical values of Student's t for 1 to 30 degrees of
# freedom (any statistics table); past 30, 30's (slightly conservative).
T_CRITICAL_95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def welch(a, b):
  """Welch's t-test of mean(a) - mean(b), samples of unequal variance.

  Returns:
    (difference, standard error, t, degrees of freedom); the last three are
    None when a or b has fewer than two values (no spread to test against).
  """
  difference = statistics.mean(a) - statistics.mean(b)
  if len(a) < 2 or len(b) < 2:
    return difference, None, None, None
  va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
  se = math.sqrt(va + vb)
  if se == 0.0:  # Every seed alike on both sides.
    t = math.copysign(math.inf, difference) if difference else 0.0
    return difference, se, t, len(a) + len(b) - 2
  df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
  return difference, se, difference / se, df


# A claim's verdicts: beyond the seeds' spread (the paper's way or the
# other), within it, or not tested.
YES = 'yes'
OPPOSITE = 'yes, opposite to the paper'
WITHIN = 'no: within the seed spread'
UNTESTED = 'not tested: needs 2 seeds of each'


def _whole_df(df):
  """The degrees of freedom rounded down for the table, within 1 to 30; a
  value a rounding error below a whole number is that number (Welch's df of
  two samples of equal variance, 2 exactly, comes out 1.9999999999999998)."""
  return min(max(int(math.floor(df + 1e-9)), 1), 30)


def _paper_value(text):
  """The paper's mean from its text ('0.34 ± 0.032' -> 0.34), or None."""
  try:
    return float(text.split()[0])
  except (AttributeError, IndexError, ValueError):
    return None


def comparisons(study, records):
  """One dict per claim of study.comparisons and test set whose two
  settings both have seeds: the paper's difference and ours, Welch's t and
  the verdict at 95% (two-sided; the degrees of freedom rounded down)."""
  settings = {s.name: s for s in study.settings}
  out = []
  for comparison in study.comparisons:
    for ev in study.evals:
      values = [_errors(records, name, ev.name)
                for name in (comparison.a, comparison.b)]
      if not all(values):
        continue
      difference, se, t, df = welch(*values)
      paper = [_paper_value(settings[name].paper.get(ev.name))
               for name in (comparison.a, comparison.b)]
      paper = None if None in paper else paper[0] - paper[1]
      if t is None:
        verdict = UNTESTED
      elif abs(t) <= T_CRITICAL_95[_whole_df(df) - 1]:
        verdict = WITHIN
      elif paper is not None and paper * difference < 0:
        verdict = OPPOSITE
      else:
        verdict = YES
      out.append({'claim': comparison.claim, 'test': ev.name,
                  'paper': paper, 'difference': difference, 'se': se, 't': t,
                  'df': df, 'n': (len(values[0]), len(values[1])),
                  'verdict': verdict})
  return out


def _comparison_lines(study, records):
  table = comparisons(study, records)
  if not table:
    return []
  lines = [_wrap(
      'The paper\'s claims against the spread of the seeds: our difference '
      'in error (percentage points, first setting minus second; negative: '
      'the first errs less) ± its standard error, and whether it is beyond '
      'the seeds\' spread by Welch\'s t-test at 95% (two-sided).'), '']
  several = len(study.evals) > 1  # Else the test set goes without saying.
  header = ['claim'] + ['test'] * several + [
      'paper', 'ours', 'n', 'Welch\'s t (df)', 'beyond the seed spread?']
  lines.append('| ' + ' | '.join(header) + ' |')
  lines.append('|' + '---|' * len(header))
  for row in table:
    ours = '%+.2f' % row['difference']
    if row['se'] is not None:
      ours += ' ± %.2f' % row['se']
    cells = [row['claim']] + [row['test']] * several + [
        '-' if row['paper'] is None else '%+.2f' % row['paper'], ours,
        '%d, %d' % row['n'],
        '-' if row['t'] is None else '%+.2f (%.1f)' % (row['t'], row['df']),
        row['verdict']]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return lines + ['', _wrap(_summary(table)), '']


def _summary(table):
  """One sentence: how many of the claims tested hold at this schedule."""
  kinds = ((YES, 'beyond the seed spread as the paper says'),
           (OPPOSITE, 'beyond it the other way'),
           (WITHIN, 'within the seed spread'), (UNTESTED, 'not tested yet'))
  counts = [(sum(row['verdict'] == verdict for row in table), text)
            for verdict, text in kinds]
  return 'At this schedule, of %d comparison%s: %s.' % (
      len(table), 's' if len(table) > 1 else '',
      ', '.join('%d %s' % (n, text) for n, text in counts if n))


def ensembles(study, records):
  """One dict per setting and test set with both seeds and an ensemble of
  them: the ensemble's error, the seeds' mean and best, and the ensemble's
  errors as a fraction fewer than the mean seed's."""
  out = []
  for setting in study.settings:
    for ev in study.evals:
      seeds = _errors(records, setting.name, ev.name)
      together = _errors(records, setting.name, ev.name, ensemble=True)
      if not seeds or not together:
        continue
      mean = statistics.mean(seeds)
      out.append({'setting': setting.label, 'test': ev.name,
                  'ensemble': together[0], 'mean': mean, 'best': min(seeds),
                  'seeds': len(seeds),
                  'fewer': (mean - together[0]) / mean if mean else 0.0})
  return out


def _ensemble_lines(study, records):
  lines = []
  for row in ensembles(study, records):
    test = ' (%s)' % row['test'] if len(study.evals) > 1 else ''
    lines += [_wrap(
        '%s%s: the ensemble errs %.2f%%, its %d seeds alone %.2f%% on '
        'average and %.2f%% at best: %.0f%% fewer errors than the average '
        'seed.' % (row['setting'][0].upper() + row['setting'][1:], test,
                   row['ensemble'], row['seeds'], row['mean'], row['best'],
                   100.0 * row['fewer'])), '']
  return lines


def _wrap(text):
  return textwrap.fill(text, 100, break_long_words=False,
                       break_on_hyphens=False)


def markdown(study, by_schedule, command):
  """The report page of a study."""
  lines = ['# %s' % study.title, '', _wrap(
      'Generated by `%s` from the run records in `records/%s/`; do not '
      'edit.' % (command, study.name)), '']
  if study.note:
    lines += [_wrap(study.note), '']
  for schedule_name in sorted(by_schedule):
    schedule = study.schedules[schedule_name]
    table = rows(study, by_schedule[schedule_name])
    if not table:
      continue
    lines += ['## %s schedule' % schedule_name, '']
    if schedule.note:
      lines += [_wrap(schedule.note[0].upper() + schedule.note[1:] + '.'), '']
    evals = [ev for ev in study.evals if any(ev.name in r for r in table)]
    header = ['setting'] + [ev.name + ' (mean ± sd)' for ev in evals]
    header += ['paper ' + ev.name for ev in evals]
    header += ['n', 'steps', 'epochs', 'hardware', 'wall time per run']
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('|' + '---|' * len(header))
    for row in table:
      cells = [row['setting']]
      cells += [row[ev.name][0] if ev.name in row else '-' for ev in evals]
      cells += [row['paper ' + ev.name] for ev in evals]
      cells += [str(row['n']), '{:,}'.format(row['steps']),
                '%.1f' % row['epochs'], row['hardware'],
                '%.1f min' % row['wall_minutes']]
      lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', _wrap(_total_line(by_schedule[schedule_name])), '']
    lines += _comparison_lines(study, by_schedule[schedule_name])
    lines += _ensemble_lines(study, by_schedule[schedule_name])
    records = by_schedule[schedule_name]
    lines += _commands('The commands of seed 0 of each setting (the other '
                       'seeds differ in `--seed` and the directory):',
                       [r for r in records if r['seed'] == 0])
    lines += _commands('The ensembles\' evaluations (`--num_trials`: the '
                       'seeds\' checkpoints, their class scores summed):',
                       [r for r in records if r['seed'] is None])
  return '\n'.join(lines)


def _commands(intro, records):
  """intro and the records' commands as a shell block (nothing without
  records)."""
  if not records:
    return []
  return ([intro, '', '```sh'] +
          [command for r in records for command in r['commands']] +
          ['```', ''])


def _total_line(records):
  """The schedule's wall time, summed over its records: what the study
  cost on the hardware its rows name."""
  seconds = sum(sum(r['wall_seconds'].values()) for r in records)
  return ('Wall time, summed over the schedule\'s runs: %.2f h over %d '
          'run%s (each run\'s data, training and evaluation).' % (
              seconds / 3600.0, len(records), 's' if len(records) > 1 else ''))


def csv_text(study, by_schedule):
  """One line per schedule, setting and test set, with every value."""
  out = io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  writer.writerow(['study', 'schedule', 'setting', 'test', 'metric', 'n',
                   'mean', 'sd', 'values', 'paper', 'steps', 'epochs',
                   'hardware', 'wall_minutes'])
  for schedule_name in sorted(by_schedule):
    for row in rows(study, by_schedule[schedule_name]):
      for ev in study.evals:
        if ev.name not in row:
          continue
        _, mean, sd = row[ev.name]
        writer.writerow([
            study.name, schedule_name, row['setting'], ev.name, ev.metric,
            row['n'], '%.4f' % mean, '' if sd is None else '%.4f' % sd,
            ' '.join('%.2f' % v for v in row[ev.name + ' values']),
            row['paper ' + ev.name], row['steps'], '%.2f' % row['epochs'],
            row['hardware'], '%.1f' % row['wall_minutes']])
  return out.getvalue()


def texts(study, results_dir):
  """(Markdown, CSV) of the study's records in results_dir/records/STUDY,
  or None when it has none."""
  by_schedule = load(os.path.join(results_dir, 'records', study.name))
  if not by_schedule:
    return None
  command = 'python reproduce.py --study=%s --report' % study.name
  return markdown(study, by_schedule, command), csv_text(study, by_schedule)


def write(study, results_dir):
  """Writes results_dir/STUDY.md and STUDY.csv from results_dir/records/
  STUDY; returns their paths (None when there are no records)."""
  generated = texts(study, results_dir)
  if generated is None:
    return None
  paths = (os.path.join(results_dir, study.name + '.md'),
           os.path.join(results_dir, study.name + '.csv'))
  for path, text in zip(paths, generated):
    files.write_whole(path, text)  # A report cut short is never left.
  return paths


# Stand-ins for data directories a report does not read.
REPORT_DIRS = catalog.DataDirs(root='runs/studies', fashion='FASHION_DIR',
                               norb='NORB_DIR', cifar='CIFAR_DIR',
                               affnist='AFFNIST_DIR')


def studies_with_records(results_dir):
  """The studies that have records in results_dir/records."""
  records = os.path.join(results_dir, 'records')
  names = sorted(os.listdir(records)) if os.path.isdir(records) else []
  return [catalog.get(name, REPORT_DIRS, 'budget') for name in names
          if name in catalog.STUDIES]
