"""MiraVectorStore's async methods: same results as their sync twins, and the event loop
keeps running while they embed or while the engine works."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from mira_vectorstores.engine import HashingEmbedder, HybridStore
from mira_vectorstores.langchain import MiraVectorStore

QUERY = "cats sleep in the sun"


def _vector(store: MiraVectorStore) -> list[float]:
    return store.embeddings.embed_query(QUERY)


READS = [
    ("similarity_search", lambda s: ((QUERY,), {"k": 3, "filter": {"legs": {"$gt": 0}}})),
    ("similarity_search_with_score", lambda s: ((QUERY,), {"k": 3})),
    ("similarity_search_with_relevance_scores", lambda s: ((QUERY,), {"k": 5, "score_threshold": 0.5})),
    ("similarity_search_by_vector", lambda s: ((_vector(s),), {"k": 2})),
    ("max_marginal_relevance_search", lambda s: ((QUERY,), {"k": 3, "lambda_mult": 0.2})),
    ("max_marginal_relevance_search_by_vector", lambda s: ((_vector(s),), {"k": 3, "lambda_mult": 0.2})),
    ("hybrid_search", lambda s: ((QUERY,), {"k": 3, "fusion": "weighted", "alpha": 0.3})),
    ("keyword_search", lambda s: ((QUERY,), {"k": 3})),
    ("search", lambda s: ((QUERY, "hybrid"), {"k": 2})),
    ("get_by_ids", lambda s: ((["fish", "nope", "cats"],), {})),
]


@pytest.mark.parametrize(("method", "arguments"), READS, ids=[m for m, _ in READS])
async def test_async_reads_equal_sync_reads(filled, method, arguments):
    args, kwargs = arguments(filled)
    expected = getattr(filled, method)(*args, **kwargs)
    assert expected  # a comparison of two empty lists would prove nothing
    assert await getattr(filled, "a" + method)(*args, **kwargs) == expected


async def test_async_writes_equal_sync_writes(open_store, hashing, corpus):
    sync_store, async_store = open_store(hashing), open_store(hashing)
    texts, metas, new_ids = [t for _, t, _ in corpus], [m for _, _, m in corpus], [i for i, _, _ in corpus]
    assert sync_store.add_texts(texts, metas, ids=new_ids) == await async_store.aadd_texts(texts, metas, ids=new_ids)
    docs = [Document(id="extra", page_content="Otters hold hands", metadata={"animal": "otter"})]
    assert sync_store.add_documents(docs) == await async_store.aadd_documents(docs) == ["extra"]
    sync_store.delete(["dogs"])
    await async_store.adelete(["dogs"])
    sync_store.delete(where={"legs": 0})
    await async_store.adelete(where={"legs": 0})
    everything = [*new_ids, "extra"]
    assert await async_store.aget_by_ids(everything) == sync_store.get_by_ids(everything)
    assert len(sync_store.get_by_ids(everything)) == 3
    assert sync_store.similarity_search_with_score(QUERY, k=3) == await async_store.asimilarity_search_with_score(
        QUERY, k=3
    )
    await async_store.adelete()
    assert async_store.engine.count() == 0


async def test_async_objects(store):
    assert await store.aadd_objects([b"payload"], ids=["o"], descriptions=["some bytes"]) == ["o"]
    assert await store.aget_object("o") == b"payload"


async def test_afrom_texts_and_afrom_documents(tmp_path):
    emb = DeterministicFakeEmbedding(size=8)
    a = await MiraVectorStore.afrom_texts(["x", "y"], emb, [{"n": 1}, {"n": 2}], ids=["1", "2"])
    b = await MiraVectorStore.afrom_documents([Document(id="d", page_content="z")], emb, path=tmp_path)
    try:
        assert a.get_by_ids(["1", "2"]) == [
            Document(id="1", page_content="x", metadata={"n": 1}),
            Document(id="2", page_content="y", metadata={"n": 2}),
        ]
        assert b.get_by_ids(["d"]) == [Document(id="d", page_content="z")]
    finally:
        a.close()
        b.close()


async def test_aadd_texts_with_nothing_to_add(store):
    assert await store.aadd_texts([]) == []


async def test_async_methods_await_the_async_embedding(open_store, async_only):
    store = open_store(async_only)
    async_only.forbid_sync = True  # from here on, a sync embedding call fails the test
    await store.aadd_texts(["cats purr", "dogs bark"], ids=["c", "d"])
    assert [d.id for d in await store.asimilarity_search("cats purr", k=1)] == ["c"]
    await store.amax_marginal_relevance_search("dogs bark", k=1)
    await store.ahybrid_search("dogs bark", k=1)
    await store.akeyword_search("dogs", k=1)  # BM25 alone: nothing to embed
    assert async_only.async_calls == 4


async def _ticks_during(coroutine, interval=0.01):
    """How often a ticker coroutine ran while ``coroutine`` was awaited."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(interval)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start
    try:
        result = await coroutine
    finally:
        task.cancel()
    return ticks, result


async def test_slow_embedding_does_not_block_the_event_loop(open_store, slow_embeddings):
    embeddings = slow_embeddings(0.0)
    store = open_store(embeddings)
    store.add_texts(["cats purr", "dogs bark"], ids=["c", "d"])
    embeddings.delay = 0.3
    ticks, docs = await _ticks_during(store.asimilarity_search("cats purr", k=1))
    assert [d.id for d in docs] == ["c"]
    assert ticks >= 10  # a blocking call would leave the ticker at 0 or 1
    ticks, _ = await _ticks_during(store.aadd_texts(["birds sing"], ids=["b"]))
    assert ticks >= 10


ENGINE_CALLS = [
    ("search", "asimilarity_search", ("cats purr",), {"k": 1}),
    ("search", "akeyword_search", ("cats",), {"k": 1}),
    ("upsert", "aadd_texts", (["birds sing"],), {"ids": ["b"]}),
    ("get", "aget_by_ids", (["c"],), {}),
    ("delete", "adelete", (["c"],), {}),
    ("clear", "adelete", (), {}),
]


@pytest.mark.parametrize(
    ("engine_method", "method", "args", "kwargs"), ENGINE_CALLS, ids=[c[1] + "-" + c[0] for c in ENGINE_CALLS]
)
async def test_engine_runs_off_the_event_loop(store, monkeypatch, engine_method, method, args, kwargs):
    store.add_texts(["cats purr", "dogs bark"], ids=["c", "d"])
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = getattr(store.engine, engine_method)

    def slow(*a, **kw):
        seen.append(threading.get_ident())
        time.sleep(0.3)
        return original(*a, **kw)

    monkeypatch.setattr(store.engine, engine_method, slow)
    ticks, _ = await _ticks_during(getattr(store, method)(*args, **kwargs))
    assert seen
    assert all(thread != loop_thread for thread in seen)
    assert ticks >= 10


async def test_async_search_on_an_engine_without_langchain_embeddings():
    engine = HybridStore.in_memory(embedder=HashingEmbedder(16))
    try:
        store = MiraVectorStore.from_engine(engine)
        await store.aadd_texts(["otters hold hands", "crows use tools"], ids=["o", "c"])
        assert [d.id for d in await store.asimilarity_search("otters", k=1)] == ["o"]
    finally:
        engine.close()
