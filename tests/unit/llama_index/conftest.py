"""Fixtures for the LlamaIndex adapter tests: stores, the corpus, and a sync/async switch."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from llama_fakes import HashEmbedding, corpus_nodes

from mira_vectorstores.llama_index import MiraVectorStore


@pytest.fixture
def embed_model() -> HashEmbedding:
    return HashEmbedding(64)


@pytest.fixture
def li_store() -> Iterator[MiraVectorStore]:
    """An empty vectors-only store (LlamaIndex computes the embeddings)."""
    store = MiraVectorStore.in_memory()
    yield store
    store.client.close()


@pytest.fixture
def filled(li_store: MiraVectorStore, embed_model: HashEmbedding) -> MiraVectorStore:
    """The corpus, embedded from the node texts."""
    li_store.add(corpus_nodes(embed_model))
    return li_store


class Api:
    """Calls a store method either directly or through its async twin, so one test covers both."""

    ASYNC_NAMES: ClassVar[dict[str, str]] = {
        "add": "async_add",
        "query": "aquery",
        "delete": "adelete",
        "delete_nodes": "adelete_nodes",
        "get_nodes": "aget_nodes",
        "clear": "aclear",
        "get_object": "aget_object",
    }

    def __init__(self, use_async: bool) -> None:
        self.use_async = use_async

    async def __call__(self, store: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.use_async:
            return await getattr(store, self.ASYNC_NAMES[name])(*args, **kwargs)
        return getattr(store, name)(*args, **kwargs)


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Api:
    return Api(request.param)
