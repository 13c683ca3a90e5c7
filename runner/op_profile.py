"""Where a compiled step's time goes: TensorFlow's profiler, by op group.

`profile(fn, steps, logdir)` runs fn under `tf.profiler` and reads the
trace it writes (an XSpace protobuf): every op the executor ran, with its
duration. `by_group` sums them per step into the groups of a capsule
network's step (`GROUPS`), from the op's type and the name scopes the model
and the optimiser put their ops in (a gradient op carries its forward op's
scopes under `gradient_tape/`).

Durations are the ops' own wall times. The executor runs independent ops
side by side on the cores (and each op may use all of them), so the groups
add up to more or less than the step's wall time; their shares say which
part to make faster.
"""

import bisect
import collections
import glob
import os
import re

import tensorflow as tf
# The profiler's own trace format, shipped with TensorFlow.
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from models.layers import cpu_kernels

XLA_EVENT = 'CpuExecutable::ExecuteAsyncOnStream'
ASYNC_CALL_EVENT = 'ExecutorState::ProcessAsync::Start'

# Group, and how an op is recognised: its type (the part after ':' in the
# trace, oneDNN's '_Mkl...' names included) or a name scope in its name.
# The first that matches wins, in this order.
GROUPS = (
    ('convolutions backward', lambda name, kind: 'Conv2D' in kind and (
        name.startswith('gradient_tape/') or 'Backprop' in kind or
        _in_scope(name, cpu_kernels.GRADIENT_SCOPE))),
    ('convolutions forward', lambda name, kind: 'Conv2D' in kind),
    ('input', lambda name, kind: 'Iterator' in kind),
    ('casts', lambda name, kind: kind == 'Cast'),
    ('optimizer', lambda name, kind: _in_scope(name, 'adam') or (
        '_adam_update' in kind)),
    ('votes and routing', lambda name, kind: _in_scope(name, 'capsule2') or (
        '_votes_and_routing' in kind)),
    ('decoder', lambda name, kind: _in_scope(name, 'recons')),
    ('losses', lambda name, kind: _in_scope(name, 'losses')),
    # XLA-compiled functions of no group above (--xla's whole step).
    ('XLA, other', lambda name, kind: kind.startswith('XLA')),
    ('other', lambda name, kind: True),
)


def _in_scope(name, scope):
  # A scope entered again is uniquified: capsule2_1/.
  return re.search(r'(^|/)%s(_\d+)?/' % scope, name) is not None


def group_of(name, kind):
  """The GROUPS name of an op, from its name and type."""
  for group, matches in GROUPS:
    if matches(name, kind):
      return group
  raise AssertionError('GROUPS ends with a catch-all')


def profile(fn, steps, logdir):
  """Calls fn() steps times under the profiler; {(op name, op type): total
  milliseconds} of the ops the executors (and XLA) ran."""
  tf.profiler.experimental.start(logdir)
  try:
    for _ in range(steps):
      fn()
  finally:
    tf.profiler.experimental.stop()
  paths = glob.glob(os.path.join(logdir, 'plugins', 'profile', '*',
                                 '*.xplane.pb'))
  space = xplane_pb2.XSpace()
  with open(max(paths, key=os.path.getmtime), 'rb') as f:
    space.ParseFromString(f.read())
  return op_times(space)


def op_times(space):
  """{(op name, op type): milliseconds} summed over an XSpace's op events.

  TensorFlow ops are events named 'name:type' on the executor threads
  (lines 'tf_Compute...'). A call of an XLA-compiled function is an event
  'ExecutorState::ProcessAsync::Start' whose stat 'name' is the calling op
  ('capsule2/PartitionedCall'); the compiled code runs in an event
  'CpuExecutable::ExecuteAsyncOnStream' within its span, and its kernels
  in events (on any thread) whose stat 'hlo_module' names the compiled
  function ('a_inference__votes_and_routing_123__.1', its gradient
  '..._backward__votes_and_routing...'). That time is counted as the
  calling op's, of type 'XLA:' + the function's module. Other events
  ('ExecutorState::Process', ...) are the executor's own bookkeeping."""
  times = collections.Counter()
  for plane in space.planes:
    names = plane.event_metadata
    stat_names = {k: v.name for k, v in plane.stat_metadata.items()}

    def stats(event):
      # A string stat is held in place or, interned, by reference.
      return {stat_names.get(s.metadata_id):
              s.str_value or stat_names.get(s.ref_value, '')
              for s in event.stats}
    calls, modules, events = [], [], []
    for line in plane.lines:
      for event in line.events:
        label = names[event.metadata_id].name
        if line.name.startswith('tf_Compute'):
          events.append((event, label))
          if label == ASYNC_CALL_EVENT:
            calls.append((event.offset_ps, event.offset_ps + event.duration_ps,
                          stats(event).get('name') or 'xla'))
        elif event.stats:
          module = stats(event).get('hlo_module')
          if module:
            modules.append((event.offset_ps, module))
    modules.sort()
    for event, label in events:
      if label == XLA_EVENT:
        start, end = event.offset_ps, event.offset_ps + event.duration_ps
        # The call that started last before it and holds it; the module of
        # the first kernel it ran.
        holders = [c for c in calls if c[0] <= start < c[1]]
        first = bisect.bisect_left(modules, (start, ''))
        module = (modules[first][1] if first < len(modules) and
                  modules[first][0] < end else '')
        op = (max(holders)[2] if holders else 'xla', 'XLA:' + module)
      elif ':' in label and '::' not in label:
        op = tuple(label.split(':', 1))
      else:
        continue
      times[op] += event.duration_ps / 1e9
  return times


def by_group(times, steps):
  """{group: milliseconds per step}, every group of GROUPS present."""
  groups = collections.OrderedDict((group, 0.0) for group, _ in GROUPS)
  for (name, kind), ms in times.items():
    groups[group_of(name, kind)] += ms / steps
  return groups
