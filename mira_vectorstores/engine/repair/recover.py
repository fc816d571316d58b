"""Recovering every record of a damaged collection from the files set aside by ``repair``.

Documents and metadata come from Chroma's database (its metadata segment, then its write
log); writes the journal holds under a newer stamp than Chroma's are redone. Each record's
vector comes from the first source that holds its current version:

1. the journal, for a write it redoes;
2. Chroma's write log (the newest writes, with their vectors);
3. the journal or the mirror snapshot, when their revision (``_mira_rev``) is the record's;
4. Chroma's HNSW segment files;
5. the text, re-embedded, when the caller gives the embedder that made the vectors.

A record no source holds a vector for is listed as unrecovered, never dropped silently.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.embeddings import Embedder
from mira_vectorstores.engine.mirrors import snapshot
from mira_vectorstores.engine.repair import chroma_files, hnsw_files
from mira_vectorstores.engine.reserved import REV, STAMP
from mira_vectorstores.engine.storage import journal

logger = logging.getLogger(__name__)
Metadata = dict[str, object]


@dataclass(slots=True)
class Recovered:
    """What a repair writes back: parallel lists of the records that have a vector."""

    name: str
    ids: list[str] = field(default_factory=list)
    documents: list[str | None] = field(default_factory=list)
    metadatas: list[Metadata] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    collection_metadata: Metadata = field(default_factory=dict)
    hnsw: dict[str, object] | None = None
    sources: Counter[str] = field(default_factory=Counter)
    redone: int = 0
    unrecovered: list[str] = field(default_factory=list)
    lost: dict[str, tuple[str | None, Metadata]] = field(default_factory=dict)
    detail: str = ""


def recover(aside: Path, name: str, *, embedder: Embedder | None) -> Recovered:
    """Recover collection ``name`` from the copy in ``aside``."""
    database = aside / "chroma.sqlite3"
    found = chroma_files.read(database, name) if database.exists() else None
    if found is None:
        found = chroma_files.ChromaRecords(collection_id="", dimension=None, collection_metadata={})
    notes: list[str] = []
    ours = _mirrored(aside / "mirrors", found.collection_id, notes)
    redone_vectors: dict[str, np.ndarray] = {}
    redone = _redo_journal(aside / "journal", found, ours, redone_vectors, notes)
    segments: dict[str, np.ndarray] = {}
    for segment in found.vector_segments:
        segments.update(hnsw_files.vectors(aside / "segments" / segment, found.dimension))
    out = Recovered(name, collection_metadata=found.collection_metadata, hnsw=found.hnsw, redone=redone)
    chosen: list[np.ndarray] = []
    missing: list[str] = []
    for record_id, metadata in found.metadatas.items():
        mine = ours.get(record_id)
        current = mine is not None and metadata.get(REV) is not None and mine[1] == metadata.get(REV)
        candidates = (
            ("journal", redone_vectors.get(record_id)),
            ("log", found.log_vectors.get(record_id)),
            (mine[0], mine[2]) if mine is not None and current else ("mirrors", None),
            ("segments", segments.get(record_id)),
        )
        source, vector = next(((s, v) for s, v in candidates if v is not None), ("", None))
        if vector is None:
            missing.append(record_id)
            continue
        out.sources[source] += 1
        _keep(out, chosen, record_id, found.documents.get(record_id), metadata, vector)
    _reembed(out, chosen, missing, found, embedder)
    width = {v.size for v in chosen}
    if len(width) > 1:  # a vector of another length is unusable: its record counts as lost
        common = Counter(v.size for v in chosen).most_common(1)[0][0]
        keep = [i for i, v in enumerate(chosen) if v.size == common]
        for i in sorted(set(range(len(chosen))) - set(keep)):
            out.unrecovered.append(out.ids[i])
            out.lost[out.ids[i]] = (out.documents[i], out.metadatas[i])
        out.ids = [out.ids[i] for i in keep]
        out.documents = [out.documents[i] for i in keep]
        out.metadatas = [out.metadatas[i] for i in keep]
        chosen = [chosen[i] for i in keep]
    out.vectors = np.stack(chosen).astype(np.float32) if chosen else np.zeros((0, 0), dtype=np.float32)
    if found.malformed:
        notes.append(f"{len(found.malformed)} malformed log rows (e.g. {found.malformed[:3]})")
    out.detail = "; ".join(notes)
    return out


def _keep(
    out: Recovered, chosen: list[np.ndarray], record_id: str, doc: str | None, meta: Metadata, vector: np.ndarray
) -> None:
    out.ids.append(record_id)
    out.documents.append(doc)
    out.metadatas.append(meta)
    chosen.append(np.asarray(vector, dtype=np.float32).ravel())


def _mirrored(folder: Path, collection_id: str, notes: list[str]) -> dict[str, tuple[str, object, np.ndarray]]:
    """(source, revision, vector) by id from the mirror snapshot of the damaged collection."""
    manifest = snapshot.read_manifest(folder)
    if manifest is None or manifest.collection_id != collection_id:
        return {}
    try:
        mirrors = snapshot.load(folder, manifest, StoreConfig())
    except snapshot.MirrorFilesError as exc:
        notes.append(f"mirror snapshot unusable: {exc}")
        return {}
    records, vectors = mirrors.records, mirrors.dense.vectors
    return {
        record_id: ("mirrors", records.metas[row].get(REV), np.array(vectors[row]))
        for record_id, row in records.row_of.items()
    }


def _redo_journal(
    folder: Path,
    found: chroma_files.ChromaRecords,
    ours: dict[str, tuple[str, object, np.ndarray]],
    redone_vectors: dict[str, np.ndarray],
    notes: list[str],
) -> int:
    """Apply the journal's writes Chroma does not hold (a newer stamp than its record's); note
    every journalled vector as a source for the revision it was written with.
    """
    redone = 0
    try:
        entries = list(journal.read(folder))
    except journal.JournalError as exc:
        notes.append(str(exc))
        return 0
    for entry in entries:
        for i, record_id in enumerate(entry.ids):
            current = found.metadatas.get(record_id)
            newer = current is None or entry.stamp > _stamp(current)
            if entry.op == "upsert" and entry.vectors is not None:
                meta = {k: v for k, v in entry.metadatas[i].items() if v is not None}
                ours[record_id] = ("journal", meta.get(REV), entry.vectors[i])
                if newer:
                    found.documents[record_id], found.metadatas[record_id] = entry.documents[i], meta
                    redone_vectors[record_id] = entry.vectors[i]
                    redone += 1
            elif entry.op == "update" and newer and current is not None:
                for key, value in entry.metadatas[i].items():
                    current.pop(key, None) if value is None else current.__setitem__(key, value)
                redone += 1
            elif entry.op == "delete" and newer and current is not None:
                found.documents.pop(record_id, None)
                found.metadatas.pop(record_id, None)
                redone_vectors.pop(record_id, None)
                redone += 1
    return redone


def _reembed(
    out: Recovered,
    chosen: list[np.ndarray],
    missing: list[str],
    found: chroma_files.ChromaRecords,
    embedder: Embedder | None,
) -> None:
    texts = [(i, found.documents.get(i)) for i in missing]
    embeddable = [(i, t) for i, t in texts if embedder is not None and isinstance(t, str)]
    if embeddable and embedder is not None:
        vectors = np.asarray(embedder.embed_documents([t for _, t in embeddable]), dtype=np.float32)
        for (record_id, text), vector in zip(embeddable, vectors, strict=True):
            _keep(out, chosen, record_id, text, found.metadatas[record_id], vector)
        out.sources["reembedded"] += len(embeddable)
    done = {i for i, _ in embeddable}
    for record_id in missing:
        if record_id not in done:
            out.unrecovered.append(record_id)
            out.lost[record_id] = (found.documents.get(record_id), found.metadatas[record_id])


def _stamp(metadata: Metadata) -> int:
    value = metadata.get(STAMP)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
