"""BUILD is what dev/build_file.py writes from the tree, and it is right.

The generator is checked on a tiny tree (literal BUILD text); the committed
BUILD must equal its output for this tree, and is checked as Bazel would
see it, since Bazel cannot run offline here: every Python file is in some
target's srcs, every *_test.py is a py_test, srcs exist, deps name library
targets of this BUILD, and each project module a file imports is provided
by its own target or a transitive dependency.
"""

import ast
import glob
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

from dev import build_file
from dev.source_tree import project_imports
from dev.source_tree import python_files
from dev.source_tree import ROOT

TINY_TREE = {
    'pkg/__init__.py': '',
    'pkg/a.py': 'X = 1\n',
    'pkg/a_test.py': textwrap.dedent("""\
        import pytest
        from pkg import a
        @pytest.mark.slow
        def test():
          pass
        if __name__ == '__main__':
          pass
        """),
    'run.py': "from pkg import a\nif __name__ == '__main__':\n  pass\n",
    'run_test.py': "import run\nPROGRAM = 'run.py'\n",
}

TINY_BUILD = build_file.HEADER + textwrap.dedent('''
    py_library(
        name = "pkg_init",
        srcs = ["pkg/__init__.py"],
    )

    py_library(
        name = "pkg_a",
        srcs = ["pkg/a.py"],
        deps = [":pkg_init"],
    )

    py_test(
        name = "pkg_a_test",
        size = "large",
        srcs = ["pkg/a_test.py"],
        main = "pkg/a_test.py",
        deps = [
            ":pkg_a",
            ":pkg_init",
        ],
    )

    py_library(
        name = "run_lib",
        srcs = ["run.py"],
        deps = [":pkg_a"],
    )

    py_binary(
        name = "run",
        srcs = ["run.py"],
        deps = [":run_lib"],
    )

    py_test(
        name = "run_test",
        srcs = ["run_test.py"],
        data = [":run"],
        deps = [":run_lib"],
    )
    ''')


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


class GeneratorTest(unittest.TestCase):

  def test_a_tiny_tree(self):
    root = self.enterContext(tempfile.TemporaryDirectory())
    for path, text in TINY_TREE.items():
      os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
      with open(os.path.join(root, path), 'w') as f:
        f.write(text)
    self.assertEqual(build_file.render(root), TINY_BUILD)

  def test_the_committed_build_is_generated(self):
    proc = subprocess.run([sys.executable, '-m', 'dev.build_file', '--check'],
                          cwd=ROOT, capture_output=True, text=True)
    self.assertEqual((proc.returncode, proc.stderr), (0, ''))


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
