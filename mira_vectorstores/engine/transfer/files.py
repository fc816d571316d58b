"""The portable export file: one row per record (id, document, metadata, unit vector, raw object).

Two encodings of the same rows, chosen by the file's suffix:

- ``.parquet`` (``pyarrow``): columns ``id``, ``document``, ``metadata`` (JSON text), ``vector``
  (fixed-size list of float32), ``object`` (the payload bytes, null for a plain record) and
  ``object_info`` (JSON text: codec, content type, size, sha256); the header is the schema's
  ``mira`` metadata. Written and read one row group at a time.
- ``.jsonl``: a header object on the first line, then one object per record; vectors and payloads
  are base64 (little-endian float32, raw bytes), so both round-trip bit-exact.

Metadata dates and times are tagged (``{"$date": "2026-01-02"}``, ``{"$datetime": "..."}``): a
record's metadata can hold no other dict, so the tags cannot collide with user values.

A file is untrusted: ``read`` checks the header and every row (types, vector length and
finiteness, each payload against its size and sha256) and raises ``InvalidInputError`` naming
the file and the row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import orjson

if TYPE_CHECKING:
    # pyarrow is imported where a Parquet file is written or read: at import it adds ~37 MB of
    # RSS and ~25 ms to every process that opens a store (``benchmarks/README.md``, Memory).
    import pyarrow as pa
    import pyarrow.parquet as pq

from mira_vectorstores.engine.errors import ConfigError, InvalidInputError
from mira_vectorstores.engine.types import Vector

FORMAT = "mira-export"
VERSION = 1
SUFFIXES = (".parquet", ".jsonl")


@dataclass(frozen=True, slots=True)
class Header:
    """What a file says about the store it came from."""

    store: str
    embedder: str | None
    dimension: int
    space: str
    records: int
    extra: dict[str, object] = field(default_factory=dict)  # backups: config, collection metadata

    def as_dict(self) -> dict[str, object]:
        """The header as written (with the format and version)."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}


@dataclass(frozen=True, slots=True)
class Row:
    """One record as a file holds it."""

    id: str
    document: str | None
    metadata: dict[str, object]
    vector: Vector
    payload: bytes | None = None  # a raw object's bytes
    object_info: dict[str, Any] | None = None  # codec, content_type, size, sha256


def file_format(path: str | Path) -> str:
    """``parquet`` or ``jsonl``, from the suffix.

    Raises:
        ConfigError: for any other suffix.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        msg = f"export files end in .parquet or .jsonl; got {str(path)!r}"
        raise ConfigError(msg)
    return suffix[1:]


# -- metadata as JSON ------------------------------------------------------------------------
def _tag(value: object) -> object:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    msg = f"cannot export a metadata value of type {type(value).__name__}"
    raise TypeError(msg)


def dump_metadata(metadata: Mapping[str, object]) -> str:
    """Metadata as JSON text, dates and times tagged."""
    return orjson.dumps(metadata, default=_tag, option=orjson.OPT_PASSTHROUGH_DATETIME).decode()


def _untag(value: object, where: str) -> object:
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and isinstance(text := value.get("$datetime", value.get("$date")), str):
        try:
            return datetime.fromisoformat(text) if "$datetime" in value else date.fromisoformat(text)
        except ValueError:
            pass
    msg = f"{where}: a metadata value is an object other than a {{'$date'}} / {{'$datetime'}} tag: {value!r:.80}"
    raise InvalidInputError(msg)


def load_metadata(text: object, where: str) -> dict[str, object]:
    """Metadata from JSON text (tags turned back into dates and times)."""
    try:
        value = orjson.loads(text) if isinstance(text, (str, bytes)) else text
    except orjson.JSONDecodeError as exc:
        msg = f"{where}: metadata is not JSON ({exc})"
        raise InvalidInputError(msg) from None
    if not isinstance(value, dict):
        msg = f"{where}: metadata must be a JSON object, got {type(value).__name__}"
        raise InvalidInputError(msg)
    return {str(k): _untag(v, where) for k, v in value.items()}


# -- writing ---------------------------------------------------------------------------------
class Writer:
    """Appends rows to a new export file; ``close`` completes it (a file is usable only then)."""

    def __init__(self, path: str | Path, header: Header) -> None:
        """Create ``path`` (replacing it) for rows of ``header.dimension``-dim vectors."""
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.kind = file_format(self.path)
        self.dimension = header.dimension
        self._jsonl: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        meta = {b"mira": orjson.dumps(header.as_dict())}
        if self.kind == "jsonl":
            self._jsonl = self.path.open("wb")
            self._jsonl.write(orjson.dumps(header.as_dict()) + b"\n")
        else:
            self.schema = _schema(header.dimension).with_metadata(meta)
            # Dictionary encoding pays only for metadata (repeated keys); on vectors it costs time and bytes.
            self._parquet = pq.ParquetWriter(self.path, self.schema, compression="zstd", use_dictionary=["metadata"])

    def write(self, rows: Sequence[Row]) -> None:
        """Append rows (one row group in Parquet)."""
        import pyarrow as pa

        if not rows:
            return
        if self._jsonl is not None:
            self._jsonl.write(b"".join(_jsonl_line(row) for row in rows))
            return
        assert self._parquet is not None
        flat = np.concatenate([np.asarray(r.vector, dtype="<f4").reshape(-1) for r in rows])
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), self.dimension)
        columns = {
            "id": pa.array([r.id for r in rows], pa.string()),
            "document": pa.array([r.document for r in rows], pa.string()),
            "metadata": pa.array([dump_metadata(r.metadata) for r in rows], pa.string()),
            "vector": vectors,
            "object": pa.array([r.payload for r in rows], pa.large_binary()),
            "object_info": pa.array([None if r.object_info is None else json.dumps(r.object_info) for r in rows]),
        }
        self._parquet.write_table(pa.table(columns, schema=self.schema))

    def close(self) -> None:
        """Finish the file (Parquet writes its footer here) and sync it to disk."""
        if self._jsonl is not None:
            self._jsonl.flush()
            _fsync(self._jsonl)
            self._jsonl.close()
        if self._parquet is not None:
            self._parquet.close()
            with self.path.open("rb+") as handle:
                _fsync(handle)


def _schema(dimension: int) -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("document", pa.string()),
            ("metadata", pa.string()),
            ("vector", pa.list_(pa.float32(), dimension)),
            ("object", pa.large_binary()),
            ("object_info", pa.string()),
        ]
    )


def _jsonl_line(row: Row) -> bytes:
    item = {
        "id": row.id,
        "document": row.document,
        "metadata": orjson.loads(dump_metadata(row.metadata)),
        "vector": base64.b64encode(np.asarray(row.vector, dtype="<f4").tobytes()).decode(),
        "object": None if row.payload is None else base64.b64encode(row.payload).decode(),
        "object_info": row.object_info,
    }
    return orjson.dumps(item) + b"\n"


def _fsync(handle: IO[bytes]) -> None:
    os.fsync(handle.fileno())


# -- reading ---------------------------------------------------------------------------------
def read_header(path: str | Path) -> Header:
    """The header of an export file, checked.

    Raises:
        InvalidInputError: the file is missing, not an export file, or of a newer version.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = Path(path)
    kind = file_format(source)
    try:
        if kind == "jsonl":
            with source.open("rb") as handle:
                raw: Any = orjson.loads(handle.readline())
        else:
            meta = pq.read_schema(source).metadata or {}
            raw = orjson.loads(meta[b"mira"]) if b"mira" in meta else None
    except FileNotFoundError:
        msg = f"no export file at {str(source)!r}"
        raise InvalidInputError(msg) from None
    except (OSError, orjson.JSONDecodeError, pa.ArrowException) as exc:
        msg = f"{str(source)!r} is not a readable {kind} export file ({exc})"
        raise InvalidInputError(msg) from None
    return _check_header(raw, str(source))


def _check_header(raw: object, where: str) -> Header:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        msg = f"{where!r} is not a mira_vectorstores export file (no {FORMAT!r} header); write one with export()"
        raise InvalidInputError(msg)
    if raw.get("version") != VERSION:
        msg = f"{where!r} is export format version {raw.get('version')!r}; this version reads {VERSION}"
        raise InvalidInputError(msg)
    dimension, records = raw.get("dimension"), raw.get("records")
    if type(dimension) is not int or dimension < 1 or type(records) is not int or records < 0:
        msg = f"{where!r}: the header's dimension and records must be positive ints, got {dimension!r}, {records!r}"
        raise InvalidInputError(msg)
    embedder, store, space = raw.get("embedder"), raw.get("store"), raw.get("space")
    extra = raw.get("extra") or {}
    if not (embedder is None or isinstance(embedder, str)) or not isinstance(store, str) or not isinstance(space, str):
        msg = f"{where!r}: the header's store, embedder and space must be strings"
        raise InvalidInputError(msg)
    if not isinstance(extra, dict):
        msg = f"{where!r}: the header's extra must be an object"
        raise InvalidInputError(msg)
    return Header(store=store, embedder=embedder, dimension=dimension, space=space, records=records, extra=extra)


def read(path: str | Path, *, batch_size: int = 1000) -> Iterator[list[Row]]:
    """The file's rows in batches, each row checked (see the module docstring).

    Raises:
        InvalidInputError: the header or a row is malformed; the message names the row.
    """
    source = Path(path)
    header = read_header(source)
    batches = _jsonl_rows(source, batch_size) if file_format(source) == "jsonl" else _parquet_rows(source, batch_size)
    number = 0
    for batch in batches:
        rows = []
        for raw in batch:
            number += 1
            rows.append(_check_row(raw, header.dimension, f"{source}: record {number}"))
        yield rows


def _jsonl_rows(source: Path, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    with source.open("rb") as handle:
        handle.readline()  # the header
        batch: list[dict[str, Any]] = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                if not isinstance(item, dict):
                    raise TypeError
                vector, payload = item.get("vector"), item.get("object")
                item["vector"] = np.frombuffer(base64.b64decode(str(vector), validate=True), dtype="<f4")
                item["object"] = None if payload is None else base64.b64decode(payload, validate=True)
                item["metadata"] = item.get("metadata", {})
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                msg = f"{source}: line {number + 1} is not a record of an export file ({type(exc).__name__})"
                raise InvalidInputError(msg) from None
            batch.append(item)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _parquet_rows(source: Path, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(source, pre_buffer=False)  # pre-buffering holds far more than one batch
        if set(parquet.schema_arrow.names) != set(_schema(1).names):
            msg = f"{source}: columns {parquet.schema_arrow.names} are not an export file's"
            raise InvalidInputError(msg)
        for batch in parquet.iter_batches(batch_size=batch_size):
            vectors = batch.column("vector")
            flat = vectors.values.to_numpy(zero_copy_only=False) if len(vectors) else np.zeros(0, np.float32)
            width = len(flat) // max(1, len(vectors))
            items = batch.drop_columns(["vector"]).to_pylist()
            for i, item in enumerate(items):
                item["vector"] = flat[i * width : (i + 1) * width]
                if isinstance(item["object_info"], str):
                    item["object_info"] = json.loads(item["object_info"])
            yield items
    except (pa.ArrowException, OSError, ValueError) as exc:
        msg = f"{source} is not a readable Parquet export file ({exc})"
        raise InvalidInputError(msg) from None


def _check_row(raw: Mapping[str, Any], dimension: int, where: str) -> Row:
    record_id, document = raw.get("id"), raw.get("document")
    if not isinstance(record_id, str) or not (document is None or isinstance(document, str)):
        msg = f"{where}: id must be a string and document a string or null"
        raise InvalidInputError(msg)
    vector = np.asarray(raw.get("vector"), dtype=np.float32)
    if vector.shape != (dimension,) or not np.isfinite(vector).all():
        msg = f"{where} ({record_id!r}): the vector must be {dimension} finite floats"
        raise InvalidInputError(msg)
    payload, info = raw.get("object"), raw.get("object_info")
    if (payload is None) != (info is None):
        msg = f"{where} ({record_id!r}): an object needs both its bytes and its object_info"
        raise InvalidInputError(msg)
    if payload is not None:
        info = _check_object(payload, info, f"{where} ({record_id!r})")
    metadata = load_metadata(raw.get("metadata"), f"{where} ({record_id!r})")
    return Row(record_id, document, metadata, vector, payload, info)


def _check_object(payload: object, info: object, where: str) -> dict[str, Any]:
    keys = ("codec", "content_type", "size", "sha256")
    if not isinstance(payload, bytes) or not isinstance(info, dict) or set(info) != set(keys):
        msg = f"{where}: object_info must hold exactly {keys}"
        raise InvalidInputError(msg)
    if info["size"] != len(payload) or info["sha256"] != hashlib.sha256(payload).hexdigest():
        msg = f"{where}: the object's bytes fail their size / sha256 check; the file is damaged"
        raise InvalidInputError(msg)
    if not isinstance(info["codec"], str) or not isinstance(info["content_type"], str):
        msg = f"{where}: the object's codec and content_type must be strings"
        raise InvalidInputError(msg)
    return dict(info)
