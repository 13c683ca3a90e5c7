"""A local cache of decoded images: one folder per data and options, reused
by later runs, made anew when the data changes.

The key is a hash of what was read (for a folder: every image's path, size
and modification time) and of the options that shape the arrays. The folder
holds one .npy file per array and header.json; it is written under a
temporary name and renamed when whole (a run killed while writing leaves
no cache, only its temporary folder, removed by the next run that writes
it). A cache that does not read back is rebuilt.

Arrays larger than a quarter of the machine's memory are never held in it:
they are decoded into their .npy file (memory-mapped) and read from there
as training asks for them (source.InMemorySource streams a np.memmap).
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile

from absl import logging
import numpy as np

VERSION = 2  # Of the layout; part of the key.
HEADER = 'header.json'


def key_of(description):
  """A short hash of a JSON-able description of the data and options."""
  text = json.dumps([VERSION, description], sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:24]


def path_of(cache_dir, prefix, key):
  return os.path.join(cache_dir, '%s-%s' % (prefix, key))


def memory_limit():
  """Bytes an array may take and still be held in memory: a quarter of the
  machine's."""
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 4


def load(path, limit=None):
  """(arrays dict, header dict) of a cache folder, or None if there is none
  or it does not read back whole. Arrays above limit bytes (default
  memory_limit()) stay memory-mapped."""
  limit = memory_limit() if limit is None else limit
  if not path or not os.path.isfile(os.path.join(path, HEADER)):
    return None
  try:
    with open(os.path.join(path, HEADER)) as f:
      header = json.load(f)
    arrays = {}
    for name in header['arrays']:
      mapped = np.load(os.path.join(path, name + '.npy'), mmap_mode='r',
                       allow_pickle=False)
      arrays[name] = mapped if mapped.nbytes > limit else np.array(mapped)
  except (OSError, ValueError, KeyError) as e:  # Damaged: rebuilt.
    del e
    return None
  return arrays, header


class Scratch:
  """Where build() puts arrays: in memory, or for one above the limit, a
  .npy file of the folder being written (memory-mapped)."""

  def __init__(self, directory, limit):
    self.directory = directory
    self.limit = limit

  def allocate(self, name, shape, dtype=np.uint8):
    """An array of shape for the cache's array `name`."""
    if self.directory and np.prod(shape) * np.dtype(dtype).itemsize > (
        self.limit):
      return np.lib.format.open_memmap(
          os.path.join(self.directory, name + '.npy'), 'w+', dtype,
          tuple(shape))
    return np.empty(shape, dtype)


@contextlib.contextmanager
def _writing(path):
  """A temporary folder beside path, renamed to path when the block ends
  without an error, else removed."""
  temporary = '%s.tmp-%d' % (path, os.getpid())
  shutil.rmtree(temporary, ignore_errors=True)
  os.makedirs(temporary)
  try:
    yield temporary
    if os.path.isdir(path):  # Another run made it meanwhile.
      shutil.rmtree(path)
    os.rename(temporary, path)
  finally:
    shutil.rmtree(temporary, ignore_errors=True)


def cached(cache_dir, prefix, description, build, describe, limit=None):
  """(arrays, header) of build(scratch) (-> the same pair), from the cache
  folder of description in cache_dir when there is one that reads back,
  else built and saved there. cache_dir None: built in memory, not saved
  (or, for an array above the limit, in a temporary folder)."""
  limit = memory_limit() if limit is None else limit
  path = cache_dir and path_of(cache_dir, prefix, key_of(description))
  found = load(path, limit)
  if found:
    logging.info('%s: read from the cache %s', describe, path)
    return found
  if not path:
    return build(Scratch(tempfile.mkdtemp(prefix='capsules-'), limit))
  try:
    os.makedirs(cache_dir, exist_ok=True)
    with _writing(path) as directory:
      arrays, header = build(Scratch(directory, limit))
      for name, array in arrays.items():
        if isinstance(array, np.memmap):  # Written in place.
          array.flush()
          target = os.path.join(directory, name + '.npy')
          if os.path.abspath(array.filename) != os.path.abspath(target):
            os.rename(array.filename, target)
        else:
          np.save(os.path.join(directory, name + '.npy'), array)
      with open(os.path.join(directory, HEADER), 'w') as f:
        json.dump(dict(header, arrays=sorted(arrays)), f)
  except OSError as e:
    logging.warning('%s: cannot write the cache (%s); the images are '
                    'decoded again next time', path, e)
    return build(Scratch(None, limit))
  return load(path, limit)
