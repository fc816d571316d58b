"""One store, many threads and coroutines: acknowledged writes hold, searches overlap, the loop stays free."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mira_vectorstores import HashingEmbedder, HybridStore, SearchHit
from mira_vectorstores.langchain import MiraVectorStore

THREADS = 8
IDS_PER_THREAD = 30
Model = dict[str, tuple[str, dict[str, Any]]]


class Worker:
    """One thread's share of the store: ids ``t<owner>-<n>``, and the state its acknowledged writes made."""

    def __init__(self, store: HybridStore, owner: int) -> None:
        self.store = store
        self.owner = owner
        self.rng = random.Random(owner)
        self.pool = [f"t{owner}-{n}" for n in range(IDS_PER_THREAD)]
        self.model: Model = {}
        self.version = 0
        self.problems: list[str] = []
        self.operations = 0

    def _record(self, rid: str) -> tuple[str, dict[str, Any]]:
        self.version += 1
        text = f"shared owner{self.owner} version {self.version} uniq{rid.replace('-', 'x')}v{self.version}"
        return text, {"owner": self.owner, "version": self.version, "bucket": self.version % 4}

    def _check(self, what: str, got: object, want: object) -> None:
        if got != want:
            self.problems.append(f"thread {self.owner}, {what}: got {got!r}, want {want!r}")

    def step(self) -> None:
        op = self.rng.choices(
            ["add", "upsert", "update", "delete", "delete_where", "search", "dense", "get"],
            weights=[4, 3, 2, 2, 1, 3, 2, 2],
        )[0]
        live = sorted(self.model)
        absent = [rid for rid in self.pool if rid not in self.model]
        mine = {"owner": self.owner}
        if op == "add" and absent:
            ids = self.rng.sample(absent, min(len(absent), self.rng.randint(1, 3)))
            made = [self._record(rid) for rid in ids]
            self.store.add([t for t, _ in made], ids=ids, metadatas=[m for _, m in made])
            self.model.update(zip(ids, made, strict=True))
        elif op == "upsert":
            ids = self.rng.sample(self.pool, self.rng.randint(1, 3))
            made = [self._record(rid) for rid in ids]
            self.store.upsert([t for t, _ in made], ids=ids, metadatas=[m for _, m in made])
            self.model.update(zip(ids, made, strict=True))
        elif op == "update" and live:
            rid = self.rng.choice(live)
            self.version += 1
            change = {"version": self.version, "touched": True}
            self.store.update([rid], metadatas=[change])
            self.model[rid] = (self.model[rid][0], {**self.model[rid][1], **change})
        elif op == "delete":
            ids = self.rng.sample(self.pool, 2)
            self._check("delete count", self.store.delete(ids), sum(rid in self.model for rid in ids))
            for rid in ids:
                self.model.pop(rid, None)
        elif op == "delete_where":
            bucket = self.rng.randrange(4)
            gone = [rid for rid, (_, meta) in self.model.items() if meta["bucket"] == bucket]
            deleted = self.store.delete(where={"$and": [mine, {"bucket": bucket}]})
            self._check("delete by filter count", deleted, len(gone))
            for rid in gone:
                del self.model[rid]
        elif op == "search":
            hits = self.store.search("shared", k=1000, mode="lexical", where=mine)
            self._check("lexical search ids", sorted(h.id for h in hits), live)
        elif op == "dense" and live:
            rid = self.rng.choice(live)
            hits = self.store.search(self.model[rid][0], k=10, mode="dense", where=mine)
            self._check("dense search of a record's own text", _finds(hits, rid), True)
        elif op == "get":
            got = {r.id: (r.document, r.metadata) for r in self.store.get(where=mine)}
            self._check("get by owner", got, self.model)
        self.operations += 1

    def run(self, deadline: float, failures: list[str]) -> None:
        try:
            while time.monotonic() < deadline and not self.problems:
                self.step()
        except Exception:
            failures.append(f"thread {self.owner}: {traceback.format_exc()}")


#: ``MIRA_SOAK_SECONDS=30 python -m pytest tests/unit/engine/test_concurrency.py -k mixing`` runs the
#: mixed-thread tests as a longer soak (the suite keeps them short).
SOAK = float(os.environ.get("MIRA_SOAK_SECONDS", "0"))


def _finds(hits: list[SearchHit], rid: str) -> bool:
    """``rid`` is first, or tied first (texts can collide in 32-d feature hashing)."""
    return bool(hits) and hits[0].score > 0.9999 and rid in [h.id for h in hits if h.score >= hits[0].score - 1e-5]


def _hammer(store: HybridStore, seconds: float) -> tuple[Model, int]:
    workers = [Worker(store, owner) for owner in range(THREADS)]
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=w.run, args=(deadline, failures)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    assert failures == []
    assert [p for w in workers for p in w.problems] == []
    model: Model = {}
    for worker in workers:
        model.update(worker.model)
    return model, sum(w.operations for w in workers)


def _assert_holds(store: HybridStore, model: Model) -> None:
    assert {r.id: (r.document, r.metadata) for r in store.get()} == model
    assert store.count() == len(model)
    assert sorted(h.id for h in store.search("shared", k=10_000, mode="lexical")) == sorted(model)
    for rid, (text, _) in sorted(model.items())[::7]:
        assert _finds(store.search(text, k=10, mode="dense"), rid), rid


def test_threads_mixing_writes_and_reads_on_an_in_memory_store() -> None:
    store = HybridStore.in_memory(embedder=HashingEmbedder(32))
    try:
        model, operations = _hammer(store, seconds=SOAK or 6.0)
        assert operations > THREADS * 10  # the threads did run
        _assert_holds(store, model)
    finally:
        store.close()


def test_threads_mixing_writes_and_reads_on_an_embedded_store(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, "threads", embedder=HashingEmbedder(32))  # default config
    try:
        model, operations = _hammer(store, seconds=SOAK or 5.0)
        assert operations > THREADS * 5
        _assert_holds(store, model)
    finally:
        store.close()
    reopened = HybridStore.persistent(tmp_path, "threads", embedder=HashingEmbedder(32))
    try:
        _assert_holds(reopened, model)
    finally:
        reopened.close()


class SlowEmbedder:
    """HashingEmbedder(32) that sleeps while embedding, and records what overlapped."""

    def __init__(self) -> None:
        self._inner = HashingEmbedder(32)
        self.name = self._inner.name
        self.dimension = self._inner.dimension
        self.document_delay = 0.0
        self.query_delay = 0.0
        self.embedding_documents = threading.Event()
        self._lock = threading.Lock()
        self.queries_in_flight = 0
        self.most_queries_in_flight = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self.document_delay:
            self.embedding_documents.set()
            time.sleep(self.document_delay)
            self.embedding_documents.clear()
        return np.asarray(self._inner.embed_documents(texts))

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            self.queries_in_flight += 1
            self.most_queries_in_flight = max(self.most_queries_in_flight, self.queries_in_flight)
        try:
            time.sleep(self.query_delay)
            return np.asarray(self._inner.embed_query(text))
        finally:
            with self._lock:
                self.queries_in_flight -= 1


@pytest.fixture
def slow() -> Iterator[tuple[HybridStore, SlowEmbedder]]:
    embedder = SlowEmbedder()
    store = HybridStore.in_memory(embedder=embedder)
    store.add([f"shared record {i} about topic {i % 5}" for i in range(50)], ids=[f"r{i}" for i in range(50)])
    yield store, embedder
    store.close()


def test_searches_do_not_wait_for_a_write_that_is_embedding(slow: tuple[HybridStore, SlowEmbedder]) -> None:
    store, embedder = slow
    embedder.document_delay = 1.5
    writer = threading.Thread(target=store.add, args=(["shared slow record"],), kwargs={"ids": ["slow"]})
    writer.start()
    assert embedder.embedding_documents.wait(10)
    vector = HashingEmbedder(32).embed_query("topic 3")
    answered = []
    for _ in range(5):  # vector searches: no embedding of their own
        answered.append(len(store.search(vector=vector, k=3)))
        answered.append(store.count())
    still_embedding = embedder.embedding_documents.is_set()
    writer.join(timeout=30)
    assert still_embedding, "searches and count() waited for a write's embedding (which needs no lock)"
    assert answered == [3, 50] * 5  # the write is not visible before it is committed
    assert [r.id for r in store.get(["slow"])] == ["slow"]


def test_searches_of_several_threads_overlap(slow: tuple[HybridStore, SlowEmbedder]) -> None:
    store, embedder = slow
    embedder.query_delay = 0.4
    barrier = threading.Barrier(4)
    results: list[list[str]] = []

    def search(i: int) -> None:
        barrier.wait(timeout=10)
        results.append([h.id for h in store.search(f"shared record {i}", k=2)])

    threads = [threading.Thread(target=search, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 4
    assert all(len(r) == 2 for r in results)
    assert embedder.most_queries_in_flight >= 2, "searches ran one at a time"


async def test_fifty_async_searches_keep_the_event_loop_responsive() -> None:
    store = HybridStore.in_memory(embedder=HashingEmbedder(32))
    try:
        store.add(
            [f"shared note {i} on topic {i % 7} with words {i % 11}" for i in range(400)],
            ids=[f"n{i}" for i in range(400)],
            metadatas=[{"batch": "before"} for _ in range(400)],
        )
        vectorstore = MiraVectorStore.from_engine(store)
        queries = [f"topic {i % 7} words {i % 11}" for i in range(50)]
        wanted = [[d.id for d in vectorstore.similarity_search(q, k=5, filter={"batch": "before"})] for q in queries]

        loop = asyncio.get_running_loop()
        gaps: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            last = loop.time()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = loop.time()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        searches = [vectorstore.asimilarity_search(q, k=5, filter={"batch": "before"}) for q in queries]
        writes = [
            vectorstore.aadd_texts([f"shared late note {i}"], metadatas=[{"batch": "during"}], ids=[f"late{i}"])
            for i in range(10)
        ]
        results = await asyncio.wait_for(asyncio.gather(*searches, *writes), timeout=60)
        done.set()
        await tick

        assert [[d.id for d in docs] for docs in results[:50]] == wanted
        assert results[50:] == [[f"late{i}"] for i in range(10)]
        assert store.count() == 410
        assert len(gaps) > 5
        assert max(gaps) < 0.25, f"the event loop stalled for {max(gaps):.3f} s"
    finally:
        store.close()
