"""The documentation is checked against the tree: every Markdown file's
commands name scripts and flags that exist, its `pytest` commands select
tests, the repository paths it names exist, and its prose lines are short.

Static checks (no program is run), so they take a second.
"""

import ast
import glob
import os
import re
import shlex
import subprocess
import unittest

from runner import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # The root.
_SKIP_DIRS = {'.git', '.venv', 'runs', 'mutants', '.pytest_cache'}
# absl's own flags, which every absl program accepts.
ABSL_FLAGS = {'help', 'helpfull', 'helpshort', 'helpxml', 'flagfile', 'undefok',
              'logtostderr', 'alsologtostderr', 'log_dir', 'verbosity', 'v',
              'stderrthreshold', 'showprefixforinfo', 'only_check_args',
              'pdb_post_mortem', 'pdb', 'run_with_pdb', 'run_with_profiling',
              'profile_file', 'use_cprofile_for_profiling', 'logger_levels'}
MAX_LINE = 120


def markdown_files():
  found = []
  for dirpath, dirnames, filenames in os.walk(ROOT):
    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
    found += [os.path.relpath(os.path.join(dirpath, f), ROOT)
              for f in sorted(filenames) if f.endswith('.md')]
  return found


def top_level_entries():
  """The tracked top-level names (what a repository path starts with)."""
  listed = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True,
                          text=True).stdout.split()
  return {path.split('/')[0] for path in listed} or set(os.listdir(ROOT))


def code_blocks_and_prose(text):
  """(lines inside ``` blocks, the other lines)."""
  code, prose, inside = [], [], False
  for line in text.splitlines():
    if line.strip().startswith('```'):
      inside = not inside
      continue
    (code if inside else prose).append(line)
  return code, prose


def commands(text):
  """Every command line of the text: the code blocks' lines (continuations
  joined, comments dropped) and inline code spans, split at && ; | &."""
  code, prose = code_blocks_and_prose(text)
  joined = '\n'.join(code).replace('\\\n', ' ')
  lines = [l.split(' #')[0] for l in joined.splitlines()
           if not l.lstrip().startswith('#')]
  lines += re.findall(r'`([^`]+)`', '\n'.join(prose))
  parts = []
  for line in lines:
    parts += re.split(r'\s*(?:&&|;|\|\||\||&(?!\w))\s*', line)
  return [p.strip() for p in parts if p.strip()]


def defined_flags(script):
  """The flags a script defines: absl DEFINE_*('name', ...) and argparse
  add_argument('--name'), read from its source."""
  with open(os.path.join(ROOT, script)) as f:
    source = f.read()
  names = set(re.findall(r"DEFINE_\w+\(\s*'(\w+)'", source))
  names |= set(re.findall(r"add_argument\(\s*'--(\w+)'", source))
  # The shared flags it takes: command_line.define('model', 'xla', ...),
  # and those of one's own images (*command_line.OWN_DATA).
  for call in re.findall(r"command_line\.define\(([^)]*)\)", source):
    names |= set(re.findall(r"'(\w+)'", call))
    if '*command_line.OWN_DATA' in call:
      names |= set(command_line.OWN_DATA)
  return names


def script_flags(command):
  """(script, [flag names]) of a `python SCRIPT.py --flag=...` command, or
  of `python -m PACKAGE.MODULE --flag=...` for a module of this project
  (script: PACKAGE/MODULE.py); None if the command runs neither."""
  module = re.search(r'(?:^|\s|/)python3?\s+-m\s+(\w+\.[\w.]+)(.*)', command)
  if module:
    script = module.group(1).replace('.', '/') + '.py'
    if os.path.isfile(os.path.join(ROOT, script)):
      return script, re.findall(r'(?:^|\s|\[)--(\w+)', module.group(2))
  match = re.search(r'(?:^|\s|/)python3?\s+(?:-m\s+\S+\s+)?(\S+\.py)\b(.*)',
                    command)
  if not match:
    return None
  script = match.group(1)
  flags = re.findall(r'(?:^|\s|\[)--(\w+)', match.group(2))
  return script, flags


def pytest_selection(command):
  """(paths, -k expression or None) of a `pytest ...` command, or None."""
  match = re.search(r'(?:^|\s)(?:python3?\s+-m\s+)?pytest(?:\s|$)(.*)',
                    command)
  if not match:
    return None
  try:
    tokens = shlex.split(match.group(1))
  except ValueError:
    tokens = match.group(1).split()
  paths, expression, skip = [], None, False
  for i, token in enumerate(tokens):
    if skip:
      skip = False
    elif token in ('-k', '-m'):
      if token == '-k' and i + 1 < len(tokens):
        expression = tokens[i + 1]
      skip = True
    elif not token.startswith('-'):
      paths.append(token.split('::')[0])
  return paths, expression


def names_of_tests(path):
  """'file class function' strings of the tests in a test file."""
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read(), path)
  names = []
  base = os.path.basename(path)
  for node in tree.body:
    if isinstance(node, ast.ClassDef):
      names += ['%s %s %s' % (base, node.name, m.name) for m in node.body
                if isinstance(m, ast.FunctionDef)
                and m.name.startswith('test')]
    elif isinstance(node, ast.FunctionDef) and node.name.startswith('test'):
      names.append('%s %s' % (base, node.name))
  return names


def matches(expression, name):
  """pytest -k: case-insensitive substrings joined by and, or, not."""
  python = re.sub(r'[\w.\[\]-]+', lambda m: (
      m.group(0) if m.group(0) in ('and', 'or', 'not') else
      repr(m.group(0).lower() in name.lower())), expression)
  return eval(python)  # pylint: disable=eval-used


def named_paths(text, top_level):
  """Repository paths the text names in code spans: those starting with a
  tracked top-level name and a slash, without placeholders."""
  _, prose = code_blocks_and_prose(text)
  found = set()
  for span in re.findall(r'`([^`\s]+)`', '\n'.join(prose)):
    span = span.rstrip('/.,:')
    first = span.split('/')[0]
    if ('/' in span and first in top_level and
        not re.search(r'[*{}<>\[\]]|\.\.\.|[A-Z]{2,}', span)):
      found.add(span)
  return found


def path_exists(path):
  full = os.path.join(ROOT, path)
  return os.path.exists(full) or bool(glob.glob(full + '.*'))


class DocsTest(unittest.TestCase):

  def setUp(self):
    self.files = markdown_files()
    self.top_level = top_level_entries()

  def pages(self):
    """(path, text) of each Markdown file."""
    for path in self.files:
      with open(os.path.join(ROOT, path)) as f:
        yield path, f.read()

  def page_commands(self, parse):
    """(page, command, parse(command)) wherever parse finds something."""
    for path, text in self.pages():
      for command in commands(text):
        found = parse(command)
        if found:
          yield path, command, found

  def test_there_are_docs(self):
    self.assertIn('README.md', self.files)
    self.assertIn('docs/compatibility.md', self.files)

  def test_every_page_is_linked_from_the_readme(self):
    with open(os.path.join(ROOT, 'README.md')) as f:
      links = set(re.findall(r'\]\(([^)#]+)', f.read()))
    pages = [f for f in self.files if f.startswith('docs/')]
    self.assertEqual([p for p in pages if p not in links], [])

  def test_scripts_and_flags_exist(self):
    for path, command, (script, flags) in self.page_commands(script_flags):
      self.assertTrue(os.path.isfile(os.path.join(ROOT, script)),
                      '%s: %s names %s, which does not exist' % (
                          path, command, script))
      known = defined_flags(script) | ABSL_FLAGS
      for flag in flags:
        self.assertTrue(
            flag in known or (flag.startswith('no') and flag[2:] in known),
            '%s: --%s is not a flag of %s (in: %s)' % (path, flag, script,
                                                       command))

  def test_pytest_commands_select_tests(self):
    for path, command, (paths, expression) in self.page_commands(
        pytest_selection):
      names = []
      for test_path in paths:
        self.assertTrue(os.path.exists(os.path.join(ROOT, test_path)),
                        '%s: %s names %s, which does not exist' % (
                            path, command, test_path))
        if test_path.endswith('.py'):
          names += names_of_tests(test_path)
      if expression and names:
        self.assertTrue(any(matches(expression, n) for n in names),
                        '%s: %s selects no test' % (path, command))

  def test_named_paths_and_links_exist(self):
    for path, text in self.pages():
      for named in named_paths(text, self.top_level):
        file_path, *test_id = named.split('::')
        self.assertTrue(path_exists(file_path), '%s names %s, which does '
                        'not exist' % (path, named))
        if test_id:  # A test id: its class (and test) must exist.
          self.assertTrue(any(n.split(' ')[1:1 + len(test_id)] == test_id
                              for n in names_of_tests(file_path)),
                          '%s names %s, which is no test' % (path, named))
      for link in re.findall(r'\]\(([^)#\s]+)', text):
        if not re.match(r'\w+://', link):
          target = os.path.normpath(os.path.join(os.path.dirname(path), link))
          self.assertTrue(path_exists(target), '%s links to %s, which does '
                          'not exist' % (path, link))

  def test_prose_lines_are_short(self):
    for path, text in self.pages():
      _, prose = code_blocks_and_prose(text)
      for line in prose:
        if not line.lstrip().startswith('|'):  # Tables may be wide.
          self.assertLessEqual(len(line), MAX_LINE, '%s: %s' % (path, line))


if __name__ == '__main__':
  unittest.main()
