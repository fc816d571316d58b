"""Payload stores: where raw objects' bytes live, addressed by their sha256.

Files under the store's folder in embedded mode; chunks in a side collection of Chroma in
server and in-memory modes, so every client of the store can read them. A digest comes from a
record's metadata, which any Chroma client can write: each store checks it before it names a
file or a chunk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

import numpy as np

from mira_vectorstores.engine.errors import CorruptedObjectError
from mira_vectorstores.engine.reserved import is_sha256
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, READ_PAGE, failure

if TYPE_CHECKING:
    import chromadb
    from chromadb.api.types import Where

T = TypeVar("T")
#: What ``PayloadStore.check`` finds.
PayloadStatus = Literal["ok", "missing", "corrupted"]
TEMP_PREFIX = ".tmp-"
#: Chunk metadata: when a chunk was last written (seconds since the epoch), to judge an orphan's age.
WRITTEN = "written"
_BLOCK = 1024 * 1024
_FIX = "put_object the object again or delete its record; HybridStore.verify_objects() lists every damaged object"


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so a crash leaves the old one or the new one, never a mix: temp, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a crash still leaves it: HybridStore.verify_objects collects those
        raise


@dataclass(frozen=True, slots=True)
class Orphan:
    """A stored payload no live record refers to, or a stray piece of one.

    Attributes:
        name: the payload's sha256; for a stray piece (an interrupted write's temp file, a chunk
            with a malformed id) its path relative to the payload folder, or its chunk id.
        written: when it was last written, in seconds since the epoch.
        keys: what ``discard`` removes: paths relative to the payload folder, or chunk ids.
    """

    name: str
    written: float
    keys: tuple[str, ...]


class PayloadStore(Protocol):
    """Keeps payload bytes by sha256."""

    def put(self, digest: str, data: bytes) -> None:
        """Store a payload (an intact copy already there is kept)."""
        ...

    def get(self, digest: str, size: int) -> bytes:
        """Read a payload of ``size`` bytes (raises ``CorruptedObjectError`` when missing or unreadable)."""
        ...

    def delete(self, digest: str, size: int) -> None:
        """Remove a payload (missing is fine)."""
        ...

    def check(self, digest: str, size: int) -> PayloadStatus:
        """Whether the payload is there with this size and sha256, reading it a block at a time."""
        ...

    def orphans(self, referenced: Set[str]) -> Iterator[Orphan]:
        """Every payload whose digest is not in ``referenced``, and every stray piece."""
        ...

    def discard(self, orphan: Orphan, *, older_than: float) -> bool:
        """Remove an orphan found by ``orphans`` if it is still not written since ``older_than``."""
        ...


def check_digest(digest: str) -> str:
    """``digest`` itself once it is a sha256 as the store writes one (never a path).

    Raises:
        CorruptedObjectError: otherwise.
    """
    if not is_sha256(digest):
        msg = (
            f"refusing payload digest {digest[:80]!r}: a digest is 64 lowercase hex characters. The object's "
            "reserved metadata was changed outside this store; delete its record or put_object it again"
        )
        raise CorruptedObjectError(msg)
    return digest


def _measure(blocks: Iterable[bytes]) -> tuple[int, str]:
    """Size and hex sha256 of a payload read block by block."""
    hasher, size = hashlib.sha256(), 0
    for block in blocks:
        hasher.update(block)
        size += len(block)
    return size, hasher.hexdigest()


class FilePayloadStore:
    """Payloads as files ``<folder>/<digest[:2]>/<digest>`` (embedded mode), written atomically."""

    def __init__(self, folder: Path) -> None:
        """Use ``folder`` (created on first write)."""
        self.folder = folder

    def _path(self, digest: str) -> Path:
        path = self.folder / check_digest(digest)[:2] / digest
        # A symlinked subfolder or file must not lead out of the folder either.
        if not path.resolve().is_relative_to(self.folder.resolve()):
            msg = f"payload {digest} resolves outside {self.folder}; remove the link at {path}"
            raise CorruptedObjectError(msg)
        return path

    def _blocks(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                yield block

    def _holds(self, path: Path, digest: str, size: int) -> bool:
        try:
            return path.stat().st_size == size and _measure(self._blocks(path)) == (size, digest)
        except FileNotFoundError:
            return False

    def put(self, digest: str, data: bytes) -> None:
        """Keep an intact file (touched, so it is not judged an old orphan); else write temp, fsync, rename."""
        path = self._path(digest)
        if self._holds(path, digest, len(data)):
            os.utime(path)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def get(self, digest: str, size: int) -> bytes:
        """Read the file."""
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            msg = f"payload {digest} is missing from {self.folder}; {_FIX}"
            raise CorruptedObjectError(msg) from None

    def delete(self, digest: str, size: int) -> None:
        """Remove the file."""
        self._path(digest).unlink(missing_ok=True)

    def check(self, digest: str, size: int) -> PayloadStatus:
        """Hash the file a block at a time."""
        path = self._path(digest)
        if not path.is_file():
            return "missing"
        return "ok" if self._holds(path, digest, size) else "corrupted"

    def orphans(self, referenced: Set[str]) -> Iterator[Orphan]:
        """Stream the folder: unreferenced ``<xx>/<digest>`` files and ``.tmp-*`` files (others are not ours)."""
        if not self.folder.is_dir():
            return
        with os.scandir(self.folder) as subfolders:
            prefixes = sorted(e.name for e in subfolders if e.is_dir(follow_symlinks=False) and len(e.name) == 2)
        for prefix in prefixes:
            with os.scandir(self.folder / prefix) as entries:
                for entry in entries:
                    name = entry.name
                    stray = name.startswith(TEMP_PREFIX)
                    if not (stray or (is_sha256(name) and name[:2] == prefix and name not in referenced)):
                        continue
                    try:
                        if not entry.is_file(follow_symlinks=False):
                            continue
                        written = entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:
                        continue  # renamed or removed meanwhile
                    key = f"{prefix}/{name}"
                    yield Orphan(name=key if stray else name, written=written, keys=(key,))

    def discard(self, orphan: Orphan, *, older_than: float) -> bool:
        """Unlink its file unless it was written since ``older_than``."""
        path = self.folder / orphan.keys[0]
        try:
            if path.stat(follow_symlinks=False).st_mtime >= older_than:
                return False
            path.unlink()
        except FileNotFoundError:
            return False
        return True


class ChromaPayloadStore:
    """Payloads inside Chroma itself (server and in-memory modes), so every client sees them.

    A payload is split into base64 chunks of ``chunk_bytes``, one record each, in a side
    collection: ids ``<digest>:<n>``, metadata the digest and the write time; reads fetch the
    chunks by id.
    """

    def __init__(
        self, collection: chromadb.Collection, *, chunk_bytes: int = 4 * 1024 * 1024, where: str = "memory"
    ) -> None:
        """Use a Chroma collection created for payloads (``where``: the server, for messages)."""
        self.collection = collection
        self.chunk_bytes = chunk_bytes
        self.where = where

    def _call(self, what: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except CHROMA_ERRORS as exc:
            raise failure(exc, what, self.where) from exc

    def _parts(self, size: int) -> int:
        return max(1, math.ceil(size / self.chunk_bytes))

    def put(self, digest: str, data: bytes) -> None:
        """Write the chunks, a few per request (an upsert: a damaged copy is overwritten)."""
        ids = [f"{check_digest(digest)}:{n}" for n in range(self._parts(len(data)))]
        for start in range(0, len(ids), 4):
            n = range(start, min(start + 4, len(ids)))
            chunks = [data[i * self.chunk_bytes : (i + 1) * self.chunk_bytes] for i in n]
            upsert = partial(
                self.collection.upsert,
                ids=ids[n.start : n.stop],
                embeddings=np.zeros((len(n), 1), dtype=np.float32),
                documents=[base64.b64encode(c).decode("ascii") for c in chunks],
                metadatas=[{"sha256": digest, WRITTEN: time.time()}] * len(n),
            )
            self._call("write an object's payload", upsert)

    def _present(self, digest: str, parts: int) -> int:
        """How many of the payload's ``parts`` chunks Chroma holds, asked by digest: a size from
        untrusted metadata never sizes a request.
        """
        where: Where = {"sha256": check_digest(digest)}
        got = self._call("read an object's payload", partial(self.collection.get, where=where, include=[]))
        wanted = f"{digest}:"
        return sum(
            1
            for i in got["ids"]
            if i.startswith(wanted) and (n := i[len(wanted) :]).isascii() and n.isdigit() and int(n) < parts
        )

    def _chunks(self, digest: str, parts: int) -> Iterator[bytes]:
        """The decoded chunks in order, four per request.

        Raises:
            CorruptedObjectError: a chunk is missing or is not base64.
        """
        ids = [f"{digest}:{n}" for n in range(parts)]
        for start in range(0, parts, 4):
            batch = ids[start : start + 4]
            got = self._call("read an object's payload", partial(self.collection.get, ids=batch, include=["documents"]))
            documents = dict(zip(got["ids"], got["documents"] or [], strict=True))
            for chunk_id in batch:
                yield _decode(chunk_id, documents.get(chunk_id))

    def get(self, digest: str, size: int) -> bytes:
        """Fetch and join the chunks, once every one is there."""
        parts = self._parts(size)
        present = self._present(digest, parts)
        if present < parts:
            msg = f"payload {digest} is missing {parts - present} of {parts} chunks; {_FIX}"
            raise CorruptedObjectError(msg)
        return b"".join(self._chunks(digest, parts))

    def delete(self, digest: str, size: int) -> None:
        """Delete the chunks, found by digest whatever ``size`` says."""
        where: Where = {"sha256": check_digest(digest)}
        self._call("delete an object's payload", partial(self.collection.delete, where=where))

    def check(self, digest: str, size: int) -> PayloadStatus:
        """Hash the chunks four at a time (some of them missing: corrupted)."""
        parts = self._parts(size)
        present = self._present(digest, parts)
        if present < parts:
            return "missing" if present == 0 else "corrupted"
        try:
            return "ok" if _measure(self._chunks(digest, parts)) == (size, digest) else "corrupted"
        except CorruptedObjectError:
            return "corrupted"

    def orphans(self, referenced: Set[str]) -> Iterator[Orphan]:
        """Page through the chunks' ids and metadata (no documents); chunks group by their id's digest."""
        written: dict[str, float] = {}
        keys: dict[str, list[str]] = {}
        offset = 0
        while True:
            page = partial(self.collection.get, include=["metadatas"], limit=READ_PAGE, offset=offset)
            got = self._call("read the payload collection", page)
            for chunk_id, meta in zip(got["ids"], got["metadatas"] or [{}] * len(got["ids"]), strict=True):
                digest = chunk_id.rpartition(":")[0]
                name = digest if is_sha256(digest) else chunk_id
                if name not in referenced:
                    written[name] = max(written.get(name, 0.0), _written(meta))
                    keys.setdefault(name, []).append(chunk_id)
            if len(got["ids"]) < READ_PAGE:
                break
            offset += len(got["ids"])
        for name in sorted(written):
            yield Orphan(name=name, written=written[name], keys=tuple(keys[name]))

    def discard(self, orphan: Orphan, *, older_than: float) -> bool:
        """Delete its chunks unless one was written since ``older_than`` (read again just before)."""
        for start in range(0, len(orphan.keys), READ_PAGE):
            batch = list(orphan.keys[start : start + READ_PAGE])
            got = self._call(
                "read the payload collection", partial(self.collection.get, ids=batch, include=["metadatas"])
            )
            if any(_written(m) >= older_than for m in got["metadatas"] or []):
                return False
        for start in range(0, len(orphan.keys), READ_PAGE):
            batch = list(orphan.keys[start : start + READ_PAGE])
            self._call("delete an orphaned payload", partial(self.collection.delete, ids=batch))
        return True


def _decode(chunk_id: str, document: object) -> bytes:
    """A chunk's bytes from its base64 document."""
    try:
        if isinstance(document, str):
            return base64.b64decode(document, validate=True)
    except binascii.Error:
        pass
    msg = f"payload chunk {chunk_id} is missing or not base64 (it was changed outside this store); {_FIX}"
    raise CorruptedObjectError(msg)


def _written(meta: object) -> float:
    """A chunk's write time; 0 (old) when absent, as in chunks written before it was recorded."""
    value = meta.get(WRITTEN) if isinstance(meta, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
