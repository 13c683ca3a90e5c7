"""A plain PyTorch CapsNet and its training loop: the reference that
benchmark.py --compare_pytorch times ours against.

Written without any of this project's model code, as a user would write
the MNIST CapsNet in PyTorch; benchmark_test.py loads it with our model's
weights (by the authors' TF1 names) and checks it gives our scores and
reconstructions. Needs torch (requirements-dev.txt); returns None without.
"""

import os
import time


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
  from input_data import source  # pylint: disable=g-import-not-at-top
  features = source.synthetic_batch(batch_size,
                                    source.DatasetInfo(28, 1, 10, 1))
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
