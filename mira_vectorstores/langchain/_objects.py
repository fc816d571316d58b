"""Raw objects through LangChain: the ``add_objects`` / ``get_object`` half of ``MiraVectorStore``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mira_vectorstores.engine import HybridStore, check_list
from mira_vectorstores.langchain import _convert


class RawObjectsMixin:
    """Stores and reads raw objects through the wrapped engine (``self._engine``).

    A search hit that is a raw object carries ``Document.metadata["mira_object"]``: a dict of
    ``content_type``, ``codec``, ``size`` (bytes) and ``sha256``. That key is reserved: writes
    that use it are refused.
    """

    _engine: HybridStore

    def add_objects(
        self,
        objects: Sequence[object],
        *,
        ids: Sequence[str | None] | None = None,
        descriptions: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        content_types: Sequence[str | None] | None = None,
        embeddings: Sequence[Sequence[float] | None] | None = None,
        codec: str | None = None,
    ) -> list[str]:
        """Store raw objects (bytes, text, JSON, NumPy arrays; pickle with ``codec="pickle"``).

        Each object is searchable by its description (text and JSON objects by their own
        text), or by the vector given in ``embeddings`` (an image's CLIP vector, say). Its
        search hits carry ``metadata["mira_object"]``: a dict of ``content_type``, ``codec``,
        ``size`` and ``sha256``. All objects are one write: a bad one refuses it, nothing is stored.

        Args:
            objects: the objects, a list even of one (a lone bytes, dict or array is refused).
            ids: one per object (``None``: a generated id).
            descriptions: one per object: the text it is found by (BM25, and the embedding
                when no vector is given).
            metadatas: one dict per object.
            content_types: one per object (``None``: guessed from the codec).
            embeddings: one vector per object (``None``: embed its description); the vector
                must have the store's dimension.
            codec: force a codec for every object (``"pickle"`` to pickle).

        Returns:
            The objects' ids.

        Raises:
            ObjectCodecError: when no safe codec fits an object.
            InvalidInputError: for a single item where a list is expected, misaligned lists,
                a missing description and embedding, or a reserved key.
            DimensionMismatchError: for a vector of another dimension than the store's.
        """
        items = check_list(objects, "objects", of="objects", single=(np.ndarray,))
        if metadatas is not None:
            _convert.check_metadatas(check_list(metadatas, "metadatas", of="dicts"))
        written = self._engine.put_objects(
            items,
            ids=ids,
            descriptions=descriptions,
            metadatas=metadatas,
            content_types=content_types,
            embeddings=embeddings,
            codec=codec,
        )
        return [str(i) for i in written]

    async def aadd_objects(self, objects: Sequence[object], **kwargs: Any) -> list[str]:
        """Async ``add_objects`` (same arguments)."""
        return await asyncio.to_thread(self.add_objects, objects, **kwargs)

    def get_object(self, id: str, *, allow_pickle: bool = False) -> object:
        """The object stored under ``id``, byte-exact and verified.

        Raises:
            RecordNotFoundError: no object has this id.
            CorruptedObjectError: the payload is missing or fails its sha256.
            UnsafeDeserializationError: a pickled object without ``allow_pickle=True``.
        """
        return self._engine.get_object(id, allow_pickle=allow_pickle)

    async def aget_object(self, id: str, *, allow_pickle: bool = False) -> object:
        """Async ``get_object``."""
        return await asyncio.to_thread(self.get_object, id, allow_pickle=allow_pickle)
