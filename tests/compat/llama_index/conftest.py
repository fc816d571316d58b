"""Fixtures of the LlamaIndex compatibility tests: a fresh Chroma collection per test, our store on it.

Makes ``llama_compat.py`` importable (as ``tests/conftest.py`` does for ``tests/fakes.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from llama_compat import close_store, fresh_name

from mira_vectorstores.llama_index import MiraVectorStore


@pytest.fixture
def chroma_client() -> Any:
    return chromadb.EphemeralClient()


@pytest.fixture
def collection(chroma_client: Any) -> Iterator[Any]:
    """An empty in-memory Chroma collection under a name no other test uses."""
    made = chroma_client.get_or_create_collection(fresh_name())
    yield made
    chroma_client.delete_collection(made.name)


@pytest.fixture
def store(collection: Any) -> Iterator[MiraVectorStore]:
    """Our store on that collection, built the way LlamaIndex's tests build ChromaVectorStore."""
    made = MiraVectorStore(chroma_collection=collection)
    yield made
    close_store(made)
