"""Raw objects through LangChain: the ``add_objects`` / ``get_object`` half of ``MiraVectorStore``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from mira_vectorstores.engine import HybridStore
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
        codec: str | None = None,
    ) -> list[str]:
        """Store raw objects (bytes, text, JSON, NumPy arrays; pickle with ``codec="pickle"``).

        Each object is searchable by its description (text and JSON objects by their own
        text). Its search hits carry ``metadata["mira_object"]``: a dict of ``content_type``,
        ``codec``, ``size`` and ``sha256``. Each object is its own write.

        Returns:
            The objects' ids.

        Raises:
            ObjectCodecError: when no safe codec fits an object.
            InvalidInputError: for misaligned lists, a missing description or a reserved key.
        """
        requests = _convert.object_requests(
            objects, ids=ids, descriptions=descriptions, metadatas=metadatas, content_types=content_types, codec=codec
        )
        return [self._engine.put_object(request.pop("obj"), **request) for request in requests]

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
