"""The in-process records mirror: ids, documents and metadata by row, with filter evaluation.

Rows are append-only: a record keeps its row while only its text or metadata change, and a
deleted record leaves a dead row (``alive`` is False) until the mirrors are compacted. The
row number doubles as the record's FAISS id and BM25 position, so no id map is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.filters import Column, Mask, Node

RESERVED_PREFIX = "_mira_"


def user_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """The metadata a caller wrote, without the store's reserved keys (lists copied, so a
    caller editing a returned list cannot change the mirror).
    """
    return {k: list(v) if isinstance(v, list) else v for k, v in metadata.items() if not k.startswith(RESERVED_PREFIX)}


class RecordsMirror:
    """Ids, documents and full Chroma metadata of every row; implements ``filters.Table``."""

    def __init__(self) -> None:
        """Create an empty mirror."""
        self.ids: list[str | None] = []
        self.docs: list[str | None] = []
        self.metas: list[dict[str, object]] = []
        self.row_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._columns: dict[str, Column] = {}

    # -- Table protocol --------------------------------------------------------------
    @property
    def size(self) -> int:
        """Rows, dead ones included."""
        return len(self.ids)

    def column(self, key: str) -> Column:
        """The typed column of one metadata field, built on first use after a write."""
        column = self._columns.get(key)
        if column is None:
            column = Column.build([m.get(key) for m in self.metas])
            self._columns[key] = column
        return column

    def documents(self) -> Sequence[str | None]:
        """Document of every row."""
        return self.docs

    # -- state -------------------------------------------------------------------------
    @property
    def alive(self) -> NDArray[np.bool_]:
        """Mask of live rows."""
        return self._alive[: self.size]

    @property
    def live_count(self) -> int:
        """Number of live records."""
        return len(self.row_of)

    def rev(self, record_id: str) -> object:
        """The stored revision of a live record (``None`` when absent)."""
        row = self.row_of.get(record_id)
        return None if row is None else self.metas[row].get(RESERVED_PREFIX + "rev")

    def append(self, ids: Sequence[str], docs: Sequence[str | None], metas: Sequence[dict[str, object]]) -> list[int]:
        """Add rows for new records (their ids must not be live); returns the new rows."""
        start = self.size
        self.ids.extend(ids)
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
        self._columns.clear()
        return list(range(start, end))

    def replace(self, row: int, doc: str | None, meta: dict[str, object]) -> None:
        """Change the text and metadata of a live row in place."""
        self.docs[row] = doc
        self.metas[row] = meta
        self._columns.clear()

    def kill(self, ids: Iterable[str]) -> list[int]:
        """Mark records dead; returns their rows (unknown ids are skipped)."""
        rows = []
        for record_id in ids:
            row = self.row_of.pop(record_id, None)
            if row is not None:
                rows.append(row)
                self._alive[row] = False
                self.ids[row] = None
                self.docs[row] = None
                self.metas[row] = {}
        if rows:
            self._columns.clear()
        return rows

    def allowed(self, node: Node) -> Mask:
        """Live rows matching a filter."""
        return node.mask(self) & self.alive

    def dead_count(self) -> int:
        """Rows held by deleted records."""
        return self.size - self.live_count

    # -- persistence -------------------------------------------------------------------
    def to_state(self) -> dict[str, object]:
        """A JSON-ready snapshot (dead rows kept, so rows stay valid)."""
        return {"ids": self.ids, "documents": self.docs, "metadatas": self.metas}

    @classmethod
    def from_state(cls, state: Mapping[str, object]) -> RecordsMirror:
        """Rebuild a mirror from ``to_state`` output."""
        mirror = cls()
        ids = list(state["ids"])  # type: ignore[call-overload]
        docs = list(state["documents"])  # type: ignore[call-overload]
        metas = list(state["metadatas"])  # type: ignore[call-overload]
        if not len(ids) == len(docs) == len(metas):
            msg = "records state has columns of different lengths"
            raise ValueError(msg)
        mirror.ids, mirror.docs, mirror.metas = ids, docs, metas
        mirror._alive = np.array([i is not None for i in ids], dtype=bool)
        mirror.row_of = {record_id: row for row, record_id in enumerate(ids) if record_id is not None}
        return mirror
