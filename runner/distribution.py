"""Which tf.distribute strategy a run uses, and which worker saves.

One machine: the default strategy, or MirroredStrategy over --num_gpus
local GPUs. Several machines: MultiWorkerMirroredStrategy when the standard
TF_CONFIG names more than one worker (read by TensorFlow's own
TFConfigClusterResolver). The strategy's own roles decide who writes:
`extended.should_checkpoint` / `should_save_summary` (the chief).
"""

import os

import tensorflow as tf

from runner.errors import ExperimentError


def _resolver():
  """TensorFlow's resolver of TF_CONFIG; ExperimentError if malformed."""
  try:
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    resolver.cluster_spec()  # Parses TF_CONFIG.
    return resolver
  except (ValueError, AttributeError, TypeError) as e:
    raise ExperimentError('TF_CONFIG is not a JSON object with a "cluster" '
                          '(%s)' % e) from e


def is_multi_worker():
  """Whether TF_CONFIG names a cluster of several chief/worker tasks."""
  if not os.environ.get('TF_CONFIG'):
    return False
  cluster = _resolver().cluster_spec().as_dict()
  return sum(len(cluster.get(kind, [])) for kind in ('chief', 'worker')) > 1


def make_strategy(num_gpus):
  """The replica strategy: MultiWorkerMirrored when TF_CONFIG names several
  workers, else Mirrored over num_gpus local devices (default: one).

  Call it before any other TensorFlow op: a multi-worker strategy must set up
  its collectives before TensorFlow starts.

  Args:
    num_gpus: replicas wanted on this machine, one per GPU.
  """
  if num_gpus < 1:
    raise ExperimentError('--num_gpus must be >= 1, got %d' % num_gpus)
  if is_multi_worker():
    # Each worker uses all its visible GPUs (choose with CUDA_VISIBLE_DEVICES).
    return tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=_resolver())
  devices = [d.name for d in tf.config.list_logical_devices('GPU')]
  if num_gpus == 1:
    return tf.distribute.get_strategy()
  if num_gpus > len(devices):
    raise ExperimentError('--num_gpus=%d but this machine has %d GPU(s)' %
                          (num_gpus, len(devices)))
  return tf.distribute.MirroredStrategy(devices[:num_gpus])


def writes_checkpoints(strategy):
  """Whether this worker keeps the checkpoints (the chief, or alone)."""
  return strategy.extended.should_checkpoint


def writes_summaries(strategy):
  """Whether this worker writes summaries and the run configuration."""
  return strategy.extended.should_save_summary


def any_worker(strategy):
  """A function flag -> whether this worker's flag or any other's is set.

  With several workers it is one all-reduce across them, so every worker
  must call it at the same point of its loop (they all do, after the same
  steps); alone it is the flag itself, and costs nothing.
  """
  if not is_multi_worker():
    return bool

  @tf.function
  def summed(flag):
    per_replica = strategy.run(lambda: tf.cast(flag, tf.int32))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

  return lambda flag: int(summed(tf.constant(bool(flag)))) > 0


def task_id(strategy):
  """This worker's index in a multi-worker cluster, else 0."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  return (resolver.task_id or 0) if resolver is not None else 0
