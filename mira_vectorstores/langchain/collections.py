"""``MiraCollectionsRetriever``: one LangChain retriever over several ``MiraVectorStore`` collections."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, InstanceOf, ValidationError, field_validator
from typing_extensions import override

from mira_vectorstores.engine import (
    FieldBoost,
    FusionMethod,
    RecencyBoost,
    SearchMode,
    ThresholdBoost,
    search_collections,
)
from mira_vectorstores.langchain import _convert
from mira_vectorstores.langchain.retriever import config_error
from mira_vectorstores.langchain.vectorstore import MiraVectorStore

#: The metadata key naming the collection a document came from.
COLLECTION_KEY = "mira_collection"


class MiraCollectionsRetriever(BaseRetriever):
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

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    vectorstores: list[MiraVectorStore] = Field(min_length=1)
    """The stores searched (each once)."""
    k: int = Field(default=4, ge=1)
    """Documents returned in all (>= 1)."""
    mode: SearchMode = SearchMode.HYBRID
    """Dense, lexical (BM25), hybrid, or auto (hybrid for text)."""
    fusion: FusionMethod | None = None
    """How hybrid rankings fuse; ``None``: the stores' default (which must agree)."""
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    """Weight of the dense side in fusion; ``None``: the stores' default (which must agree)."""
    filter: dict[str, Any] | None = None
    """Metadata filter in Chroma's ``where`` grammar, applied in every store."""
    where_document: dict[str, Any] | None = None
    """Document filter in Chroma's ``where_document`` grammar."""
    boosts: list[InstanceOf[FieldBoost] | InstanceOf[ThresholdBoost] | InstanceOf[RecencyBoost]] | None = None
    """Boost rules replacing each store's defaults; ``[]`` for none."""
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """Drop documents whose relevance is below this."""
    fetch_k: int | None = Field(default=None, ge=1)
    """Candidates per side and store before fusion and boosts; ``None``: the engine's default."""

    def __init__(self, **data: Any) -> None:
        """Validate the fields.

        Raises:
            ConfigError: for an unknown field or an invalid value (no stores, say).
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc, type(self)) from exc

    @field_validator("boosts", mode="before")
    @classmethod
    def _boost_dicts(cls, value: object) -> object:
        return _convert.parse_boost_items(value)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return _convert.as_mode(value)

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
