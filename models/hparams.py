"""Typed hyper-parameters of the capsule and baseline models.

The original used `tf.contrib.training.HParams`; this is one frozen dataclass
with the same keys and defaults (the original experiment.py's
`default_hparams`). `parse` takes the
original `--hparams_override` syntax, `key=value,key=value`, and rejects
unknown keys, values of the wrong type and values out of range with one
message that names the key.
"""

import dataclasses
from typing import Any

LOSS_TYPES = ('margin', 'softmax', 'sigmoid')
# The authors' --hparams_override per dataset (their README's commands);
# they gave none for the others. Not applied by itself, as the original.
PAPER_OVERRIDES = {
    'cifar10': 'num_prime_capsules=64,padding=SAME,leaky=true,remake=false',
}
PADDINGS = ('VALID', 'SAME')


class HParamsError(ValueError):
  """An override names an unknown key or gives it a bad value."""


@dataclasses.dataclass(frozen=True)
class HParams:
  """Model and optimiser settings; defaults are the original's."""
  decay_rate: float = 0.96
  decay_steps: int = 2000
  leaky: bool = False
  learning_rate: float = 0.001
  loss_type: str = 'margin'
  num_prime_capsules: int = 32
  padding: str = 'VALID'
  remake: bool = True
  routing: int = 3
  verbose: bool = False

  def __post_init__(self):
    checks = (
        ('decay_rate', 0.0 < self.decay_rate <= 1.0, 'in (0, 1]'),
        ('decay_steps', self.decay_steps > 0, '> 0'),
        ('learning_rate', self.learning_rate > 0.0, '> 0'),
        ('loss_type', self.loss_type in LOSS_TYPES, 'one of %s' % (LOSS_TYPES,)),
        ('num_prime_capsules', self.num_prime_capsules > 0, '> 0'),
        ('padding', self.padding in PADDINGS, 'one of %s' % (PADDINGS,)),
        ('routing', self.routing >= 1, '>= 1'),
    )
    for key, ok, expected in checks:
      if not ok:
        raise HParamsError('hparams: %s=%r is invalid, expected %s' %
                           (key, getattr(self, key), expected))

  def parse(self, overrides: str) -> 'HParams':
    """Returns a copy with `key=value,key=value` applied, left to right."""
    return dataclasses.replace(self, **_parse_overrides(overrides))

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def default_hparams(model_name: str = 'capsule') -> HParams:
  """The original defaults, one set for both models, as its experiment.py had:
  the baseline CNN too trains with the margin loss unless overridden (the
  paper's cross-entropy baseline is `--hparams_override=loss_type=softmax`)."""
  if model_name in ('capsule', 'baseline'):
    return HParams()
  raise ValueError('unknown model %r: expected capsule or baseline' %
                   (model_name,))


def _convert(key: str, text: str, kind: type) -> Any:
  """Converts one override value to the declared type of `key`, strictly."""
  value = text.strip()
  if kind is bool:
    if value.lower() in ('true', '1'):
      return True
    if value.lower() in ('false', '0'):
      return False
  elif kind is int:
    try:
      return int(value)
    except ValueError:
      pass
  elif kind is float:
    try:
      return float(value)
    except ValueError:
      pass
  else:  # str: the only other declared type.
    if value:
      return value
  raise HParamsError('hparams_override: %s=%r is not a valid %s' %
                     (key, value, kind.__name__))


def _parse_overrides(overrides: str) -> dict[str, Any]:
  fields = {f.name: f.type for f in dataclasses.fields(HParams)}
  kinds = {'bool': bool, 'int': int, 'float': float, 'str': str}
  parsed = {}
  for item in (overrides or '').split(','):
    if not item.strip():
      continue
    if '=' not in item:
      raise HParamsError(
          'hparams_override: %r is not of the form key=value' % item.strip())
    key, value = (part.strip() for part in item.split('=', 1))
    if key not in fields:
      raise HParamsError('hparams_override: unknown key %r; known keys: %s' %
                         (key, ', '.join(sorted(fields))))
    kind = fields[key]
    kind = kinds[kind] if isinstance(kind, str) else kind
    parsed[key] = _convert(key, value, kind)
  return parsed
