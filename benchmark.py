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

  python benchmark.py --dataset=mnist --batch_size=128 --steps=20
  python benchmark.py --dataset=mnist --xla --mixed_precision=bfloat16
  python benchmark.py --dataset=mnist --compare_pytorch   # needs torch
"""

import json
import os
import resource
import sys
import time

from absl import app
from absl import flags
import numpy as np

# (image size, depth, classes, targets) of each dataset's model input; the
# hparams the authors used there are models.hparams.PAPER_OVERRIDES.
SHAPES = {
    'mnist': (28, 1, 10, 1),
    'fashion_mnist': (28, 1, 10, 1),
    'multimnist': (36, 1, 10, 2),
    'norb': (32, 2, 5, 1),
    'cifar10': (24, 3, 10, 1),
    'affnist': (40, 1, 10, 1),
}


def synthetic_features(batch_size, size, depth, classes, targets, seed=0):
  """A random feature batch of the readers' layout (numpy)."""
  rng = np.random.RandomState(seed)
  pixels = size * size * depth
  label_1 = rng.randint(0, classes, batch_size)
  features = {'images': rng.rand(batch_size, pixels).astype(np.float32),
              'recons_label': label_1.astype(np.int64),
              'labels': np.eye(classes, dtype=np.float32)[label_1]}
  features['recons_image'] = features['images']
  if targets == 2:
    label_2 = (label_1 + 1 + rng.randint(0, classes - 1, batch_size)) % classes
    features['spare_label'] = label_2.astype(np.int64)
    features['spare_image'] = rng.rand(batch_size, pixels).astype(np.float32)
    features['labels'] += np.eye(classes, dtype=np.float32)[label_2]
  return features


def forward_flops(model):
  """Multiply-adds x 2 of one example's forward pass (convs and matmuls)."""
  from models import capsule_model  # pylint: disable=g-import-not-at-top
  from models.layers import layers  # pylint: disable=g-import-not-at-top
  flops = 0
  size = model.image_size
  if isinstance(model, capsule_model.CapsuleModel):
    h = model.hparams
    conv1 = layers.conv_output_size(size, 9, 1, h.padding)
    flops += conv1 ** 2 * 81 * model.image_depth * 256 * 2
    flops += model.primary_size ** 2 * 81 * 256 * h.num_prime_capsules * 8 * 2
    caps = model.digit_capsules
    flops += caps.input_dim * 8 * caps.output_dim * 16 * 2
    flops += h.routing * 2 * caps.input_dim * caps.output_dim * 16 * 2
    dense = model.reconstruction.layers if model.reconstruction else []
    for layer in dense:
      flops += 2 * int(np.prod(layer.weights.shape)) * model.num_targets
    return flops
  for conv in (model.conv1, model.conv2):
    size = layers.conv_output_size(size, 5, 1, model.hparams.padding)
    flops += size ** 2 * int(np.prod(conv.weights.shape)) * 2
    size = layers.conv_output_size(size, 2, 2, 'SAME')
  for dense in (model.fc1, model.softmax_layer):
    flops += 2 * int(np.prod(dense.weights.shape))
  return flops


def matmul_peak_gflops(tf, n=2048, repeats=10):
  """Measured float32 matmul throughput of the default device, GFLOP/s."""
  a = tf.random.normal([n, n])
  b = tf.random.normal([n, n])
  matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
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


def _peak_mb(tf, device):
  """The TensorFlow allocator's high-water mark on device, MiB."""
  return tf.config.experimental.get_memory_info(device)['peak'] / 2 ** 20


def _sync(out):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for value in tf.nest.flatten(out):
    if hasattr(value, 'numpy'):
      value.numpy()


def run_tensorflow(model_name, dataset, batch_size, eval_batch_size, steps,
                   warmup, xla, mixed_precision, overrides, eval_only=False,
                   steps_per_loop=1):
  """Times the TensorFlow model; returns a dict of measurements."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from models import hparams as hparams_lib  # pylint: disable=g-import-not-at-top
  from models import model as model_lib  # pylint: disable=g-import-not-at-top
  from runner import registry  # pylint: disable=g-import-not-at-top
  size, depth, classes, targets = SHAPES[dataset]
  paper = hparams_lib.PAPER_OVERRIDES.get(dataset, '')
  hparams = hparams_lib.default_hparams(model_name).parse(
      ','.join(x for x in (paper, overrides) if x))
  from input_data import source  # pylint: disable=g-import-not-at-top
  info = source.DatasetInfo(size, depth, classes, targets)
  conv_dtype = None if mixed_precision == 'none' else mixed_precision
  model = registry.build_model(model_name, hparams, info, conv_dtype)
  optimizer = model_lib.Adam(model.trainable_variables)
  strategy = tf.distribute.get_strategy()
  gpus = tf.config.list_logical_devices('GPU')
  # float16 trains with dynamic loss scaling, as training.train does.
  loss_scale = model_lib.loss_scale_for(conv_dtype)
  # The training path itself: a compiled loop of steps_per_loop steps per
  # call over a distributed iterator (here of one repeated batch).
  train_steps = model_lib.make_train_loop(model, optimizer, strategy,
                                          batch_size, jit_compile=xla,
                                          loss_scale=loss_scale)
  eval_step = model_lib.make_eval_step(model, strategy, jit_compile=xla)
  train_batches = iter(strategy.experimental_distribute_dataset(
      tf.data.Dataset.from_tensors(synthetic_features(
          batch_size, size, depth, classes, targets)).repeat()))
  eval_batch = {k: tf.constant(v) for k, v in synthetic_features(
      eval_batch_size, size, depth, classes, targets, seed=1).items()}
  memory_device = 'GPU:0' if gpus else 'CPU:0'
  if not eval_only:
    calls = max(1, steps // steps_per_loop)
    train_secs = _time(train_steps, (train_batches, tf.constant(
        steps_per_loop)), calls, -(-warmup // steps_per_loop))
    train_secs /= steps_per_loop
  else:
    train_secs = None
  peak = _peak_mb(tf, memory_device)
  # Evaluation's own peak: the weights stay allocated, the training step's
  # activations are freed, so the allocator's high-water mark restarts here.
  tf.config.experimental.reset_memory_stats(memory_device)
  eval_secs = _time(eval_step, (eval_batch,), steps, warmup)
  eval_peak = _peak_mb(tf, memory_device)
  if gpus:
    device = tf.config.experimental.get_device_details(
        tf.config.list_physical_devices('GPU')[0]).get('device_name', 'GPU')
  else:
    device = 'CPU (%d cores)' % os.cpu_count()
  flops = 3 * forward_flops(model)  # Backward ~ 2x forward.
  return {
      'train_examples_per_sec': train_secs and batch_size / train_secs,
      'eval_examples_per_sec': eval_batch_size / eval_secs,
      'peak_memory_mb': max(peak, eval_peak),
      'eval_peak_memory_mb': eval_peak,
      'process_peak_rss_mb':
          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
      'device': device,
      'train_gflop_per_example': flops / 1e9,
      'train_gflops': train_secs and flops * batch_size / train_secs / 1e9,
      'params': model.num_params(),
  }


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


def pytorch_capsnet(routing=3):
  """A plain PyTorch CapsNet of the MNIST architecture (None without torch).

  conv1, primary capsules (one routing pass over 32 types: a 1/32 scale),
  digit capsules with routing, decoder: what a user would write, with the
  same parameter count as ours (8,215,728).
  """
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  from torch import nn  # pylint: disable=g-import-not-at-top

  def squash(s, dim):
    sq = (s * s).sum(dim, keepdim=True)
    return s / torch.sqrt(sq + 1e-9) * sq / (1 + sq)

  class CapsNet(nn.Module):
    """conv1, primary capsules (1/32 routing pass), digit capsules, decoder."""

    def __init__(self):
      super().__init__()
      self.conv1 = nn.Conv2d(1, 256, 9)
      self.primary = nn.Conv2d(256, 256, 9, stride=2, bias=False)
      self.primary_bias = nn.Parameter(torch.full((32, 8), 0.1))
      self.weights = nn.Parameter(0.1 * torch.randn(1152, 8, 160))
      self.bias = nn.Parameter(torch.full((10, 16), 0.1))
      self.decoder = nn.Sequential(nn.Linear(160, 512), nn.ReLU(),
                                   nn.Linear(512, 1024), nn.ReLU(),
                                   nn.Linear(1024, 784), nn.Sigmoid())

    def forward(self, x, labels):
      u = self.primary(torch.relu(self.conv1(x)))
      # As ours: only the convolutions in a mixed precision's dtype.
      with torch.autocast(x.device.type, enabled=False):
        u = u.float().view(-1, 32, 8, 6, 6) / 32.0
        u = squash(u + self.primary_bias[None, :, :, None, None], 2)
        u = u.permute(0, 1, 3, 4, 2).reshape(-1, 1152, 8)
        votes = torch.einsum('bia,iao->bio', u, self.weights).view(
            -1, 1152, 10, 16)
        logits = torch.zeros(votes.shape[:3], device=votes.device)
        for i in range(routing):
          route = torch.softmax(logits, dim=2)
          v = squash((route[..., None] * votes).sum(1) + self.bias, 2)
          if i + 1 < routing:
            logits = logits + (votes * v[:, None]).sum(-1)
        lengths = torch.sqrt((v * v).sum(-1))
        mask = nn.functional.one_hot(labels, 10).float()
        remake = self.decoder((v * mask[..., None]).flatten(1))
      return lengths, remake

  return CapsNet()


def run_pytorch(batch_size, steps, warmup, mixed_precision='none', routing=3):
  """Trains the PyTorch CapsNet on the GPU if torch sees one, else the CPU.

  mixed_precision bfloat16/float16: the convolutions under torch.autocast
  (float16 with a GradScaler), routing float32 as ours. On a GPU,
  TF32 and cuDNN autotuning are on, as TensorFlow has them.

  Returns (training examples/s, device name), or None without torch.
  """
  model = pytorch_capsnet(routing)
  if model is None:
    return None
  import torch  # pylint: disable=g-import-not-at-top
  cuda = torch.cuda.is_available()
  device = torch.device('cuda' if cuda else 'cpu')
  if cuda:
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
  else:
    torch.set_num_threads(os.cpu_count())
  model = model.to(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  features = synthetic_features(batch_size, 28, 1, 10, 1)
  images = torch.from_numpy(features['images']).view(-1, 1, 28, 28).to(device)
  labels = torch.from_numpy(features['recons_label']).to(device)
  onehot = torch.from_numpy(features['labels']).to(device)
  dtype = {'bfloat16': torch.bfloat16, 'float16': torch.float16}.get(
      mixed_precision)
  scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

  def step():
    optimizer.zero_grad()
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
      lengths, remake = model(images, labels)
    l = lengths - 0.5
    margin = (0.5 * onehot * (l < 0.4) * (l - 0.4) ** 2 +
              0.25 * (1 - onehot) * (l > -0.4) * (l + 0.4) ** 2).mean()
    recon = 0.0005 * ((remake - images.flatten(1)) ** 2).sum(1).mean()
    scaler.scale(margin + recon).backward()
    scaler.step(optimizer)
    scaler.update()

  def sync():
    if cuda:
      torch.cuda.synchronize()
  for _ in range(warmup):
    step()
  sync()
  start = time.perf_counter()
  for _ in range(steps):
    step()
  sync()
  name = torch.cuda.get_device_name(0) if cuda else 'CPU'
  return batch_size * steps / (time.perf_counter() - start), name


FLAGS = flags.FLAGS


def define_flags():
  """The command line; defined only when run as a program."""
  flags.DEFINE_string('model', 'capsule', 'capsule or baseline.')
  flags.DEFINE_enum('dataset', 'mnist', sorted(SHAPES), 'Input shape to time.')
  flags.DEFINE_integer('batch_size', 128, 'Training batch.')
  flags.DEFINE_integer('eval_batch_size', 100, 'Evaluation batch.')
  flags.DEFINE_integer('steps', 20, 'Timed steps.')
  flags.DEFINE_integer('warmup', 3, 'Untimed steps first.')
  flags.DEFINE_integer('steps_per_loop', 1, 'Training steps per compiled '
                       'call, as experiment.py (timed: --steps of them).')
  flags.DEFINE_boolean('xla', False, 'XLA-compile the forward/backward pass.')
  flags.DEFINE_enum('mixed_precision', 'none', ['none', 'bfloat16', 'float16'],
                    'Run the convolutions in this dtype (routing stays float32).')
  flags.DEFINE_string('hparams_override', None, 'Applied over the dataset hparams.')
  flags.DEFINE_boolean('compare_pytorch', False, 'Also time a plain PyTorch '
                       'CapsNet of the MNIST architecture (needs torch).')
  flags.DEFINE_boolean('matmul_peak', True, 'Measure the float32 matmul peak.')
  flags.DEFINE_boolean('deterministic', False, 'Time with TensorFlow\'s op '
                       'determinism on, as experiment.py --deterministic.')
  flags.DEFINE_boolean('eval_only', False, 'Time (and measure the memory of) '
                       'evaluation alone.')
  flags.DEFINE_string('data_dir', None, 'Also time the real training input '
                      'pipeline of --dataset from here, alone.')
  flags.DEFINE_enum('data_source', 'records', ['records', 'idx'],
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
  source = None
  if FLAGS.data_dir:  # Bad files fail here, before any timing.
    try:
      source = registry.get_source(config_lib.RunConfig(
          dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
          data_source=FLAGS.data_source), 'train')
    except ValueError as e:
      sys.exit('benchmark.py: %s' % e)
  try:
    result = run_tensorflow(FLAGS.model, FLAGS.dataset, FLAGS.batch_size,
                            FLAGS.eval_batch_size, FLAGS.steps, FLAGS.warmup,
                            FLAGS.xla, FLAGS.mixed_precision,
                            FLAGS.hparams_override or '', FLAGS.eval_only,
                            FLAGS.steps_per_loop)
  except ValueError as e:
    sys.exit('benchmark.py: %s' % e)
  result.update(model=FLAGS.model, dataset=FLAGS.dataset,
                batch_size=FLAGS.batch_size, xla=FLAGS.xla,
                steps_per_loop=FLAGS.steps_per_loop,
                mixed_precision=FLAGS.mixed_precision,
                deterministic=FLAGS.deterministic)
  if FLAGS.matmul_peak and not FLAGS.eval_only:
    result['matmul_peak_gflops'] = matmul_peak_gflops(tf)
    result['share_of_matmul_peak'] = (result['train_gflops'] /
                                      result['matmul_peak_gflops'])
  if source is not None:
    result['input_examples_per_sec'] = input_examples_per_sec(
        source, FLAGS.batch_size, FLAGS.input_batches)
  if FLAGS.compare_pytorch:
    if FLAGS.dataset != 'mnist' or FLAGS.model != 'capsule':
      sys.exit('benchmark.py: --compare_pytorch times the MNIST capsule model')
    torch_result = run_pytorch(FLAGS.batch_size, FLAGS.steps, FLAGS.warmup,
                               FLAGS.mixed_precision)
    if torch_result is None:
      sys.exit('benchmark.py: --compare_pytorch needs torch installed')
    torch_rate, result['pytorch_device'] = torch_result
    result['pytorch_train_examples_per_sec'] = torch_rate
    result['speedup_over_pytorch'] = (result['train_examples_per_sec'] /
                                      torch_rate)
  for key, value in result.items():
    print('%-32s %s' % (key, '%.4g' % value if isinstance(value, float)
                        else value))
  print(json.dumps(result, sort_keys=True))


if __name__ == '__main__':
  from runner import quiet  # pylint: disable=g-import-not-at-top
  quiet.import_tensorflow()  # Before anything else imports TensorFlow.
  define_flags()
  app.run(main)
