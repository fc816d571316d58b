"""Setup for the vendored langchain-chroma 1.1.0 tests (see README.md in this folder).

Makes ``fake_embeddings.py`` importable (as ``tests/conftest.py`` does for ``tests/fakes.py``) and
registers the ``requires`` marker the vendored tests use, which ``--strict-markers`` rejects otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(package): the test needs this package (langchain-chroma's marker)")
