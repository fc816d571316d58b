"""LlamaIndex adapter (extra ``[llama-index]``): ``MiraVectorStore`` and ``MiraRetriever`` on the engine.

Example:
    >>> from llama_index.core import Document, StorageContext, VectorStoreIndex
    >>> from llama_index.core.embeddings import MockEmbedding
    >>> from mira_vectorstores.llama_index import MiraVectorStore
    >>> store = MiraVectorStore.in_memory()
    >>> index = VectorStoreIndex.from_documents(
    ...     [Document(id_="cats", text="cats purr"), Document(id_="dogs", text="dogs bark")],
    ...     storage_context=StorageContext.from_defaults(vector_store=store),
    ...     embed_model=MockEmbedding(embed_dim=8),
    ... )
    >>> retriever = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=1)
    >>> [hit.node.ref_doc_id for hit in retriever.retrieve("why do cats purr?")]
    ['cats']
    >>> store.client.close()
"""

from __future__ import annotations

from mira_vectorstores.llama_index.collections import MiraCollectionsRetriever
from mira_vectorstores.llama_index.retriever import MiraRetriever
from mira_vectorstores.llama_index.vector_store import MiraVectorStore

__all__ = ["MiraCollectionsRetriever", "MiraRetriever", "MiraVectorStore"]
