"""``MiraCollectionsRetriever``: one LangChain retriever over several ``MiraVectorStore`` collections."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from pydantic import Field
from typing_extensions import override

from mira_vectorstores.engine import search_collections
from mira_vectorstores.langchain import _convert
from mira_vectorstores.langchain.retriever import SearchFields
from mira_vectorstores.langchain.vectorstore import MiraVectorStore

#: The metadata key naming the collection a document came from.
COLLECTION_KEY = "mira_collection"


class MiraCollectionsRetriever(SearchFields):
    """Retrieves from several stores at once, merged into one ranking by the final score.

    Each store runs the same search (hybrid by default); the ``k`` best documents of all of
    them are returned, each with ``metadata["mira_collection"]`` naming its store. Scores are
    comparable because every store searches in the same mode and fusion (stores whose defaults
    differ are refused unless ``mode``, ``fusion`` and ``alpha`` are given). ``score_threshold``
    is a relevance in ``[0, 1]``, as for ``MiraRetriever``.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from mira_vectorstores.langchain import MiraCollectionsRetriever, MiraVectorStore
        >>> cats = MiraVectorStore(DeterministicFakeEmbedding(size=16), collection_name="cats")
        >>> dogs = MiraVectorStore(DeterministicFakeEmbedding(size=16), collection_name="dogs")
        >>> _ = cats.add_texts(["cats purr"], ids=["c"])
        >>> _ = dogs.add_texts(["dogs bark loudly"], ids=["d"])
        >>> retriever = MiraCollectionsRetriever(vectorstores=[cats, dogs], mode="lexical")
        >>> [(doc.id, doc.metadata["mira_collection"]) for doc in retriever.invoke("why do dogs bark?")]
        [('d', 'dogs')]
        >>> cats.close(); dogs.close()
    """

    vectorstores: list[MiraVectorStore] = Field(min_length=1)
    """The stores searched (each once)."""

    @override
    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        names = ("filter", "where_document", "fusion", "alpha", "boosts", "fetch_k")
        options = _convert.search_options(self.k, {name: getattr(self, name) for name in names}, mode=self.mode)
        hits = search_collections([store.engine for store in self.vectorstores], query, **options)
        found = []
        for hit, (doc, relevance) in zip(hits, _convert.relevant(hits), strict=True):
            if self.score_threshold is None or relevance >= self.score_threshold:
                doc.metadata = {**doc.metadata, COLLECTION_KEY: hit.collection}
                found.append(doc)
        return found
