"""A local cache of decoded images: one file per data and options, reused by
later runs, made anew when the data changes.

The key is a hash of what was read (for a folder: every image's path, size
and modification time) and of the options that shape the arrays; the file
holds the arrays and a JSON header, written under a temporary name and
renamed when whole (a run killed while writing leaves no cache, only its
temporary file, removed). A cache that does not read back is rebuilt.
"""

import hashlib
import json
import os

from absl import logging
import numpy as np

VERSION = 1  # Of the layout; part of the key.


def key_of(description):
  """A short hash of a JSON-able description of the data and options."""
  text = json.dumps([VERSION, description], sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:24]


def path_of(cache_dir, prefix, key):
  return os.path.join(cache_dir, '%s-%s.npz' % (prefix, key))


def load(path):
  """(arrays dict, header dict) of a cache file, or None if there is none
  or it does not read back whole."""
  if not path or not os.path.isfile(path):
    return None
  try:
    with np.load(path, allow_pickle=False) as data:
      arrays = {k: data[k] for k in data.files}
    header = json.loads(bytes(arrays.pop('header')).decode())
  except (OSError, ValueError, KeyError) as e:  # Damaged: rebuilt.
    del e
    return None
  return arrays, header


def save(path, arrays, header):
  """Writes arrays and header to path whole (or not at all); returns path.
  An unwritable cache directory is not an error of the run: None."""
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = '%s.tmp-%d' % (path, os.getpid())
    try:
      with open(temporary, 'wb') as f:
        np.savez(f, header=np.frombuffer(json.dumps(header).encode(),
                                         np.uint8), **arrays)
      os.replace(temporary, path)
    finally:
      if os.path.lexists(temporary):
        os.remove(temporary)
  except OSError:
    return None
  return path


def cached(cache_dir, prefix, description, build, describe):
  """(arrays, header) of build() (-> the same pair), from the cache file of
  description in cache_dir when there is one that reads back, else built
  and saved there (cache_dir None: built, not saved)."""
  path = cache_dir and path_of(cache_dir, prefix, key_of(description))
  found = load(path)
  if found:
    logging.info('%s: read from the cache %s', describe, path)
    return found
  arrays, header = build()
  if path and not save(path, arrays, header):
    logging.warning('%s: cannot write the cache (the images are decoded '
                    'again next time)', path)
  return arrays, header
