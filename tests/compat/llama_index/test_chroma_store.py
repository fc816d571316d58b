"""The scenarios of llama-index-vector-stores-chroma's ``tests/test_chromadb.py`` and
``tests/test_vector_stores_chroma.py``, run on MiraVectorStore (see README.md in this folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llama_compat import close_store, fresh_name
from llama_index.core.schema import ImageNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from mira_vectorstores.llama_index import MiraVectorStore

SHARED_TEXT = "an untitled passage"
# id, text, metadata, source document, embedding. The first three share their text and sit on
# the three axes; the last three lie on the third axis, nearer the origin one after the other.
SHELF: list[tuple[str, str, dict[str, str], str, list[float]]] = [
    ("shelf-x", SHARED_TEXT, {"author": "Ada Quill", "mood": "calm"}, "src-x", [1.0, 0.0, 0.0]),
    ("shelf-y", SHARED_TEXT, {"editor": "Bo Inkwell", "mood": "stormy"}, "src-y", [0.0, 1.0, 0.0]),
    ("shelf-z", SHARED_TEXT, {"editor": "Cy Margin"}, "src-z", [0.0, 0.0, 1.0]),
    ("shelf-near", "Slow roads still reach the summit.", {"author": "Dee Verse"}, "src-1", [0.0, 0.0, 0.9]),
    ("shelf-mid", "A question asked twice is half answered.", {"author": "Eli Maxim"}, "src-2", [0.0, 0.0, 0.5]),
    ("shelf-far", "No cage holds a mind that keeps moving.", {"author": "Fay Proverb"}, "src-3", [0.0, 0.0, 0.3]),
]
SHARED_IDS = ["shelf-x", "shelf-y", "shelf-z"]


def shelf() -> list[TextNode]:
    return [
        TextNode(
            id_=node_id,
            text=text,
            metadata=metadata,
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=source)},
            embedding=vector,
        )
        for node_id, text, metadata, source, vector in SHELF
    ]


async def add_then_query(store: Any, query: VectorStoreQuery, use_async: bool) -> Any:
    if use_async:
        await store.async_add(shelf())
        return await store.aquery(query)
    store.add(shelf())
    return store.query(query)


def test_subclasses_base_pydantic_vector_store() -> None:
    """Follows test_vector_stores_chroma.py::test_class."""
    assert issubclass(MiraVectorStore, BasePydanticVectorStore)
    assert BasePydanticVectorStore in MiraVectorStore.__mro__


def test_from_collection_gives_a_store(collection: Any) -> None:
    """Follows test_chromadb.py::test_instance_creation_from_collection."""
    made = MiraVectorStore.from_collection(collection)
    try:
        assert isinstance(made, MiraVectorStore)
    finally:
        close_store(made)


def test_from_params_with_persist_dir_gives_a_store(tmp_path: Path) -> None:
    """Follows test_chromadb.py::test_instance_creation_from_persist_dir (in a temporary folder)."""
    made = MiraVectorStore.from_params(
        persist_dir=str(tmp_path / "chroma"), collection_name=fresh_name(), collection_kwargs={}
    )
    try:
        assert isinstance(made, MiraVectorStore)
    finally:
        close_store(made)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_add_then_query_by_embedding(store: MiraVectorStore, use_async: bool) -> None:
    """Follows test_chromadb.py::test_add_to_chromadb_and_query (both of its parameters)."""
    result = await add_then_query(
        store, VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=1), use_async
    )
    assert result.nodes
    assert result.nodes[0].get_content() == SHARED_TEXT


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_add_then_query_by_metadata_filter_alone(store: MiraVectorStore, use_async: bool) -> None:
    """Follows test_chromadb.py::test_add_to_chromadb_and_query_by_metafilters_only (both parameters):
    a query with filters and no embedding."""
    filters = MetadataFilters(
        filters=[MetadataFilter(key="author", value="Dee Verse", operator=FilterOperator.EQ)],
        condition=FilterCondition.AND,
    )
    result = await add_then_query(store, VectorStoreQuery(filters=filters, similarity_top_k=1), use_async)
    assert result.nodes
    assert result.nodes[0].get_content() == "Slow roads still reach the summit."


def test_get_nodes_by_id(store: MiraVectorStore) -> None:
    """Follows test_chromadb.py::test_get_nodes."""
    store.add(shelf())
    found = store.get_nodes(node_ids=SHARED_IDS)
    assert len(found) == 3
    assert {node.node_id for node in found} == set(SHARED_IDS)
    assert all(node.get_content() == SHARED_TEXT for node in found)


def test_delete_nodes_by_id(store: MiraVectorStore) -> None:
    """Follows test_chromadb.py::test_delete_nodes."""
    store.add(shelf())
    store.delete_nodes(node_ids=SHARED_IDS[:2])
    left = store.get_nodes(node_ids=SHARED_IDS)
    assert [(node.node_id, node.get_content()) for node in left] == [("shelf-z", SHARED_TEXT)]


def test_clear_empties_the_store(store: MiraVectorStore) -> None:
    """Follows test_chromadb.py::test_clear."""
    store.add(shelf())
    store.clear()
    assert store.get_nodes(node_ids=SHARED_IDS) == []


# test_vector_stores_chroma.py feeds ChromaVectorStore's private _query / _get a fake collection
# whose records have no document text; through the public API the same case is an image node
# with empty text, which a query and get_nodes must give back as an ImageNode.
PICTURE = "http://example.com/picture.png"


def picture_node() -> ImageNode:
    return ImageNode(id_="picture-1", text="", image_url=PICTURE, embedding=[0.2, 0.4, 0.6])


def test_query_gives_back_an_image_node_without_text(store: MiraVectorStore) -> None:
    """Follows test_vector_stores_chroma.py::test_query_rehydrates_image_nodes_with_missing_documents."""
    store.add([picture_node()])
    result = store.query(VectorStoreQuery(query_embedding=[0.2, 0.4, 0.6], similarity_top_k=1))
    assert result.nodes is not None
    assert isinstance(result.nodes[0], ImageNode)
    assert result.nodes[0].image_url == PICTURE


def test_get_nodes_gives_back_an_image_node_without_text(store: MiraVectorStore) -> None:
    """Follows test_vector_stores_chroma.py::test_get_handles_missing_document_text."""
    store.add([picture_node()])
    found = store.get_nodes(node_ids=["picture-1"])
    assert len(found) == 1
    assert isinstance(found[0], ImageNode)
    assert found[0].image_url == PICTURE
