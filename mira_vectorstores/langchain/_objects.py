"""Raw objects through LangChain: the ``add_objects`` / ``get_object`` half of ``MiraVectorStore``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mira_vectorstores.engine import HybridStore, InvalidInputError
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
        ``size`` and ``sha256``. Each object is its own write.

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
        requests = _object_requests(
            objects,
            ids=ids,
            descriptions=descriptions,
            metadatas=metadatas,
            content_types=content_types,
            embeddings=embeddings,
            codec=codec,
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


# What each per-object list of ``add_objects`` holds, for its messages.
_HOLDS = {
    "ids": "strings",
    "descriptions": "strings",
    "metadatas": "dicts",
    "content_types": "strings",
    "embeddings": "vectors",
}


def _object_requests(
    objects: Sequence[object],
    *,
    ids: Sequence[str | None] | None,
    descriptions: Sequence[str | None] | None,
    metadatas: Sequence[Mapping[str, Any] | None] | None,
    content_types: Sequence[str | None] | None,
    embeddings: Sequence[Sequence[float] | None] | None,
    codec: str | None,
) -> list[dict[str, Any]]:
    """Engine ``put_object`` keywords, one dict per object (the object under ``"obj"``).

    Raises:
        InvalidInputError: for a single object, str, dict or vector where a list is expected,
            a list that does not line up with ``objects``, or metadata using the reserved
            ``mira_object`` key.
    """
    # A lone bytes, dict or array is one object, not a list of its bytes, keys or items.
    items = _convert.as_list(objects, "objects", of="objects", single=(np.ndarray,))
    n = len(items)
    given = {
        "ids": ids,
        "descriptions": descriptions,
        "metadatas": metadatas,
        "content_types": content_types,
        "embeddings": embeddings,
    }
    columns: dict[str, list[Any]] = {}
    for name, raw in given.items():
        if raw is None:
            continue
        values = _convert.as_list(raw, name, of=_HOLDS[name])
        if name == "embeddings" and values and isinstance(values[0], (int, float, np.number)):
            msg = (
                "embeddings must be a list of vectors, one per object (None: embed its description), got a "
                "single vector; wrap it in a list"
            )
            raise InvalidInputError(msg)
        if len(values) != n:
            msg = f"got {len(values)} {name} for {n} objects; the lists must line up"
            raise InvalidInputError(msg)
        columns[name] = values
    _convert.check_metadatas(columns.get("metadatas"))

    def value(name: str, i: int) -> Any:
        return columns[name][i] if name in columns else None

    return [
        {
            "obj": obj,
            "id": value("ids", i),
            "description": value("descriptions", i),
            "metadata": value("metadatas", i),
            "content_type": value("content_types", i),
            "embedding": value("embeddings", i),
            "codec": codec,
        }
        for i, obj in enumerate(items)
    ]
