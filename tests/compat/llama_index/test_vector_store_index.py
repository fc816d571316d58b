"""The scenarios of llama-index-core's ``tests/indices/vector_store/test_simple.py`` and
``test_retrievers.py`` that work with any store keeping the text, run with MiraVectorStore as the
index's vector store (see README.md in this folder).

Where a source test reads SimpleVectorStore's internals (its embedding dict), these tests ask the
store itself: ``get_nodes`` for the texts and their documents, a top-1 query on each fixed vector for
the embeddings.
"""

from __future__ import annotations

from typing import Any

from llama_compat import (
    DOC_IDS,
    FIFTH,
    FIRST,
    FIRST_AGAIN,
    LINES,
    THIRD,
    TableEmbedding,
    assert_vectors,
    close_store,
    contents,
    tracking,
)
from llama_index.core import Document, StorageContext, VectorStoreIndex, load_index_from_storage
from llama_index.core.schema import ImageNode, NodeRelationship, QueryBundle, RelatedNodeInfo, TextNode
from llama_splitter import LineSplitter

from mira_vectorstores.llama_index import MiraVectorStore


def documents() -> list[Document]:
    """One document per line, each with its own id."""
    return [Document(text=text, id_=doc_id) for text, doc_id in zip(LINES, DOC_IDS, strict=True)]


def index_over(store: Any, docs: list[Document], **kwargs: Any) -> VectorStoreIndex:
    """An index of ``docs`` whose vector store is ``store``."""
    return VectorStoreIndex.from_documents(
        docs,
        storage_context=kwargs.pop("storage_context", None) or StorageContext.from_defaults(vector_store=store),
        embed_model=TableEmbedding(),
        transformations=[LineSplitter()],
        **kwargs,
    )


# -- test_simple.py ----------------------------------------------------------------------------
def test_build_index_over_the_store(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_build_simple.

    VectorStoreIndex.ref_doc_info is not implemented for stores that keep the text (ChromaVectorStore
    included), so the nodes' documents are read from the store.
    """
    index_over(store, documents())
    assert contents(store) == set(zip(LINES, DOC_IDS, strict=True))
    assert_vectors(store, LINES)


def test_insert_a_document_and_an_empty_one(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_simple_insert."""
    index = index_over(store, documents())
    index.insert(Document(text=FIFTH))
    index.insert(Document(text=""))  # gives no node
    assert {text for text, _ in contents(store)} == {*LINES, FIFTH}
    assert_vectors(store, [*LINES, FIFTH])


def test_delete_a_document_then_insert_it_again(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_simple_delete."""
    index = index_over(store, documents())

    index.delete_ref_doc("doc-1")
    assert contents(store) == set(zip(LINES[1:], DOC_IDS[1:], strict=True))
    assert_vectors(store, LINES[1:])

    index.insert(Document(text=FIRST_AGAIN, id_="doc-1"))
    assert contents(store) == {(FIRST_AGAIN, "doc-1"), *zip(LINES[1:], DOC_IDS[1:], strict=True)}
    assert_vectors(store, [FIRST_AGAIN, *LINES[1:]])


def test_delete_a_document_from_the_docstore_too(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_simple_delete_ref_node_from_docstore.

    With ``store_nodes_override=True``: an index over a store that keeps the text puts no node in
    its docstore otherwise (ChromaVectorStore included), so there would be nothing to delete there.
    """
    index = index_over(store, documents()[1:3], store_nodes_override=True)
    assert index.docstore.get_ref_doc_info("doc-2") is not None

    index.delete_ref_doc("doc-2", delete_from_docstore=True)

    assert index.docstore.get_ref_doc_info("doc-2") is None
    assert contents(store) == {(THIRD, "doc-3")}


def test_build_with_use_async(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_simple_async."""
    index_over(store, documents(), use_async=True)
    assert contents(store) == set(zip(LINES, DOC_IDS, strict=True))
    assert_vectors(store, LINES)


def test_reload_from_storage_after_build_and_insert(store: MiraVectorStore) -> None:
    """Follows test_simple.py::test_simple_insert_save."""
    context = StorageContext.from_defaults(vector_store=store)
    index = index_over(store, documents(), storage_context=context)
    reloaded = load_index_from_storage(storage_context=context, embed_model=TableEmbedding())
    assert isinstance(reloaded, VectorStoreIndex)
    assert reloaded.index_struct == index.index_struct

    index.insert(Document(text=FIFTH))
    reloaded = load_index_from_storage(storage_context=context, embed_model=TableEmbedding())
    assert isinstance(reloaded, VectorStoreIndex)
    assert reloaded.index_struct == index.index_struct


def test_delete_ref_doc_asks_the_store_once_with_the_doc_id(collection: Any) -> None:
    """Follows test_simple.py::test_delete_ref_doc_calls_vector_store_with_ref_doc_id_only."""
    store = tracking(MiraVectorStore)(chroma_collection=collection)
    try:
        index = index_over(store, [Document(text=FIRST, id_="the-doc")])
        index.delete_ref_doc("the-doc")
        assert store.deletions == [("the-doc", {})]
    finally:
        close_store(store)


# -- test_retrievers.py ------------------------------------------------------------------------
def test_retriever_top_1(store: MiraVectorStore) -> None:
    """Follows test_retrievers.py::test_simple_query."""
    index = index_over(store, documents())
    found = index.as_retriever(similarity_top_k=1).retrieve(QueryBundle("Which one?"))
    assert len(found) == 1
    assert found[0].node.get_content() == THIRD


def test_retrieved_nodes_have_scores(store: MiraVectorStore) -> None:
    """Follows test_retrievers.py::test_query_and_similarity_scores (one document, one node per line)."""
    index = index_over(store, [Document(text="\n".join(LINES))])
    found = index.as_retriever().retrieve(QueryBundle("Which one?"))
    assert len(found) > 0
    assert found[0].score is not None


def test_retrieved_node_keeps_its_id_and_document(store: MiraVectorStore) -> None:
    """Follows test_retrievers.py::test_simple_check_ids (an index built from nodes).

    The source test then looks the node up in SimpleVectorStore's dicts; here ``get_nodes`` does.
    """
    source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id="the-source")}
    nodes = [TextNode(text=text, id_=f"line-{i}", relationships=source) for i, text in enumerate(LINES, start=1)]
    index = VectorStoreIndex(
        nodes, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=TableEmbedding()
    )
    found = index.as_retriever().retrieve(QueryBundle("Which one?"))
    assert found[0].node.get_content() == THIRD
    assert found[0].node.ref_doc_id == "the-source"
    assert found[0].node.node_id == "line-3"
    assert [(n.node_id, n.ref_doc_id) for n in store.get_nodes(node_ids=["line-3"])] == [("line-3", "the-source")]


def test_retrieve_runs(store: MiraVectorStore) -> None:
    """Follows test_retrievers.py::test_query (the retrieval must not raise)."""
    index = index_over(store, [Document(text="\n".join(LINES))])
    index.as_retriever().retrieve(QueryBundle("Which one?"))


def test_retrieve_an_inserted_image_node(store: MiraVectorStore) -> None:
    """Follows test_retrievers.py::test_query_image_node."""
    index = index_over(store, [])
    picture = ImageNode(image="potato")
    index.insert_nodes([picture])

    found = index.as_retriever().retrieve(QueryBundle("Which one?"))

    assert len(found) == 1
    assert found[0].node.node_id == picture.node_id
    assert isinstance(found[0].node, ImageNode)
    assert found[0].node.image == "potato"
