"""Helpers of the studies' tests."""


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
