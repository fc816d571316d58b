"""``ObjectStore``: a raw object's payload bytes in a ``PayloadStore``, its facts in reserved metadata."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.errors import CorruptedObjectError
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, ChromaStorage, drop_collection, failure
from mira_vectorstores.engine.storage.codecs import Codec, sha256
from mira_vectorstores.engine.storage.payloads import ChromaPayloadStore, FilePayloadStore, PayloadStatus, PayloadStore
from mira_vectorstores.engine.types import ObjectInfo, ObjectsReport

logger = logging.getLogger(__name__)
#: An orphaned payload younger than this is never removed: another process may be between
#: writing it and writing the record that names it.
ORPHAN_GRACE_SECONDS = 10 * 60.0


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
        """The payload, byte-exact; raises ``CorruptedObjectError`` (naming the record) if it changed or vanished."""
        try:
            data = self.payloads.get(info.sha256, info.size)
        except CorruptedObjectError as exc:
            msg = f"object {record_id!r}: {exc}"
            raise CorruptedObjectError(msg) from exc
        if len(data) != info.size or sha256(data) != info.sha256:
            msg = (
                f"payload of object {record_id!r} fails its sha256 check ({info.sha256}); it was altered or "
                "truncated. Put the object again (put_object rewrites the payload) or delete it; "
                "HybridStore.verify_objects() lists every damaged object"
            )
            raise CorruptedObjectError(msg)
        return data

    def release(self, infos: list[ObjectInfo], still_used: set[str]) -> None:
        """Delete payloads no live record refers to any more (one that cannot be named safely stays, with a warning)."""
        for info in infos:
            if info.sha256 not in still_used:
                try:
                    self.payloads.delete(info.sha256, info.size)
                except CorruptedObjectError as exc:
                    logger.warning("left payload %s in place: %s", info.sha256, exc)

    def verify(self, records: Iterable[tuple[str, Mapping[str, object]]], *, repair: bool) -> ObjectsReport:
        """Check the payload of every object among ``records`` (id, full metadata), one at a time,
        then list the payloads none of them refers to; ``repair`` removes those older than
        ``ORPHAN_GRACE_SECONDS``.
        """
        found: dict[str, list[str]] = {"missing": [], "corrupted": [], "malformed": []}
        checked: dict[tuple[str, int], PayloadStatus] = {}  # a payload shared by several records is read once
        referenced: set[str] = set()
        objects = 0
        for record_id, metadata in records:
            digest = metadata.get(reserved.SHA256)
            if reserved.is_sha256(digest):
                referenced.add(digest)  # even a malformed record's payload is kept: it may be fixed
            try:
                info = reserved.read_object(metadata, record_id)
            except CorruptedObjectError:
                found["malformed"].append(record_id)
                continue
            if info is None:
                continue
            objects += 1
            key = (info.sha256, info.size)
            if key not in checked:
                checked[key] = self._status(info)
            if checked[key] != "ok":
                found[checked[key]].append(record_id)
        orphans = list(self.payloads.orphans(referenced))
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        removed = [
            o.name for o in orphans if repair and o.written < cutoff and self.payloads.discard(o, older_than=cutoff)
        ]
        return ObjectsReport(objects=objects, orphaned=[o.name for o in orphans], removed=removed, **found)

    def _status(self, info: ObjectInfo) -> PayloadStatus:
        try:
            return self.payloads.check(info.sha256, info.size)
        except CorruptedObjectError:  # a payload file linked out of the folder
            return "corrupted"

    def drop(self) -> None:
        """Remove every payload (in-memory stores, on close)."""
        if callable(self._drop):
            self._drop()
