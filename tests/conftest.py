"""Shared fixtures: make ``tests/fakes.py`` importable and give each test a fresh store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mira_vectorstores import HybridStore  # noqa: E402

from fakes import CountingEmbedder  # noqa: E402


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def store(embedder: CountingEmbedder) -> Iterator[HybridStore]:
    s = HybridStore.in_memory(embedder=embedder)
    yield s
    s.close()
