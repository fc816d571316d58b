"""LangChain's standard suites, run in memory and on disk."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests, VectorStoreIntegrationTests

from mira_vectorstores.langchain import MiraRetriever, MiraVectorStore


class TestMiraVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture(params=["in_memory", "persistent"])
    def vectorstore(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
        path = tmp_path / "store" if request.param == "persistent" else None
        store = MiraVectorStore(self.get_embeddings(), path=path)
        assert store.engine.count() == 0
        try:
            yield store
        finally:
            store.close()

    @property
    def has_sync(self) -> bool:
        return True

    @property
    def has_async(self) -> bool:
        return True

    @property
    def has_get_by_ids(self) -> bool:
        return True


_TEXTS = [
    "Cats purr on the windowsill",
    "Dogs bark at the mail carrier",
    "Birds sing at dawn",
    "Fish swim in the reef",
    "Cats and dogs can be friends",
]


class _RetrieverStandard(RetrieversIntegrationTests):
    """The suite over a five-document store that lives as long as the test class."""

    persistent: bool
    _store: MiraVectorStore | None = None
    _dir: str | None = None

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _close_store(cls) -> Iterator[None]:
        yield
        if cls._store is not None:
            cls._store.close()
            cls._store = None
        if cls._dir is not None:
            shutil.rmtree(cls._dir, ignore_errors=True)
            cls._dir = None

    def _vectorstore(self) -> MiraVectorStore:
        cls = type(self)
        if cls._store is None:
            cls._dir = tempfile.mkdtemp(prefix="mira-lc-") if self.persistent else None
            cls._store = MiraVectorStore.from_texts(_TEXTS, DeterministicFakeEmbedding(size=8), path=cls._dir)
        return cls._store

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return MiraRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"vectorstore": self._vectorstore(), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "do cats and dogs get along?"


class TestMiraRetrieverStandardInMemory(_RetrieverStandard):
    persistent = False


class TestMiraRetrieverStandardPersistent(_RetrieverStandard):
    persistent = True
