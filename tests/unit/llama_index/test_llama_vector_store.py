"""MiraVectorStore writes, reads, deletes, clear and raw objects, each method sync and async."""

from __future__ import annotations

import numpy as np
import pytest
from llama_fakes import IDS, HashEmbedding, corpus_nodes
from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores import ConfigError, HybridStore, InvalidInputError, RecordNotFoundError
from mira_vectorstores.llama_index import MiraVectorStore

cats = MetadataFilters(filters=[MetadataFilter(key="animal", value="cat")])


def ids_of(nodes) -> list[str]:
    return sorted(n.node_id for n in nodes)


def no_embedding(nodes):
    return [n.model_copy(update={"embedding": None}) for n in nodes]


def test_store_shape(li_store: MiraVectorStore) -> None:
    assert isinstance(li_store, BasePydanticVectorStore)
    assert li_store.stores_text is True
    assert MiraVectorStore.class_name() == "MiraVectorStore"
    assert isinstance(li_store.client, HybridStore)
    assert li_store.to_dict()["class_name"] == "MiraVectorStore"


# -- add ---------------------------------------------------------------------------------
async def test_add_returns_ids_and_nodes_come_back_equal(li_store, call, embed_model) -> None:
    nodes = corpus_nodes(embed_model)
    assert await call(li_store, "add", nodes) == IDS
    back = await call(li_store, "get_nodes", node_ids=IDS)
    assert back == no_embedding(nodes)  # metadata, relationships and ref_doc_id included
    assert [n.ref_doc_id for n in back] == ["docA", "docA", "docA", "docB", "docB", "docC"]
    assert back[5].metadata["chef"] == '{"name": "Ana", "stars": [1, 2]}'
    assert li_store.client.count() == 6


async def test_re_adding_a_node_replaces_text_metadata_and_embedding(filled, call, embed_model) -> None:
    new = TextNode(
        id_="n0",
        text="penguins slide on the ice",
        metadata={"animal": "penguin", "colony_size": 12},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="docZ")},
        embedding=embed_model.vector("penguins slide on the ice"),
    )
    assert await call(filled, "add", [new]) == ["n0"]
    assert filled.client.count() == 6
    assert await call(filled, "get_nodes", node_ids=["n0"]) == no_embedding([new])
    # The old text, metadata and ref doc are gone from every index.
    assert "n0" not in (await call(filled, "query", lexical("warm mat"))).ids
    assert "n0" not in ids_of(await call(filled, "get_nodes", filters=cats))
    assert "n0" not in ids_of(await call(filled, "get_nodes", filters=ref_doc("docA")))
    dense = await call(
        filled, "query", VectorStoreQuery(query_embedding=embed_model.vector("penguins slide on the ice"))
    )
    assert dense.ids == ["n0"]
    assert dense.similarities == [pytest.approx(1.0)]


async def test_add_nothing(li_store, call) -> None:
    assert await call(li_store, "add", []) == []
    assert li_store.client.count() == 0


async def test_node_without_embedding_needs_an_embedder(li_store, call) -> None:
    with pytest.raises(InvalidInputError, match="no embedding"):
        await call(li_store, "add", [TextNode(id_="a", text="no vector")])
    assert li_store.client.count() == 0


async def test_embed_model_embeds_nodes_that_arrive_without_embedding(call) -> None:
    model = HashEmbedding(32)
    store = MiraVectorStore.in_memory(embed_model=model)
    node = TextNode(id_="a", text="cats purr", metadata={"mood": "happy"})
    given = TextNode(id_="b", text="dogs bark", embedding=[1.0] + [0.0] * 31)
    await call(store, "add", [node, given])
    vectors = {r.id: r.embedding for r in store.client.get(include_embeddings=True)}
    # As LlamaIndex would: the text with its embed-mode metadata.
    np.testing.assert_allclose(
        vectors["a"], model.vector(node.get_content(metadata_mode=MetadataMode.EMBED)), atol=1e-6
    )
    np.testing.assert_allclose(vectors["b"], [1.0] + [0.0] * 31)
    assert model.calls["async" if call.use_async else "sync"] >= 1
    assert model.calls["sync" if call.use_async else "async"] == (1 if call.use_async else 0)  # the dimension probe
    store.client.close()


async def test_add_rejects_options(li_store, call) -> None:
    with pytest.raises(ConfigError, match="no extra options"):
        await call(li_store, "add", corpus_nodes(HashEmbedding()), flat=True)


# -- get_nodes ---------------------------------------------------------------------------
async def test_get_nodes(filled, call) -> None:
    assert ids_of(await call(filled, "get_nodes")) == IDS
    assert [n.node_id for n in await call(filled, "get_nodes", node_ids=["n4", "n1", "missing"])] == ["n4", "n1"]
    assert ids_of(await call(filled, "get_nodes", filters=cats)) == ["n0", "n2"]
    assert ids_of(await call(filled, "get_nodes", node_ids=["n1", "n2"], filters=cats)) == ["n2"]
    assert await call(filled, "get_nodes", node_ids=[]) == []


# -- delete ------------------------------------------------------------------------------
def ref_doc(doc_id: str) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key="ref_doc_id", value=doc_id)])


def lexical(text: str) -> VectorStoreQuery:
    return VectorStoreQuery(query_str=text, similarity_top_k=10, mode=VectorStoreQueryMode.TEXT_SEARCH)


async def test_delete_by_ref_doc_id(filled, call) -> None:
    await call(filled, "delete", "docA")
    assert ids_of(await call(filled, "get_nodes")) == ["n3", "n4", "n5"]
    assert (await call(filled, "query", lexical("cat dog mat"))).ids == []
    await call(filled, "delete", "no-such-doc")
    assert filled.client.count() == 3


async def test_delete_nodes_by_ids(filled, call) -> None:
    await call(filled, "delete_nodes", ["n1", "n3", "missing"])
    assert ids_of(await call(filled, "get_nodes")) == ["n0", "n2", "n4", "n5"]


async def test_delete_nodes_by_filters_alone(filled, call) -> None:
    legless = MetadataFilters(filters=[MetadataFilter(key="legs", value=0, operator=FilterOperator.EQ)])
    await call(filled, "delete_nodes", filters=legless)
    assert ids_of(await call(filled, "get_nodes")) == ["n0", "n1", "n2"]


async def test_delete_nodes_by_ids_and_filters_deletes_the_ids_that_match(filled, call) -> None:
    await call(filled, "delete_nodes", node_ids=["n0", "n1"], filters=cats)
    assert ids_of(await call(filled, "get_nodes")) == ["n1", "n2", "n3", "n4", "n5"]


async def test_delete_nodes_needs_ids_or_filters(filled, call) -> None:
    with pytest.raises(InvalidInputError, match="clear"):
        await call(filled, "delete_nodes")
    with pytest.raises(InvalidInputError, match="clear"):
        await call(filled, "delete_nodes", filters=MetadataFilters(filters=[]))
    await call(filled, "delete_nodes", node_ids=[])
    assert filled.client.count() == 6


async def test_delete_rejects_options_and_bad_ids(filled, call) -> None:
    with pytest.raises(ConfigError, match="no extra options"):
        await call(filled, "delete", "docA", cascade=True)
    with pytest.raises(ConfigError, match="no extra options"):
        await call(filled, "delete_nodes", ["n0"], cascade=True)
    with pytest.raises(InvalidInputError, match="ref_doc_id must be a str"):
        await call(filled, "delete", ["docA"])
    assert filled.client.count() == 6


# -- clear -------------------------------------------------------------------------------
async def test_clear_empty_store(li_store, call) -> None:
    await call(li_store, "clear")
    assert li_store.client.count() == 0


async def test_clear_then_reuse(filled, call, embed_model) -> None:
    await call(filled, "clear")
    assert filled.client.count() == 0
    assert await call(filled, "get_nodes") == []
    assert (await call(filled, "query", VectorStoreQuery(query_embedding=[1.0] * 64))).ids == []
    await call(filled, "add", corpus_nodes(embed_model)[:2])
    assert ids_of(await call(filled, "get_nodes")) == ["n0", "n1"]


def test_persist_saves_the_mirrors(tmp_path, embed_model) -> None:
    store = MiraVectorStore.persistent(tmp_path / "db")
    store.add(corpus_nodes(embed_model))
    mirror_dir = tmp_path / "db" / "mira" / "mira"
    assert not (mirror_dir / "manifest.json").exists()
    store.persist(str(tmp_path / "ignored.json"))
    assert (mirror_dir / "manifest.json").exists()
    store.client.close()


# -- raw objects -------------------------------------------------------------------------
async def test_raw_object_is_a_node_whose_payload_the_helper_returns(call) -> None:
    store = MiraVectorStore.in_memory(embed_model=HashEmbedding())
    payload = {"quarter": 3, "sales": [1.5, 2.5], "region": "north"}
    store.client.put_object(payload, id="report", description="quarterly sales report", metadata={"kind": "report"})
    store.client.put_object(np.arange(6).reshape(2, 3), id="matrix", description="a small integer matrix")
    result = await call(store, "query", lexical("sales report"))
    assert result.ids == ["report"]
    node = result.nodes[0]
    assert (node.text, node.metadata) == ("quarterly sales report", {"kind": "report"})
    assert await call(store, "get_object", node) == payload
    info = store.object_info(node)
    assert info is not None
    assert info.content_type == "application/json"
    np.testing.assert_array_equal(await call(store, "get_object", "matrix"), np.arange(6).reshape(2, 3))
    store.add([TextNode(id_="plain", text="not an object", embedding=HashEmbedding().vector("x"))])
    assert store.object_info("plain") is None
    with pytest.raises(RecordNotFoundError, match="plain"):
        await call(store, "get_object", "plain")
    store.client.close()


def test_a_callers_ephemeral_collection_keeps_records_and_raw_objects_after_close() -> None:
    """MiraVectorStore(chroma_collection=...) on an EphemeralClient collection: closing the store
    leaves the caller's collection, its records and the payloads of raw objects, for the next store.
    """
    import uuid

    import chromadb

    collection = chromadb.EphemeralClient().get_or_create_collection(f"caller-{uuid.uuid4().hex[:8]}")
    first = MiraVectorStore(chroma_collection=collection)
    first.add([TextNode(id_="n", text="a node", embedding=[1.0, 0.0])])
    object_id = first.client.put_object(b"payload bytes", description="bytes", embedding=[0.0, 1.0])
    first.client.close()
    assert collection.count() == 2
    second = MiraVectorStore(chroma_collection=collection)
    try:
        assert second.get_object(object_id) == b"payload bytes"
        assert [n.node_id for n in second.get_nodes(["n"])] == ["n"]
    finally:
        second.client.close()
