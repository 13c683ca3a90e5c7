"""Tests of common/files.py: files written whole or not at all."""

import os

import tensorflow as tf

from common import files


class FilesTest(tf.test.TestCase):

  def test_a_file_write_that_fails_keeps_the_old_file(self):
    out = self.create_tempdir().full_path
    path = os.path.join(out, 'model.tflite')
    files.write_whole(path, b'old')
    # The temporary name, pointed at /dev/full: a real ENOSPC.
    os.symlink('/dev/full', '%s.tmp-%d' % (path, os.getpid()))
    with self.assertRaises(OSError):
      files.write_whole(path, b'new' * 100000)
    with open(path, 'rb') as f:
      self.assertEqual(f.read(), b'old')
    self.assertEqual(os.listdir(out), ['model.tflite'])

  def test_several_files_are_renamed_only_when_the_block_ends_well(self):
    out = self.create_tempdir().full_path
    paths = [os.path.join(out, name) for name in ('a', 'b')]
    for path in paths:
      files.write_whole(path, 'old ' + path[-1])
    with self.assertRaisesRegex(ValueError, 'stopped'):
      with files.replaced_together(paths) as temporaries:
        self.assertEqual(temporaries, ['%s.tmp-%d' % (p, os.getpid())
                                       for p in paths])
        for temporary in temporaries:
          with open(temporary, 'w') as f:
            f.write('new')
        raise ValueError('stopped')
    self.assertEqual(sorted(os.listdir(out)), ['a', 'b'])
    with files.replaced_together(paths) as temporaries:
      for temporary, name in zip(temporaries, 'ab'):
        with open(temporary, 'w') as f:
          f.write('new ' + name)
      with open(paths[0]) as f:
        self.assertEqual(f.read(), 'old a')  # Not yet: the block runs.
    for path in paths:
      with open(path) as f:
        self.assertEqual(f.read(), 'new ' + path[-1])
    self.assertEqual(sorted(os.listdir(out)), ['a', 'b'])

  def test_text_and_the_time_stamp(self):
    path = os.path.join(self.create_tempdir().full_path, 'a.txt')
    files.write_whole(path, 'text\n')
    with open(path) as f:
      self.assertEqual(f.read(), 'text\n')
    self.assertRegex(files.utc_time(),
                     r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$')


if __name__ == '__main__':
  tf.test.main()
