"""The in-process records mirror: ids, documents and metadata by row, with filter evaluation.

Rows are append-only: a record keeps its row while only its text or metadata change, and a
deleted record leaves a dead row (``alive`` is False) until the mirrors are compacted. The
row number doubles as the record's FAISS id and BM25 position, so no id map is needed.

On disk (``save`` / ``load``) each of the three columns is one UTF-8 blob plus an offsets
array, and a loaded mirror keeps them packed: a search decodes only the rows it returns, the
first filter decodes the metadata (or documents) it reads once, and the first write unpacks
all three into lists. Opening 100,000 records therefore costs a few file reads, not a JSON
parse of every record (~0.03 s against 0.3 s; ``benchmarks/README.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import orjson
from numpy.typing import NDArray

from mira_vectorstores.engine import reserved, times
from mira_vectorstores.engine.query.filters import Column, Mask, Node


class Packed(Sequence[Any]):
    """A read-only column of strings (or JSON objects) packed in one blob, decoded per row."""

    def __init__(
        self, blob: bytes, offsets: NDArray[np.int64], nulls: NDArray[np.bool_] | None, *, as_json: bool
    ) -> None:
        """Wrap a blob whose row ``i`` is ``blob[offsets[i]:offsets[i + 1]]`` (``None`` where ``nulls``)."""
        if len(offsets) < 1 or int(offsets[-1]) != len(blob) or (nulls is not None and len(nulls) != len(offsets) - 1):
            msg = "a packed records column does not match its offsets"
            raise ValueError(msg)
        self._blob, self._nulls, self._json = blob, nulls, as_json
        # Python lists: indexing them is several times faster than indexing numpy arrays,
        # and a search reads ~40 rows.
        self._offsets: list[int] = offsets.tolist()
        self._null_rows: list[bool] | None = nulls.tolist() if nulls is not None and nulls.any() else None

    @classmethod
    def pack(cls, values: Sequence[Any], *, as_json: bool) -> tuple[bytes, NDArray[np.int64], NDArray[np.bool_]]:
        """The blob, offsets and null mask of a column (``None`` is a null row, or JSON ``null``).

        JSON here is orjson's: the store refuses NaN and infinity in metadata (``writes.py``),
        which JSON cannot hold.
        """
        # As JSON, None is "null": every row is a JSON value.
        encoded = [orjson.dumps(v) for v in values] if as_json else [b"" if v is None else v.encode() for v in values]
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
        nulls = np.fromiter((v is None and not as_json for v in values), bool, len(values))
        return b"".join(encoded), offsets, nulls

    def parts(self) -> tuple[bytes, NDArray[np.int64], NDArray[np.bool_]]:
        """What ``pack`` made of this column."""
        nulls = np.zeros(len(self), dtype=bool) if self._nulls is None else self._nulls
        return self._blob, np.asarray(self._offsets, dtype=np.int64), nulls

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, row: int) -> Any: ...
    @overload
    def __getitem__(self, row: slice) -> list[Any]: ...
    def __getitem__(self, row: int | slice) -> Any:
        if type(row) is not int or row < 0:  # the hot path (a search's rows) is a plain int
            if isinstance(row, slice):
                return [self[i] for i in range(*row.indices(len(self)))]
            row = range(len(self))[row]  # negative and numpy ints; IndexError when out of range
        if self._null_rows is not None and self._null_rows[row]:
            return None
        raw = self._blob[self._offsets[row] : self._offsets[row + 1]]
        return orjson.loads(raw) if self._json else raw.decode()

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def unpack(self) -> list[Any]:
        """Every row decoded (JSON rows in one parse: 0.09 s for 100,000 metadata dicts, not 0.2 s)."""
        blob, offsets = self._blob, self._offsets
        rows = [blob[offsets[i] : offsets[i + 1]] for i in range(len(self))]
        if self._json:
            return orjson.loads(b"[" + b",".join(rows) + b"]")  # type: ignore[no-any-return]
        if self._null_rows is None:
            return [row.decode() for row in rows]
        return [None if null else row.decode() for row, null in zip(rows, self._null_rows, strict=True)]


_Column = list[Any] | Packed


class RecordsMirror:
    """Ids, documents and full Chroma metadata of every row; implements ``filters.Table``.

    ``ids``, ``docs`` and ``metas`` are lists, or ``Packed`` columns right after ``load``
    (read-only: every write method unpacks first).
    """

    def __init__(self) -> None:
        """Create an empty mirror."""
        self.ids: _Column = []
        self.docs: _Column = []
        self.metas: _Column = []
        self._row_of: dict[str, int] | None = {}
        self._live = 0
        self._alive = np.zeros(0, dtype=bool)
        self._columns: dict[str, Column] = {}

    @property
    def row_of(self) -> dict[str, int]:
        """Row of every live id (built on first use after ``load``)."""
        if self._row_of is None:
            if isinstance(self.ids, Packed):
                self.ids = self.ids.unpack()
            self._row_of = {record_id: row for row, record_id in enumerate(self.ids) if record_id is not None}
        return self._row_of

    def _unpack(self) -> tuple[list[Any], list[Any], list[Any]]:
        """Turn packed columns into lists before a write; returns the three lists."""
        self.row_of  # noqa: B018 - unpacks the ids and indexes them
        ids, docs, metas = (c.unpack() if isinstance(c, Packed) else c for c in (self.ids, self.docs, self.metas))
        self.ids, self.docs, self.metas = ids, docs, metas
        return ids, docs, metas

    # -- Table protocol --------------------------------------------------------------
    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return len(self.ids)

    def column(self, key: str) -> Column:
        """The typed column of one metadata field, built on first use after a write."""
        column = self._columns.get(key)
        if column is None:
            if isinstance(self.metas, Packed):
                self.metas = self.metas.unpack()  # decoded once for every field
            time_key = times.TIME_PREFIX + key  # most rows hold no date: only those are decoded
            column = Column.build([times.field_value(m, key) if time_key in m else m.get(key) for m in self.metas])
            self._columns[key] = column
        return column

    def documents(self) -> Sequence[str | None]:
        """Document of every row (unpacked once, for filters that read them all)."""
        if isinstance(self.docs, Packed):
            self.docs = self.docs.unpack()
        return self.docs

    # -- state -------------------------------------------------------------------------
    @property
    def alive(self) -> NDArray[np.bool_]:
        """Mask of live rows."""
        return self._alive[: self.size]

    @property
    def live_count(self) -> int:
        """Number of live records."""
        return self._live

    def rev(self, record_id: str) -> object:
        """The stored revision of a live record (``None`` when absent)."""
        row = self.row_of.get(record_id)
        return None if row is None else self.metas[row].get(reserved.REV)

    def append(self, ids: Sequence[str], docs: Sequence[str | None], metas: Sequence[dict[str, object]]) -> list[int]:
        """Add rows for new records (their ids must not be live); returns the new rows."""
        id_column, doc_column, meta_column = self._unpack()
        start = self.size
        id_column.extend(ids)
        doc_column.extend(docs)
        meta_column.extend(metas)
        end = self.size
        if end > len(self._alive):
            grown = np.zeros(max(end, 2 * len(self._alive), 1024), dtype=bool)
            grown[: len(self._alive)] = self._alive
            self._alive = grown
        self._alive[start:end] = True
        for offset, record_id in enumerate(ids):
            self.row_of[record_id] = start + offset
        self._live += end - start
        self._columns.clear()
        return list(range(start, end))

    def replace(self, row: int, doc: str | None, meta: dict[str, object]) -> None:
        """Change the text and metadata of a live row in place."""
        _, doc_column, meta_column = self._unpack()
        doc_column[row] = doc
        meta_column[row] = meta
        self._columns.clear()

    def kill(self, ids: Iterable[str]) -> list[int]:
        """Mark records dead; returns their rows (unknown ids are skipped)."""
        id_column, doc_column, meta_column = self._unpack()
        rows = []
        for record_id in ids:
            row = self.row_of.pop(record_id, None)
            if row is not None:
                rows.append(row)
                self._alive[row] = False
                id_column[row] = None
                doc_column[row] = None
                meta_column[row] = {}
        self._live -= len(rows)
        if rows:
            self._columns.clear()
        return rows

    def allowed(self, node: Node) -> Mask:
        """Live rows matching a filter."""
        return node.mask(self) & self.alive

    def matching(self, ids: Sequence[str] | None, node: Node) -> list[str]:
        """Live ids that match a filter: in ``ids`` order (unknown ids skipped), else in row order."""
        mask = self.allowed(node)
        if ids is None:
            return [self.ids[row] for row in np.flatnonzero(mask).tolist()]
        return [i for i in dict.fromkeys(ids) if i in self.row_of and mask[self.row_of[i]]]

    def dead_count(self) -> int:
        """Rows held by deleted records."""
        return self.size - self.live_count

    # -- persistence -------------------------------------------------------------------
    def to_state(self) -> dict[str, list[Any]]:
        """Every column as a list (dead rows kept, so rows stay valid)."""
        ids, docs, metas = (c.unpack() if isinstance(c, Packed) else list(c) for c in (self.ids, self.docs, self.metas))
        return {"ids": ids, "documents": docs, "metadatas": metas}

    @classmethod
    def from_state(cls, state: Mapping[str, Sequence[Any]]) -> RecordsMirror:
        """Rebuild a mirror from ``to_state`` output."""
        ids, docs, metas = list(state["ids"]), list(state["documents"]), list(state["metadatas"])
        if not len(ids) == len(docs) == len(metas):
            msg = "records state has columns of different lengths"
            raise ValueError(msg)
        return cls._of(ids, docs, metas)

    @classmethod
    def _of(cls, ids: _Column, docs: _Column, metas: _Column, alive: NDArray[np.bool_] | None = None) -> RecordsMirror:
        mirror = cls()
        mirror.ids, mirror.docs, mirror.metas = ids, docs, metas
        mirror._alive = np.array([i is not None for i in ids], dtype=bool) if alive is None else alive
        mirror._live = int(mirror._alive.sum())
        mirror._row_of = None  # built on first use
        return mirror

    def save(self, folder: Path) -> list[Path]:
        """Write the three columns packed (see the module docstring); returns the files."""
        folder.mkdir(parents=True, exist_ok=True)
        offsets, nulls = [], []
        for name, column in zip(_NAMES, (self.ids, self.docs, self.metas), strict=True):
            if isinstance(column, Packed):  # unchanged since it was loaded: write it as it is
                blob, column_offsets, column_nulls = column.parts()
            else:
                blob, column_offsets, column_nulls = Packed.pack(column, as_json=name == "metas")
            (folder / f"{name}.bin").write_bytes(blob)
            offsets.append(column_offsets)
            nulls.append(column_nulls)
        np.save(folder / "offsets.npy", np.stack(offsets))
        np.save(folder / "nulls.npy", np.stack(nulls))
        return [folder / f"{name}.bin" for name in _NAMES] + [folder / "offsets.npy", folder / "nulls.npy"]

    @classmethod
    def load(cls, folder: Path) -> RecordsMirror:
        """Read what ``save`` wrote, leaving the columns packed."""
        offsets, nulls = np.load(folder / "offsets.npy"), np.load(folder / "nulls.npy")
        if offsets.shape[0] != len(_NAMES) or nulls.shape != (len(_NAMES), offsets.shape[1] - 1):
            msg = f"records offsets {offsets.shape} and nulls {nulls.shape} do not fit together"
            raise ValueError(msg)
        ids, docs, metas = (
            Packed((folder / f"{name}.bin").read_bytes(), offsets[i], nulls[i], as_json=name == "metas")
            for i, name in enumerate(_NAMES)
        )
        return cls._of(ids, docs, metas, alive=~nulls[0])


_NAMES = ("ids", "docs", "metas")
