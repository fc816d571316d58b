"""Raw objects on a store: ``put_object``, ``get_object``, ``get_object_bytes``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from mira_vectorstores.engine.errors import InvalidInputError
from mira_vectorstores.engine.store_core import StoreCore
from mira_vectorstores.engine.types import (
    ObjectInfo,
    RecordId,
    Vector,
)
from mira_vectorstores.engine.writing import prepare_upsert

logger = logging.getLogger(__name__)




class ObjectMethods(StoreCore):
    """The raw-object half of ``HybridStore`` (payload codecs and storage live in ``objects``)."""

    # -- raw objects ----------------------------------------------------------------------
    def put_object(
        self,
        obj: object,
        *,
        id: str | None = None,
        content_type: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        embedding: Sequence[float] | Vector | None = None,
        codec: str | None = None,
    ) -> RecordId:
        """Store any object by id: bytes, text, JSON, NumPy arrays, or (``codec="pickle"``) pickled.

        The object is searchable by ``description`` (text and JSON objects fall back to their
        own text) and returned byte-exact by ``get_object``. Putting an existing id replaces it.

        Returns:
            The object's id.

        Raises:
            ObjectCodecError: when no safe codec fits (pass ``codec="pickle"`` to pickle it).
            InvalidInputError: when there is neither a description/text nor an embedding.
        """
        from mira_vectorstores.engine.objects import choose_codec

        chosen = choose_codec(obj, codec)
        data = chosen.encode(obj)
        text = description if description is not None else (chosen.render(obj) if chosen.render else None)
        if text is None and embedding is None:
            msg = f"a {chosen.name} object needs description= (to be searchable) or embedding="
            raise InvalidInputError(msg)
        with self._lock:
            self._check_open()
            reserved = self.objects.describe(data, chosen, content_type)
            batch = prepare_upsert(
                self._mirrors,
                self.embedder,
                texts=None if text is None else [text],
                ids=None if id is None else [id],
                metadatas=[metadata],
                vectors=None if embedding is None else [embedding],
                reserved=[reserved],
            )
            self.objects.put(data, reserved)
            return self._commit(batch)[0]

    def get_object(self, id: str, *, allow_pickle: bool = False) -> object:
        """The object stored under ``id``, decoded.

        Raises:
            RecordNotFoundError: no object has this id.
            CorruptedObjectError: the payload is missing or fails its sha256.
            UnsafeDeserializationError: a pickled object without ``allow_pickle=True``.
        """
        from mira_vectorstores.engine.objects import decode

        data, info = self.get_object_bytes(id)
        return decode(data, info.codec, allow_pickle=allow_pickle, record_id=id)

    def get_object_bytes(self, id: str) -> tuple[bytes, ObjectInfo]:
        """The raw payload bytes (verified) and what they are."""
        from mira_vectorstores.engine.errors import RecordNotFoundError

        with self._lock:
            self._check_open()
            info = self._object_of(id)
        if info is None:
            msg = f"no object with id {id!r} in store {self.name!r}"
            raise RecordNotFoundError(msg)
        return self.objects.read(info, id), info

