"""``ObjectStore``: a raw object's payload bytes in a ``PayloadStore``, its facts in reserved metadata."""

from __future__ import annotations

from pathlib import Path

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.errors import CorruptedObjectError
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, ChromaStorage, drop_collection, failure
from mira_vectorstores.engine.storage.codecs import Codec, sha256
from mira_vectorstores.engine.storage.payloads import ChromaPayloadStore, FilePayloadStore, PayloadStore
from mira_vectorstores.engine.types import ObjectInfo


class ObjectStore:
    """Writes, reads (verified) and deletes payloads."""

    def __init__(self, payloads: PayloadStore, drop: object = None) -> None:
        """Wrap a payload store (``drop`` removes it entirely, for in-memory stores)."""
        self.payloads = payloads
        self._drop = drop

    @classmethod
    def for_storage(cls, storage: ChromaStorage, folder: Path | None) -> ObjectStore:
        """Files under ``folder`` when embedded; a side collection in Chroma otherwise."""
        if folder is not None:
            return cls(FilePayloadStore(folder))
        side = f"{storage.name}-mira-payloads"
        try:
            collection = storage.client.get_or_create_collection(side, embedding_function=None)
        except CHROMA_ERRORS as exc:
            raise failure(exc, "open the payload collection", storage.where) from exc
        payloads = ChromaPayloadStore(collection, where=storage.where)
        return cls(payloads, drop=lambda: drop_collection(storage.client, side))

    @staticmethod
    def describe(data: bytes, codec: Codec, content_type: str | None) -> dict[str, object]:
        """The reserved metadata that describes a payload."""
        return reserved.object_metadata(
            content_type=content_type or codec.content_type, codec=codec.name, size=len(data), sha256=sha256(data)
        )

    def put(self, data: bytes, description: dict[str, object]) -> None:
        """Store a payload described by ``describe``."""
        self.payloads.put(str(description[reserved.SHA256]), data)

    def read(self, info: ObjectInfo, record_id: str) -> bytes:
        """The payload, byte-exact; raises ``CorruptedObjectError`` if it changed or vanished."""
        data = self.payloads.get(info.sha256, info.size)
        if len(data) != info.size or sha256(data) != info.sha256:
            msg = f"payload of object {record_id!r} fails its sha256 check ({info.sha256}); it was altered or truncated"
            raise CorruptedObjectError(msg)
        return data

    def release(self, infos: list[ObjectInfo], still_used: set[str]) -> None:
        """Delete payloads no live record refers to any more."""
        for info in infos:
            if info.sha256 not in still_used:
                self.payloads.delete(info.sha256, info.size)

    def drop(self) -> None:
        """Remove every payload (in-memory stores, on close)."""
        if callable(self._drop):
            self._drop()
