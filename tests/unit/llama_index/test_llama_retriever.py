"""MiraRetriever: NodeWithScore in every mode, with fusion, boosts and filters as typed fields."""

from __future__ import annotations

import pytest
from llama_fakes import HashEmbedding
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores import ConfigError, FieldBoost, FusionMethod, ThresholdBoost
from mira_vectorstores.llama_index import MiraRetriever, MiraVectorStore

Mode = VectorStoreQueryMode


async def retrieve(retriever: MiraRetriever, text: str, use_async: bool) -> list[NodeWithScore]:
    return await retriever.aretrieve(text) if use_async else retriever.retrieve(text)


@pytest.fixture(params=[False, True], ids=["sync", "async"])
def use_async(request: pytest.FixtureRequest) -> bool:
    return request.param


def test_fields_are_typed(filled: MiraVectorStore, embed_model: HashEmbedding) -> None:
    rule = FieldBoost("animal", "cat", factor=2.0)
    retriever = MiraRetriever(filled, embed_model=embed_model, mode="hybrid", fusion="dbsf", boosts=[rule], alpha=0.3)
    assert isinstance(retriever, BaseRetriever)
    assert retriever.mode is Mode.HYBRID
    assert retriever.fusion is FusionMethod.DBSF
    assert retriever.boosts == [rule]
    assert retriever.alpha == 0.3
    with pytest.raises(ConfigError, match="not supported"):
        MiraRetriever(filled, mode=Mode.SVM)
    with pytest.raises(ConfigError, match="fusion must be one of 'rrf', 'weighted', 'dbsf'"):
        MiraRetriever(filled, fusion="rank")


@pytest.mark.parametrize(
    ("mode", "extra"),
    [
        (Mode.DEFAULT, {}),
        (Mode.SPARSE, {}),
        (Mode.TEXT_SEARCH, {}),
        (Mode.HYBRID, {"alpha": 0.7}),
        (Mode.HYBRID, {"similarity_top_k": 2, "sparse_top_k": 2, "hybrid_top_k": 3}),
        (Mode.MMR, {"mmr_threshold": 0.2}),
    ],
)
async def test_each_mode_returns_what_the_store_query_returns(
    filled: MiraVectorStore, embed_model: HashEmbedding, use_async: bool, mode: Mode, extra: dict
) -> None:
    settings = {"similarity_top_k": 4, **extra}
    retriever = MiraRetriever(filled, embed_model=embed_model, mode=mode, **settings)
    hits = await retrieve(retriever, "the cat and the dog", use_async)
    expected = filled.query(
        VectorStoreQuery(
            query_str="the cat and the dog",
            query_embedding=embed_model.vector("the cat and the dog"),
            mode=mode,
            **settings,
        )
    )
    assert [h.node.node_id for h in hits] == expected.ids
    assert [h.score for h in hits] == expected.similarities
    assert hits, "the corpus has matches for every mode"
    assert all(isinstance(h, NodeWithScore) for h in hits)


async def test_filters_and_restrictions(filled: MiraVectorStore, embed_model: HashEmbedding, use_async: bool) -> None:
    heavy = MetadataFilters(filters=[MetadataFilter(key="weight", value=5, operator=FilterOperator.GTE)])
    retriever = MiraRetriever(filled, embed_model=embed_model, filters=heavy, similarity_top_k=10)
    assert sorted(h.node.node_id for h in await retrieve(retriever, "cat", use_async)) == ["n1", "n2", "n3"]
    retriever = MiraRetriever(filled, embed_model=embed_model, doc_ids=["docA"], node_ids=["n2", "n3"])
    assert [h.node.node_id for h in await retrieve(retriever, "cat", use_async)] == ["n2"]


async def test_boost_rules_reorder(filled: MiraVectorStore, embed_model: HashEmbedding, use_async: bool) -> None:
    plain = MiraRetriever(filled, embed_model=embed_model, similarity_top_k=3, mode=Mode.TEXT_SEARCH)
    assert [h.node.node_id for h in await retrieve(plain, "cat dog", use_async)] == ["n2", "n0", "n1"]
    boosted = MiraRetriever(
        filled,
        embed_model=embed_model,
        similarity_top_k=3,
        mode=Mode.TEXT_SEARCH,
        boosts=[ThresholdBoost("weight", "gt", 10.0, factor=3.0)],
    )
    hits = await retrieve(boosted, "cat dog", use_async)
    assert [h.node.node_id for h in hits] == ["n1", "n2", "n0"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_fusion_field(filled: MiraVectorStore, embed_model: HashEmbedding, use_async: bool) -> None:
    text = "cat dog friends market"
    for fusion in FusionMethod:
        retriever = MiraRetriever(filled, embed_model=embed_model, mode=Mode.HYBRID, fusion=fusion, similarity_top_k=4)
        engine = filled.client.search(text, vector=embed_model.vector(text), k=4, mode="hybrid", fusion=fusion)
        hits = await retrieve(retriever, text, use_async)
        assert [h.node.node_id for h in hits] == [h.id for h in engine]
        assert [h.score for h in hits] == pytest.approx([h.score for h in engine])


async def test_without_embed_model_the_store_embeds(use_async: bool) -> None:
    model = HashEmbedding(64)
    store = MiraVectorStore.in_memory(embed_model=model)
    from llama_fakes import CORPUS
    from llama_index.core.schema import TextNode

    store.add([TextNode(id_=node_id, text=text) for node_id, text, _, _ in CORPUS])
    retriever = MiraRetriever(store, mode=Mode.HYBRID, similarity_top_k=1)
    assert [h.node.node_id for h in await retrieve(retriever, "fresh bread", use_async)] == ["n5"]
    store.client.close()


async def test_query_bundle_embedding_is_used_as_given(filled: MiraVectorStore, use_async: bool) -> None:
    model = HashEmbedding(64)
    retriever = MiraRetriever(filled, embed_model=model, similarity_top_k=1)
    bundle = QueryBundle(query_str="anything", embedding=model.vector("stock market"))
    hits = await retriever.aretrieve(bundle) if use_async else retriever.retrieve(bundle)
    assert [h.node.node_id for h in hits] == ["n4"]
    assert model.calls == {"sync": 0, "async": 0}
