"""The project's own Python files and the project files each imports, read
from their source (ast): what dev/build_file.py writes BUILD from and what
dev/mutation.py fingerprints. Imports nothing of the project."""

import ast
import os

# The project's root: this file's folder's parent.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = ('.venv', '.git', 'runs', 'mutants')


def python_files(root=ROOT):
  """Every .py file below root, relative to it, sorted."""
  found = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS
                   and not d.startswith('.')]
    found += [os.path.relpath(os.path.join(dirpath, f), root)
              for f in filenames if f.endswith('.py')]
  return sorted(found)


def project_imports(path, root=ROOT):
  """Root-relative paths of the project modules the file at path imports
  (anywhere in it: functions' imports too)."""
  with open(os.path.join(root, path)) as f:
    tree = ast.parse(f.read(), path)
  names = []
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names += [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names += [node.module] + ['%s.%s' % (node.module, a.name)
                                for a in node.names]
  candidates = {name.replace('.', '/') + '.py' for name in names}
  return {c for c in candidates if os.path.isfile(os.path.join(root, c))}
