"""Fakes and fixtures for the LangChain adapter tests (exposed as fixtures, so no test imports
this module)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from langchain_core.embeddings import Embeddings

from mira_vectorstores.engine import HashingEmbedder
from mira_vectorstores.langchain import MiraVectorStore


class HashingEmbeddings(Embeddings):
    """The engine's HashingEmbedder as LangChain embeddings: texts sharing words are similar."""

    def __init__(self, dimension: int = 64) -> None:
        self._inner = HashingEmbedder(dimension)
        self.size = dimension

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text).tolist()


class TableEmbeddings(Embeddings):
    """Fixed vectors per text, so tests can state exact cosines. Other texts (such as the
    adapter's dimension probe) map to the last axis."""

    def __init__(self, table: Mapping[str, Sequence[float]]) -> None:
        self.table = {text: list(vector) for text, vector in table.items()}
        dimension = len(next(iter(self.table.values())))
        self.other = [0.0] * (dimension - 1) + [1.0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table.get(text, self.other)


class SlowEmbeddings(HashingEmbeddings):
    """Sync methods sleep (as a blocking HTTP client would); async ones use LangChain's
    default, which runs the sync method in an executor."""

    def __init__(self, delay: float) -> None:
        super().__init__(16)
        self.delay = delay

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        time.sleep(self.delay)
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        time.sleep(self.delay)
        return super().embed_query(text)


class AsyncOnlyEmbeddings(HashingEmbeddings):
    """Once ``forbid_sync`` is set, the sync methods fail: only awaited embeddings work."""

    def __init__(self) -> None:
        super().__init__(16)
        self.forbid_sync = False
        self.async_calls = 0
        self.loop_thread: int | None = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.forbid_sync:
            raise AssertionError("sync embed_documents called")
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if self.forbid_sync:
            raise AssertionError("sync embed_query called")
        return super().embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.async_calls += 1
        self.loop_thread = threading.get_ident()
        return super().embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        self.async_calls += 1
        self.loop_thread = threading.get_ident()
        return super().embed_query(text)


@pytest.fixture
def hashing() -> HashingEmbeddings:
    return HashingEmbeddings()


@pytest.fixture
def table() -> Callable[[Mapping[str, Sequence[float]]], TableEmbeddings]:
    return TableEmbeddings


@pytest.fixture
def slow_embeddings() -> Callable[[float], SlowEmbeddings]:
    return SlowEmbeddings


@pytest.fixture
def async_only() -> AsyncOnlyEmbeddings:
    return AsyncOnlyEmbeddings()


@pytest.fixture
def store(hashing: HashingEmbeddings) -> Iterator[MiraVectorStore]:
    s = MiraVectorStore(hashing)
    yield s
    s.close()


@pytest.fixture
def open_store() -> Iterator[Callable[..., MiraVectorStore]]:
    """Open stores with any arguments; all are closed after the test."""
    opened: list[MiraVectorStore] = []

    def _open(*args: object, **kwargs: object) -> MiraVectorStore:
        s = MiraVectorStore(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(s)
        return s

    yield _open
    for s in opened:
        s.close()


CORPUS = [
    ("cats", "Cats purr and sleep on warm windowsills", {"animal": "cat", "legs": 4, "year": 2021}),
    ("dogs", "Dogs bark at the mail carrier every morning", {"animal": "dog", "legs": 4, "year": 2019}),
    ("birds", "Birds sing at dawn and build nests in spring", {"animal": "bird", "legs": 2, "year": 2023}),
    ("fish", "Fish swim in schools through the coral reef", {"animal": "fish", "legs": 0, "year": 2020}),
    ("snakes", "Snakes shed their skin and bask in the sun", {"animal": "snake", "legs": 0, "year": 2022}),
]


@pytest.fixture
def corpus() -> list[tuple[str, str, dict[str, object]]]:
    return [(i, t, dict(m)) for i, t, m in CORPUS]


@pytest.fixture
def filled(store: MiraVectorStore, corpus: list[tuple[str, str, dict[str, object]]]) -> MiraVectorStore:
    store.add_texts([t for _, t, _ in corpus], [m for _, _, m in corpus], ids=[i for i, _, _ in corpus])
    return store
