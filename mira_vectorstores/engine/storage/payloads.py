"""Payload stores: where raw objects' bytes live, addressed by their sha256.

Files under the store's folder in embedded mode; chunks in a side collection of Chroma in
server and in-memory modes, so every client of the store can read them.
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
from pathlib import Path
from typing import Protocol

from mira_vectorstores.engine.errors import CorruptedObjectError
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, failure


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so a crash leaves the old one or the new one, never a mix: temp, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class PayloadStore(Protocol):
    """Keeps payload bytes by sha256."""

    def put(self, digest: str, data: bytes) -> None:
        """Store a payload (a no-op when it is already there)."""
        ...

    def get(self, digest: str, size: int) -> bytes:
        """Read a payload of ``size`` bytes (raises ``CorruptedObjectError`` when missing)."""
        ...

    def delete(self, digest: str, size: int) -> None:
        """Remove a payload (missing is fine)."""
        ...


class FilePayloadStore:
    """Payloads as files under a folder (embedded mode), written atomically."""

    def __init__(self, folder: Path) -> None:
        """Use ``folder`` (created on first write)."""
        self.folder = folder

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / digest

    def put(self, digest: str, data: bytes) -> None:
        """Write temp, fsync, rename."""
        path = self._path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def get(self, digest: str, size: int) -> bytes:
        """Read the file."""
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            msg = f"payload {digest} is missing from {self.folder}"
            raise CorruptedObjectError(msg) from None

    def delete(self, digest: str, size: int) -> None:
        """Remove the file."""
        self._path(digest).unlink(missing_ok=True)


class ChromaPayloadStore:
    """Payloads inside Chroma itself (server and in-memory modes), so every client sees them.

    A payload is split into base64 chunks of ``chunk_bytes``, one record each, in a side
    collection; reads fetch the chunks by id.
    """

    def __init__(self, collection: object, *, chunk_bytes: int = 4 * 1024 * 1024, where: str = "memory") -> None:
        """Use a Chroma collection created for payloads (``where``: the server, for messages)."""
        self.collection = collection
        self.chunk_bytes = chunk_bytes
        self.where = where

    def _ids(self, digest: str, size: int) -> list[str]:
        parts = max(1, math.ceil(size / self.chunk_bytes))
        return [f"{digest}:{i}" for i in range(parts)]

    def put(self, digest: str, data: bytes) -> None:
        """Write the chunks, a few per request."""
        ids = self._ids(digest, len(data))
        for start in range(0, len(ids), 4):
            batch = ids[start : start + 4]
            chunks = [data[int(i.rsplit(":", 1)[1]) * self.chunk_bytes :][: self.chunk_bytes] for i in batch]
            try:
                self.collection.upsert(  # type: ignore[attr-defined]
                    ids=batch,
                    embeddings=[[0.0]] * len(batch),
                    documents=[base64.b64encode(c).decode("ascii") for c in chunks],
                    metadatas=[{"sha256": digest}] * len(batch),
                )
            except CHROMA_ERRORS as exc:
                raise failure(exc, "write an object's payload", self.where) from exc

    def get(self, digest: str, size: int) -> bytes:
        """Fetch and join the chunks."""
        ids = self._ids(digest, size)
        parts: dict[str, bytes] = {}
        for start in range(0, len(ids), 4):
            try:
                got = self.collection.get(ids=ids[start : start + 4], include=["documents"])  # type: ignore[attr-defined]
            except CHROMA_ERRORS as exc:
                raise failure(exc, "read an object's payload", self.where) from exc
            parts.update({i: base64.b64decode(d) for i, d in zip(got["ids"], got["documents"], strict=True)})
        if len(parts) != len(ids):
            msg = f"payload {digest} is missing {len(ids) - len(parts)} of {len(ids)} chunks"
            raise CorruptedObjectError(msg)
        return b"".join(parts[i] for i in ids)

    def delete(self, digest: str, size: int) -> None:
        """Delete the chunks."""
        try:
            self.collection.delete(ids=self._ids(digest, size))  # type: ignore[attr-defined]
        except CHROMA_ERRORS as exc:
            raise failure(exc, "delete an object's payload", self.where) from exc
