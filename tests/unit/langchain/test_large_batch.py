"""20,000 documents in one add_documents call: past Chroma's per-write limit, where
langchain-chroma's add_texts fails, the engine chunks the write."""

from __future__ import annotations

import chromadb
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from mira_vectorstores.langchain import MiraVectorStore

N = 20_000


def test_add_documents_past_chromas_batch_limit():
    client = chromadb.EphemeralClient()
    assert client.get_max_batch_size() < N  # otherwise this test would prove nothing

    docs = [
        Document(id=f"doc-{i}", page_content=f"record {i} about topic {i % 97}", metadata={"i": i}) for i in range(N)
    ]
    store = MiraVectorStore(DeterministicFakeEmbedding(size=8))
    try:
        ids = store.add_documents(docs)
        assert ids == [d.id for d in docs]
        assert store.engine.count() == N
        sample = ["doc-0", "doc-5461", "doc-12345", "doc-19999"]
        assert store.get_by_ids(sample) == [docs[int(i.split("-")[1])] for i in sample]
        assert store.similarity_search(docs[17_000].page_content, k=1) == [docs[17_000]]
        assert [d.id for d in store.keyword_search("record 19999", k=1, filter={"i": {"$gte": 19_000}})] == [
            "doc-19999"
        ]
    finally:
        store.close()
