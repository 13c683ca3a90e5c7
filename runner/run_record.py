"""The run record: what ran, where and with what, beside the checkpoints.

Training writes two files in summary_dir/train (the chief only):
  run.json   one entry per start of the run (the first and every resume):
             time, step it started at, command line, host, Python,
             TensorFlow and NumPy versions, the project's git revision and
             whether its tree had uncommitted changes, the devices and the
             CPU's features. (config.json, runner/config.py, holds the
             resolved configuration and what each resume changed.)
  flags.txt  the command's flags in absl's --flagfile format, one per line:
             `python experiment.py --flagfile=RUN/train/flags.txt` replays
             the run (continues it, or re-creates it in an empty directory).

Imports no TensorFlow at module level.
"""

import json
import os
import platform
import socket
import subprocess
import sys

from common import files

RUN_FILE = 'run.json'
FLAGS_FILE = 'flags.txt'
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _git(*args):
  try:
    out = subprocess.run(['git', *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


def cpu_features():
  """The CPU's model name and the SIMD features that change kernels."""
  try:
    with open('/proc/cpuinfo') as f:
      info = f.read()
  except OSError:
    return {'model': platform.processor() or platform.machine()}
  model = next((line.split(':', 1)[1].strip() for line in info.splitlines()
                if line.startswith('model name')), platform.machine())
  flags = next((line.split(':', 1)[1].split() for line in info.splitlines()
                if line.startswith('flags')), [])
  wanted = ('avx', 'avx2', 'fma', 'avx512f', 'avx512_bf16', 'avx512_vnni',
            'amx_bf16', 'amx_tile')
  return {'model': model, 'features': [f for f in wanted if f in flags]}


def code_version():
  """{'revision': the project's git commit, 'uncommitted_changes': whether
  its tracked files differ from it} (None each outside a git checkout)."""
  revision = _git('rev-parse', 'HEAD')
  status = _git('status', '--porcelain', '--untracked-files=no')
  return {'revision': revision,
          'uncommitted_changes': None if status is None else bool(status)}


def environment():
  """Versions, revision, devices: what a later reader needs to know."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {
      'host': socket.gethostname(),
      'python': platform.python_version(),
      'tensorflow': tf.__version__,
      'numpy': np.__version__,
      **code_version(),
      'devices': [d.name for d in tf.config.list_logical_devices()],
      'cpu': cpu_features(),
  }


def record_start(train_dir, step, command=None, flag_lines=None):
  """Appends this start to run.json and writes flags.txt (when given)."""
  path = os.path.join(train_dir, RUN_FILE)
  starts = []
  if os.path.exists(path):
    try:
      with open(path) as f:
        starts = json.load(f).get('starts', [])
    except ValueError:
      starts = []  # A damaged record is replaced, never fatal.
  starts.append(dict(
      time=files.utc_time(), step=step,
      command=list(command if command is not None else sys.argv),
      **environment()))
  files.write_whole(path, json.dumps({'starts': starts}, indent=2) + '\n')
  if flag_lines is not None:
    files.write_whole(os.path.join(train_dir, FLAGS_FILE),
                      ''.join(line + '\n' for line in flag_lines))
  return path
