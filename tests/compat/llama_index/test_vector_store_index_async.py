"""The scenarios of llama-index-core's ``tests/indices/vector_store/test_simple_async.py`` that work
with any store keeping the text, run with MiraVectorStore as the index's vector store (see
README.md in this folder). Texts outside ``llama_compat.AXES`` embed as zero vectors, as with the
core tests' mock embedding.
"""

from __future__ import annotations

from typing import Any

from llama_compat import (
    DOC_IDS,
    FIFTH,
    FIRST,
    FIRST_AGAIN,
    LINES,
    TableEmbedding,
    assert_vectors,
    close_store,
    contents,
    tracking,
)
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_splitter import LineSplitter

from mira_vectorstores.llama_index import MiraVectorStore


def index_over(store: Any, docs: list[Document]) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=TableEmbedding(),
        transformations=[LineSplitter()],
    )


def documents() -> list[Document]:
    return [Document(text=text, id_=doc_id) for text, doc_id in zip(LINES, DOC_IDS, strict=True)]


async def test_ainsert_a_document_and_an_empty_one(store: MiraVectorStore) -> None:
    """Follows test_simple_async.py::test_simple_insertion."""
    index = index_over(store, documents())
    await index.ainsert(Document(text=FIFTH))
    await index.ainsert(Document(text=""))  # gives no node
    assert {text for text, _ in contents(store)} == {*LINES, FIFTH}
    assert_vectors(store, [*LINES, FIFTH])


async def test_adelete_a_document_then_ainsert_it_again(store: MiraVectorStore) -> None:
    """Follows test_simple_async.py::test_simple_deletion."""
    index = index_over(store, documents())

    await index.adelete_ref_doc("doc-1")
    assert contents(store) == set(zip(LINES[1:], DOC_IDS[1:], strict=True))
    assert_vectors(store, LINES[1:])

    await index.ainsert(Document(text=FIRST_AGAIN, id_="doc-1"))
    assert contents(store) == {(FIRST_AGAIN, "doc-1"), *zip(LINES[1:], DOC_IDS[1:], strict=True)}
    assert_vectors(store, [FIRST_AGAIN, *LINES[1:]])


async def test_aupdate_one_document(store: MiraVectorStore) -> None:
    """Follows test_simple_async.py::test_simple_update."""
    index = index_over(store, [Document(id_="1", text="Morning light"), Document(id_="2", text="Evening tide")])
    await index.aupdate_ref_doc(Document(id_="1", text="Morning light, revised"))
    assert contents(store) == {("Morning light, revised", "1"), ("Evening tide", "2")}


async def test_arefresh_changed_documents(store: MiraVectorStore) -> None:
    """Follows test_simple_async.py::test_simple_refresh."""
    index = index_over(store, [Document(id_="1", text="Morning light"), Document(id_="2", text="Evening tide")])
    await index.arefresh_ref_docs(
        [Document(id_="1", text="Morning light, revised"), Document(id_="2", text="Evening tide, revised")]
    )
    assert contents(store) == {("Morning light, revised", "1"), ("Evening tide, revised", "2")}


async def test_adelete_ref_doc_asks_the_store_once_with_the_doc_id(collection: Any) -> None:
    """Follows test_simple_async.py::test_adelete_ref_doc_calls_vector_store_with_ref_doc_id_only.

    The source store runs adelete through delete; ours has its own adelete, so either counts once.
    """
    store = tracking(MiraVectorStore)(chroma_collection=collection)
    try:
        index = index_over(store, [Document(text=FIRST, id_="the-doc")])
        await index.adelete_ref_doc("the-doc")
        assert store.deletions == [("the-doc", {})]
    finally:
        close_store(store)
