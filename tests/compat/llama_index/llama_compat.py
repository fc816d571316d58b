"""Helpers of the LlamaIndex compatibility tests: fixed embeddings, a line splitter, store probes.

Written for this project; the scenarios they serve are listed in README.md in this folder.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery

DIM = 5

#: Each known line of text has its own axis; LlamaIndex's core tests use the same kind of table.
AXES: dict[str, int] = {
    "Rivers carry water to the sea.": 0,
    "Mountains rise above the clouds.": 1,
    "Forests shelter many birds.": 2,
    "Deserts receive little rain.": 3,
    "Glaciers move very slowly.": 4,
    # Replaces the first line of its document after a delete; it takes the same axis.
    "Rivers carry water to the ocean.": 0,
}
FIRST, SECOND, THIRD, FOURTH, FIFTH, FIRST_AGAIN = AXES
#: The four lines the index tests split into nodes, and the ids of their documents.
LINES = [FIRST, SECOND, THIRD, FOURTH]
DOC_IDS = ["doc-1", "doc-2", "doc-3", "doc-4"]
#: Every query is embedded on this axis, so a top-1 query answers THIRD.
QUERY_AXIS = 2


def axis(i: int) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(DIM)]


def vector_of(text: str) -> list[float]:
    """The fixed vector of a line: its axis when known, else all zeros (as the core tests' mock does)."""
    return axis(AXES[text]) if text in AXES else [0.0] * DIM


class TableEmbedding(BaseEmbedding):
    """Embeds known lines on their own axis, any other text as zeros, every query on ``QUERY_AXIS``."""

    @classmethod
    def class_name(cls) -> str:
        return "TableEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return axis(QUERY_AXIS)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return axis(QUERY_AXIS)

    def _get_text_embedding(self, text: str) -> list[float]:
        return vector_of(text)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return vector_of(text)


def fresh_name(prefix: str = "li-compat") -> str:
    """A collection name no other test uses (Chroma: 3-512 chars of [a-zA-Z0-9._-])."""
    return f"{prefix}-{uuid.uuid4().hex}"


def close_store(store: BasePydanticVectorStore) -> None:
    """Release a store's engine; ChromaVectorStore's client (the collection) has nothing to close."""
    close = getattr(store.client, "close", None)
    if callable(close):
        close()


def contents(store: BasePydanticVectorStore) -> set[tuple[str, str | None]]:
    """(text, ref doc id) of every node in the store."""
    return {(node.get_content(), node.ref_doc_id) for node in store.get_nodes(node_ids=None)}


def assert_vectors(store: BasePydanticVectorStore, texts: Iterable[str]) -> None:
    """Each line was stored with its own vector: a top-1 query on that vector finds it."""
    for text in texts:
        found = store.query(VectorStoreQuery(query_embedding=vector_of(text), similarity_top_k=1))
        assert found.nodes is not None
        assert [node.get_content() for node in found.nodes] == [text]


def tracking(base: type[BasePydanticVectorStore]) -> type[BasePydanticVectorStore]:
    """A subclass of ``base`` that logs each delete-by-document request it receives.

    ``adelete`` is logged once, whether the store runs it itself or falls back on ``delete``.
    """

    class Tracking(base):  # type: ignore[valid-type, misc]
        _deletions: list[tuple[str, dict[str, Any]]] = PrivateAttr(default_factory=list)
        _inside: bool = PrivateAttr(default=False)

        @property
        def deletions(self) -> list[tuple[str, dict[str, Any]]]:
            return self._deletions

        @contextmanager
        def _logged(self, ref_doc_id: str, kwargs: dict[str, Any]) -> Iterator[None]:
            outermost = not self._inside
            if outermost:
                self._deletions.append((ref_doc_id, dict(kwargs)))
                self._inside = True
            try:
                yield
            finally:
                if outermost:
                    self._inside = False

        def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
            with self._logged(ref_doc_id, delete_kwargs):
                super().delete(ref_doc_id, **delete_kwargs)

        async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
            with self._logged(ref_doc_id, delete_kwargs):
                await super().adelete(ref_doc_id, **delete_kwargs)

    return Tracking
