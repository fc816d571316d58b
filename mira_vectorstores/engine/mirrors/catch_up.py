"""Catching the mirrors up with Chroma: by the change, by id, or in full.

Every write stamps its records (``stamps.py``) and every delete leaves a stamped tombstone, so
``since`` asks Chroma only for what was stamped after the highest stamp this process has seen,
less ``WINDOW`` (a write can land a little after a later-stamped one: a slow request, or writer
clocks that disagree). Each change is applied only when its revision differs from the
mirror's, so reading one twice is harmless. ``ids`` brings given records level (before an
id-addressed write, or after a write whose outcome is unknown); ``reconcile`` compares every
record's revision and catches writes of plain Chroma clients, which carry no stamp.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.embeddings import unit_rows
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.stamps import stamp_of_time
from mira_vectorstores.engine.storage.chroma import ChromaStorage, Page

logger = logging.getLogger(__name__)
#: How far behind its high-water mark a catch-up on a server reads again: writes landing later
#: than this after their stamp was taken are found only by ``reconcile`` (``refresh(full=True)``).
WINDOW = stamp_of_time(30.0)


@dataclass(frozen=True, slots=True)
class Caught:
    """What a catch-up did."""

    high_water: int  # the highest stamp seen in Chroma
    fetched: int  # records read again and applied
    dropped: int  # records deleted from the mirrors


@dataclass(frozen=True, slots=True)
class Changes:
    """What ``read_since`` found in Chroma, for ``apply`` to put into the mirrors."""

    high_water: int
    pages: list[Page]  # records whose revision differs from the mirrors'
    gone: list[str]  # live ids Chroma no longer holds


def since(storage: ChromaStorage, mirrors: Mirrors, high_water: int, *, after: int) -> Caught:
    """Apply every change stamped after ``after`` (at most ``high_water``); returns the new high-water mark."""
    return apply(mirrors, read_since(storage, mirrors, high_water, after=after))


def apply(mirrors: Mirrors, changes: Changes) -> Caught:
    """Put what ``read_since`` found into the mirrors (the only step that changes them)."""
    mirrors.apply_delete(changes.gone)
    fetched = _apply(mirrors, changes.pages)
    if fetched or changes.gone:
        logger.debug("caught up: %d changed, %d deleted", fetched, len(changes.gone))
    return Caught(changes.high_water, fetched, len(changes.gone))


def read_since(storage: ChromaStorage, mirrors: Mirrors, high_water: int, *, after: int) -> Changes:
    """Read what changed after ``after`` (at most ``high_water``) without changing the mirrors, so
    searches can go on meanwhile.
    """
    after = max(0, min(after, high_water))
    changed: list[str] = []
    seen = set()
    top = high_water
    stamped = storage.ids_stamped_after(after)
    for page in storage.pages(ids=stamped, metadata_only=True) if stamped else ():
        for record_id, meta in zip(page.ids, page.metadatas, strict=True):
            seen.add(record_id)
            top = max(top, _stamp(meta))
            if meta.get(reserved.REV) != mirrors.records.rev(record_id):
                changed.append(record_id)
    tombstones = storage.tombstones_after(after)
    top = max([top, *(stamp for _, stamp in tombstones)])
    # A tombstone says "deleted at some point": the record may be back since (re-added by
    # another writer), so it is dropped only if Chroma no longer holds it.
    candidates = [i for i, _ in tombstones if i not in seen and i in mirrors.records.row_of]
    back = storage.existing(candidates) if candidates else set()
    gone = [i for i in candidates if i not in back]
    return Changes(top, list(storage.pages(ids=changed)) if changed else [], gone)


def ids(storage: ChromaStorage, mirrors: Mirrors, record_ids: Sequence[str]) -> int:
    """Make the mirrors hold exactly what Chroma holds for these ids; returns how many changed."""
    wanted = list(dict.fromkeys(record_ids))
    present: set[str] = set()
    changed = 0
    for page in storage.pages(ids=wanted):
        present.update(page.ids)
        stale = [
            i for i, meta in enumerate(page.metadatas) if meta.get(reserved.REV) != mirrors.records.rev(page.ids[i])
        ]
        if stale and page.embeddings is not None:
            subset = Page(
                ids=[page.ids[i] for i in stale],
                documents=[page.documents[i] for i in stale],
                metadatas=[page.metadatas[i] for i in stale],
                embeddings=page.embeddings[stale],
            )
            changed += _apply(mirrors, [subset])
    gone = [i for i in wanted if i not in present and i in mirrors.records.row_of]
    mirrors.apply_delete(gone)
    return changed + len(gone)


def rebuild(storage: ChromaStorage, dimension: int, config: StoreConfig) -> tuple[Mirrors, int]:
    """Fresh mirrors read page by page from Chroma, and the highest stamp they hold."""
    mirrors = Mirrors(dimension, config)
    top = 0
    for page in storage.pages():
        if page.embeddings is None:
            continue
        top = max([top, *map(_stamp, page.metadatas)])
        mirrors.apply_upsert(page.ids, page.documents, page.metadatas, _unit(page.embeddings))
    return mirrors, top


def reconcile(storage: ChromaStorage, mirrors: Mirrors) -> Caught:
    """Bring the mirrors level with Chroma by comparing every record's revision (cost: the collection)."""
    changed, gone, top = _compare(storage, mirrors, unstamped=True)
    mirrors.apply_delete(gone)
    fetched = _apply(mirrors, storage.pages(ids=changed)) if changed else 0
    logger.debug("reconciled: %d fetched, %d dropped", fetched, len(gone))
    return Caught(top, fetched, len(gone))


def differences(storage: ChromaStorage, mirrors: Mirrors) -> tuple[list[str], list[str]]:
    """What ``reconcile`` would change, changing nothing: the ids Chroma holds in another
    revision than the mirrors (or the mirrors lack), and the live ids Chroma no longer holds.
    Records another library wrote carry no revision; those the mirrors hold count as level.
    """
    changed, gone, _ = _compare(storage, mirrors, unstamped=False)
    return changed, gone


def _compare(storage: ChromaStorage, mirrors: Mirrors, *, unstamped: bool) -> tuple[list[str], list[str], int]:
    """Changed ids (with ``unstamped``: every record without a revision too), gone ids, top stamp."""
    seen: set[str] = set()
    changed: list[str] = []
    top = 0
    for page in storage.pages(metadata_only=True):
        for record_id, meta in zip(page.ids, page.metadatas, strict=True):
            seen.add(record_id)
            top = max(top, _stamp(meta))
            rev = meta.get(reserved.REV)
            if (
                rev != mirrors.records.rev(record_id)
                or (rev is None and unstamped)
                or (rev is None and record_id not in mirrors.records.row_of)
            ):
                changed.append(record_id)
    gone = [i for i in mirrors.records.row_of if i not in seen]
    return changed, gone, top


def _apply(mirrors: Mirrors, pages: Iterable[Page]) -> int:
    applied = 0
    for page in pages:
        if page.embeddings is not None and page.ids:
            mirrors.apply_upsert(page.ids, page.documents, page.metadatas, _unit(page.embeddings))
            applied += len(page.ids)
    return applied


def _stamp(metadata: dict[str, object]) -> int:
    value = metadata.get(reserved.STAMP)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _unit(vectors: np.ndarray) -> np.ndarray:
    # Our writers store unit vectors: leave those bit-exact (re-dividing by a norm of
    # 0.99999994 would change last bits and reorder ties); normalise plain Chroma writes.
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    foreign = (norms != 0) & (np.abs(norms - 1.0) >= 1e-5)
    if foreign.any():
        vectors = vectors.copy()
        vectors[foreign] = unit_rows(vectors[foreign])  # as a write or a query would normalise them
    return np.ascontiguousarray(vectors, dtype=np.float32)
