"""Tests of the data scripts' one-line errors."""

import io
from unittest import mock

import tensorflow as tf

from input_data import errors


class ReportWritesTest(tf.test.TestCase):

  def test_paths_then_one_line_on_failure(self):
    for failure in (errors.DataError('/d/x: no such file'),
                    OSError('/d/x: no such file')):
      def write(failure=failure):
        yield '/out/a'
        raise failure
      with mock.patch('sys.stdout', new_callable=io.StringIO) as out:
        with self.assertRaises(SystemExit) as exited:
          errors.report_writes('tool.py', write)
      self.assertEqual(out.getvalue(), 'wrote /out/a\n')
      self.assertEqual(exited.exception.code, 'tool.py: /d/x: no such file')

  def test_every_path_when_all_goes_well(self):
    with mock.patch('sys.stdout', new_callable=io.StringIO) as out:
      errors.report_writes('tool.py', lambda: ['/out/a', '/out/b'])
    self.assertEqual(out.getvalue(), 'wrote /out/a\nwrote /out/b\n')

  def test_other_errors_are_not_turned_into_lines(self):
    def write():
      raise KeyError('a bug')
    with self.assertRaises(KeyError):
      errors.report_writes('tool.py', write)


if __name__ == '__main__':
  tf.test.main()
