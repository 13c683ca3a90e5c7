"""How large a model and its training step are, from shapes alone (no
variable is built), so a run can refuse a configuration that cannot fit in
memory before it starts instead of dying out of memory minutes in.

The capsule model's step is dominated by the vote tensor [batch, primary
capsules, classes, 16]: routing keeps several of its size, forward and
backward. The peak resident memory of benchmark.py's training steps on the
CPU (docs/own_data.md's table: 28, 40 and 48 pixels, float32 and bfloat16)
is, within a tenth: RUNTIME_BYTES + 16 bytes a parameter (weights,
gradients, Adam's two moments) + VOTE_COPIES vote tensors.
"""

import collections

from models.layers import layers

GIB = 2 ** 30
RUNTIME_BYTES = GIB  # TensorFlow's runtime, the data, the input pipeline.
VOTE_COPIES = 11  # Fitted to the peaks measured at 28, 40 and 48 pixels.
BYTES_PER_PARAM = 16  # float32 weights, gradients, Adam's m and v.

# primary_capsules: 0 for the baseline; votes_bytes: float32 votes of a
# batch; step_bytes: the estimate of a training step's resident memory.
Footprint = collections.namedtuple(
    'Footprint', ('primary_capsules', 'votes_bytes', 'params', 'step_bytes'))


def capsule_footprint(hparams, size, depth, classes, batch, *,
                      conv1_channels=256, primary_atoms=8, digit_atoms=16,
                      decoder_sizes=(512, 1024)):
  """The capsule model's footprint (models/capsule_model.py's shapes)."""
  conv1 = layers.conv_output_size(size, 9, 1, hparams.padding)
  primary = layers.conv_output_size(conv1, 9, 2, hparams.padding)
  types = hparams.num_prime_capsules
  capsules = types * max(primary, 0) ** 2
  params = (81 * depth * conv1_channels + conv1_channels +
            81 * conv1_channels * types * primary_atoms +
            types * primary_atoms +
            capsules * primary_atoms * classes * digit_atoms +
            classes * digit_atoms)
  if hparams.remake:
    widths = (digit_atoms * classes,) + tuple(decoder_sizes) + (
        size * size * depth,)
    params += sum(a * b + b for a, b in zip(widths, widths[1:]))
  votes = batch * capsules * classes * digit_atoms * 4
  return Footprint(capsules, votes, params, int(
      RUNTIME_BYTES + BYTES_PER_PARAM * params + VOTE_COPIES * votes))


def baseline_footprint(hparams, size, depth, classes, batch, *,
                       conv_channels=(512, 256), fc_size=1024):
  """The baseline CNN's footprint (models/conv_model.py's shapes): its
  parameters and first convolution's activations (kept for the backward
  pass, with their ReLU and pooling)."""
  first, second = conv_channels
  out = size
  maps = []
  for _ in range(2):
    out = layers.conv_output_size(out, 5, 1, hparams.padding)
    maps.append(out)
    out = layers.conv_output_size(out, 2, 2, 'SAME')
  params = (25 * depth * first + first + 25 * first * second + second +
            out * out * second * fc_size + fc_size +
            fc_size * classes + classes)
  activations = batch * 4 * 3 * (maps[0] ** 2 * first + maps[1] ** 2 * second)
  return Footprint(0, 0, params, int(
      RUNTIME_BYTES + BYTES_PER_PARAM * params + activations))


FOOTPRINTS = {'capsule': capsule_footprint, 'baseline': baseline_footprint}


def bytes_text(count):
  """'94 MB', '2.3 GB'."""
  if count < GIB:
    return '%d MB' % round(count / 2 ** 20)
  return '%.1f GB' % (count / GIB)


def describe(footprint, batch):
  """'N primary capsules, a vote tensor of X at batch B, about Y a training
  step' (the baseline: its parameters and the step)."""
  step = 'about %s a training step' % bytes_text(footprint.step_bytes)
  if not footprint.primary_capsules:
    return '%d parameters, %s' % (footprint.params, step)
  return ('%d primary capsules, a vote tensor of %s at batch %d, %s' %
          (footprint.primary_capsules, bytes_text(footprint.votes_bytes),
           batch, step))
