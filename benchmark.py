r"""Times full training steps (forward, backward, Adam) and evaluation steps.

Training takes one synthetic batch, repeated, through a distributed
iterator and the compiled loop of `--steps_per_loop` steps that training
uses; evaluation a batch already in memory; both after warm-up (tracing, XLA
compilation, allocator growth). The real input pipeline is timed on its own
with --data_dir (input_examples_per_sec). Prints a table
and, as its LAST line, one JSON object:
  train_examples_per_sec, eval_examples_per_sec, peak_memory_mb, device,
  plus the settings, the model's training GFLOP per example and, where
  measured, the float32 matmul peak and the PyTorch comparison.
peak_memory_mb is the peak of TensorFlow's allocator on the device (GPU:0,
else CPU:0): every tensor, weights and optimizer slots included, i.e. the
device memory the run needs; eval_peak_memory_mb the same during evaluation
alone, process_peak_rss_mb the whole process (runtime and libraries too).
Both peaks are null where the CPU allocator keeps no statistics: where
oneDNN is off, as TensorFlow leaves it by default on AVX2-only x86 CPUs
(TF_ENABLE_ONEDNN_OPTS=1 turns it on).

  python benchmark.py --dataset=mnist --batch_size=128 --steps=20
  python benchmark.py --dataset=mnist --xla --mixed_precision=bfloat16
  python benchmark.py --dataset=mnist --num_targets=2    # MultiMNIST
  python benchmark.py --dataset=mnist --compare_pytorch   # needs torch
"""

import json
import os
import resource
import sys
import time

from absl import app
from absl import flags

from input_data import datasets
from runner import command_line

# (image size, depth, classes) of each dataset's model input whose shape
# is known without data, by experiment.py's --dataset names (from
# input_data/datasets/); --num_targets=2 is MultiMNIST's 36x36 pairs. The
# hparams the authors used there are models.hparams.PAPER_OVERRIDES.
SHAPES = {name: (shape.height, shape.channels, shape.classes)
          for name, shape in datasets.fixed_shapes().items()}
MULTIMNIST_SIZE = 36


def input_info(dataset, num_targets=1):
  """The DatasetInfo of a dataset's model input (no data needed)."""
  # pylint: disable=g-import-not-at-top
  from input_data import source
  from runner import registry
  # pylint: enable=g-import-not-at-top
  registry.check_num_targets(dataset, num_targets)
  size, depth, classes = SHAPES[dataset]
  if num_targets == 2:
    size = MULTIMNIST_SIZE
  return source.DatasetInfo(size, depth, classes, num_targets)


def matmul_peak_gflops(tf, dtype='float32', n=2048, repeats=10):
  """Measured matmul throughput of the default device in dtype, GFLOP/s."""
  a = tf.cast(tf.random.normal([n, n]), dtype)
  b = tf.cast(tf.random.normal([n, n]), dtype)
  matmul = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y),
                                                         tf.float32)))
  float(matmul(a, b))
  start = time.perf_counter()
  for _ in range(repeats):
    result = matmul(a, b)
  float(result)
  return 2.0 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def _time(step, args, steps, warmup):
  """Seconds per call of step(*args) after warmup calls."""
  for _ in range(warmup):
    _sync(step(*args))
  start = time.perf_counter()
  for _ in range(steps):
    out = step(*args)
  _sync(out)
  return (time.perf_counter() - start) / steps


def _peak_mb(tf, device, reset=False):
  """The TensorFlow allocator's high-water mark on device, MiB (then reset
  when asked); None where the allocator keeps no statistics: TensorFlow's
  plain CPU allocator, used where oneDNN is off."""
  try:
    peak = tf.config.experimental.get_memory_info(device)['peak'] / 2 ** 20
    if reset:
      tf.config.experimental.reset_memory_stats(device)
  except ValueError:  # "Allocator stats not available for device ..."
    return None
  return peak


def _sync(out):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for value in tf.nest.flatten(out):
    if hasattr(value, 'numpy'):
      value.numpy()


def run_tensorflow(model_name, dataset, batch_size, eval_batch_size, steps,
                   warmup, xla, mixed_precision, overrides, eval_only=False,
                   steps_per_loop=1, num_targets=1, info=None,
                   cpu_kernels=True, profile_steps=0):
  """Times the TensorFlow model; returns a dict of measurements. info: the
  input's DatasetInfo (default the dataset's fixed shape); cpu_kernels False:
  without the CPU formulations (as a GPU runs the model); profile_steps:
  also that many training steps under the profiler (`profile`: {op group:
  ms per step}, runner/op_profile.py)."""
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from input_data import source
  from models import hparams as hparams_lib
  from models import loss_scale as loss_scale_lib
  from models import optimizer as optimizer_lib
  from models import steps as steps_lib
  from runner import registry
  # pylint: enable=g-import-not-at-top
  paper = hparams_lib.PAPER_OVERRIDES.get(dataset, '')
  hparams = hparams_lib.default_hparams(model_name).parse(
      ','.join(x for x in (paper, overrides) if x))
  info = info or input_info(dataset, num_targets)
  conv_dtype = None if mixed_precision == 'none' else mixed_precision
  model = registry.build_model(model_name, hparams, info, conv_dtype)
  if not cpu_kernels:
    model.set_cpu_kernels(False)
  optimizer = optimizer_lib.Adam(model.trainable_variables,
                                 compiled=model.cpu_kernels)
  strategy = tf.distribute.get_strategy()
  gpus = tf.config.list_logical_devices('GPU')
  # float16 trains with dynamic loss scaling, as training.train does.
  loss_scale = loss_scale_lib.loss_scale_for(conv_dtype)
  # The training path itself: a compiled loop of steps_per_loop steps per
  # call over a distributed iterator (here of one repeated batch).
  train_steps = steps_lib.make_train_loop(model, optimizer, strategy,
                                          batch_size, jit_compile=xla,
                                          loss_scale=loss_scale)
  eval_step = steps_lib.make_eval_step(model, strategy, jit_compile=xla)
  train_batches = iter(strategy.experimental_distribute_dataset(
      tf.data.Dataset.from_tensors(source.synthetic_batch(
          batch_size, info)).repeat()))
  eval_batch = {k: tf.constant(v) for k, v in source.synthetic_batch(
      eval_batch_size, info, seed=1).items()}
  memory_device = 'GPU:0' if gpus else 'CPU:0'
  if not eval_only:
    calls = max(1, steps // steps_per_loop)
    train_secs = _time(train_steps, (train_batches, tf.constant(
        steps_per_loop)), calls, -(-warmup // steps_per_loop))
    train_secs /= steps_per_loop
  else:
    train_secs = None
  profile = None
  if profile_steps and not eval_only:
    profile = _profile(lambda: _sync(train_steps(train_batches, tf.constant(
        1))), profile_steps)
  # Evaluation's own peak: the weights stay allocated, the training step's
  # activations are freed, so the allocator's high-water mark restarts here.
  peak = _peak_mb(tf, memory_device, reset=True)
  eval_secs = _time(eval_step, (eval_batch,), steps, warmup)
  eval_peak = _peak_mb(tf, memory_device)
  if gpus:
    device = tf.config.experimental.get_device_details(
        tf.config.list_physical_devices('GPU')[0]).get('device_name', 'GPU')
  else:
    device = 'CPU (%d cores)' % os.cpu_count()
  flops = 3 * model.forward_flops()  # Backward ~ 2x forward.
  return {
      'train_examples_per_sec': train_secs and batch_size / train_secs,
      'eval_examples_per_sec': eval_batch_size / eval_secs,
      'peak_memory_mb': None if peak is None else max(peak, eval_peak),
      'eval_peak_memory_mb': eval_peak,
      'process_peak_rss_mb':
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
      'device': device,
      'train_gflop_per_example': flops / 1e9,
      'train_gflops': train_secs and flops * batch_size / train_secs / 1e9,
      'params': model.num_params(),
      'profile': profile,
  }


def _profile(step, steps):
  """{op group: ms per step} of steps calls of step under the profiler."""
  import tempfile  # pylint: disable=g-import-not-at-top
  from runner import op_profile  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as logdir:
    return op_profile.by_group(op_profile.profile(step, steps, logdir), steps)


def input_examples_per_sec(source, batch_size, batches, warmup=5):
  """Examples/s that source's real training tf.data pipeline delivers alone.

  What the step may consume before the input starves it; on a GPU host the
  pipeline has that machine's cores.
  """
  iterator = iter(source.train_dataset(batch_size, seed=0))
  for _ in range(warmup):
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    batch = next(iterator)
  _sync(batch)
  return batch_size * batches / (time.perf_counter() - start)


FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  command_line.define('model', 'hparams_override', 'num_targets', 'xla',
                      'mixed_precision', 'steps_per_loop', 'deterministic')
  flags.DEFINE_string('dataset', 'mnist', 'Input shape to time '
                      '(experiment.py\'s names: %s; with --data_dir, also '
                      'folder and tfds:NAME, shaped by their data).' %
                      ', '.join(sorted(SHAPES)))
  flags.DEFINE_integer('batch_size', 128, 'Training batch.')
  flags.DEFINE_integer('eval_batch_size', 100, 'Evaluation batch.')
  flags.DEFINE_integer('steps', 20, 'Timed steps.')
  flags.DEFINE_integer('warmup', 3, 'Untimed steps first.')
  flags.DEFINE_boolean('compare_pytorch', False, 'Also time a plain PyTorch '
                       'CapsNet of the MNIST architecture (needs torch).')
  flags.DEFINE_boolean('matmul_peak', True, 'Measure the matmul peak in the '
                       'convolutions\' dtype (float32 or --mixed_precision\'s) '
                       'and the training step\'s share of it.')
  flags.DEFINE_integer('profile_steps', 0, 'Also run this many training steps '
                       'under TensorFlow\'s profiler and print their time by '
                       'op group (runner/op_profile.py).')
  flags.DEFINE_boolean('cpu_kernels', True, 'On a CPU, the layers\' CPU '
                       'formulations (models/layers/cpu_kernels.py); '
                       '--nocpu_kernels times TensorFlow\'s own gradients, '
                       'routing and Adam unfused, as a GPU runs them.')
  flags.DEFINE_boolean('eval_only', False, 'Time (and measure the memory of) '
                       'evaluation alone.')
  flags.DEFINE_string('data_dir', None, 'Also time the real training input '
                      'pipeline of --dataset from here, alone, and how long '
                      'reading the data takes (own images: decoding, or '
                      'the cache).')
  command_line.define(*command_line.OWN_DATA)
  flags.DEFINE_enum('data_source', 'records', command_line.DATA_SOURCES,
                    'The files in --data_dir, as experiment.py.')
  flags.DEFINE_integer('input_batches', 200, 'Batches the input timing reads.')


def main(argv):
  del argv
  if (FLAGS.steps < 1 or FLAGS.batch_size < 1 or FLAGS.warmup < 0 or
      FLAGS.steps_per_loop < 1):
    sys.exit('benchmark.py: --steps, --batch_size and --steps_per_loop must '
             'be >= 1, --warmup >= 0')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # pylint: disable=g-import-not-at-top
  from runner import config as config_lib
  from runner import registry
  # pylint: enable=g-import-not-at-top
  if FLAGS.deterministic:
    tf.config.experimental.enable_op_determinism()
    tf.random.set_seed(0)  # Random ops need one then.
  source, load_seconds = None, None
  if FLAGS.data_dir:  # Bad files fail here, before any timing.
    start = time.perf_counter()
    try:
      source = registry.get_source(config_lib.RunConfig(
          dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
          data_source=FLAGS.data_source, num_targets=FLAGS.num_targets,
          **command_line.own_data_config(FLAGS)), 'train')
    except ValueError as e:
      sys.exit('benchmark.py: %s' % e)
    load_seconds = time.perf_counter() - start
  elif FLAGS.dataset not in SHAPES:
    sys.exit('benchmark.py: --dataset=%s takes its shape from its data: give '
             '--data_dir' % FLAGS.dataset)
  try:
    result = run_tensorflow(FLAGS.model, FLAGS.dataset, FLAGS.batch_size,
                            FLAGS.eval_batch_size, FLAGS.steps, FLAGS.warmup,
                            FLAGS.xla, FLAGS.mixed_precision,
                            FLAGS.hparams_override or '', FLAGS.eval_only,
                            FLAGS.steps_per_loop, FLAGS.num_targets,
                            source and source.info, FLAGS.cpu_kernels,
                            FLAGS.profile_steps)
  except ValueError as e:
    sys.exit('benchmark.py: %s' % e)
  result.update(model=FLAGS.model, dataset=FLAGS.dataset,
                num_targets=FLAGS.num_targets,
                batch_size=FLAGS.batch_size, xla=FLAGS.xla,
                steps_per_loop=FLAGS.steps_per_loop,
                mixed_precision=FLAGS.mixed_precision,
                deterministic=FLAGS.deterministic,
                cpu_kernels=FLAGS.cpu_kernels)
  if FLAGS.matmul_peak and not FLAGS.eval_only:
    # The peak of the dtype the convolutions run in.
    result['matmul_peak_dtype'] = ('float32' if FLAGS.mixed_precision == 'none'
                                   else FLAGS.mixed_precision)
    result['matmul_peak_gflops'] = matmul_peak_gflops(
        tf, result['matmul_peak_dtype'])
    result['share_of_matmul_peak'] = (result['train_gflops'] /
                                      result['matmul_peak_gflops'])
  if source is not None:
    result['data_load_seconds'] = load_seconds
    result['data_examples'] = source.num_examples
    result['input_examples_per_sec'] = input_examples_per_sec(
        source, FLAGS.batch_size, FLAGS.input_batches)
  if FLAGS.compare_pytorch:
    if (FLAGS.dataset != 'mnist' or FLAGS.model != 'capsule' or
        FLAGS.num_targets != 1):
      sys.exit('benchmark.py: --compare_pytorch times the MNIST capsule model')
    from models import torch_capsnet  # pylint: disable=g-import-not-at-top
    torch_result = torch_capsnet.run_pytorch(FLAGS.batch_size, FLAGS.steps, FLAGS.warmup,
                               FLAGS.mixed_precision)
    if torch_result is None:
      sys.exit('benchmark.py: --compare_pytorch needs torch installed')
    torch_rate, result['pytorch_device'] = torch_result
    result['pytorch_train_examples_per_sec'] = torch_rate
    result['speedup_over_pytorch'] = (result['train_examples_per_sec'] /
                                      torch_rate)
  profile = result.pop('profile')
  if profile:
    result['profile_ms_per_step'] = {k: round(v, 1) for k, v in
                                     profile.items()}
    total = sum(profile.values())
    print('%-32s %8s %6s' % ('op group (profiler)', 'ms/step', 'share'))
    for group, ms in profile.items():
      print('%-32s %8.1f %5.1f%%' % (group, ms, 100.0 * ms / total))
  for key, value in result.items():
    if key != 'profile_ms_per_step':
      print('%-32s %s' % (key, '%.4g' % value if isinstance(value, float)
                          else value))
  if result['eval_peak_memory_mb'] is None:
    print('# peak_memory_mb: TensorFlow\'s allocator on %s keeps no '
          'statistics here (oneDNN off); TF_ENABLE_ONEDNN_OPTS=1 measures '
          'them' % result['device'])
  print(json.dumps(result, sort_keys=True))


if __name__ == '__main__':
  from common import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
