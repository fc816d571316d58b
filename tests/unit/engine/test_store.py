"""HybridStore: writes, reads, search pipeline, objects, duplicates (in-memory Chroma)."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import CountingEmbedder, unit_vectors

from mira_vectorstores import (
    FieldBoost,
    HybridStore,
    InvalidInputError,
    RecencyBoost,
    RecordNotFoundError,
    StoreConfig,
    ThresholdBoost,
)
from mira_vectorstores.engine.config import FusionConfig

DOCS = [
    "the cat sat on the warm mat",
    "dogs bark at the mail carrier",
    "a cat and a dog became friends",
    "quantum computers factor large numbers",
    "the stock market fell sharply today",
    "fresh bread from the bakery smells great",
]


def _fill(store: HybridStore) -> list[str]:
    return store.add(
        DOCS,
        ids=[f"d{i}" for i in range(len(DOCS))],
        metadatas=[{"i": i, "pet": i < 3, "tags": ["even" if i % 2 == 0 else "odd"]} for i in range(len(DOCS))],
    )


# -- writes --------------------------------------------------------------------------------
def test_add_returns_ids_and_count(store: HybridStore) -> None:
    assert _fill(store) == [f"d{i}" for i in range(6)]
    assert store.count() == 6
    assert store._replica.storage.count() == 6


def test_add_generates_unique_ids(store: HybridStore) -> None:
    ids = store.add(["a b", "c d"])
    assert len(set(ids)) == 2
    assert all(isinstance(i, str) and i for i in ids)


def test_add_existing_id_is_an_error_and_changes_nothing(store: HybridStore) -> None:
    _fill(store)
    with pytest.raises(InvalidInputError, match="upsert"):
        store.add(["new text"], ids=["d1"])
    assert store.get(["d1"])[0].document == DOCS[1]


def test_get_returns_user_metadata_only(store: HybridStore) -> None:
    _fill(store)
    record = store.get(["d2"])[0]
    assert record.metadata == {"i": 2, "pet": True, "tags": ["even"]}
    assert record.document == DOCS[2]


def test_get_by_filter_limit_offset_and_unknown_ids(store: HybridStore) -> None:
    _fill(store)
    assert [r.id for r in store.get(where={"pet": True})] == ["d0", "d1", "d2"]
    assert [r.id for r in store.get(where={"pet": True}, limit=1, offset=1)] == ["d1"]
    assert [r.id for r in store.get(["d4", "nope", "d0"])] == ["d4", "d0"]
    assert [r.id for r in store.get(where_document={"$contains": "cat"})] == ["d0", "d2"]
    got = store.get(["d0"], include_embeddings=True)[0].embedding
    assert got is not None
    assert abs(float(np.linalg.norm(got)) - 1) < 1e-5


def test_upsert_replaces_metadata_and_reembeds_only_changed(embedder: CountingEmbedder) -> None:
    store = HybridStore.in_memory(embedder=embedder)
    store.add(["alpha beta", "gamma delta"], ids=["a", "b"], metadatas=[{"x": 1, "y": 2}, {"x": 3}])
    embedder.embedded.clear()
    store.upsert(["alpha beta", "gamma changed"], ids=["a", "b"], metadatas=[{"x": 9}, None])
    assert embedder.embedded == ["gamma changed"]
    a, b = store.get(["a", "b"])
    assert a.metadata == {"x": 9}  # y removed: upsert replaces metadata
    assert b.metadata == {}
    assert b.document == "gamma changed"
    # Chroma itself lost the key too
    raw = store._replica.storage.collection.get(ids=["a"], include=["metadatas"])["metadatas"][0]
    assert "y" not in raw
    assert raw["x"] == 9
    assert [h.id for h in store.search("gamma changed", k=1, mode="lexical")] == ["b"]
    store.close()


def test_update_merges_metadata_and_removes_none_keys(embedder: CountingEmbedder) -> None:
    store = HybridStore.in_memory(embedder=embedder)
    store.add(["one two"], ids=["a"], metadatas=[{"x": 1, "y": 2}])
    embedder.embedded.clear()
    store.update(["a"], metadatas=[{"y": None, "z": "new"}])
    assert store.get(["a"])[0].metadata == {"x": 1, "z": "new"}
    assert embedder.embedded == []  # metadata-only update embeds nothing
    store.update(["a"], texts=["three four"])
    assert embedder.embedded == ["three four"]
    assert store.get(["a"])[0].document == "three four"
    with pytest.raises(RecordNotFoundError, match="missing"):
        store.update(["missing"], metadatas=[{"x": 1}])
    store.close()


def test_vectors_only_records(store: HybridStore) -> None:
    vecs = unit_vectors(3, 64)
    store.add(ids=["v0", "v1", "v2"], vectors=vecs, metadatas=[{"n": i} for i in range(3)])
    hits = store.search(vector=vecs[1], k=1)
    assert hits[0].id == "v1"
    assert hits[0].document is None
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_large_batch_is_chunked_within_chroma_limit() -> None:
    store = HybridStore.in_memory(embedder=None)
    sizes: list[int] = []
    original = store._replica.storage.collection.upsert

    def spy(**kwargs: object) -> None:
        sizes.append(len(kwargs["ids"]))  # type: ignore[arg-type]
        original(**kwargs)

    store._replica.storage.collection.upsert = spy  # type: ignore[method-assign]
    n = 20_000
    store.add(ids=[f"r{i}" for i in range(n)], vectors=unit_vectors(n, 16), metadatas=[{"i": i} for i in range(n)])
    assert sum(sizes) == n
    assert len(sizes) > 1
    assert max(sizes) <= store._replica.storage.max_batch
    assert store._replica.storage.count() == n == store.count()
    assert len(store.get(where={"i": {"$gte": 0}})) == n
    store.close()


def test_delete_by_ids_filter_and_clear(store: HybridStore) -> None:
    _fill(store)
    assert store.delete(["d0", "unknown"]) == 1
    assert store.delete(where={"pet": True}) == 2
    assert store.delete(where_document={"$contains": "bread"}) == 1
    assert sorted(r.id for r in store.get()) == ["d3", "d4"]
    assert store._replica.storage.count() == 2
    with pytest.raises(InvalidInputError, match="clear"):
        store.delete()
    assert store.clear() == 2
    assert store.count() == 0
    assert store._replica.storage.count() == 0
    assert store.search("cat", k=3) == []


# -- search ----------------------------------------------------------------------------------
def test_modes_and_score_parts(store: HybridStore) -> None:
    _fill(store)
    dense = store.search("cat mat", k=2, mode="dense")
    assert dense[0].id == "d0"
    assert dense[0].scores.lexical is None
    assert dense[0].scores.dense is not None
    lexical = store.search("cat", k=5, mode="lexical")
    assert {h.id for h in lexical} == {"d0", "d2"}  # only documents containing the term
    assert all(h.scores.dense is None and h.scores.lexical > 0 for h in lexical)
    hybrid = store.search("cat mat", k=3)  # auto with text -> hybrid
    assert hybrid[0].id == "d0"
    top = hybrid[0].scores
    assert top.dense is not None
    assert top.lexical is not None
    assert top.fused == hybrid[0].score
    vector_only = store.search(vector=store.embed_query("cat mat"), k=1)  # auto without text -> dense
    assert vector_only[0].scores.lexical is None


@pytest.mark.parametrize("fusion", ["rrf", "weighted", "dbsf"])
def test_fusion_methods_rank_the_shared_winner_first(store: HybridStore, fusion: str) -> None:
    _fill(store)
    hits = store.search("cat sat on the warm mat", k=3, fusion=fusion)
    assert hits[0].id == "d0"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_alpha_one_is_dense_order_and_zero_is_lexical_order(store: HybridStore) -> None:
    _fill(store)
    q = "cat dog friends"
    by_dense = store.search(q, k=6, fusion="weighted", alpha=1.0)
    dense_parts = [h.scores.dense for h in by_dense]
    assert dense_parts == sorted(dense_parts, reverse=True)
    by_lexical = store.search(q, k=6, fusion="weighted", alpha=0.0)
    lexical_parts = [h.scores.lexical for h in by_lexical]
    assert lexical_parts == sorted(lexical_parts, reverse=True)
    assert by_lexical[0].id == store.search(q, k=1, mode="lexical")[0].id


def test_filter_restricts_before_ranking_and_fills_k() -> None:
    store = HybridStore.in_memory(embedder=None)
    n = 3_000
    vecs = unit_vectors(n, 32, seed=1)
    store.add(ids=[f"r{i}" for i in range(n)], vectors=vecs, metadatas=[{"rare": i % 100 == 0} for i in range(n)])
    q = unit_vectors(1, 32, seed=2)[0]
    hits = store.search(vector=q, k=10, where={"rare": True})
    allowed = np.arange(0, n, 100)
    truth = allowed[np.argsort(-(vecs[allowed] @ q))[:10]]
    assert [h.id for h in hits] == [f"r{i}" for i in truth]
    store.close()


def test_where_document_and_where_combine(store: HybridStore) -> None:
    _fill(store)
    hits = store.search("cat", k=5, where={"i": {"$gt": 0}}, where_document={"$contains": "cat"})
    assert [h.id for h in hits] == ["d2"]


def test_boost_lifts_a_hit_from_beyond_top_k(store: HybridStore) -> None:
    _fill(store)
    plain = [h.id for h in store.search("cat mat", k=2, mode="dense")]
    assert "d5" not in plain
    boosted = store.search("cat mat", k=2, mode="dense", boosts=[FieldBoost("i", 5, factor=1000.0)])
    assert boosted[0].id == "d5"
    assert boosted[0].scores.boost == 1000.0


def test_store_default_boosts_and_per_search_override(embedder: CountingEmbedder) -> None:
    rules = [FieldBoost("breakthrough", True, factor=1.5), ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3)]
    store = HybridStore.in_memory(embedder=embedder, boosts=rules)
    store.add(
        ["insight about memory", "insight about memory!"],
        ids=["plain", "spark"],
        metadatas=[{"breakthrough": False}, {"breakthrough": True, "spark_intensity": 0.9}],
    )
    hits = store.search("insight about memory", k=2, mode="dense")
    assert hits[0].id == "spark"
    assert hits[0].scores.boost == pytest.approx(1.95)
    unboosted = store.search("insight about memory", k=2, mode="dense", boosts=[])
    assert all(h.scores.boost == 1.0 for h in unboosted)
    store.close()


def test_recency_boost_prefers_newer(store: HybridStore) -> None:
    store.add(["same words here", "same words here"], ids=["old", "new"], metadatas=[{"ts": 0}, {"ts": 4e9}])
    hits = store.search("same words here", k=2, mode="dense", boosts=[RecencyBoost("ts", half_life_days=30)])
    assert [h.id for h in hits] == ["new", "old"]


def test_score_threshold_and_fetch_k(store: HybridStore) -> None:
    _fill(store)
    hits = store.search("cat", k=6, mode="lexical", score_threshold=0.0001)
    assert hits
    assert all(h.score >= 0.0001 for h in hits)
    assert store.search("cat mat", k=6, mode="dense", score_threshold=0.99) == []
    # fetch_k below k is raised to k (each side takes at least k); below 1 it is refused.
    assert store.search("cat", k=5, fetch_k=2, mode="dense") == store.search("cat", k=5, mode="dense")
    with pytest.raises(InvalidInputError, match="fetch_k"):
        store.search("cat", k=5, fetch_k=0, mode="dense")


def test_mmr_diversifies() -> None:
    store = HybridStore.in_memory(embedder=None)
    base = unit_vectors(1, 16, seed=3)[0]
    other = unit_vectors(1, 16, seed=4)[0]
    near = base + 0.01 * other
    store.add(ids=["a", "a2", "b"], vectors=[base, near / np.linalg.norm(near), 0.6 * base + 0.8 * other])
    plain = [h.id for h in store.search(vector=base, k=2)]
    diverse = [h.id for h in store.search(vector=base, k=2, mmr_lambda=0.3)]
    assert plain == ["a", "a2"]
    assert diverse == ["a", "b"]
    store.close()


def test_search_makes_no_chroma_call(store: HybridStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(store)

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("Chroma was called on the search path")

    for name in ("get", "query", "count", "peek"):
        monkeypatch.setattr(store._replica.storage.collection, name, boom)
    monkeypatch.setattr(store._replica.storage.client, "get_collection", boom)
    assert store.search("cat", k=2, where={"pet": True})
    assert store.search("cat", k=2, mode="lexical", where_document={"$contains": "cat"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k must be"),
        ({"k": -1}, "k must be"),
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"fusion": "avg"}, "fusion must be one of"),
        ({"alpha": 1.5}, "alpha"),
        ({"where": {"i": {"$gtt": 1}}}, r"where\.i"),
        ({"where_document": {"$contains": 3}}, r"where_document\.\$contains"),
        ({"mmr_lambda": 2.0}, "mmr_lambda"),
    ],
)
def test_invalid_searches_raise_typed_errors(store: HybridStore, kwargs: dict, match: str) -> None:
    _fill(store)
    with pytest.raises(ValueError, match=match):
        store.search("cat", **kwargs)


def test_lexical_search_needs_text(store: HybridStore) -> None:
    _fill(store)
    with pytest.raises(InvalidInputError, match="query text"):
        store.search(vector=store.embed_query("cat"), mode="lexical")


def test_config_defaults_apply(embedder: CountingEmbedder) -> None:
    store = HybridStore.in_memory(embedder=embedder, config=StoreConfig(fusion=FusionConfig(mode="lexical")))
    store.add(DOCS)
    hits = store.search("bakery", k=3)
    assert len(hits) == 1
    assert hits[0].scores.dense is None
    store.close()


# -- duplicates -------------------------------------------------------------------------------
def test_find_duplicates_matches_brute_force() -> None:
    store = HybridStore.in_memory(embedder=None)
    vecs = unit_vectors(200, 8, seed=5)
    vecs[50] = vecs[10]
    vecs[120] = (vecs[10] + 0.05 * vecs[11]) / np.linalg.norm(vecs[10] + 0.05 * vecs[11])
    store.add(ids=[f"r{i}" for i in range(200)], vectors=vecs, metadatas=[{"g": i % 2} for i in range(200)])
    threshold = 0.9
    sims = vecs @ vecs.T
    truth = {(f"r{i}", f"r{j}") for i in range(200) for j in range(i + 1, 200) if sims[i, j] >= threshold}
    pairs = store.find_duplicates(threshold)
    assert {(p.first, p.second) for p in pairs} == truth
    assert ("r10", "r50") in truth
    assert pairs[0].similarity == pytest.approx(1.0, abs=1e-5)
    only_even = store.find_duplicates(threshold, where={"g": 0})
    assert {(p.first, p.second) for p in only_even} == {
        (a, b) for a, b in truth if int(a[1:]) % 2 == 0 == int(b[1:]) % 2
    }
    store.close()
