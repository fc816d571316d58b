"""MiraVectorStore: each LangChain method against the engine's behaviour (sync paths; the
async twins are in test_async.py)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from mira_vectorstores.engine import (
    ConfigError,
    FieldBoost,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    RecordNotFoundError,
)
from mira_vectorstores.langchain import MiraVectorStore

# Exact cosines with the query "q": same 1, orth 0, opposite -1.
AXES = {"q": [1.0, 0.0, 0.0], "same": [1.0, 0.0, 0.0], "orth": [0.0, 1.0, 0.0], "opposite": [-1.0, 0.0, 0.0]}


def ids(docs):
    return [d.id for d in docs]


# -- writes ----------------------------------------------------------------------------------
def test_add_texts_round_trips_id_text_and_exact_metadata(store):
    meta = {"s": "x", "i": 3, "f": 0.5, "b": True, "tags": ["a", "b"], "nums": [1, 2]}
    assert store.add_texts(["hello world"], [meta], ids=["h"]) == ["h"]
    assert store.get_by_ids(["h"]) == [Document(id="h", page_content="hello world", metadata=meta)]
    assert store.similarity_search("hello world", k=1) == [Document(id="h", page_content="hello world", metadata=meta)]


def test_add_texts_generates_distinct_ids_and_drops_none_metadata_values(store):
    new_ids = store.add_texts(["one", "two"], [{"a": None, "b": 1}, {}])
    assert len(set(new_ids)) == 2
    assert [d.metadata for d in store.get_by_ids(new_ids)] == [{"b": 1}, {}]


def test_add_documents_honours_document_ids_and_fills_missing_ones(store):
    docs = [Document(id="keep", page_content="alpha"), Document(page_content="beta"), Document(id="", page_content="c")]
    new_ids = store.add_documents(docs)
    assert new_ids[0] == "keep"
    assert all(new_ids)
    assert len(set(new_ids)) == 3
    assert [d.page_content for d in store.get_by_ids(new_ids)] == ["alpha", "beta", "c"]


def test_add_documents_ids_kwarg_takes_precedence_over_document_ids(store):
    assert store.add_documents([Document(id="doc-id", page_content="alpha")], ids=["kw-id"]) == ["kw-id"]
    assert store.get_by_ids(["doc-id"]) == []


def test_add_documents_upserts_by_id(store):
    store.add_documents([Document(id="x", page_content="old text", metadata={"v": 1})])
    store.add_documents([Document(id="x", page_content="new text", metadata={"v": 2})])
    assert store.engine.count() == 1
    assert store.get_by_ids(["x"]) == [Document(id="x", page_content="new text", metadata={"v": 2})]


def test_writes_refuse_the_reserved_mira_object_key_and_write_nothing(store):
    with pytest.raises(InvalidInputError, match="reserved key 'mira_object'"):
        store.add_texts(["a"], [{"mira_object": "mine"}])
    with pytest.raises(InvalidInputError, match="reserved key 'mira_object'"):
        store.add_objects([b"x"], descriptions=["x"], metadatas=[{"mira_object": 1}])
    assert store.engine.count() == 0


def test_add_texts_accepts_batch_size_but_refuses_unknown_options(store):
    assert store.add_texts(["a"], ids=["a"], batch_size=10) == ["a"]
    with pytest.raises(ConfigError, match="unknown write option"):
        store.add_texts(["b"], ids=["b"], upsert=True)


def test_returned_metadata_is_a_copy(store):
    store.add_texts(["tagged"], [{"tags": ["a"]}], ids=["t"])
    store.similarity_search("tagged", k=1)[0].metadata["tags"].append("mutated")
    store.get_by_ids(["t"])[0].metadata["tags"].append("mutated")
    assert store.get_by_ids(["t"])[0].metadata == {"tags": ["a"]}


# -- delete and get ----------------------------------------------------------------------------
def test_delete_by_ids_ignores_unknown_ids(filled):
    assert filled.delete(["cats", "unknown"]) is True
    assert ids(filled.get_by_ids(["cats", "dogs"])) == ["dogs"]


def test_delete_without_arguments_deletes_everything(filled):
    assert filled.delete() is True
    assert filled.engine.count() == 0
    assert filled.similarity_search("cats", k=3) == []


def test_delete_by_where_and_where_document(filled):
    filled.delete(where={"legs": 0})
    filled.delete(where_document={"$contains": "bark"})
    assert sorted(ids(filled.get_by_ids(["cats", "dogs", "birds", "fish", "snakes"]))) == ["birds", "cats"]


def test_delete_with_ids_and_filter_deletes_only_matching_ids(filled):
    filled.delete(["cats", "fish"], where={"legs": 0})
    assert ids(filled.get_by_ids(["cats", "fish", "snakes"])) == ["cats", "snakes"]


def test_delete_refuses_unknown_options(filled):
    with pytest.raises(ConfigError, match="where_document"):
        filled.delete(filter={"legs": 0})
    assert filled.engine.count() == 5


def test_get_by_ids_keeps_the_order_given_and_skips_unknown(filled):
    assert ids(filled.get_by_ids(["fish", "nope", "cats", "fish"])) == ["fish", "cats"]


# -- similarity, scores and relevance ------------------------------------------------------------
@pytest.fixture
def axes(open_store, table):
    store = open_store(table(AXES))
    store.add_texts(["same", "orth", "opposite"], ids=["same", "orth", "opposite"])
    return store


def test_similarity_search_with_score_returns_distance_as_langchain_chroma(axes):
    scored = axes.similarity_search_with_score("q", k=3)
    assert ids(d for d, _ in scored) == ["same", "orth", "opposite"]
    assert [s for _, s in scored] == pytest.approx([0.0, 1.0, 2.0], abs=1e-6)  # 1 - cosine, lower is better
    assert scored[0][1] == 0.0  # an exact match is at exactly 0, as in Chroma
    by_vector = axes.similarity_search_by_vector_with_relevance_scores([1.0, 0.0, 0.0], k=3)
    assert [s for _, s in by_vector] == pytest.approx([0.0, 1.0, 2.0], abs=1e-6)


def test_hybrid_scores_stay_higher_is_better(axes):
    scored = axes.hybrid_search_with_score("q", k=3)
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    assert [s for _, s in axes.similarity_search_with_score("q", k=3, mode="hybrid")] == [s for _, s in scored]


def test_relevance_maps_cosine_into_unit_interval_and_never_negative(axes):
    scored = axes.similarity_search_with_relevance_scores("q", k=3)
    assert ids(d for d, _ in scored) == ["same", "orth", "opposite"]
    assert [s for _, s in scored] == pytest.approx([1.0, 0.5, 0.0], abs=1e-6)
    assert all(0.0 <= s <= 1.0 for _, s in scored)


def test_relevance_score_threshold_filters(axes):
    assert ids(d for d, _ in axes.similarity_search_with_relevance_scores("q", k=3, score_threshold=0.4)) == [
        "same",
        "orth",
    ]


def test_keyword_relevance_is_squashed_bm25(filled):
    scored = filled.similarity_search_with_relevance_scores("sing at dawn in spring", k=5, mode="lexical")
    bm25 = {hit.id: hit.scores.lexical for hit in filled.engine.search("sing at dawn in spring", k=5, mode="lexical")}
    assert scored
    assert scored[0][0].id == "birds"
    assert [r for _, r in scored] == pytest.approx([bm25[d.id] / (1 + bm25[d.id]) for d, _ in scored])
    assert all(0.0 < r < 1.0 for _, r in scored)


def test_hybrid_relevance_is_the_absolute_fused_score_else_the_dense_part(filled):
    scored = filled.similarity_search_with_relevance_scores("cats purr", k=5, mode="hybrid")
    fused = {hit.id: hit.scores.fused for hit in filled.engine.search("cats purr", k=5, mode="hybrid")}
    assert [r for _, r in scored] == pytest.approx([fused[d.id] for d, _ in scored])
    scored = filled.similarity_search_with_relevance_scores("cats purr", k=5, mode="hybrid", fusion="rrf")
    dense = {hit.id: hit.scores.dense for hit in filled.engine.search("cats purr", k=5, mode="hybrid", fusion="rrf")}
    assert [r for _, r in scored] == pytest.approx([(1 + dense[d.id]) / 2 for d, _ in scored])


def test_similarity_search_is_dense_by_default(filled):
    dense = [hit.id for hit in filled.engine.search("cats purr on warm sills", k=3, mode="dense")]
    assert ids(filled.similarity_search("cats purr on warm sills", k=3)) == dense


def test_similarity_search_by_vector(filled, hashing):
    vector = hashing.embed_query("Fish swim in schools through the coral reef")
    assert ids(filled.similarity_search_by_vector(vector, k=1)) == ["fish"]


def test_filter_and_where_document_restrict_before_ranking(filled):
    assert sorted(ids(filled.similarity_search("anything", k=5, filter={"legs": {"$gte": 2}}))) == [
        "birds",
        "cats",
        "dogs",
    ]
    # A selective filter still yields k results when k match.
    assert sorted(ids(filled.similarity_search("cats", k=2, filter={"animal": {"$in": ["fish", "snake"]}}))) == [
        "fish",
        "snakes",
    ]
    assert ids(filled.hybrid_search("sun", k=5, where_document={"$contains": "sun"})) == ["snakes"]
    both = {"$and": [{"legs": 4}, {"year": {"$gt": 2020}}]}
    assert ids(filled.keyword_search("purr bark", k=5, filter=both)) == ["cats"]


@pytest.mark.parametrize(
    "boost",
    [
        FieldBoost("animal", "fish", factor=100.0),
        {"type": "field", "field": "animal", "equals": "fish", "factor": 100.0},
    ],
)
def test_boosts_pass_through_kwargs(filled, boost):
    assert ids(filled.similarity_search("cats purr", k=1)) == ["cats"]
    assert ids(filled.similarity_search("cats purr", k=1, boosts=[boost])) == ["fish"]
    # Hybrid scores (absolute fusion) are 0 without evidence and a boost multiplies evidence:
    # the fish record needs some (the word "fish") to be lifted.
    assert ids(filled.hybrid_search("cats purr fish", k=1)) == ["cats"]
    assert ids(filled.hybrid_search("cats purr fish", k=1, boosts=[boost])) == ["fish"]


def test_fusion_and_alpha_pass_through_kwargs(filled):
    query = "cats sleep in the sun"
    dense = ids(filled.similarity_search(query, k=5))
    lexical = ids(filled.keyword_search(query, k=5))
    assert ids(filled.hybrid_search(query, k=5, fusion="weighted", alpha=1.0)) == dense
    assert ids(filled.hybrid_search(query, k=len(lexical), fusion="weighted", alpha=0.0)) == lexical
    scored = filled.similarity_search_with_score(query, k=3, mode="hybrid", fusion="rrf")
    hits = filled.engine.search(query, k=3, mode="hybrid", fusion="rrf")
    assert [(d.id, s) for d, s in scored] == [(h.id, h.score) for h in hits]


def test_keyword_search_returns_only_documents_sharing_a_term(filled):
    assert ids(filled.keyword_search("coral reef", k=5)) == ["fish"]
    assert filled.keyword_search("zebra", k=5) == []


def test_hybrid_search_unions_both_sides(filled):
    assert len(filled.hybrid_search("coral reef", k=5)) == 5
    assert filled.hybrid_search("coral reef", k=1)[0].id == "fish"


def test_unknown_search_options_and_fixed_modes_are_refused(filled):
    with pytest.raises(ConfigError, match=r"valid options are \['alpha', 'boosts'"):
        filled.similarity_search("cats", where={"legs": 4})
    with pytest.raises(ConfigError, match="unknown search option"):
        filled.hybrid_search("cats", mode="dense")
    with pytest.raises(ConfigError, match="mode must be one of"):
        filled.similarity_search("cats", mode="semantic")


# -- MMR --------------------------------------------------------------------------------------
MMR_TABLE = {"q": [1.0, 0.0, 0.0], "a": [1.0, 0.0, 0.0], "a2": [0.99, 0.141, 0.0], "b": [0.6, 0.0, 0.8]}


def test_mmr_prefers_diverse_documents(open_store, table):
    store = open_store(table(MMR_TABLE))
    store.add_texts(["a", "a2", "b"], ids=["a", "a2", "b"])
    assert ids(store.similarity_search("q", k=2)) == ["a", "a2"]
    assert ids(store.max_marginal_relevance_search("q", k=2, lambda_mult=0.3)) == ["a", "b"]
    assert ids(store.max_marginal_relevance_search("q", k=2, lambda_mult=1.0)) == ["a", "a2"]
    assert ids(store.max_marginal_relevance_search_by_vector([1.0, 0.0, 0.0], k=2, lambda_mult=0.3)) == ["a", "b"]


def test_mmr_with_k_above_default_fetch_k(store):
    store.add_texts([f"document number {i}" for i in range(25)])
    assert len(store.max_marginal_relevance_search("document", k=25)) == 25


# -- search_type dispatch --------------------------------------------------------------------------
def test_search_accepts_langchain_and_mira_search_types(filled):
    assert filled.search("coral reef", "keyword") == filled.keyword_search("coral reef")
    assert filled.search("coral reef", "hybrid", k=2) == filled.hybrid_search("coral reef", k=2)
    assert filled.search("coral reef", "similarity", k=2) == filled.similarity_search("coral reef", k=2)
    assert filled.search("coral reef", "mmr", k=2) == filled.max_marginal_relevance_search("coral reef", k=2)
    threshold = filled.search("coral reef", "similarity_score_threshold", score_threshold=0.99)
    assert threshold == []
    with pytest.raises(ConfigError, match="'similarity', 'similarity_score_threshold', 'mmr', 'hybrid', 'keyword'"):
        filled.search("x", "semantic")


# -- raw objects --------------------------------------------------------------------------------
def test_objects_round_trip_and_hits_say_they_are_objects(store):
    payload, matrix = b"\x00\x01raw bytes", np.arange(6, dtype=np.int64).reshape(2, 3)
    new_ids = store.add_objects(
        [payload, {"colour": "teal", "sizes": [1, 2]}, matrix],
        ids=["bin", "json", "arr"],
        descriptions=["a raw binary blob", None, "a numpy matrix of integers"],
        metadatas=[{"kind": "bin"}, None, {"kind": "array"}],
    )
    assert new_ids == ["bin", "json", "arr"]
    store.add_texts(["a plain text about a numpy matrix"], ids=["text"])
    assert store.get_object("bin") == payload
    assert store.get_object("json") == {"colour": "teal", "sizes": [1, 2]}
    np.testing.assert_array_equal(store.get_object("arr"), matrix)

    (binary,) = store.get_by_ids(["bin"])
    assert binary.metadata == {
        "kind": "bin",
        "mira_object": {
            "content_type": "application/octet-stream",
            "codec": "bytes",
            "size": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        },
    }
    hits = {d.id: d for d in store.keyword_search("numpy matrix", k=5)}
    assert hits["arr"].metadata["mira_object"]["codec"] == "numpy"
    assert hits["arr"].metadata["kind"] == "array"
    assert hits["text"].metadata == {}
    assert "teal" in store.get_by_ids(["json"])[0].page_content


def test_get_object_of_a_text_record_raises(store):
    store.add_texts(["plain"], ids=["p"])
    with pytest.raises(RecordNotFoundError):
        store.get_object("p")


def test_add_objects_refuses_misaligned_lists(store):
    with pytest.raises(InvalidInputError, match="1 descriptions for 2 records"):
        store.add_objects([b"a", b"b"], descriptions=["only one"])


# -- construction ---------------------------------------------------------------------------------
def test_from_texts_and_from_documents_honour_ids_and_client_options(tmp_path):
    emb = DeterministicFakeEmbedding(size=8)
    a = MiraVectorStore.from_texts(["x", "y"], emb, [{"n": 1}, {"n": 2}], ids=["1", "2"], name="texts")
    b = MiraVectorStore.from_documents([Document(id="d", page_content="z")], emb, path=tmp_path, name="docs")
    try:
        assert a.get_by_ids(["2"]) == [Document(id="2", page_content="y", metadata={"n": 2})]
        assert a.engine.name == "texts"
        assert b.get_by_ids(["d"]) == [Document(id="d", page_content="z")]
        assert (tmp_path / "chroma.sqlite3").exists()
    finally:
        a.close()
        b.close()


def test_embeddings_property_and_default_minilm():
    emb = DeterministicFakeEmbedding(size=8)
    store = MiraVectorStore(emb)
    default = MiraVectorStore()  # the bundled MiniLM, loaded lazily: nothing is embedded here
    try:
        assert store.embeddings is emb
        assert default.embeddings is None
        assert default.engine.embedder.name == "all-MiniLM-L6-v2-int8"  # a new store: int8 on ONNX Runtime
        assert default.engine.dimension == 384
    finally:
        store.close()
        default.close()


def test_from_engine_shares_one_engine():
    engine = HybridStore.in_memory(embedder=HashingEmbedder(32))
    try:
        engine.add(["shared record about otters"], ids=["otter"], metadatas=[{"src": "engine"}])
        store = MiraVectorStore.from_engine(engine)
        assert store.engine is engine
        assert store.embeddings is None
        assert store.similarity_search("otters", k=1) == [
            Document(id="otter", page_content="shared record about otters", metadata={"src": "engine"})
        ]
        store.add_texts(["written through langchain"], ids=["lc"])
        assert engine.get(["lc"])[0].document == "written through langchain"
    finally:
        engine.close()


def test_scores_are_cosines_for_unnormalised_embeddings(open_store, table):
    store = open_store(table({"q": [2.0, 0.0, 0.0], "long": [5.0, 0.0, 0.0], "diag": [3.0, 3.0, 0.0]}))
    store.add_texts(["long", "diag"], ids=["long", "diag"])
    scored = store.similarity_search_with_score("q", k=2)
    assert [s for _, s in scored] == pytest.approx([0.0, 1 - 2**-0.5], abs=1e-6)  # distances of unit vectors


@pytest.mark.integration
async def test_bundled_minilm_end_to_end():
    """The one test with the real model: no LangChain embeddings, so the engine embeds (in a
    thread on the async path)."""
    store = MiraVectorStore()
    try:
        store.add_texts(
            ["Cats purr and sleep on warm windowsills", "Dogs bark at the mail carrier", "Fish swim in the reef"],
            ids=["cats", "dogs", "fish"],
        )
        scored = store.similarity_search_with_relevance_scores("a feline napping in the sunshine", k=3)
        assert len(scored) == 3
        assert scored[0][0].id == "cats"
        assert all(0.0 <= r <= 1.0 for _, r in scored)
        assert [d.id for d in await store.asimilarity_search("a canine making noise", k=1)] == ["dogs"]
    finally:
        store.close()
