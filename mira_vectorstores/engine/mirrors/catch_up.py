"""Catching the mirrors up with Chroma: a full rebuild, or a reconcile of (id, revision) pairs.

A reconcile reads every record's revision and fetches only the records whose revision
differs from the mirror's (DESIGN.md decision 3).
"""

from __future__ import annotations

import logging

import numpy as np

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.storage.chroma import ChromaStorage

logger = logging.getLogger(__name__)


def rebuild(storage: ChromaStorage, dimension: int, config: StoreConfig) -> Mirrors:
    """Fresh mirrors read page by page from Chroma."""
    mirrors = Mirrors(dimension, config)
    for page in storage.pages():
        if page.embeddings is None:
            continue
        mirrors.apply_upsert(page.ids, page.documents, page.metadatas, _unit(page.embeddings))
    return mirrors


def reconcile(storage: ChromaStorage, mirrors: Mirrors) -> tuple[int, int]:
    """Bring the mirrors level with Chroma by comparing (id, revision) pairs.

    Returns:
        (records fetched again, records dropped).
    """
    seen: set[str] = set()
    changed: list[str] = []
    for page in storage.pages(metadata_only=True):
        for record_id, meta in zip(page.ids, page.metadatas, strict=True):
            seen.add(record_id)
            rev = meta.get(reserved.REV)
            if rev is None or rev != mirrors.records.rev(record_id):
                changed.append(record_id)
    gone = [i for i in mirrors.records.row_of if i not in seen]
    mirrors.apply_delete(gone)
    for page in storage.pages(ids=changed):
        if page.embeddings is not None and page.ids:
            mirrors.apply_upsert(page.ids, page.documents, page.metadatas, _unit(page.embeddings))
    logger.debug("reconciled: %d fetched, %d dropped", len(changed), len(gone))
    return len(changed), len(gone)


def _unit(vectors: np.ndarray) -> np.ndarray:
    # Our writers store unit vectors: leave those bit-exact (re-dividing by a norm of
    # 0.99999994 would change last bits and reorder ties); normalise plain Chroma writes.
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[(norms == 0) | (np.abs(norms - 1.0) < 1e-5)] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
