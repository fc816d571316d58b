"""MiraVectorStore.query / aquery in every mode, with restrictions and options."""

from __future__ import annotations

import numpy as np
import pytest
from llama_fakes import CORPUS, HashEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores import ConfigError, FieldBoost, FusionMethod
from mira_vectorstores.llama_index import MiraVectorStore

Mode = VectorStoreQueryMode


def cosine_ranking(embed: HashEmbedding, text: str) -> list[tuple[str, float]]:
    q = np.asarray(embed.vector(text))
    sims = [(node_id, float(np.asarray(embed.vector(doc)) @ q)) for node_id, doc, _, _ in CORPUS]
    return sorted(sims, key=lambda item: (-item[1], item[0]))


def q(embed: HashEmbedding, text: str, **kwargs) -> VectorStoreQuery:
    return VectorStoreQuery(query_str=text, query_embedding=embed.vector(text), **kwargs)


async def test_default_mode_ranks_by_cosine_with_similarity_in_unit_interval(filled, call, embed_model) -> None:
    expected = cosine_ranking(embed_model, "a cat sat on the mat")
    result = await call(filled, "query", q(embed_model, "a cat sat on the mat", similarity_top_k=6))
    assert result.ids == [node_id for node_id, _ in expected]
    assert result.similarities == pytest.approx([(1 + cos) / 2 for _, cos in expected], abs=1e-6)
    assert all(0.0 <= s <= 1.0 for s in result.similarities)
    assert [n.node_id for n in result.nodes] == result.ids
    assert result.nodes[0].text == "the cat sat on the warm mat"


async def test_default_mode_returns_similarity_top_k(filled, call, embed_model) -> None:
    result = await call(filled, "query", q(embed_model, "the cat", similarity_top_k=2))
    assert result.ids == ["n0", "n1"]


@pytest.mark.parametrize("mode", [Mode.SPARSE, Mode.TEXT_SEARCH])
async def test_sparse_modes_are_bm25(filled, call, mode: Mode) -> None:
    # No query embedding: VectorIndexRetriever does not embed for these modes.
    result = await call(filled, "query", VectorStoreQuery(query_str="cat mat", similarity_top_k=5, mode=mode))
    engine = filled.client.search("cat mat", k=5, mode="lexical")
    assert result.ids == [h.id for h in engine] == ["n0", "n2"]  # only nodes sharing a word
    assert result.similarities == [h.score for h in engine]
    assert result.similarities[0] > result.similarities[1] > 0
    one = await call(
        filled, "query", VectorStoreQuery(query_str="cat mat", similarity_top_k=5, sparse_top_k=1, mode=mode)
    )
    assert one.ids == ["n0"]


async def test_hybrid_alpha_weighs_dense_against_lexical(filled, call, embed_model) -> None:
    dense_only = await call(filled, "query", q(embed_model, "the cat", mode=Mode.HYBRID, alpha=1.0, similarity_top_k=6))
    lexical_only = await call(
        filled, "query", q(embed_model, "the cat", mode=Mode.HYBRID, alpha=0.0, similarity_top_k=6)
    )
    dense = [node_id for node_id, _ in cosine_ranking(embed_model, "the cat")]
    assert dense_only.ids == dense
    assert lexical_only.ids[:2] == ["n0", "n2"]  # the two BM25 hits first
    assert dense[1] == "n1"  # (so alpha changed the second place)
    balanced = await call(filled, "query", q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=3))
    engine = filled.client.search("the cat", vector=embed_model.vector("the cat"), k=3, mode="hybrid")
    assert balanced.ids == [h.id for h in engine]
    assert balanced.similarities == [h.score for h in engine]  # the fused score, documented


async def test_hybrid_top_k_and_sparse_top_k(filled, call, embed_model) -> None:
    # Each side takes at least the hits returned, so the union fills hybrid_top_k: a smaller
    # similarity_top_k or sparse_top_k only counts when it is larger. (Before, sparse_top_k=1
    # with similarity_top_k=2 and hybrid_top_k=3 returned 2 hits.)
    narrow = q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=2, sparse_top_k=1, hybrid_top_k=3)
    wider = q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=3, sparse_top_k=3, hybrid_top_k=3)
    narrow_ids = (await call(filled, "query", narrow)).ids
    assert len(narrow_ids) == 3
    assert narrow_ids == (await call(filled, "query", wider)).ids
    one = q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=2, sparse_top_k=2, hybrid_top_k=1)
    assert (await call(filled, "query", one)).ids == ["n0"]
    # Without hybrid_top_k, sparse_top_k below similarity_top_k (the hits) changes nothing.
    lexical_one = q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=6, sparse_top_k=1, alpha=0.0)
    lexical_all = q(embed_model, "the cat", mode=Mode.HYBRID, similarity_top_k=6, sparse_top_k=6, alpha=0.0)
    for fusion in (FusionMethod.RRF, FusionMethod.WEIGHTED):
        by_one = (await call(filled, "query", lexical_one, fusion=fusion)).ids
        assert by_one == (await call(filled, "query", lexical_all, fusion=fusion)).ids
        assert by_one[:2] == ["n0", "n2"]  # alpha 0: the two BM25 hits first


async def test_hybrid_fusion_option(filled, call, embed_model) -> None:
    query = q(embed_model, "cat dog friends market", mode=Mode.HYBRID, similarity_top_k=4)
    result = await call(filled, "query", query, fusion=FusionMethod.WEIGHTED)
    engine = filled.client.search(
        "cat dog friends market",
        vector=embed_model.vector("cat dog friends market"),
        k=4,
        mode="hybrid",
        fusion="weighted",
    )
    assert result.ids == [h.id for h in engine]
    assert result.similarities == pytest.approx([h.score for h in engine])
    assert all(0.0 <= s <= 1.0 for s in result.similarities)
    assert result.similarities[0] == pytest.approx(1.0)  # min-max: the best of both sides


async def test_boosts_option_reorders(filled, call, embed_model) -> None:
    plain = await call(filled, "query", q(embed_model, "the cat", similarity_top_k=2))
    boosted = await call(
        filled, "query", q(embed_model, "the cat", similarity_top_k=2), boosts=[FieldBoost("topic", "food", factor=3.0)]
    )
    assert plain.ids == ["n0", "n1"]
    assert boosted.ids == ["n5", "n0"]


async def test_mmr_threshold_trades_relevance_for_diversity(call) -> None:
    embed = HashEmbedding(64)
    store = MiraVectorStore.in_memory()
    texts = {"a": "cat sat on the mat", "b": "cat sat on the mat", "c": "cat sat on a sofa", "d": "stock market news"}
    store.add([TextNode(id_=k, text=t, embedding=embed.vector(t)) for k, t in texts.items()])
    relevance = await call(
        store, "query", q(embed, "cat sat mat", mode=Mode.MMR, similarity_top_k=2, mmr_threshold=1.0)
    )
    diverse = await call(store, "query", q(embed, "cat sat mat", mode=Mode.MMR, similarity_top_k=2, mmr_threshold=0.3))
    assert relevance.ids == ["a", "b"]  # the duplicate, as plain dense search ranks it
    assert diverse.ids == ["a", "d"]  # the duplicate and the near-duplicate are skipped
    # VectorIndexRetriever passes the threshold through vector_store_kwargs.
    via_kwargs = await call(
        store, "query", q(embed, "cat sat mat", mode=Mode.MMR, similarity_top_k=2), mmr_threshold=0.3
    )
    assert via_kwargs.ids == ["a", "d"]
    store.client.close()


async def test_node_ids_and_doc_ids_restrict_the_search(filled, call, embed_model) -> None:
    cases = [
        ({"node_ids": ["n3", "n5", "missing"]}, ["n5", "n3"]),
        ({"doc_ids": ["docB"]}, ["n4", "n3"]),
        ({"doc_ids": ["docB", "docC"], "node_ids": ["n3", "n0"]}, ["n3"]),
        # Empty lists do not restrict: VectorStoreIndex.as_retriever passes node_ids=[].
        ({"node_ids": [], "doc_ids": []}, ["n0", "n1", "n2", "n3", "n4", "n5"]),
    ]
    for restriction, expected in cases:
        for mode in (Mode.DEFAULT, Mode.HYBRID, Mode.MMR):
            result = await call(
                filled, "query", q(embed_model, "the bread", mode=mode, similarity_top_k=6, **restriction)
            )
            assert sorted(result.ids) == sorted(expected), (restriction, mode)
    top = await call(filled, "query", q(embed_model, "the bread", similarity_top_k=5, node_ids=["n3", "n5"]))
    assert top.ids == ["n5", "n3"]
    lexical = VectorStoreQuery(
        query_str="cat dog", mode=Mode.TEXT_SEARCH, similarity_top_k=5, doc_ids=["docA"], node_ids=["n1"]
    )
    assert (await call(filled, "query", lexical)).ids == ["n1"]


async def test_query_text_alone_uses_the_stores_embed_model(call) -> None:
    model = HashEmbedding(64)
    store = MiraVectorStore.in_memory(embed_model=model)
    store.add([TextNode(id_=node_id, text=text, metadata={}) for node_id, text, _, _ in CORPUS])
    before = dict(model.calls)
    result = await call(store, "query", VectorStoreQuery(query_str="the warm mat", similarity_top_k=1))
    assert result.ids == ["n0"]
    kind = "async" if call.use_async else "sync"
    assert model.calls[kind] == before[kind] + 1  # aquery awaits the model's async embedding
    store.client.close()


async def test_dense_query_without_vector_or_embedder_lists_the_filtered_nodes(filled, call) -> None:
    # As ChromaVectorStore: no vector and no way to make one -> the first k nodes that pass the filters.
    everything = await call(filled, "query", VectorStoreQuery(query_str="cat", similarity_top_k=100))
    assert sorted(everything.ids) == sorted(node.node_id for node in filled.get_nodes())
    assert everything.similarities is None
    filters = MetadataFilters(filters=[MetadataFilter(key="legs", value=4)])
    some = await call(filled, "query", VectorStoreQuery(filters=filters, similarity_top_k=100))
    assert some.ids
    assert all(node.metadata["legs"] == 4 for node in some.nodes)
    assert len(some.ids) < len(everything.ids)
    two = await call(filled, "query", VectorStoreQuery(similarity_top_k=2, mode=Mode.MMR))
    assert len(two.ids) == 2


@pytest.mark.parametrize("mode", [Mode.SVM, Mode.SEMANTIC_HYBRID, Mode.LINEAR_REGRESSION, Mode.LOGISTIC_REGRESSION])
async def test_unsupported_mode_raises(filled, call, mode: Mode) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        await call(filled, "query", VectorStoreQuery(query_str="cat", query_embedding=[1.0] * 64, mode=mode))


async def test_unknown_query_option_raises(filled, call) -> None:
    with pytest.raises(ConfigError, match="unknown query options"):
        await call(filled, "query", VectorStoreQuery(query_embedding=[1.0] * 64), rerank=True)


async def test_chroma_style_query_options_where_where_document_and_mmr_prefetch(filled, call, embed_model) -> None:
    """ChromaVectorStore's vector_store_kwargs: where / where_document (ANDed with filters) and the MMR prefetch."""
    query = q(embed_model, "the cat", similarity_top_k=10)
    dogs = await call(filled, "query", query, where={"animal": "dog"})
    assert dogs.ids
    assert all(node.metadata["animal"] == "dog" for node in dogs.nodes)
    barking = await call(filled, "query", query, where_document={"$contains": "bark"})
    assert barking.ids
    assert all("bark" in node.get_content() for node in barking.nodes)
    both = VectorStoreQuery(
        query_str="the cat",
        query_embedding=embed_model.vector("the cat"),
        similarity_top_k=10,
        filters=MetadataFilters(filters=[MetadataFilter(key="legs", value=4)]),
    )
    anded = await call(filled, "query", both, where={"animal": "cat"})
    assert anded.ids
    assert all(n.metadata["animal"] == "cat" and n.metadata["legs"] == 4 for n in anded.nodes)
    mmr = q(embed_model, "the cat", mode=Mode.MMR, similarity_top_k=2)
    assert len((await call(filled, "query", mmr, mmr_prefetch_k=4)).ids) == 2
    assert len((await call(filled, "query", mmr, mmr_prefetch_factor=2.0)).ids) == 2
    with pytest.raises(ConfigError, match="not both"):
        await call(filled, "query", mmr, mmr_prefetch_k=4, mmr_prefetch_factor=2.0)
    with pytest.raises(ConfigError, match="mmr_prefetch_factor must be a number > 0"):
        await call(filled, "query", mmr, mmr_prefetch_factor=0)
