"""The three mirrors of Chroma kept together: records, dense (FAISS) and lexical (BM25).

Both the write path and the reconcile path change them only through ``apply_upsert`` and
``apply_delete``, so a record reaches the mirrors the same way whoever wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count
from typing import cast

import numpy as np

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.mirrors.dense import FaissMirror
from mira_vectorstores.engine.mirrors.lexical import LexicalIndex
from mira_vectorstores.engine.mirrors.records import RecordsMirror
from mira_vectorstores.engine.query.filters import Node
from mira_vectorstores.engine.types import DuplicatePair, Metadata, ObjectInfo, Record, RecordId, Vector

COMPACT_MIN_DEAD = 1_000
COMPACT_DEAD_FRACTION = 0.25
#: One counter for every ``Mirrors`` of the process: a version is never reused, not even by
#: another (later) mirror set, so it can key a cache of answers across rebuilds and reloads.
_VERSIONS = count(1)


class Mirrors:
    """Records, FAISS and BM25 mirrors of one collection, row-aligned."""

    def __init__(self, dimension: int, config: StoreConfig) -> None:
        """Create empty mirrors."""
        self.config = config
        self.records = RecordsMirror()
        self.dense = FaissMirror(dimension, config.faiss)
        self.lexical = LexicalIndex(config.lexical)
        #: Changes with every write, delete or compaction this mirror set takes in (ours, or another
        #: process's through a catch-up): an answer computed at one version is valid until it changes.
        self.version = next(_VERSIONS)
        self._sample: tuple[tuple[int, int], Vector] | None = None  # (version, size), vectors

    @property
    def dimension(self) -> int:
        """Vector length."""
        return self.dense.dimension

    def record(self, record_id: str, *, include_embedding: bool) -> Record:
        """A live record as ``HybridStore.get`` returns it."""
        row = self.records.row_of[record_id]
        meta = self.records.metas[row]
        return Record(
            id=RecordId(record_id),
            document=self.records.docs[row],
            metadata=cast(Metadata, reserved.user_metadata(meta)),
            embedding=self.dense.vectors[row].copy() if include_embedding else None,
            object=reserved.object_info(meta),
        )

    def object_of(self, record_id: str) -> ObjectInfo | None:
        """The raw-object facts of a live record (``None``: unknown id, or not an object).

        Raises:
            CorruptedObjectError: its reserved object metadata is malformed (written by another
                Chroma client); the message names the record and the key.
        """
        row = self.records.row_of.get(record_id)
        return None if row is None else reserved.read_object(self.records.metas[row], record_id)

    def payload_digests(self) -> set[str]:
        """The sha256 of every payload a live record refers to (malformed digests left out)."""
        digests = (m.get(reserved.SHA256) for m in self.records.metas)
        return {d for d in digests if reserved.is_sha256(d)}

    def duplicate_pairs(self, node: Node, threshold: float) -> list[DuplicatePair]:
        """Pairs of live records matching ``node`` whose cosine is at least ``threshold``, most similar first."""
        ids = self.records.ids
        rows = np.flatnonzero(self.records.allowed(node))
        pairs = [
            DuplicatePair(RecordId(str(ids[a])), RecordId(str(ids[b])), similarity)
            for a, b, similarity in self.dense.range_pairs(rows, threshold)
        ]
        return sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second))

    def apply_upsert(
        self, ids: Sequence[str], docs: Sequence[str | None], metas: Sequence[dict[str, object]], vectors: Vector
    ) -> None:
        """Make the mirrors hold these records exactly (full documents, metadata, unit vectors)."""
        self.version = next(_VERSIONS)
        moved: list[int] = []
        for i, record_id in enumerate(ids):
            row = self.records.row_of.get(record_id)
            if row is not None and np.array_equal(self.dense.vectors[row], vectors[i]):
                if self.records.docs[row] != docs[i]:
                    self.lexical.stale = True
                self.records.replace(row, docs[i], metas[i])
            else:
                moved.append(i)
        if not moved:
            return
        # A new vector gets a new row (HNSW cannot update in place); the old row dies.
        self.records.kill([ids[i] for i in moved])
        self.records.append([ids[i] for i in moved], [docs[i] for i in moved], [metas[i] for i in moved])
        self.dense.append(vectors[moved], self.records.live_count)
        self.lexical.stale = True
        self._maybe_compact()

    def apply_delete(self, ids: Sequence[str]) -> list[str]:
        """Drop records from the mirrors; returns the ids that were live."""
        live = [i for i in ids if i in self.records.row_of]
        if live:
            self.version = next(_VERSIONS)
        self.records.kill(live)
        # BM25 keeps its index; dead rows are masked at query time until the next rebuild.
        self._maybe_compact()
        return live

    def _maybe_compact(self) -> None:
        dead = self.records.dead_count()
        if dead >= COMPACT_MIN_DEAD and dead >= COMPACT_DEAD_FRACTION * self.records.size:
            self.compact()

    def compact(self) -> None:
        """Renumber the live rows densely and rebuild the indexes over them."""
        self.version = next(_VERSIONS)
        alive = self.records.alive
        rows = np.flatnonzero(alive)
        fresh = self.records.select(rows.tolist())  # byte ranges copied: no row decoded
        vectors = self.dense.vectors[rows].copy()
        self.records = fresh
        self.dense.rebuild(vectors, fresh.live_count)
        self.lexical.stale = True

    def stride_sample(self, size: int) -> Vector:
        """The unit vectors of about ``size`` live rows at a fixed stride, kept until the next change."""
        kept = self._sample
        if kept is None or kept[0] != (self.version, size):
            rows = np.arange(0, self.records.size, max(1, self.records.size // size))
            kept = self._sample = (
                (self.version, size),
                np.ascontiguousarray(self.dense.vectors[rows[self.records.alive[rows]]]),
            )
        return kept[1]

    def ensure_lexical(self) -> None:
        """Rebuild BM25 if a write made it stale."""
        if self.lexical.stale:
            # Decoded in one pass and dropped after the build (reading the packed column row
            # by row twice, as the build does, costs ~0.3 s more at 100,000 rows).
            self.lexical.rebuild(self.records.docs.unpack(), self.records.alive)
