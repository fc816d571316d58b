"""Reading a collection straight from Chroma's files, without Chroma (which may crash on them).

A local Chroma folder holds ``chroma.sqlite3`` and one folder per HNSW segment. In the
database, the *metadata segment* (tables ``embeddings`` and ``embedding_metadata``) holds every
record's document and metadata up to its ``max_seq_id``, and ``embeddings_queue`` is the write
log: the newest writes with their vectors, purged up to what the HNSW segment has persisted.
Older vectors live only in the HNSW files (``hnsw_files``). Everything read here is data on
disk and is validated: a malformed row is reported by id, never trusted.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from mira_vectorstores.engine.errors import StorageError

logger = logging.getLogger(__name__)
DOCUMENT_KEY = "chroma:document"
#: ``embeddings_queue.operation`` codes (chromadb ``db/mixins/embeddings_queue.py``).
ADD, UPDATE, UPSERT, DELETE = 0, 1, 2, 3
Metadata = dict[str, object]


@dataclass(slots=True)
class ChromaRecords:
    """One collection as its files hold it: documents and metadata by id, and the vectors the
    write log still holds (the newest version of each record it names).
    """

    collection_id: str
    dimension: int | None
    collection_metadata: Metadata
    documents: dict[str, str | None] = field(default_factory=dict)
    metadatas: dict[str, Metadata] = field(default_factory=dict)
    log_vectors: dict[str, np.ndarray] = field(default_factory=dict)
    hnsw: dict[str, object] | None = None  # its HNSW settings (space included), when readable
    vector_segments: list[str] = field(default_factory=list)  # folder names of its HNSW segments
    malformed: list[str] = field(default_factory=list)  # ids whose rows could not be read


def read(database: Path, name: str) -> ChromaRecords | None:
    """The collection ``name`` (default tenant and database) from a copy of ``chroma.sqlite3``;
    ``None`` when it holds no such collection.

    Raises:
        StorageError: the database cannot be read at all.
    """
    try:
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        msg = f"cannot open Chroma's database {database}: {exc}"
        raise StorageError(msg) from exc
    try:
        return _read(db, name)
    except sqlite3.Error as exc:
        msg = f"cannot read Chroma's database {database}: {exc}"
        raise StorageError(msg) from exc
    finally:
        db.close()


def _read(db: sqlite3.Connection, name: str) -> ChromaRecords | None:
    row = db.execute(
        "SELECT c.id, c.dimension, c.schema_str FROM collections c JOIN databases d ON c.database_id = d.id "
        "WHERE c.name = ? AND d.name = 'default_database' AND d.tenant_id = 'default_tenant'",
        (name,),
    ).fetchone()
    if row is None:
        return None
    collection_id, dimension = str(row[0]), row[1]
    found = ChromaRecords(
        collection_id,
        dimension if isinstance(dimension, int) and dimension > 0 else None,
        {
            key: _typed(*values)
            for key, *values in db.execute(
                _TYPED.format(table="collection_metadata", id="collection_id"), (collection_id,)
            )
            if isinstance(key, str)
        },
        hnsw=_hnsw(row[2]),
    )
    metadata_segment = None
    for segment_id, scope in db.execute("SELECT id, scope FROM segments WHERE collection = ?", (collection_id,)):
        if scope == "METADATA":
            metadata_segment = str(segment_id)
        elif scope == "VECTOR":
            found.vector_segments.append(str(segment_id))
    applied = 0
    if metadata_segment is not None:
        applied = _seq(db, metadata_segment)
        _read_metadata_segment(db, metadata_segment, found)
    _replay_log(db, collection_id, applied, found)
    return found


#: The HNSW settings a rebuilt collection takes over (``num_threads`` is the machine's, not the data's).
HNSW_KEYS = ("ef_construction", "max_neighbors", "ef_search", "batch_size", "sync_threshold", "resize_factor")


def _hnsw(schema: object) -> dict[str, object] | None:
    """The space and HNSW settings of a collection's schema (``None`` when it has none)."""
    try:
        config = orjson.loads(schema)["keys"]["#embedding"]["float_list"]["vector_index"]["config"]  # type: ignore[arg-type]
        hnsw = config["hnsw"]
        out: dict[str, object] = {k: hnsw[k] for k in HNSW_KEYS if isinstance(hnsw.get(k), int | float)}
        if config.get("space") in ("l2", "ip", "cosine"):
            out["space"] = config["space"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return out or None


_TYPED = "SELECT key, str_value, int_value, float_value, bool_value FROM {table} WHERE {id} = ?"


def _typed(string: object, integer: object, real: object, boolean: object) -> object:
    """The value of a row's typed columns (string, int, float, bool): the one that is set."""
    if boolean is not None:
        return bool(boolean)
    if integer is not None:
        return int(integer)  # type: ignore[call-overload]
    if real is not None:
        return float(real)  # type: ignore[arg-type]
    return string if isinstance(string, str) else None


def _seq(db: sqlite3.Connection, segment_id: str) -> int:
    """A segment's ``max_seq_id`` (an int, or 8 big-endian bytes in older databases)."""
    row = db.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment_id,)).fetchone()
    if row is None or row[0] is None:
        return 0
    value = row[0]
    return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value)


def _read_metadata_segment(db: sqlite3.Connection, segment_id: str, found: ChromaRecords) -> None:
    ids: dict[int, str] = {}
    for row_id, record_id in db.execute(
        "SELECT id, embedding_id FROM embeddings WHERE segment_id = ? ORDER BY id", (segment_id,)
    ):
        if isinstance(record_id, str):
            ids[int(row_id)] = record_id
            found.documents[record_id] = None
            found.metadatas[record_id] = {}
    scalar = (
        "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
        "FROM embedding_metadata m JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ?"
    )
    for row_id, key, *values in db.execute(scalar, (segment_id,)):
        record_id = ids.get(int(row_id))
        if record_id is not None and isinstance(key, str):
            _set(found, record_id, key, _typed(*values))
    arrays = (
        "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
        "FROM embedding_metadata_array m JOIN embeddings e ON e.id = m.id WHERE e.segment_id = ? ORDER BY m.rowid"
    )
    try:
        rows = db.execute(arrays, (segment_id,)).fetchall()
    except sqlite3.OperationalError:  # an older database without list metadata
        rows = []
    for row_id, key, *values in rows:
        record_id = ids.get(int(row_id))
        if record_id is not None and isinstance(key, str):
            listed = found.metadatas[record_id].setdefault(key, [])
            if isinstance(listed, list):
                listed.append(_typed(*values))


def _set(found: ChromaRecords, record_id: str, key: str, value: object) -> None:
    if key == DOCUMENT_KEY:
        found.documents[record_id] = value if isinstance(value, str) else None
    elif not key.startswith("chroma:"):
        found.metadatas[record_id][key] = value


def _replay_log(db: sqlite3.Connection, collection_id: str, applied: int, found: ChromaRecords) -> None:
    """Take every vector the log holds, and apply to documents and metadata the writes the
    metadata segment had not applied yet (``seq_id > applied``).
    """
    rows = db.execute(
        "SELECT seq_id, operation, id, vector, encoding, metadata FROM embeddings_queue WHERE topic LIKE ? "
        "ORDER BY seq_id",
        (f"%/{collection_id}",),
    )
    alive: dict[str, bool] = {}  # whether each id exists after the log rows replayed so far
    for seq, operation, record_id, vector, encoding, metadata in rows:
        if not isinstance(record_id, str):
            continue
        if operation == DELETE:
            found.log_vectors.pop(record_id, None)
            alive[record_id] = False
            if seq > applied:
                found.documents.pop(record_id, None)
                found.metadatas.pop(record_id, None)
            continue
        # Before its first log row, an id exists if the metadata segment had it before the log's
        # writes: unknown for rows it applied; after them, as replayed.
        exists = alive.get(record_id, record_id in found.metadatas and seq > applied)
        if (operation == ADD and exists) or (operation == UPDATE and not alive.get(record_id, True)):
            continue  # Chroma ignores an add of an existing id and an update of a missing one
        if operation == UPDATE and seq > applied and record_id not in found.metadatas:
            continue
        alive[record_id] = True
        if vector is not None:
            values = _vector(vector, encoding, found.dimension)
            if values is None:
                found.malformed.append(record_id)
            else:
                found.log_vectors[record_id] = values
        if seq > applied:
            _apply_log_metadata(found, record_id, metadata, replace=operation == ADD or not exists)


def _vector(blob: object, encoding: object, dimension: int | None) -> np.ndarray | None:
    if not isinstance(blob, bytes) or encoding not in ("FLOAT32", None) or len(blob) % 4:
        return None
    values = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    if (dimension is not None and values.size != dimension) or not np.isfinite(values).all():
        return None
    return values


def _apply_log_metadata(found: ChromaRecords, record_id: str, raw: object, *, replace: bool) -> None:
    try:
        changes = orjson.loads(raw) if isinstance(raw, str | bytes) else {}
    except orjson.JSONDecodeError:
        found.malformed.append(record_id)
        return
    if not isinstance(changes, dict):
        found.malformed.append(record_id)
        return
    if replace:
        found.documents[record_id] = None
        found.metadatas[record_id] = {}
    for key, value in changes.items():
        if value is None:
            found.metadatas[record_id].pop(key, None)
            if key == DOCUMENT_KEY:
                found.documents[record_id] = None
        else:
            _set(found, record_id, key, value)
