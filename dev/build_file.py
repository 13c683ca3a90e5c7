"""Writes BUILD from the tree: one Bazel target per Python file.

  python -m dev.build_file        # rewrites BUILD
  python -m dev.build_file --check  # exit 1 if BUILD is not what it writes

Each file's target is named after its path (`runner/config.py` ->
`runner_config`); `*_test.py` is a py_test (size "large" if it has tests
marked slow), a file with a `__main__` block a py_binary, any other a
py_library. Its deps are the targets of the project
files it imports (`source_tree.project_imports`) and of its package's
`__init__.py`; a file that runs one of the project's programs by its file
name (`'experiment.py'`) has that program as data. The only hand-kept part
is DATA: the files other than Python each file reads.
"""

import ast
import os
import sys

from absl import app
from absl import flags

from common import files
from dev import source_tree

# Files other than Python a target reads (globs from the root).
DATA = {
    'experiment.py': ['data/mnist/*'],
    'input_data/idx_test.py': ['data/mnist/*'],
    'input_data/affnist/affnist_test.py': [
        'input_data/affnist/testdata/*.mat'],
    'shipped_checkpoint_test.py': ['checkpoints/mnist/*', 'data/mnist/*'],
    'dev/build_file_test.py': ['BUILD'],
    'dev/docs_test.py': ['*.md', 'docs/*.md', 'checkpoints/*.md'],
    'studies/report_test.py': ['README.md', 'docs/results/**'],
}

HEADER = '''\
# Bazel targets of the project, one per Python file. Generated from the
# imports by `python -m dev.build_file`: do not edit (dev/build_file_test.py
# fails when this file differs from what it writes).

package(default_visibility = ["//visibility:public"])

licenses(["notice"])
'''


def target_name(path):
  """`runner/config.py` -> `runner_config`; `models/__init__.py` ->
  `models_init`."""
  stem = path[:-len('.py')]
  if os.path.basename(stem) == '__init__':
    stem = os.path.dirname(stem) + '/init'
  return stem.replace('/', '_')


def _package_init(path, root):
  """The `__init__.py` of the package holding path, or None."""
  init = os.path.join(os.path.dirname(path), '__init__.py')
  if init == path or not os.path.isfile(os.path.join(root, init)):
    return None
  return init


def _parse(path, root):
  with open(os.path.join(root, path)) as f:
    return ast.parse(f.read(), path)


def _kind(path, tree):
  if path.endswith('_test.py'):
    return 'py_test'
  for node in tree.body:
    if (isinstance(node, ast.If) and
        ast.unparse(node.test) == "__name__ == '__main__'"):
      return 'py_binary'
  return 'py_library'


def _is_slow(tree):
  """Whether the source marks a test `pytest.mark.slow`."""
  return any(isinstance(node, ast.Attribute) and
             ast.unparse(node) == 'pytest.mark.slow' for node in ast.walk(tree))


def _programs_run(tree, programs):
  """The programs (file name -> path) whose file name the source names."""
  names = {node.value for node in ast.walk(tree)
           if isinstance(node, ast.Constant) and isinstance(node.value, str)}
  return {programs[n] for n in names if n in programs}


def targets(root=source_tree.ROOT):
  """[{'kind', 'name', 'path', 'size', 'main', 'data', 'deps'}] in the order
  of the files' paths: data is (program targets, globs). A program or test
  that other files import is also a py_library, NAME_lib, which they
  depend on (Bazel's deps are libraries)."""
  files = source_tree.python_files(root)
  trees = {path: _parse(path, root) for path in files}
  kinds = {path: _kind(path, trees[path]) for path in files}
  imports = {path: source_tree.project_imports(path, root) - {path}
             for path in files}
  imported = set().union(*imports.values())
  by_name = {}
  for path in files:
    if kinds[path] == 'py_binary':
      by_name.setdefault(os.path.basename(path), []).append(path)
  # A program is named by its file name only where that is unambiguous.
  programs = {n: paths[0] for n, paths in by_name.items() if len(paths) == 1}

  def library(path):
    name = target_name(path)
    return name if kinds[path] == 'py_library' else name + '_lib'

  result = []
  for path in files:
    name, kind = target_name(path), kinds[path]
    deps = set(imports[path])
    init = _package_init(path, root)
    if init:
      deps.add(init)
    deps = sorted(':' + library(d) for d in deps)
    if kind != 'py_library' and path in imported:
      result.append({'kind': 'py_library', 'name': library(path),
                     'path': path, 'size': None, 'main': None,
                     'data': ([], []), 'deps': deps})
      deps = [':' + library(path)]
    runs = _programs_run(trees[path], programs) - {path}
    slow = kind == 'py_test' and _is_slow(trees[path])
    result.append({
        'kind': kind, 'name': name, 'path': path,
        'size': 'large' if slow else None,
        # Bazel runs NAME.py unless told.
        'main': (path if kind != 'py_library' and
                 name + '.py' != os.path.basename(path) else None),
        'data': ([':' + target_name(p) for p in sorted(runs)],
                 DATA.get(path, [])),
        'deps': deps})
  return result


def _strings(values):
  """A Starlark list of strings inside a target: one line if one value."""
  if len(values) == 1:
    return '["%s"]' % values[0]
  return '[\n%s    ]' % ''.join('        "%s",\n' % v for v in values)


def render(root=source_tree.ROOT):
  """The text of BUILD for the tree at root."""
  blocks = [HEADER]
  for t in targets(root):
    lines = ['%s(' % t['kind'], '    name = "%s",' % t['name']]
    if t['size']:
      lines.append('    size = "%s",' % t['size'])
    lines.append('    srcs = ["%s"],' % t['path'])
    if t['main']:
      lines.append('    main = "%s",' % t['main'])
    data_targets, data_globs = t['data']
    data = []
    if data_targets:
      data.append(_strings(data_targets))
    if data_globs:
      data.append('glob(%s)' % _strings(data_globs))
    if data:
      lines.append('    data = %s,' % ' + '.join(data))
    if t['deps']:
      lines.append('    deps = %s,' % _strings(t['deps']))
    lines.append(')')
    blocks.append('\n'.join(lines) + '\n')
  return '\n'.join(blocks)


FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_bool('check', False, 'Write nothing; exit 1 if BUILD is not '
                    'what this program would write.')


def main(argv):
  del argv
  path = os.path.join(source_tree.ROOT, 'BUILD')
  text = render()
  if FLAGS.check:
    with open(path) as f:
      if f.read() != text:
        sys.exit('BUILD is not generated from the tree: run python -m '
                 'dev.build_file')
    return
  files.write_whole(path, text)


if __name__ == '__main__':
  define_flags()
  app.run(main)
