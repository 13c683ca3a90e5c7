"""Tests of the studies' reports: means and spreads over seeds, the paper's
claims against the seed spread (Welch's t-test), the ensemble sentence, and
the committed reports and README rows against the committed records.

Every expected value is a literal or computed here with numpy, by hand.
"""

import dataclasses
import math
import os
import re

import numpy as np
import tensorflow as tf

from studies import catalog
from studies import report
from studies import testing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pairs(setting, seed, both=None, neither=None):
  """A MultiMNIST record: wrong pairs ('both') and almost-wrong pairs
  ('neither') of 10,000; an eval given None has no result."""
  r = testing.record(setting, seed, 0)
  r['run'] = r['run'].replace('table1', 'multimnist')
  r['results'], r['metrics'] = {}, {}
  for name, count, metric in (('both', both, 'wrong'),
                              ('neither', neither, 'almost_wrong')):
    if count is not None:
      r['results'][name] = {'examples': 10000, 'wrong': count,
                            'almost_wrong': count}
      r['metrics'][name] = metric
  return r


class ReportTest(tf.test.TestCase):

  def _write(self, records):
    results = self.create_tempdir().full_path
    for r in records:
      testing.write_record(results, 'table1', r)
    return results

  def test_means_and_spreads_over_seeds(self):
    wrong = {'routing3_recon': [70, 81, 76], 'baseline': [120, 131, 99]}
    results = self._write([testing.record(s, i, w) for s, ws in wrong.items()
                           for i, w in enumerate(ws)])
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    md_path, csv_path = report.write(study, results)
    with open(md_path) as f:
      text = f.read()
    for setting, ws in wrong.items():
      percent = np.array(ws) / 100.0  # Of 10,000.
      mean, sd = percent.mean(), percent.std(ddof=1)
      label = {'routing3_recon': 'capsule, 3 routing, + reconstruction',
               'baseline': 'baseline CNN, cross-entropy'}[setting]
      paper = {'routing3_recon': '0.25 ± 0.005', 'baseline': '0.39'}[setting]
      self.assertIn('| %s | %.2f ± %.2f | %s | 3 | 1,000 | 2.1 | 2 CPU cores '
                    '| 10.5 min |' % (label, mean, sd, paper), text)
    # 0.76 against 1.17: t -4.14 with df 2.45, within at 2 (4.303).
    self.assertIn('At this schedule, of 1 comparison: 1 within the seed '
                  'spread.', ' '.join(text.split()))
    # Six runs of 630 seconds each: 3,780 s.
    self.assertIn('Wall time, summed over the schedule\'s runs: 1.05 h over '
                  '6 runs (each', ' '.join(text.split()))
    # Rows in the paper's order; settings without records left out.
    self.assertLess(text.index('baseline CNN'), text.index('capsule, 3'))
    self.assertNotIn('1 routing', text.split('```')[0])
    with open(csv_path) as f:
      lines = f.read().splitlines()
    self.assertEqual(lines[0], 'study,schedule,setting,test,metric,n,mean,sd,'
                     'values,paper,steps,epochs,hardware,wall_minutes')
    self.assertEqual(lines[1], 'table1,budget,"baseline CNN, cross-entropy",'
                     'test,wrong,3,1.1667,0.1626,1.20 1.31 0.99,0.39,1000,'
                     '2.13,2 CPU cores,10.5')

  def test_ensemble_rows_and_the_almost_wrong_metric(self):
    study = catalog.get('multimnist', report.REPORT_DIRS, 'budget')
    records = []
    for seed, (wrong, almost) in enumerate([(3000, 100), (3200, 140)]):
      r = _pairs('routing3_recon', seed, wrong, almost)
      r['environment']['devices'] = ['/device:CPU:0', '/device:GPU:0']
      records.append(r)
    table = report.rows(study, records)
    self.assertLen(table, 1)
    self.assertEqual(table[0]['both'][0], '%.2f ± %.2f' % (
        31.0, np.std([30.0, 32.0], ddof=1)))
    self.assertEqual(table[0]['neither'][0], '1.20 ± 0.28')
    self.assertEqual(table[0]['hardware'], '1 GPU')
    # The CPU's model and widest feature where the runs recorded them; each
    # kind once, in order.
    cpus = [testing.record('baseline', i, 100) for i in range(6)]
    for r, model, features in zip(cpus, (
        'AMD EPYC', 'Intel(R) Xeon(R)', 'AMD EPYC', 'AMD EPYC', None, None), (
            ['avx', 'avx2', 'fma'],
            ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile'],
            ['avx2', 'avx512f', 'avx512_bf16'], ['avx2', 'fma'],
            ['avx2', 'avx512f'], None)):
      r['environment']['cpu'] = {'model': model, 'features': features}
    self.assertEqual(report.rows(catalog.get('table1', report.REPORT_DIRS,
                                             'budget'), cpus)[0]['hardware'],
                     '2 CPU cores (AMD EPYC, AVX2) / 2 CPU cores (Intel(R) '
                     'Xeon(R), AMX) / 2 CPU cores (AMD EPYC, AVX512-BF16) / '
                     '2 CPU cores (AVX-512) / 2 CPU cores')
    self.assertEqual(table[0]['paper both'], '5.2')
    ensemble = catalog.get('cifar10', report.REPORT_DIRS, 'budget')
    r = testing.record('capsule', None, 1100)
    r['commands'] = ['python experiment.py --num_trials=7 --train=false']
    self.assertEqual(report.rows(ensemble, [r])[0]['setting'],
                     'capsule, 64 primary capsule types, leaky routing, no '
                     'reconstruction: ensemble of 7 seeds')
    self.assertEqual(report.rows(ensemble, [r])[0]['paper test'], '10.6')
    self.assertEqual(report.rows(ensemble, [r])[0]['test'][0], '11.00')


class ComparisonTest(tf.test.TestCase):

  def test_welch_by_hand(self):
    # [1, 2, 3] against [1, 1, 2, 2]: variances 1 and 1/3, so the standard
    # error is sqrt(1/3 + 1/12) = sqrt(5/12), t = 0.5 / sqrt(5/12) and
    # df = (5/12)^2 / ((1/3)^2 / 2 + (1/12)^2 / 3) = 3 exactly.
    difference, se, t, df = report.welch([1.0, 2.0, 3.0], [1.0, 1.0, 2.0, 2.0])
    self.assertAllClose([difference, se, t, df],
                        [0.5, 0.6454972, 0.7745967, 3.0])
    self.assertEqual(report.welch([1.0], [2.0, 3.0]), (-1.5, None, None, None))
    self.assertEqual(report.welch([1.0, 1.0], [1.0, 1.0])[2], 0.0)

  def test_the_papers_claims_against_the_seed_spread(self):
    wrong = {
        # -1.00 ± sqrt(0.04/3 + 0.04/3) = 0.16: t = -6.12, df 4 > 2.776.
        'routing3_recon': [100, 120, 140], 'baseline': [200, 220, 240],
        # 1.20 against 1.50 ± 0.50: -0.30 ± sqrt(0.04/3 + 0.25/3) = 0.31,
        # t = -0.96 with df 2.62 (4.303): within.
        'routing1_recon': [100, 150, 200],
        # The reconstruction loss (3 routing): 1.20 against 0.52, t = 5.86
        # with df 2.04 (4.303): beyond, and the paper's sign is the other.
        'routing3_norecon': [50, 52, 54],
        'routing1_norecon': [150],  # One seed: its claims are not tested.
    }
    records = [testing.record(s, i, w) for s, ws in wrong.items()
               for i, w in enumerate(ws)]
    records.append(testing.record('routing1_norecon', None, 10))  # An ensemble.
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    self.assertEqual([r['verdict'] for r in report.comparisons(study, records)],
                     ['yes', 'no: within the seed spread',
                      'not tested: needs 2 seeds of each',
                      'yes, opposite to the paper',
                      'not tested: needs 2 seeds of each'])
    text = report.markdown(study, {'budget': records}, 'command')
    self.assertIn('| capsules (3 routing, + reconstruction) err less than the '
                  'baseline | -0.14 | -1.00 ± 0.16 | 3, 3 | -6.12 (4.0) | yes '
                  '|', text)
    self.assertIn('| 3 routing iterations err less than 1 (with '
                  'reconstruction) | -0.04 | -0.30 ± 0.31 | 3, 3 | -0.96 '
                  '(2.6) | no: within the seed spread |', text)
    # The ensemble's record is not a seed: 0.52 - 1.50.
    self.assertIn('| 3 routing iterations against 1 (no reconstruction) | '
                  '+0.01 | -0.98 | 3, 1 | - | not tested: needs 2 seeds of '
                  'each |', text)
    self.assertIn('| the reconstruction loss helps (3 routing) | -0.10 | '
                  '+0.68 ± 0.12 | 3, 3 | +5.86 (2.0) | yes, opposite to the '
                  'paper |', text)
    self.assertIn('At this schedule, of 5 comparisons: 1 beyond the seed '
                  'spread as the paper says, 1 beyond it the other way, 1 '
                  'within the seed spread, 2 not tested yet.',
                  ' '.join(text.split()))

  def test_the_critical_value_follows_the_degrees_of_freedom(self):
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')

    def verdict(a, b):
      records = [testing.record('routing3_recon', i, w) for i, w in enumerate(a)]
      records += [testing.record('baseline', i, w) for i, w in enumerate(b)]
      return report.comparisons(study, records)[0]['verdict']

    # Equal variances, 3 seeds each: df 4, critical 2.776. sd 1 (percent):
    # se = sqrt(2/3) = 0.8165; differences of 2.2 (t 2.69) and 2.3 (2.82).
    self.assertEqual(verdict([0, 100, 200], [220, 320, 420]),
                     'no: within the seed spread')
    self.assertEqual(verdict([0, 100, 200], [230, 330, 430]), 'yes')
    # df rounded down: 1.00 against 3.37 ± 0.49 (2 seeds) is t = -3.51 with
    # df 2.94, within at 2 (4.303), though beyond at 3 (3.182).
    self.assertEqual(verdict([0, 100, 200], [302, 372]),
                     'no: within the seed spread')


class EnsembleSentenceTest(tf.test.TestCase):

  def test_the_ensemble_against_its_seeds(self):
    study = catalog.get('ensemble', report.REPORT_DIRS, 'budget')
    records = [testing.record('routing3_recon', i, w)
               for i, w in enumerate([65, 72, 76])]
    text = report.markdown(study, {'budget': records}, 'command')
    self.assertNotIn('the ensemble errs', text)  # No ensemble yet.
    self.assertNotIn('--num_trials', text)
    records.append(testing.record('routing3_recon', None, 57))
    records[-1]['commands'] = ['python experiment.py --num_trials=3 '
                               '--checkpoint=runs/seed{}/model.ckpt-9']
    # The ensemble's command, after the seeds' (the page the README links
    # for --num_trials shows it).
    text = report.markdown(study, {'budget': records}, 'command')
    self.assertIn('\n'.join([
        'The ensembles\' evaluations (`--num_trials`: the seeds\' checkpoints,'
        ' their class scores summed):', '', '```sh',
        'python experiment.py --num_trials=3 '
        '--checkpoint=runs/seed{}/model.ckpt-9', '```']), text)
    # Seeds 0.65, 0.72, 0.76: mean 0.71, best 0.65; (0.71 - 0.57) / 0.71.
    self.assertIn('Capsule, 3 routing, + reconstruction: the ensemble errs '
                  '0.57%, its 3 seeds alone 0.71% on average and 0.65% at '
                  'best: 20% fewer errors than the average seed.',
                  ' '.join(report.markdown(study, {'budget': records},
                                           'command').split()))


class TwoTestSetsTest(tf.test.TestCase):
  """A study with two evaluations (MultiMNIST's two metrics)."""

  def test_claims_per_test_set_and_a_row_with_one_result(self):
    study = catalog.get('multimnist', report.REPORT_DIRS, 'budget')
    records = [_pairs('routing3_recon', 0, 3000, 100),
               _pairs('routing3_recon', 1, 3200, 140),
               _pairs('baseline', 0, 5000, 400),
               _pairs('baseline', 1, 5400, 440),
               _pairs('routing1_recon', 0, neither=200)]
    text = report.markdown(study, {'budget': records}, 'command')
    self.assertIn('| claim | test | paper | ours | n | Welch\'s t (df) | '
                  'beyond the seed spread? |', text)
    # both: 31.00 - 52.00 = -21.00, se sqrt(2/2 + 8/2) = 2.24, t -9.39 with
    # df 25/17 = 1.47, within at 1 (12.706); the paper: 5.2 - 8.1.
    self.assertIn('| capsules (3 routing) err less than the baseline | both '
                  '| -2.90 | -21.00 ± 2.24 | 2, 2 | -9.39 (1.5) | no: within '
                  'the seed spread |', text)
    # neither: 1.20 - 4.20 = -3.00, se sqrt(0.08) = 0.28, t -10.61 with
    # df 2 (4.303): beyond; the paper gives no number for it.
    self.assertIn('| capsules (3 routing) err less than the baseline | '
                  'neither | - | -3.00 ± 0.28 | 2, 2 | -10.61 (2.0) | yes |',
                  text)
    # routing 1 has one seed, and only on neither: 1.20 - 2.00.
    self.assertIn('| 3 routing iterations err less than 1 | neither | - | '
                  '-0.80 | 2, 1 | - | not tested: needs 2 seeds of each |',
                  text)
    self.assertNotIn('| 3 routing iterations err less than 1 | both', text)
    self.assertIn('At this schedule, of 3 comparisons: 1 beyond the seed '
                  'spread as the paper says, 1 within the seed spread, 1 not '
                  'tested yet.', ' '.join(text.split()))
    self.assertIn('| capsule, 1 routing, + reconstruction | - | 2.00 | 7.5 '
                  '| - | 1 |', text)
    lines = report.csv_text(study, {'budget': records}).splitlines()
    self.assertEqual(lines[3:5], [
        'multimnist,budget,"capsule, 1 routing, + reconstruction",neither,'
        'almost_wrong,1,2.0000,,2.00,-,1000,2.13,2 CPU cores,10.5',
        'multimnist,budget,"capsule, 3 routing, + reconstruction",both,wrong,'
        '2,31.0000,1.4142,30.00 32.00,5.2,1000,2.13,2 CPU cores,10.5'])
    self.assertLen(lines, 6)

  def test_an_ensemble_sentence_per_test_set(self):
    study = dataclasses.replace(
        catalog.get('multimnist', report.REPORT_DIRS, 'budget'),
        ensemble=True)
    records = [_pairs('routing3_recon', 0, 3000, 900),
               _pairs('routing3_recon', 1, 3200, 1100),
               _pairs('routing3_recon', None, 2800, 507),
               _pairs('baseline', 0, 5000, 0),
               _pairs('baseline', 1, 5400, 0),
               _pairs('baseline', None, neither=0)]  # No ensemble on both.
    text = ' '.join(report.markdown(study, {'budget': records},
                                    'command').split())
    sentences = [
        # Seeds 0% wrong: no fewer errors (not a division by zero).
        'Baseline CNN, sigmoid outputs (neither): the ensemble errs 0.00%, '
        'its 2 seeds alone 0.00% on average and 0.00% at best: 0% fewer '
        'errors than the average seed.',
        # (31 - 28) / 31 = 9.7%.
        'Capsule, 3 routing, + reconstruction (both): the ensemble errs '
        '28.00%, its 2 seeds alone 31.00% on average and 30.00% at best: '
        '10% fewer errors than the average seed.',
        # (10 - 5.07) / 10 = 49.3%.
        'Capsule, 3 routing, + reconstruction (neither): the ensemble errs '
        '5.07%, its 2 seeds alone 10.00% on average and 9.00% at best: 49% '
        'fewer errors than the average seed.']
    for sentence in sentences:
      self.assertIn(sentence, text)
    self.assertEqual([text.index(s) for s in sentences],
                     sorted(text.index(s) for s in sentences))
    self.assertNotIn('Baseline CNN, sigmoid outputs (both): the ensemble',
                     text)

  def test_where_the_reports_go_and_which_studies_have_records(self):
    results = self.create_tempdir().full_path
    self.assertEqual(report.studies_with_records(results), [])
    os.makedirs(os.path.join(results, 'records', 'notastudy'))
    testing.write_record(results, 'table1', testing.record('baseline', 0, 100))
    self.assertEqual([s.name for s in report.studies_with_records(results)],
                     ['table1'])
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    self.assertEqual(report.write(study, results),
                     (os.path.join(results, 'table1.md'),
                      os.path.join(results, 'table1.csv')))
    self.assertTrue(os.path.exists(os.path.join(results, 'table1.md')))
    self.assertTrue(os.path.exists(os.path.join(results, 'table1.csv')))
    self.assertIsNone(report.write(
        catalog.get('fashion', report.REPORT_DIRS, 'budget'), results))


class EdgeCasesTest(tf.test.TestCase):
  """What real records rarely hold: seeds all alike, many seeds, a paper
  claiming no difference, records without their environment."""

  def test_seeds_all_alike_on_both_sides(self):
    # No spread: the difference is infinitely many standard errors, and
    # the degrees of freedom are the seeds' count less 2.
    self.assertEqual(report.welch([1.0, 1.0], [2.0, 2.0, 2.0]),
                     (-1.0, 0.0, -math.inf, 3))
    self.assertEqual(report.welch([2.0, 2.0], [1.0, 1.0])[2:], (math.inf, 2))
    study = catalog.get('multimnist', report.REPORT_DIRS, 'budget')
    records = [_pairs('routing3_recon', i, 3000, 100) for i in range(2)]
    records += [_pairs('baseline', i, 5000, 100) for i in range(2)]
    text = report.markdown(study, {'budget': records}, 'command')
    self.assertIn('| capsules (3 routing) err less than the baseline | both '
                  '| -2.90 | -20.00 ± 0.00 | 2, 2 | -inf (2.0) | yes |', text)
    self.assertIn('| capsules (3 routing) err less than the baseline | '
                  'neither | - | +0.00 ± 0.00 | 2, 2 | +0.00 (2.0) | no: '
                  'within the seed spread |', text)
    self.assertIn('At this schedule, of 2 comparisons: 1 beyond the seed '
                  'spread as the paper says, 1 within the seed spread.',
                  ' '.join(text.split()))

  def test_past_30_degrees_of_freedom_the_critical_value_of_30(self):
    # 20 seeds a side of 0% and 1% error: df 38, se 0.1622; 0.33 points
    # apart is t = -2.034: within at 30's 2.042 (38's would be 2.024).
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    records = [testing.record('routing3_recon', i, 100 * (i % 2))
               for i in range(20)]
    records += [testing.record('baseline', i, 100 * (i % 2) + 33)
                for i in range(20)]
    row = report.comparisons(study, records)[0]
    self.assertAllClose([row['t'], row['df']], [-2.0342566, 38.0])
    self.assertEqual(row['verdict'], 'no: within the seed spread')

  def test_a_paper_without_a_difference_is_not_contradicted(self):
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    study = dataclasses.replace(study, settings=tuple(
        dataclasses.replace(s, paper={'test': '0.30'})
        for s in study.settings))
    records = [testing.record('routing3_recon', i, w)
               for i, w in enumerate([100, 110])]
    records += [testing.record('baseline', i, w)
                for i, w in enumerate([200, 210])]
    row = report.comparisons(study, records)[0]
    self.assertEqual((row['paper'], row['verdict']), (0.0, 'yes'))

  def test_records_without_environment_or_trials(self):
    study = catalog.get('cifar10', report.REPORT_DIRS, 'budget')
    r = testing.record('capsule', None, 1100)
    del r['environment']
    r['commands'] = ['python experiment.py --train=false']
    row = report.rows(study, [r])[0]
    self.assertEqual(row['hardware'], '? CPU cores')
    self.assertEqual(row['setting'], 'capsule, 64 primary capsule types, '
                     'leaky routing, no reconstruction: ensemble of ? seeds')

  def test_a_schedule_without_rows_is_left_out(self):
    study = catalog.get('table1', report.REPORT_DIRS, 'budget')
    text = report.markdown(study, {
        'budget': [testing.record('notasetting', 0, 100)],
        'paper': [testing.record('baseline', 0, 100, steps=300000,
                                 wall=(5400.0, 360.0))]}, 'command')
    self.assertNotIn('## budget schedule', text)
    self.assertIn('## paper schedule', text)
    self.assertIn('| baseline CNN, cross-entropy | 1.00 | 0.39 | 1 | 300,000 '
                  '| 640.0 |', text)
    self.assertIn('Wall time, summed over the schedule\'s runs: 1.60 h over '
                  '1 run (each', ' '.join(text.split()))

  def test_long_words_and_hyphens_are_not_broken(self):
    study = dataclasses.replace(
        catalog.get('table1', report.REPORT_DIRS, 'budget'),
        note='a' * 95 + ' bb-cc-dd ' + 'e' * 120)
    text = report.markdown(study, {}, 'command')
    self.assertIn('\n%s\nbb-cc-dd\n%s\n' % ('a' * 95, 'e' * 120), text)


class CommittedResultsTest(tf.test.TestCase):

  def test_the_committed_reports_are_the_committed_records_tables(self):
    results = os.path.join(ROOT, 'docs', 'results')
    studies = report.studies_with_records(results)
    # A report for every study with records, and none without.
    self.assertCountEqual(
        [s.name + ext for s in studies for ext in ('.md', '.csv')],
        [f for f in os.listdir(results) if f.endswith(('.md', '.csv'))
         and f.rsplit('.', 1)[0] in catalog.STUDIES])
    for study in studies:
      for ext, text in zip(('.md', '.csv'), report.texts(study, results)):
        with open(os.path.join(results, study.name + ext)) as f:
          self.assertEqual(f.read(), text, '%s%s differs from its records: '
                           'python reproduce.py --report' % (study.name, ext))


  def test_the_readme_quotes_the_reports(self):
    # README rows whose model cell links a report: "[table1](docs/results/
    # table1.md): SETTING" must give that report's numbers, of the
    # schedule whose row of SETTING has the quoted steps.
    results = os.path.join(ROOT, 'docs', 'results')
    with open(os.path.join(ROOT, 'README.md')) as f:
      lines = [l for l in f.read().splitlines() if '](docs/results/' in l
               and l.startswith('|')]
    quoted = 0
    for line in lines:
      cells = [c.strip() for c in line.split('|')[1:-1]]
      link = re.match(r'^\[[^]]+\]\(docs/results/(\w+)\.md\): (.+)$',
                      cells[1])
      if not link:
        continue
      name, label = link.groups()
      study = catalog.get(name, report.REPORT_DIRS, 'budget')
      by_schedule = report.load(os.path.join(results, 'records', name))
      found = [r for records in by_schedule.values()
               for r in report.rows(study, records)
               if r['setting'] == label and
               '{:,}'.format(r['steps']) == cells[2]]
      self.assertLen(found, 1, line)
      row = found[0]
      ev = study.evals[0].name
      error = row[ev][0] + '%'
      if row['n'] > 1:
        error += ' (%d seeds)' % row['n']
      paper = row['paper ' + ev]
      self.assertEqual(cells[2:], ['{:,}'.format(row['steps']), error,
                                   paper + '%' if paper != '-' else paper],
                       line)
      quoted += 1
    self.assertGreater(quoted, 0)


if __name__ == '__main__':
  tf.test.main()
