"""search_batch (one embedding call, one FAISS call), the query-result cache and search over several stores."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from mira_vectorstores import (
    FaissConfig,
    FieldBoost,
    FusionConfig,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    QueryCacheConfig,
    RecencyBoost,
    StoreConfig,
    search_collections,
)
from mira_vectorstores.engine.mirrors.dense import FaissMirror
from mira_vectorstores.engine.types import Vector

WORDS = [
    "apple",
    "banana",
    "cherry",
    "delta",
    "echo",
    "forest",
    "garden",
    "harbor",
    "island",
    "jungle",
    "kettle",
    "lemon",
]


class CountingEmbedder(HashingEmbedder):
    """A hashing embedder that counts its calls (``embed_queries`` embeds many in one call)."""

    def __init__(self, dimension: int = 64) -> None:
        super().__init__(dimension)
        self.query_calls = 0
        self.batch_calls = 0

    def embed_query(self, text: str) -> Vector:
        self.query_calls += 1
        return super().embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        self.batch_calls += 1
        return super().embed_documents(texts)


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=6)) + f" item{i}" for i in range(n)]


def _store(n: int = 600, *, hnsw: bool = False, cache: QueryCacheConfig | None = None) -> HybridStore:
    faiss = FaissConfig(hnsw_threshold=200) if hnsw else FaissConfig()
    config = StoreConfig(faiss=faiss, query_cache=cache or QueryCacheConfig())
    store = HybridStore.in_memory(embedder=CountingEmbedder(), config=config)
    # Random vectors, not the texts' hashing vectors: no two records tie, so the order of hits is
    # one whatever way a search computes the cosines.
    vectors = np.random.default_rng(1).normal(size=(n, 64)).astype(np.float32)
    metadatas = [{"group": i % 5, "year": 2000 + i % 20} for i in range(n)]
    store.add(_texts(n), ids=[f"r{i}" for i in range(n)], metadatas=metadatas, vectors=vectors)
    return store


@pytest.fixture(params=[False, True], ids=["flat", "hnsw"])
def store(request: pytest.FixtureRequest) -> Iterator[HybridStore]:
    made = _store(hnsw=request.param, cache=QueryCacheConfig(size=0))
    yield made
    made.close()


QUERIES = ["apple banana", "garden harbor kettle", "lemon", "island jungle echo", "cherry delta forest"]


@pytest.mark.parametrize(
    "options",
    [
        {"mode": "dense"},
        {"mode": "hybrid"},
        {"mode": "lexical"},
        {"mode": "hybrid", "where": {"group": 2}},
        {"mode": "dense", "k": 7, "boosts": [FieldBoost("group", 1, factor=1.5)]},
        {"mode": "hybrid", "fusion": "rrf", "mmr_lambda": 0.5},
    ],
    ids=["dense", "hybrid", "lexical", "filtered", "boosted", "mmr"],
)
def test_search_batch_answers_what_a_loop_of_search_answers(store: HybridStore, options: dict[str, object]) -> None:
    looped = [store.search(q, **options) for q in QUERIES]  # type: ignore[arg-type]
    batched = store.search_batch(QUERIES, **options)
    assert len(batched) == len(QUERIES)
    for one, many in zip(looped, batched, strict=True):
        assert [h.id for h in many] == [h.id for h in one]
        assert [h.score for h in many] == pytest.approx([h.score for h in one], abs=1e-5)
        assert all(h.scores.dense == pytest.approx(o.scores.dense, abs=1e-5) for h, o in zip(many, one, strict=True))


def test_search_batch_embeds_once_and_makes_one_faiss_call(store: HybridStore, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = store.embedder
    assert isinstance(embedder, CountingEmbedder)
    calls = {"many": 0, "one": 0}
    many, one = FaissMirror.search_many, FaissMirror.search

    def count_many(self: FaissMirror, queries: Vector, k: int) -> object:
        calls["many"] += 1
        return many(self, queries, k)

    def count_one(self: FaissMirror, *args: object, **kwargs: object) -> object:
        calls["one"] += 1
        return one(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(FaissMirror, "search_many", count_many)
    monkeypatch.setattr(FaissMirror, "search", count_one)
    before = (embedder.batch_calls, embedder.query_calls)
    answers = store.search_batch(QUERIES, mode="hybrid", k=5)
    assert all(len(hits) == 5 for hits in answers)
    assert (embedder.batch_calls, embedder.query_calls) == (before[0] + 1, before[1])
    assert calls == {"many": 1, "one": 0}
    # A filtered batch keeps each query's own plan (exact scan of a selective filter).
    store.search_batch(QUERIES, mode="dense", where={"group": 3})
    assert calls == {"many": 1, "one": len(QUERIES)}


def test_search_batch_takes_vectors_and_refuses_bad_input(store: HybridStore) -> None:
    vectors = [store.embed_query(q) for q in QUERIES[:2]]
    by_vector = store.search_batch([None, None], vectors=vectors, k=3)
    assert [[h.id for h in hits] for hits in by_vector] == [
        [h.id for h in store.search(vector=v, k=3)] for v in vectors
    ]
    with pytest.raises(InvalidInputError, match="one vector"):
        store.search_batch(QUERIES, vectors=vectors)
    with pytest.raises(InvalidInputError, match="unknown search option"):
        store.search_batch(QUERIES, filter={"group": 1})
    with pytest.raises(InvalidInputError, match="queries"):
        store.search_batch("apple")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="empty"):
        store.search_batch(["apple", ""])
    assert store.search_batch([]) == []


# -- the cache ------------------------------------------------------------------------------
def test_a_repeated_search_is_served_from_the_cache_without_embedding() -> None:
    with _store() as store:
        embedder = store.embedder
        assert isinstance(embedder, CountingEmbedder)
        first = store.search("apple banana", k=5, where={"group": {"$in": [1, 2]}})
        calls = embedder.query_calls + embedder.batch_calls
        again = store.search("apple banana", k=5, where={"group": {"$in": [1, 2]}})
        assert again == first
        assert embedder.query_calls + embedder.batch_calls == calls  # not embedded again
        assert store._cache.hits == 1
        # Any other option is another request.
        assert store.search("apple banana", k=5, where={"group": {"$in": [1, 3]}}) != first
        assert store._cache.hits == 1


@pytest.mark.parametrize("write", ["add", "upsert", "update", "delete"])
def test_every_write_empties_the_cache(write: str) -> None:
    with _store() as store:
        before = store.search("zebra quartz", k=3, mode="lexical")
        assert before == []
        store.search("zebra quartz", k=3, mode="lexical")
        assert store._cache.hits == 1
        if write == "add":
            store.add(["zebra quartz"], ids=["new"])
        elif write == "upsert":
            store.upsert(["zebra quartz"], ids=["r1"])
        elif write == "update":
            store.update(["r2"], texts=["zebra quartz"])
        else:
            store.delete(["r3"])
            store.add(["zebra quartz"], ids=["r3"])
        after = store.search("zebra quartz", k=3, mode="lexical")
        assert [h.id for h in after] == [{"add": "new", "upsert": "r1", "update": "r2", "delete": "r3"}[write]]
        assert store._cache.hits == 1


def test_a_cached_hit_can_be_edited_without_changing_the_next_answer() -> None:
    with _store() as store:
        hits = store.search("apple", k=2)
        hits[0].metadata["group"] = "edited"
        assert store.search("apple", k=2)[0].metadata["group"] != "edited"


def test_recency_is_never_cached_and_size_zero_and_ttl_bound_the_cache() -> None:
    with _store() as store:
        recency = [RecencyBoost("year", half_life_days=365.0)]
        store.search("apple", k=2, boosts=recency)
        store.search("apple", k=2, boosts=recency)
        assert store._cache.hits == 0
    with _store(cache=QueryCacheConfig(size=0)) as store:
        store.search("apple", k=2)
        store.search("apple", k=2)
        assert store._cache.hits == 0
    with _store(cache=QueryCacheConfig(size=4, ttl=0.05)) as store:
        store.search("apple", k=2)
        time.sleep(0.1)
        store.search("apple", k=2)
        assert store._cache.hits == 0


# -- several stores -------------------------------------------------------------------------------
def _pair() -> tuple[HybridStore, HybridStore]:
    embedder = CountingEmbedder()
    first = HybridStore.in_memory(embedder=embedder)
    second = HybridStore.in_memory(embedder=embedder)
    first.add(["apple banana cherry", "delta echo"], ids=["a1", "a2"])
    second.add(["apple banana", "forest garden", "apple pie"], ids=["b1", "b2", "b3"])
    return first, second


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_search_collections_merges_by_final_score_and_names_each_collection(mode: str) -> None:
    first, second = _pair()
    with first, second:
        merged = search_collections([first, second], "apple banana", k=4, mode=mode)
        own = [(first.name, h) for h in first.search("apple banana", k=4, mode=mode)]
        own += [(second.name, h) for h in second.search("apple banana", k=4, mode=mode)]
        expected = sorted(own, key=lambda item: (-item[1].score, item[0], item[1].id))[:4]
        assert [(h.collection, h.id) for h in merged] == [(name, h.id) for name, h in expected]
        assert [h.score for h in merged] == pytest.approx([h.score for _, h in expected])
        assert {h.collection for h in merged} == {first.name, second.name}


def test_search_collections_embeds_once_per_embedder_and_refuses_incomparable_stores() -> None:
    first, second = _pair()
    embedder = first.embedder
    assert isinstance(embedder, CountingEmbedder)
    with first, second:
        calls = embedder.query_calls
        search_collections([first, second], "apple", k=2, mode="dense")
        assert embedder.query_calls == calls + 1
        other = HybridStore.in_memory(embedder=embedder, config=StoreConfig(fusion=FusionConfig(method="rrf")))
        with other, pytest.raises(InvalidInputError, match="different scales"):
            search_collections([first, other], "apple")
        with pytest.raises(InvalidInputError, match="once"):
            search_collections([first, first], "apple")
        with pytest.raises(InvalidInputError, match="non-empty list"):
            search_collections([], "apple")
