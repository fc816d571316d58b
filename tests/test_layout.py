"""The README's Development tree lists exactly the package's modules, at their places."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mira_vectorstores"


def _tree_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    development = readme[readme.index("## Development") :]
    block = re.search(r"```\n(mira_vectorstores/\n.*?)```", development, flags=re.DOTALL)
    assert block is not None, "README's Development section has no tree starting at mira_vectorstores/"
    return block.group(1).splitlines()


def _modules_in_tree() -> set[str]:
    """Module paths (relative to the repository) named by the tree, from its indentation."""
    stack: list[tuple[int, str]] = []
    modules: set[str] = set()
    for line in _tree_block():
        indent = len(line) - len(line.lstrip(" "))
        names = line.split()
        if not names:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = "/".join(name for _, name in stack)
        if names[0].endswith("/"):
            stack.append((indent, names[0].rstrip("/")))
            continue
        # One file with its comment, or several files of one folder on one line.
        files = [n for n in names if n.endswith(".py")] if all(n.endswith(".py") for n in names) else names[:1]
        modules.update(f"{parent}/{name}" for name in files if name.endswith(".py"))
    return modules


def _modules_on_disk() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        # Adapters' and data's __init__ only re-export or hold data; the engine's and the root's are listed.
        if path.name == "__init__.py" and path.parent not in (PACKAGE, PACKAGE / "engine"):
            continue
        found.add(relative)
    return found


def test_readme_tree_lists_every_module_and_no_other():
    in_tree, on_disk = _modules_in_tree(), _modules_on_disk()
    assert in_tree - on_disk == set(), "the README's tree names modules that do not exist"
    assert on_disk - in_tree == set(), "modules missing from the README's tree"


def test_every_engine_subpackage_says_its_job():
    for package in sorted(p for p in (PACKAGE / "engine").iterdir() if (p / "__init__.py").exists()):
        docstring = (package / "__init__.py").read_text().strip()
        assert docstring.startswith('"""'), f"{package.name}/__init__.py has no docstring"
        assert len(docstring.splitlines()) == 1, f"{package.name}/__init__.py: one line saying its job"
