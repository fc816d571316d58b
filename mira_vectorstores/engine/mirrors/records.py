"""The in-process records mirror: ids, documents and metadata by row, with filter evaluation.

Rows are append-only: a record keeps its row while only its text or metadata change, and a
deleted record leaves a dead row (``alive`` is False) until the mirrors are compacted. The
row number doubles as the record's FAISS id and BM25 position, so no id map is needed.

Documents and metadata are held packed (``Packed``: one UTF-8 / JSON buffer per column plus
row offsets), in memory as on disk (``save`` / ``load``): a search decodes only the rows it
returns, and a filter decodes the metadata once per field and write into a typed column. At
100,000 benchmark records the mirror holds ~300 bytes a record, not ~680 with a Python str and
dict per row, and opening costs a few file reads, not a JSON parse of every record (~0.03 s
against 0.3 s; ``benchmarks/README.md``). Ids stay a list (``row_of`` keys them anyway), packed
after ``load`` until the first lookup by id.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast, overload

import numpy as np
import orjson
from numpy.typing import NDArray

from mira_vectorstores.engine import reserved, times
from mira_vectorstores.engine.query.filters import Column, Mask, Node


class Packed(Sequence[Any]):
    """A column of strings (or JSON values) packed in one growable buffer, decoded per row.

    Row ``i`` is ``blob[starts[i]:ends[i]]`` (``starts[i]`` is -1 for ``None``). Appends go at the
    end; a replaced row's new bytes too, its old ones becoming garbage that ``repack`` drops once
    it is half the buffer. Measured at 100,000 benchmark records: documents and metadata held
    this way cost ~230 bytes a record, as Python strings and dicts ~600 (``benchmarks/memory.py``).
    """

    def __init__(
        self,
        blob: bytes | bytearray,
        offsets: NDArray[np.int64],
        nulls: NDArray[np.bool_] | None,
        *,
        as_json: bool,
    ) -> None:
        """Wrap a blob whose row ``i`` is ``blob[offsets[i]:offsets[i + 1]]`` (``None`` where ``nulls``)."""
        self._json = as_json
        self._set(blob, offsets, nulls)

    def _set(self, blob: bytes | bytearray, offsets: NDArray[np.int64], nulls: NDArray[np.bool_] | None) -> None:
        if len(offsets) < 1 or int(offsets[-1]) != len(blob) or (nulls is not None and len(nulls) != len(offsets) - 1):
            msg = "a packed records column does not match its offsets"
            raise ValueError(msg)
        # A bytearray, so rows can be appended; ``load`` reads the file straight into one.
        self._blob = blob if isinstance(blob, bytearray) else bytearray(blob)
        # array("q"): 8 bytes a row, and indexing it is as fast as a list's (numpy's is ~4x slower).
        self._starts = array("q", np.asarray(offsets[:-1], dtype=np.int64).tobytes())
        self._ends = array("q", np.asarray(offsets[1:], dtype=np.int64).tobytes())
        if nulls is not None and nulls.any():
            for row in np.flatnonzero(nulls).tolist():
                self._starts[row] = -1
        self._garbage = 0

    @classmethod
    def of(cls, values: Iterable[Any], *, as_json: bool) -> Packed:
        """A column holding ``values``."""
        column = cls(bytearray(), np.zeros(1, dtype=np.int64), None, as_json=as_json)
        column.extend(values)
        return column

    @classmethod
    def pack(cls, values: Sequence[Any], *, as_json: bool) -> tuple[bytes, NDArray[np.int64], NDArray[np.bool_]]:
        """The blob, offsets and null mask of a column (``None`` is a null row, or JSON ``null``).

        JSON here is orjson's: the store refuses NaN and infinity in metadata (``writes.py``),
        which JSON cannot hold.
        """
        blob, offsets, nulls = cls.of(values, as_json=as_json).parts()
        return bytes(blob), offsets, nulls

    def _encode(self, value: Any) -> bytes | None:
        if self._json:
            return orjson.dumps(value)  # None is "null": every JSON row is a value
        return None if value is None else value.encode()

    def extend(self, values: Iterable[Any]) -> None:
        """Append rows.

        Each row is copied into the buffer as soon as it is encoded: orjson gives every
        ``dumps`` result a 4 KB allocation, so a list of 100,000 encoded metadata dicts (the
        first version of ``pack``) peaked at 410 MB more than the column itself.
        """
        blob, starts, ends = self._blob, self._starts, self._ends
        for value in values:
            encoded = self._encode(value)
            if encoded is None:
                starts.append(-1)
                ends.append(-1)
            else:
                starts.append(len(blob))
                blob += encoded
                ends.append(len(blob))

    def __setitem__(self, row: int, value: Any) -> None:
        """Replace one row (its new bytes go at the end of the buffer)."""
        start, end = self._starts[row], self._ends[row]
        if start >= 0:
            self._garbage += end - start
        encoded = self._encode(value)
        if encoded is None:
            self._starts[row] = self._ends[row] = -1
        else:
            self._starts[row] = len(self._blob)
            self._blob += encoded
            self._ends[row] = len(self._blob)
        if self._garbage > max(len(self._blob) // 2, 1 << 16):
            self.repack()

    def repack(self) -> None:
        """Rewrite the buffer with the rows in order and no garbage."""
        self._set(*self.parts())

    def take(self, rows: Sequence[int]) -> Packed:
        """A new column of these rows, in this order (bytes copied, nothing decoded)."""
        blob, starts, ends = self._blob, self._starts, self._ends
        picked = [blob[starts[r] : ends[r]] if starts[r] >= 0 else b"" for r in rows]
        nulls = np.fromiter((starts[r] < 0 for r in rows), dtype=bool, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, picked), dtype=np.int64, count=len(picked)), out=offsets[1:])
        return Packed(bytearray().join(picked), offsets, nulls, as_json=self._json)

    def parts(self) -> tuple[bytearray, NDArray[np.int64], NDArray[np.bool_]]:
        """The contiguous blob, offsets and null mask (what ``load`` reads back)."""
        starts = np.frombuffer(self._starts, dtype=np.int64).copy() if self._starts else np.zeros(0, np.int64)
        ends = np.frombuffer(self._ends, dtype=np.int64).copy() if self._ends else np.zeros(0, np.int64)
        nulls = starts < 0
        offsets = np.zeros(len(starts) + 1, dtype=np.int64)
        np.cumsum(np.where(nulls, 0, ends - starts), out=offsets[1:])
        if int(offsets[-1]) == len(self._blob) and np.array_equal(starts[~nulls], offsets[:-1][~nulls]):
            return self._blob, offsets, nulls  # already in row order, without garbage
        blob = bytearray(int(offsets[-1]))
        for row in np.flatnonzero(~nulls).tolist():
            blob[offsets[row] : offsets[row + 1]] = self._blob[starts[row] : ends[row]]
        return blob, offsets, nulls

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, row: int) -> Any: ...
    @overload
    def __getitem__(self, row: slice) -> list[Any]: ...
    def __getitem__(self, row: int | slice) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        start = self._starts[row]  # negative and numpy ints work; IndexError when out of range
        if start < 0:
            return None
        raw = self._blob[start : self._ends[row]]
        return orjson.loads(raw) if self._json else raw.decode()

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    def unpack(self, start: int = 0, stop: int | None = None) -> list[Any]:
        """Rows ``start .. stop`` (all by default) decoded; JSON rows in one parse (0.09 s for
        100,000 metadata dicts, not 0.2 s).
        """
        blob, starts, ends = self._blob, self._starts, self._ends
        span = range(start, len(self) if stop is None else min(stop, len(self)))
        if self._json:
            rows = [blob[starts[i] : ends[i]] for i in span]
            return orjson.loads(b"[" + b",".join(rows) + b"]")  # type: ignore[no-any-return]
        return [None if starts[i] < 0 else blob[starts[i] : ends[i]].decode() for i in span]


_Ids = list[str | None] | Packed
#: Metadata rows decoded at a time to build a filter column (~4 MB of dicts).
_DECODE_CHUNK = 10_000


class RecordsMirror:
    """Ids, documents and full Chroma metadata of every row; implements ``filters.Table``.

    ``docs`` and ``metas`` are always ``Packed`` columns (decoded per row read). ``ids`` is a
    list (the keys of ``row_of`` are its strings, so it costs a pointer a row), or ``Packed``
    right after ``load`` until ``row_of`` is first needed.
    """

    def __init__(self) -> None:
        """Create an empty mirror."""
        self.ids: _Ids = []
        self.docs = Packed.of((), as_json=False)
        self.metas = Packed.of((), as_json=True)
        self._row_of: dict[str, int] | None = {}
        self._live = 0
        self._alive = np.zeros(0, dtype=bool)
        self._columns: dict[str, Column] = {}
        self._documents: list[str | None] | None = None

    @property
    def row_of(self) -> dict[str, int]:
        """Row of every live id (built on first use after ``load``)."""
        if self._row_of is None:
            if isinstance(self.ids, Packed):
                self.ids = self.ids.unpack()
            self._row_of = {record_id: row for row, record_id in enumerate(self.ids) if record_id is not None}
        return self._row_of

    def _id_list(self) -> list[str | None]:
        """The ids as a list, before a write (unpacked once after ``load``)."""
        self.row_of  # noqa: B018 - unpacks the ids and indexes them
        return cast(list[str | None], self.ids)

    def _changed(self, start: int, docs: Sequence[str | None], metas: Sequence[Mapping[str, object]]) -> None:
        """Bring the filter caches up to date with rows ``start ..`` now holding ``docs`` / ``metas``."""
        for key, column in self._columns.items():
            self._columns[key] = _patched(column, start, _column_of(metas, key))
        if self._documents is not None:
            self._documents[start : start + len(docs)] = docs

    # -- Table protocol --------------------------------------------------------------
    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return len(self.ids)

    def column(self, key: str) -> Column:
        """The typed column of one metadata field, built on its first use and then kept current.

        The metadata is decoded for it and dropped again (one parse: ~0.1 s at 100,000 rows),
        so a mirror never holds a Python dict per row; writes then patch the built columns with
        the rows they add or replace (from the dicts they are given: nothing decoded), where
        the first version rebuilt every column at the first filter after each write.
        """
        column = self._columns.get(key)
        if column is None:
            # Decoded a chunk at a time: all 100,000 dicts at once peaked ~40 MB above the mirror.
            values: list[object] = []
            for start in range(0, len(self.metas), _DECODE_CHUNK):
                values += _values_of(self.metas.unpack(start, start + _DECODE_CHUNK), key)
            column = self._columns[key] = Column.build(values)
        return column

    def documents(self) -> Sequence[str | None]:
        """Document of every row (decoded once after a write, for filters that read them all)."""
        if self._documents is None:
            self._documents = self.docs.unpack()
        return self._documents

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
        if not len(ids) == len(docs) == len(metas):
            msg = f"append needs one document and metadata per id, got {len(ids)}, {len(docs)}, {len(metas)}"
            raise ValueError(msg)
        id_column = self._id_list()
        start = self.size
        id_column.extend(ids)
        self.docs.extend(docs)
        self.metas.extend(metas)
        end = self.size
        if end > len(self._alive):
            grown = np.zeros(max(end, 2 * len(self._alive), 1024), dtype=bool)
            grown[: len(self._alive)] = self._alive
            self._alive = grown
        self._alive[start:end] = True
        for offset, record_id in enumerate(ids):
            self.row_of[record_id] = start + offset
        self._live += end - start
        self._changed(start, docs, metas)
        return list(range(start, end))

    def replace(self, row: int, doc: str | None, meta: dict[str, object]) -> None:
        """Change the text and metadata of a live row in place."""
        self.docs[row] = doc
        self.metas[row] = meta
        self._changed(row, [doc], [meta])

    def kill(self, ids: Iterable[str]) -> list[int]:
        """Mark records dead; returns their rows (unknown ids are skipped)."""
        id_column = self._id_list()
        rows = []
        for record_id in ids:
            row = self.row_of.pop(record_id, None)
            if row is not None:
                rows.append(row)
                self._alive[row] = False
                id_column[row] = None
                self.docs[row] = None
                self.metas[row] = {}
        self._live -= len(rows)
        # The filter caches keep a dead row's old values: ``allowed`` masks dead rows anyway.
        return rows

    def allowed(self, node: Node) -> Mask:
        """Live rows matching a filter."""
        return node.mask(self) & self.alive

    def matching(self, ids: Sequence[str] | None, node: Node) -> list[str]:
        """Live ids that match a filter: in ``ids`` order (unknown ids skipped), else in row order."""
        mask = self.allowed(node)
        if ids is None:
            return [cast(str, self.ids[row]) for row in np.flatnonzero(mask).tolist()]
        return [i for i in dict.fromkeys(ids) if i in self.row_of and mask[self.row_of[i]]]

    def dead_count(self) -> int:
        """Rows held by deleted records."""
        return self.size - self.live_count

    def select(self, rows: Sequence[int]) -> RecordsMirror:
        """A new mirror of these rows, renumbered from 0 (compaction; nothing is decoded)."""
        ids = self.ids.take(rows) if isinstance(self.ids, Packed) else [self.ids[r] for r in rows]
        return self._of(ids, self.docs.take(rows), self.metas.take(rows))

    # -- persistence -------------------------------------------------------------------
    def to_state(self) -> dict[str, list[Any]]:
        """Every column as a list (dead rows kept, so rows stay valid)."""
        ids = self.ids.unpack() if isinstance(self.ids, Packed) else list(self.ids)
        return {"ids": ids, "documents": self.docs.unpack(), "metadatas": self.metas.unpack()}

    @classmethod
    def from_state(cls, state: Mapping[str, Sequence[Any]]) -> RecordsMirror:
        """Rebuild a mirror from ``to_state`` output."""
        ids, docs, metas = list(state["ids"]), state["documents"], state["metadatas"]
        if not len(ids) == len(docs) == len(metas):
            msg = "records state has columns of different lengths"
            raise ValueError(msg)
        return cls._of(ids, Packed.of(docs, as_json=False), Packed.of(metas, as_json=True))

    @classmethod
    def _of(cls, ids: _Ids, docs: Packed, metas: Packed, alive: NDArray[np.bool_] | None = None) -> RecordsMirror:
        mirror = cls()
        mirror.ids, mirror.docs, mirror.metas = ids, docs, metas
        if alive is None:
            alive = np.fromiter((i is not None for i in ids), dtype=bool, count=len(ids))
        mirror._alive = alive
        mirror._live = int(mirror._alive.sum())
        mirror._row_of = None  # built on first use
        return mirror

    def save(self, folder: Path) -> list[Path]:
        """Write the three columns packed (see the module docstring); returns the files."""
        folder.mkdir(parents=True, exist_ok=True)
        offsets, nulls = [], []
        for name, column in zip(_NAMES, (self.ids, self.docs, self.metas), strict=True):
            packed = column if isinstance(column, Packed) else Packed.of(column, as_json=False)
            blob, column_offsets, column_nulls = packed.parts()
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
            Packed(_read(folder / f"{name}.bin"), offsets[i], nulls[i], as_json=name == "metas")
            for i, name in enumerate(_NAMES)
        )
        return cls._of(ids, docs, metas, alive=~nulls[0])


def _values_of(metas: Sequence[Mapping[str, object]], key: str) -> list[object]:
    time_key = times.TIME_PREFIX + key  # most rows hold no date: only those are decoded
    return [times.field_value(m, key) if time_key in m else m.get(key) for m in metas]


def _column_of(metas: Sequence[Mapping[str, object]], key: str) -> Column:
    return Column.build(_values_of(metas, key))


def _patched(column: Column, start: int, fresh: Column) -> Column:
    """``column`` with rows ``start ..`` replaced by (or extended with) the rows of ``fresh``."""
    end = start + len(fresh.present)
    size = max(len(column.present), end)
    codes = dict(column.string_codes)  # a code no row holds any more is harmless (it matches nothing)
    remap = np.asarray([codes.setdefault(text, len(codes)) for text in fresh.string_codes] + [-1], dtype=np.int32)
    lists = {row: members for row, members in column.lists.items() if not start <= row < end}
    lists.update((start + row, members) for row, members in fresh.lists.items())

    def spliced(old: NDArray[Any], new: NDArray[Any], pad: object) -> NDArray[Any]:
        out = np.full(size, pad, dtype=old.dtype)
        out[: len(old)] = old
        out[start:end] = new
        return out

    return Column(
        present=spliced(column.present, fresh.present, False),
        numbers=spliced(column.numbers, fresh.numbers, np.nan),
        ints=spliced(column.ints, fresh.ints, 0),
        is_int=spliced(column.is_int, fresh.is_int, False),
        micros=spliced(column.micros, fresh.micros, 0),
        is_time=spliced(column.is_time, fresh.is_time, False),
        strings=spliced(column.strings, remap[fresh.strings], -1),  # -1 (no string) maps to remap[-1] = -1
        string_codes=codes,
        booleans=spliced(column.booleans, fresh.booleans, -1),
        lists=lists,
    )


def _read(path: Path) -> bytearray:
    """A file's bytes in a new bytearray (read into it: no second copy)."""
    with path.open("rb") as handle:
        buffer = bytearray(os.fstat(handle.fileno()).st_size)
        handle.readinto(buffer)
    return buffer


_NAMES = ("ids", "docs", "metas")
