"""The public surface of the packages, and the import boundary of the engine."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mira_vectorstores.engine
import mira_vectorstores.langchain

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_ALL = ["MiraCollectionsRetriever", "MiraRetriever", "MiraVectorStore"]


def test_langchain_all_is_frozen():
    assert sorted(mira_vectorstores.langchain.__all__) == EXPECTED_ALL
    for name in EXPECTED_ALL:
        assert getattr(mira_vectorstores.langchain, name).__name__ == name


def _modules_after_import(*modules: str) -> list[str]:
    code = f"import json, sys\nfor m in {list(modules)!r}: __import__(m)\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_engine_and_package_root_import_no_framework():
    loaded = _modules_after_import("mira_vectorstores.engine", "mira_vectorstores")
    assert "mira_vectorstores.engine" in loaded  # the check ran on a real import
    frameworks = [m for m in loaded if m.startswith(("langchain", "llama_index"))]
    assert frameworks == []
    assert not any(m.startswith(("mira_vectorstores.langchain", "mira_vectorstores.llama_index")) for m in loaded)


@pytest.mark.parametrize(("adapter", "other"), [("mira_vectorstores.langchain", "llama_index")])
def test_langchain_adapter_does_not_import_llama_index(adapter, other):
    loaded = _modules_after_import(adapter)
    assert "langchain_core" in loaded
    assert [m for m in loaded if m.startswith(other) or m.startswith("mira_vectorstores.llama_index")] == []


def test_langchain_adapter_imports_only_public_engine_names():
    sources = sorted(Path(mira_vectorstores.langchain.__file__).parent.glob("*.py"))
    assert len(sources) >= 4
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level == 0, f"{source.name}: relative import"
                assert not module.startswith("mira_vectorstores.engine."), f"{source.name} imports {module}"
                assert not module.startswith(("llama_index", "mira_vectorstores.llama_index")), source.name
                if module == "mira_vectorstores.engine":
                    private = {alias.name for alias in node.names} - set(mira_vectorstores.engine.__all__)
                    assert not private, f"{source.name} imports non-public engine names {private}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(("llama_index", "mira_vectorstores.engine.")), source.name


def test_langchain_modules_stay_small():
    for source in Path(mira_vectorstores.langchain.__file__).parent.glob("*.py"):
        assert len(source.read_text().splitlines()) <= 400, source.name
