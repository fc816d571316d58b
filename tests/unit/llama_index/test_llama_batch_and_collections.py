"""LlamaIndex: ``query_batch`` / ``MiraRetriever.retrieve_batch`` and ``MiraCollectionsRetriever``."""

from __future__ import annotations

from typing import Any

import pytest
from llama_fakes import HashEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from mira_vectorstores.engine import ConfigError, HybridStore
from mira_vectorstores.llama_index import MiraCollectionsRetriever, MiraRetriever, MiraVectorStore

QUERIES = ["fish in the reef", "who hunts at night", "desert animals"]


def _nodes(embed: HashEmbedding, texts: list[str], prefix: str) -> list[TextNode]:
    return [
        TextNode(id_=f"{prefix}{i}", text=text, embedding=embed.get_text_embedding(text))
        for i, text in enumerate(texts)
    ]


@pytest.mark.parametrize("mode", ["default", "hybrid", "text_search"])
def test_retrieve_batch_equals_retrieve_of_each(
    filled: MiraVectorStore, embed_model: HashEmbedding, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = MiraRetriever(filled, embed_model=embed_model, mode=mode, similarity_top_k=3)
    one_by_one = [[(h.node.node_id, h.score) for h in retriever.retrieve(q)] for q in QUERIES]
    calls = {"batch": 0}
    batch = HybridStore.search_batch

    def counted(self: HybridStore, *args: Any, **kwargs: Any) -> Any:
        calls["batch"] += 1
        return batch(self, *args, **kwargs)

    monkeypatch.setattr(HybridStore, "search_batch", counted)
    batched = [[(h.node.node_id, h.score) for h in hits] for hits in retriever.retrieve_batch(QUERIES)]
    assert [[i for i, _ in hits] for hits in batched] == [[i for i, _ in hits] for hits in one_by_one]
    assert calls["batch"] == 1


def test_query_batch_runs_differing_queries_one_by_one(filled: MiraVectorStore, embed_model: HashEmbedding) -> None:
    queries = [
        VectorStoreQuery(query_embedding=embed_model.get_query_embedding("reef"), similarity_top_k=2),
        VectorStoreQuery(query_str="reef", mode=VectorStoreQueryMode.TEXT_SEARCH, similarity_top_k=3),
    ]
    results = filled.query_batch(queries)
    assert [r.ids for r in results] == [filled.query(q).ids for q in queries]


def test_collections_retriever_merges_and_names_each_store(embed_model: HashEmbedding) -> None:
    ocean, land = MiraVectorStore.in_memory(), MiraVectorStore.in_memory()
    try:
        ocean.add(_nodes(embed_model, ["coral reef fish swim", "reef shark hunts fish"], "o"))
        land.add(_nodes(embed_model, ["desert fox runs", "owl hunts mice at night", "goat climbs"], "l"))
        retriever = MiraCollectionsRetriever([ocean, land], embed_model=embed_model, similarity_top_k=3)
        hits = retriever.retrieve("who hunts fish")
        assert len(hits) == 3
        assert {h.node.metadata["mira_collection"] for h in hits} == {ocean.client.name, land.client.name}
        vector = embed_model.get_query_embedding("who hunts fish")
        own = [
            (h.score, store.client.name, h.id)
            for store in (ocean, land)
            for h in store.client.search("who hunts fish", vector=vector, k=3)
        ]
        expected = [(name, rid) for _, name, rid in sorted(own, key=lambda x: (-x[0], x[1], x[2]))[:3]]
        assert [(h.node.metadata["mira_collection"], h.node.node_id) for h in hits] == expected
        with pytest.raises(ConfigError):
            MiraCollectionsRetriever([])
    finally:
        ocean.client.close()
        land.client.close()
