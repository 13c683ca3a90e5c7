"""A reader of MATLAB 5/7 .mat files (the format of the affNIST files).

Enough of the format for data sets: numeric arrays of every class, char
arrays, cells and structs, with or without zlib compression (v7's
miCOMPRESSED), little- or big-endian. No scipy needed.

Layout: a 128-byte header (text, subsystem offset, version 0x0100, endian
indicator 'IM'/'MI'), then data elements. An element is a tag (type, byte
count; or the "small element" form with both in 4 bytes and up to 4 data
bytes) followed by its data, padded to 8 bytes. A variable is an miMATRIX
element holding: array flags (class), dimensions, name, then the data (real
part [, imaginary part]; struct: field name length, names, one miMATRIX per
field and element; cell: one miMATRIX per element), column-major.
"""

import zlib

import numpy as np

from input_data.idx import DataError
from input_data.idx import read_bytes

MI_TYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4', 7: 'f4',
            9: 'f8', 12: 'i8', 13: 'u8', 16: 'u1', 17: 'u2', 18: 'u4'}
MI_MATRIX, MI_COMPRESSED = 14, 15
MX_CELL, MX_STRUCT, MX_OBJECT, MX_CHAR, MX_SPARSE = 1, 2, 3, 4, 5
MX_NUMERIC = {6: 'f8', 7: 'f4', 8: 'i1', 9: 'u1', 10: 'i2', 11: 'u2',
              12: 'i4', 13: 'u4', 14: 'i8', 15: 'u8'}
_COMPLEX_FLAG = 0x0800


class _Reader:
  """Parses the data elements of one file."""

  def __init__(self, path, endian):
    self.path = path
    self.endian = endian

  def fail(self, message):
    raise DataError('%s: %s' % (self.path, message))

  def elements(self, buf):
    """Yields (type, data bytes) of the elements in buf."""
    pos = 0
    while pos + 8 <= len(buf):
      first, second = np.frombuffer(buf, self.endian + 'u4', 2, pos)
      first, second = int(first), int(second)
      if first >> 16:  # Small element: count in the upper half, 4 data bytes.
        kind, nbytes = first & 0xFFFF, first >> 16
        if nbytes > 4:
          self.fail('bad small data element at byte %d' % pos)
        yield kind, buf[pos + 4:pos + 4 + nbytes]
        pos += 8
        continue
      kind, nbytes = first, second
      if pos + 8 + nbytes > len(buf):
        self.fail('truncated data element at byte %d (%d bytes announced, '
                  '%d left)' % (pos, nbytes, len(buf) - pos - 8))
      yield kind, buf[pos + 8:pos + 8 + nbytes]
      pos += 8 + nbytes
      if kind != MI_COMPRESSED:
        pos += -nbytes % 8

  def numbers(self, kind, data):
    if kind not in MI_TYPES:
      self.fail('unsupported data type %d' % kind)
    return np.frombuffer(data, self.endian + MI_TYPES[kind])

  def variables(self, buf):
    """Yields (name, value) of the variables in buf."""
    for kind, data in self.elements(buf):
      if kind == MI_COMPRESSED:
        try:
          inner = zlib.decompress(data)
        except zlib.error as e:
          self.fail('corrupt compressed element (%s)' % e)
        yield from self.variables(inner)
      elif kind == MI_MATRIX:
        yield self.matrix(data)
      else:
        self.fail('unexpected top-level data type %d' % kind)

  def matrix(self, data):
    """One miMATRIX -> (name, value)."""
    if not data:  # An empty matrix.
      return '', np.zeros([0, 0])
    parts = list(self.elements(data))
    if len(parts) < 3:
      self.fail('miMATRIX with %d sub-elements' % len(parts))
    flags = self.numbers(*parts[0])
    mx_class, is_complex = int(flags[0]) & 0xFF, int(flags[0]) & _COMPLEX_FLAG
    dims = [int(d) for d in self.numbers(*parts[1])]
    name = bytes(parts[2][1]).decode('ascii', 'replace')
    rest = parts[3:]
    count = int(np.prod(dims))
    if mx_class in MX_NUMERIC:
      if not rest:
        self.fail('numeric array %r without data' % name)
      value = self.numbers(*rest[0]).astype(MX_NUMERIC[mx_class])
      if value.size != count:
        self.fail('array %r has %d values for dimensions %s' %
                  (name, value.size, dims))
      if is_complex:
        value = value + 1j * self.numbers(*rest[1]).astype(value.dtype)
      return name, value.reshape(dims, order='F')
    if mx_class == MX_CHAR:
      chars = self.numbers(*rest[0]) if rest else np.zeros([0], 'u2')
      text = ''.join(map(chr, chars.reshape(dims, order='F').T.ravel()))
      return name, text
    if mx_class == MX_CELL:
      cells = [self.matrix(d)[1] for _, d in rest]
      return name, cells
    if mx_class == MX_STRUCT:
      length = int(self.numbers(*rest[0])[0])
      raw = bytes(rest[1][1])
      fields = [raw[i:i + length].split(b'\0')[0].decode('ascii')
                for i in range(0, len(raw), length)]
      values = [self.matrix(d)[1] for _, d in rest[2:]]
      if len(values) != count * len(fields):
        self.fail('struct %r has %d values for %d fields x %d elements' %
                  (name, len(values), len(fields), count))
      elements = [dict(zip(fields, values[i * len(fields):
                                          (i + 1) * len(fields)]))
                  for i in range(count)]
      return name, elements[0] if count == 1 else elements
    self.fail('unsupported array class %d in %r (sparse or object)' %
              (mx_class, name))


def read_mat(path):
  """{variable name: value} of a MATLAB 5/7 .mat file (raw or .gz).

  Numeric arrays come back with their MATLAB shape and class; a 1x1 struct
  as {field: value}; cells as lists; char arrays as str.
  """
  data = read_bytes(path)
  if len(data) < 128:
    raise DataError('%s: too short for a MATLAB 5 file header' % path)
  indicator = data[126:128]
  if indicator == b'IM':
    endian = '<'
  elif indicator == b'MI':
    endian = '>'
  else:
    raise DataError('%s: not a MATLAB 5/7 .mat file (endian indicator %r; '
                    'v7.3 HDF5 files are not supported)' % (path, indicator))
  reader = _Reader(path, endian)
  return dict(reader.variables(memoryview(data)[128:]))
