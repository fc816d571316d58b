"""Shared fixtures: make ``tests/fakes.py`` importable and give each test a fresh store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakes import CountingEmbedder

from mira_vectorstores import HybridStore


@pytest.fixture
def embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def store(embedder: CountingEmbedder) -> Iterator[HybridStore]:
    s = HybridStore.in_memory(embedder=embedder)
    yield s
    s.close()
