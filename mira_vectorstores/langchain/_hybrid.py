"""Hybrid and keyword search: the methods LangChain's ``VectorStore`` has no name for.

``EngineSearch`` is the engine call every search method of ``MiraVectorStore`` makes; the
``HybridSearchMixin`` half of ``MiraVectorStore``: each method is one engine search in a
fixed mode (``SearchMode.HYBRID`` or ``SearchMode.LEXICAL``), scores higher-is-better.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from mira_vectorstores.engine import HybridStore, SearchHit, SearchMode
from mira_vectorstores.langchain import _convert


class EngineSearch:
    """The one engine search call of ``MiraVectorStore`` and its mixins, sync and async.

    The async twin awaits the LangChain embedding, then runs the engine in a thread.
    """

    _engine: HybridStore
    _embeddings: Embeddings | None

    def _hits(self, query: str | None, vector: Sequence[float] | None, options: dict[str, Any]) -> list[SearchHit]:
        return self._engine.search(query, vector=vector, **options)

    async def _ahits(
        self, query: str | None, vector: Sequence[float] | None, options: dict[str, Any]
    ) -> list[SearchHit]:
        if vector is None and self._embeddings is not None and _convert.needs_vector(query, options):
            vector = await self._embeddings.aembed_query(query)
        return await asyncio.to_thread(self._engine.search, query, vector=vector, **options)


class HybridSearchMixin(EngineSearch):
    """``hybrid_search``, ``hybrid_search_with_score`` and ``keyword_search`` (``MiraVectorStore``'s)."""

    def hybrid_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` best documents by fused dense and BM25 rankings (``fusion=``, ``alpha=``); each
        side takes ``fetch_k`` candidates, at least ``k``, so the union fills ``k`` when it can.
        """
        return _convert.documents(self._hits(query, None, _convert.fixed_options(k, kwargs, SearchMode.HYBRID)))

    async def ahybrid_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Async ``hybrid_search``."""
        return _convert.documents(await self._ahits(query, None, _convert.fixed_options(k, kwargs, SearchMode.HYBRID)))

    def keyword_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` best documents by BM25 alone (documents sharing no term are not returned)."""
        return _convert.documents(self._hits(query, None, _convert.fixed_options(k, kwargs, SearchMode.LEXICAL)))

    async def akeyword_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """Async ``keyword_search``."""
        return _convert.documents(await self._ahits(query, None, _convert.fixed_options(k, kwargs, SearchMode.LEXICAL)))

    def hybrid_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        """``hybrid_search`` with the final (fused and boosted) score of each document, higher is better."""
        return _convert.scored(self._hits(query, None, _convert.fixed_options(k, kwargs, SearchMode.HYBRID)))
