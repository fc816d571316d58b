"""The journal: an append-only, fsync'd copy of every write since the mirrors' last snapshot.

Chroma's embedded mode is not crash-safe: a writer killed while Chroma persists its HNSW
files can leave a collection Chroma cannot read, with older vectors only in those files
(``benchmarks/results/chroma_crash.md``). The mirror snapshot plus this journal hold every
acknowledged write a second time, so ``repair`` never depends on which of Chroma's files
survived. A write is journalled (and fsync'd) before it is sent to Chroma; a snapshot of the
mirrors makes its entries redundant, and they are dropped.

The journal is one SQLite database (``journal.sqlite3`` beside the mirrors) in WAL mode with
``synchronous=FULL``: each append is one transaction, durable when it returns, and a torn
append is rolled back by SQLite on the next open. Entries read back are validated: the file
is data on disk, not trusted code.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import orjson

from mira_vectorstores.engine.types import Vector

FILE = "journal.sqlite3"
Op = Literal["upsert", "update", "delete"]
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, op TEXT NOT NULL, body BLOB NOT NULL, vectors BLOB)"
)


class JournalError(Exception):
    """A journal entry is malformed (its seq is named)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One journalled write: ``upsert`` (records with vectors), ``update`` (metadata changes)
    or ``delete`` (ids), with the stamp it was written under.
    """

    seq: int
    op: Op
    stamp: int
    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, object]]
    vectors: Vector | None


class Journal:
    """The journal of one embedded collection (``<path>/mira/<name>/journal.sqlite3``)."""

    def __init__(self, folder: Path) -> None:
        """Open (or create) the journal in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE
        self._guard = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
        self._db.execute(_SCHEMA)

    def append(
        self,
        op: Op,
        *,
        stamp: int,
        ids: Sequence[str],
        documents: Sequence[str | None] = (),
        metadatas: Sequence[Mapping[str, object]] = (),
        vectors: Vector | None = None,
    ) -> int:
        """Durably append one write; returns its sequence number."""
        body = orjson.dumps(
            {
                "stamp": stamp,
                "ids": list(ids),
                "documents": list(documents),
                "metadatas": [dict(m) for m in metadatas],
                "dim": None if vectors is None else int(np.shape(vectors)[1]),
            }
        )
        blob = None if vectors is None else np.ascontiguousarray(vectors, dtype="<f4").tobytes()
        with self._guard:
            cursor = self._db.execute("INSERT INTO entries (op, body, vectors) VALUES (?, ?, ?)", (op, body, blob))
            return int(cursor.lastrowid or 0)

    def last_seq(self) -> int:
        """The newest entry's sequence number (0 when empty)."""
        with self._guard:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()[0])

    def truncate(self, through: int) -> None:
        """Drop the entries up to ``through`` (a snapshot now holds them)."""
        with self._guard:
            self._db.execute("DELETE FROM entries WHERE seq <= ?", (through,))
            if not self._db.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # give the disk space back

    def size(self) -> int:
        """Bytes on disk (database and its write-ahead log)."""
        return sum(p.stat().st_size for p in self.path.parent.glob(FILE + "*") if p.is_file())

    def close(self) -> None:
        """Close the database."""
        with self._guard:
            self._db.close()


def read(folder: Path) -> Iterator[Entry]:
    """Every entry of the journal in ``folder``, oldest first (nothing when there is none).

    Raises:
        JournalError: an entry is malformed.
    """
    path = folder / FILE
    if not path.exists():
        return
    db = sqlite3.connect(path)  # read-write: SQLite rolls back a torn transaction on open
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").fetchone():
            return  # a journal whose creation was interrupted holds nothing
        for seq, op, body, blob in db.execute("SELECT seq, op, body, vectors FROM entries ORDER BY seq"):
            yield _entry(seq, op, body, blob)
    except sqlite3.DatabaseError as exc:
        msg = f"the journal {path} cannot be read: {exc}"
        raise JournalError(msg) from exc
    finally:
        db.close()


def _entry(seq: int, op: object, body: object, blob: object) -> Entry:
    try:
        data = orjson.loads(body) if isinstance(body, bytes | str) else None
    except orjson.JSONDecodeError as exc:
        msg = f"journal entry {seq} is malformed: {exc}"
        raise JournalError(msg) from exc
    data = data if isinstance(data, dict) else {}
    why = _problem(op, data, blob)
    if why:
        msg = f"journal entry {seq} is malformed: {why}"
        raise JournalError(msg)
    ids, dim = data["ids"], data.get("dim")
    vectors = None
    if isinstance(blob, bytes):
        vectors = np.frombuffer(blob, dtype="<f4").reshape(len(ids), cast(int, dim)).astype(np.float32)
    return Entry(seq, op, data["stamp"], ids, data.get("documents") or [], data.get("metadatas") or [], vectors)  # type: ignore[arg-type]


def _problem(op: object, data: dict[str, object], blob: object) -> str | None:
    """What is wrong with an entry (``None``: nothing)."""
    stamp, ids, dim = data.get("stamp"), data.get("ids"), data.get("dim")
    documents, metadatas = data.get("documents") or [], data.get("metadatas") or []
    if op not in ("upsert", "update", "delete"):
        return f"unknown op {op!r}"
    if type(stamp) is not int or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return "stamp or ids are missing"
    if not isinstance(documents, list) or not all(d is None or isinstance(d, str) for d in documents):
        return "documents are not strings"
    if not isinstance(metadatas, list) or not all(isinstance(m, dict) for m in metadatas):
        return "metadatas are not objects"
    if op != "upsert":
        if blob is not None:
            return f"a {op} carries vectors"
        return "an update needs a metadata per id" if op == "update" and len(metadatas) != len(ids) else None
    if len(documents) != len(ids) or len(metadatas) != len(ids) or not ids:
        return "an upsert needs a document and a metadata per id"
    if type(dim) is not int or dim < 1 or not isinstance(blob, bytes) or len(blob) != 4 * dim * len(ids):
        return f"its vectors are not {len(ids)} x {dim} float32 values"
    if not np.isfinite(np.frombuffer(blob, dtype="<f4")).all():
        return "its vectors hold values that are not finite"
    return None
