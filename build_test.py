"""Checks BUILD against the tree, since Bazel cannot run offline here.

Every Python file is in some target's srcs, every *_test.py is a py_test,
srcs exist, deps name targets of this BUILD, and each project module a file
imports is provided by its own target or a transitive dependency.
"""

import ast
import glob
import os
import subprocess
import sys
import unittest

from source_tree import project_imports
from source_tree import python_files

ROOT = os.path.dirname(os.path.abspath(__file__))


def load_build(path):
  """{target name: {'kind', 'srcs', 'deps'}} from a Starlark BUILD file."""
  targets = {}

  def rule(kind):
    def record(name, srcs=(), deps=(), **unused_kwargs):
      if name in targets:
        raise ValueError('target %s defined twice' % name)
      targets[name] = {'kind': kind, 'srcs': list(srcs), 'deps': list(deps)}
    return record
  env = {'py_library': rule('py_library'), 'py_binary': rule('py_binary'),
         'py_test': rule('py_test'), 'package': lambda **kw: None,
         'licenses': lambda *a: None,
         'glob': lambda patterns: sorted(
             f for p in patterns for f in glob.glob(os.path.join(ROOT, p)))}
  with open(path) as f:
    exec(compile(f.read(), path, 'exec'), env)  # pylint: disable=exec-used
  return targets


class BuildTest(unittest.TestCase):

  def setUp(self):
    self.targets = load_build(os.path.join(ROOT, 'BUILD'))

  def test_every_python_file_is_in_a_target(self):
    in_srcs = {s for t in self.targets.values() for s in t['srcs']}
    missing = [f for f in python_files() if f not in in_srcs]
    self.assertEqual(missing, [], 'files in no BUILD target')

  def test_srcs_exist_and_tests_are_py_tests(self):
    for name, target in self.targets.items():
      for src in target['srcs']:
        self.assertTrue(os.path.isfile(os.path.join(ROOT, src)),
                        '%s: %s does not exist' % (name, src))
    tests = {s for t in self.targets.values() if t['kind'] == 'py_test'
             for s in t['srcs']}
    for f in python_files():
      if f.endswith('_test.py'):
        self.assertIn(f, tests, '%s is not a py_test' % f)

  def test_deps_name_existing_library_targets(self):
    for name, target in self.targets.items():
      for dep in target['deps']:
        self.assertTrue(dep.startswith(':') and dep[1:] in self.targets,
                        '%s: dep %s is not a target of BUILD' % (name, dep))
        self.assertEqual(self.targets[dep[1:]]['kind'], 'py_library',
                         '%s depends on %s, not a py_library' % (name, dep))

  def test_imports_are_covered_by_deps(self):
    def closure(name, seen):
      if name not in seen:
        seen.add(name)
        for dep in self.targets[name]['deps']:
          closure(dep[1:], seen)
      return seen
    for name, target in self.targets.items():
      provided = {s for t in closure(name, set())
                  for s in self.targets[t]['srcs']}
      for src in target['srcs']:
        for imported in project_imports(src):
          self.assertIn(imported, provided,
                        '%s: %s imports %s, which no dep provides' %
                        (name, src, imported))

  def test_every_test_file_ends_with_its_main_block(self):
    # A test class after `if __name__ == '__main__': ...main()` never runs
    # when the file runs as a script or as a Bazel py_test.
    for f in python_files():
      if not f.endswith('_test.py'):
        continue
      with open(os.path.join(ROOT, f)) as source:
        last = ast.parse(source.read(), f).body[-1]
      self.assertTrue(
          isinstance(last, ast.If) and ast.unparse(last.test) ==
          "__name__ == '__main__'", '%s does not end with its __main__ '
          'block' % f)

  def test_all_modules_import_together(self):
    # One process, as pytest runs them: no module may define a flag (or
    # anything else global) that another defines.
    modules = [f[:-3].replace('/', '.') for f in python_files()
               if f != 'conftest.py']
    code = ('import sys; sys.path.insert(0, %r); import importlib\n'
            'for m in %r: importlib.import_module(m)' % (ROOT, modules))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, env=dict(os.environ,
                                              TF_CPP_MIN_LOG_LEVEL='3'))
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])


if __name__ == '__main__':
  unittest.main()
