"""The scenarios of llama-index-vector-stores-chroma's ``tests/test_mmr.py``, run on MiraVectorStore:
MMR over a collection that Chroma's own client filled (see README.md in this folder)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_compat import close_store
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from mira_vectorstores.llama_index import MiraVectorStore

# Two pairs of near-duplicates and one loner, written with Chroma's client, not through a store.
POINTS = [[1.0, 0.0, 0.0], [0.95, 0.05, 0.0], [0.0, 1.0, 0.0], [0.0, 0.95, 0.05], [0.0, 0.0, 1.0]]


@pytest.fixture
def filled(collection: Any) -> Iterator[MiraVectorStore]:
    collection.add(
        ids=[f"point-{i}" for i in range(len(POINTS))],
        embeddings=POINTS,
        documents=[f"point number {i}" for i in range(len(POINTS))],
        metadatas=[{"tag": f"t{i}"} for i in range(len(POINTS))],
    )
    made = MiraVectorStore.from_collection(collection)
    yield made
    close_store(made)


def mmr_query() -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2, mode=VectorStoreQueryMode.MMR)


def hits(result: Any) -> int:
    if result.ids is not None:
        return len(result.ids)
    assert result.nodes is not None, "a query result must carry ids or nodes"
    return len(result.nodes)


def test_mmr_returns_top_k(filled: MiraVectorStore) -> None:
    """Follows test_mmr.py::test_chroma_mmr_happy_path_returns_k_results."""
    assert hits(filled.query(mmr_query(), mmr_threshold=0.5)) == 2


def test_mmr_refuses_both_prefetch_options(filled: MiraVectorStore) -> None:
    """Follows test_mmr.py::test_chroma_mmr_conflicting_prefetch_params_raises.

    Each prefetch option is accepted alone, so the ValueError is about giving both.
    """
    assert hits(filled.query(mmr_query(), mmr_threshold=0.5, mmr_prefetch_k=16)) == 2
    assert hits(filled.query(mmr_query(), mmr_threshold=0.5, mmr_prefetch_factor=2.0)) == 2
    with pytest.raises(ValueError):  # noqa: PT011 - the source test asks for a ValueError, whatever its text
        filled.query(mmr_query(), mmr_threshold=0.5, mmr_prefetch_k=16, mmr_prefetch_factor=2.0)
