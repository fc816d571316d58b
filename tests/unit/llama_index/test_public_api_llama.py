"""The public surface of mira_vectorstores.llama_index and its import boundaries."""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import mira_vectorstores.llama_index as adapter

EXPECTED_ALL = ["MiraCollectionsRetriever", "MiraRetriever", "MiraVectorStore"]
ADAPTER_DIR = Path(adapter.__file__).parent


def test_all() -> None:
    assert sorted(adapter.__all__) == EXPECTED_ALL
    for name in EXPECTED_ALL:
        assert getattr(adapter, name).__module__.startswith("mira_vectorstores.llama_index.")


def test_adapter_imports_only_the_engines_public_names() -> None:
    for source in sorted(ADAPTER_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert node.level == 0, f"{source.name}: relative import"
                assert not module.startswith("mira_vectorstores.engine."), f"{source.name} imports {module}"
                assert not module.startswith(("langchain", "mira_vectorstores.langchain")), source.name
                if module == "mira_vectorstores.engine":
                    import mira_vectorstores.engine as engine

                    missing = {alias.name for alias in node.names} - set(engine.__all__)
                    assert not missing, f"{source.name} imports non-public engine names {missing}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith(("langchain", "mira_vectorstores.engine.")), source.name


def test_engine_and_package_root_do_not_import_llama_index() -> None:
    code = (
        "import sys, mira_vectorstores, mira_vectorstores.engine\n"
        "print(sorted(m for m in sys.modules if m.startswith(('llama_index', 'mira_vectorstores.llama_index'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("module", ["__init__", "vector_store", "retriever"])
def test_docstring_examples_run(module: str) -> None:
    loaded = importlib.import_module(f"mira_vectorstores.llama_index.{module}".removesuffix(".__init__"))
    result = doctest.testmod(loaded, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_modules_stay_small() -> None:
    for source in ADAPTER_DIR.glob("*.py"):
        assert len(source.read_text().splitlines()) <= 400, source.name
