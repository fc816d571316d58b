"""The async methods run the engine in a worker thread (the loop keeps running), and clear() at 100k."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from llama_fakes import HashEmbedding, corpus_nodes
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery

from mira_vectorstores.llama_index import MiraVectorStore

ENGINE_DELAY = 0.3
cats = MetadataFilters(filters=[MetadataFilter(key="animal", value="cat")])

# async method, its arguments, and the engine method it must run off the event loop.
ASYNC_CALLS: dict[str, tuple[Callable[[HashEmbedding], tuple[Any, ...]], dict[str, Any], str]] = {
    "async_add": (lambda e: (corpus_nodes(e)[:2],), {}, "upsert"),
    "aquery": (lambda e: (VectorStoreQuery(query_embedding=e.vector("cat")),), {}, "search"),
    "adelete": (lambda e: ("docA",), {}, "delete"),
    "adelete_nodes": (lambda e: (), {"filters": cats}, "delete"),
    "aget_nodes": (lambda e: (["n1"],), {}, "get"),
    "aclear": (lambda e: (), {}, "clear"),
    "aget_object": (lambda e: ("obj",), {}, "get_object"),
}


async def ticker(stop: asyncio.Event) -> int:
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


@pytest.mark.parametrize("method", list(ASYNC_CALLS))
async def test_async_method_does_not_block_the_event_loop(
    filled: MiraVectorStore, embed_model: HashEmbedding, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    filled.client.put_object(b"payload", id="obj", embedding=embed_model.vector("obj"))
    make_args, kwargs, engine_method = ASYNC_CALLS[method]
    real = getattr(filled.client, engine_method)
    threads: list[int] = []

    def slow(*args: Any, **kw: Any) -> Any:
        threads.append(threading.get_ident())
        time.sleep(ENGINE_DELAY)  # a long engine call: it must not stall the loop
        return real(*args, **kw)

    monkeypatch.setattr(filled.client, engine_method, slow)
    stop = asyncio.Event()
    ticks = asyncio.create_task(ticker(stop))
    await asyncio.sleep(0)
    started = time.perf_counter()
    await getattr(filled, method)(*make_args(embed_model), **kwargs)
    elapsed = time.perf_counter() - started
    stop.set()
    assert threads, f"{method} did not call engine.{engine_method}"
    assert threading.get_ident() not in threads  # the engine ran in a worker thread
    assert elapsed >= ENGINE_DELAY
    assert await ticks >= 0.5 * ENGINE_DELAY / 0.01  # the loop kept ticking meanwhile


async def test_concurrent_async_queries_agree_with_sync(filled: MiraVectorStore, embed_model: HashEmbedding) -> None:
    queries = [
        VectorStoreQuery(query_embedding=embed_model.vector(t), similarity_top_k=3) for t in ("cat", "bread", "stock")
    ]
    results = await asyncio.gather(*(filled.aquery(query) for query in queries))
    assert [r.ids for r in results] == [filled.query(query).ids for query in queries]


def test_clear_100k_nodes() -> None:
    n, dim = 100_000, 8
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    nodes = [TextNode(id_=f"n{i}", text=f"node {i}", embedding=vectors[i].tolist()) for i in range(n)]
    store = MiraVectorStore.in_memory()
    started = time.perf_counter()
    assert len(store.add(nodes)) == n
    added = time.perf_counter()
    assert store.client.count() == n
    store.clear()
    cleared = time.perf_counter()
    assert store.client.count() == 0
    assert store.query(VectorStoreQuery(query_embedding=vectors[0].tolist(), similarity_top_k=3)).ids == []
    assert store.get_nodes() == []
    print(f"100k nodes: add {added - started:.1f}s, clear {cleared - added:.1f}s")  # noqa: T201
    store.client.close()
