"""Helpers of the studies' tests."""

import json
import os

from studies import runs


def record(setting, seed, wrong, examples=10000, almost=None, steps=1000,
           devices=('/device:CPU:0',), wall=(600.0, 30.0)):
  """A run's record as studies/runs.py writes it: wrong of examples on the
  'test' eval, the train and eval wall seconds, CPU devices by default."""
  name = 'ensemble' if seed is None else 'seed%d' % seed
  return {
      'run': 'table1/budget/%s/%s' % (setting, name), 'setting': setting,
      'seed': seed, 'steps': steps, 'batch_size': 128,
      'commands': ['python experiment.py --seed=%s' % seed],
      'results': {'test': {'examples': examples, 'wrong': wrong,
                           'almost_wrong': almost}},
      'metrics': {'test': 'wrong'},
      'wall_seconds': {'train': wall[0], 'eval': wall[1]},
      'environment': {'devices': list(devices), 'cpu_count': 2}}


def write_record(results_dir, study, record):
  """Keeps record with study's records in results_dir, where reproduce.py
  copies a finished run's (runs.record_path of its name):
  records/STUDY/SCHEDULE/SETTING-LEAF.json."""
  path = runs.record_path(record['run'],
                          os.path.join(results_dir, 'records', study))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w') as f:
    json.dump(record, f)
  return path
