"""Turning write calls into one validated ``WriteBatch``: final documents, metadata and unit
vectors for every record, with only new or changed texts sent to the embedder.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from mira_vectorstores.engine.embeddings import Embedder
from mira_vectorstores.engine.errors import DimensionMismatchError, InvalidInputError, RecordNotFoundError
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.reserved import REV, STAMP, WRITE_KEYS, is_reserved, user_metadata
from mira_vectorstores.engine.times import TIME_PREFIX, is_time
from mira_vectorstores.engine.types import Vector
from mira_vectorstores.engine.writes.validate import (
    check_ids,
    check_lengths,
    check_list,
    check_texts,
    check_vectors,
    clean_metadata,
)


@dataclass(frozen=True, slots=True)
class WriteBatch:
    """What one write sends to Chroma and then to the mirrors."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, object]]  # as the mirrors keep them (reserved keys included)
    vectors: Vector
    removed_keys: list[list[str]]  # per record: keys Chroma still holds that must go
    embedded: int  # how many texts were sent to the embedder
    #: A metadata-only update: per record, only the keys it sets (or removes, as None). Chroma
    #: merges them into what it holds, so another process's concurrent update of other keys stays.
    changes: list[dict[str, object]] | None = None

    def chroma_metadatas(self, rows: slice, *, stamp: int, rev: str) -> list[dict[str, object]]:
        """Metadata of some rows for Chroma: the write's stamp and revision set (in the mirrors'
        copy too), removed keys set to None (which deletes them).
        """
        out = []
        for i, (meta, removed) in enumerate(zip(self.metadatas[rows], self.removed_keys[rows], strict=True)):
            meta[STAMP], meta[REV] = stamp, rev
            if self.changes is not None:
                out.append({**self.changes[rows][i], STAMP: stamp, REV: rev})
            else:
                out.append({**dict.fromkeys(removed), **meta})
        return out


@dataclass(frozen=True, slots=True)
class ObjectWrite:
    """The record of one raw object: its id, searchable text, metadata, vector and reserved keys."""

    id: str
    text: str | None
    metadata: Mapping[str, object] | None
    vector: object | None
    reserved: Mapping[str, object]


def prepare_objects(mirrors: Mirrors | None, embedder: Embedder | None, writes: Sequence[ObjectWrite]) -> WriteBatch:
    """Validate the records of several raw objects as one batch (those without a vector are
    embedded in one call), so a bad object refuses the whole write before anything is written.
    """
    groups: dict[tuple[bool, bool], list[ObjectWrite]] = {}
    for write in writes:
        groups.setdefault((write.text is not None, write.vector is not None), []).append(write)
    batches = [
        prepare_upsert(
            mirrors,
            embedder,
            texts=[w.text for w in group] if has_text else None,  # type: ignore[misc]
            ids=[w.id for w in group],
            metadatas=[w.metadata for w in group],
            vectors=[w.vector for w in group] if has_vector else None,
            reserved=[w.reserved for w in group],
        )
        for (has_text, has_vector), group in groups.items()
    ]
    if len({b.vectors.shape[1] for b in batches}) > 1:
        msg = f"the objects' vectors have different dimensions: {sorted({b.vectors.shape[1] for b in batches})}"
        raise DimensionMismatchError(msg)
    if len(batches) == 1:
        return batches[0]
    return WriteBatch(
        ids=[i for b in batches for i in b.ids],
        documents=[d for b in batches for d in b.documents],
        metadatas=[m for b in batches for m in b.metadatas],
        vectors=np.concatenate([b.vectors for b in batches]),
        removed_keys=[r for b in batches for r in b.removed_keys],
        embedded=sum(b.embedded for b in batches),
    )


def prepare_upsert(
    mirrors: Mirrors | None,
    embedder: Embedder | None,
    *,
    texts: Sequence[str] | None,
    ids: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, object] | None] | None,
    vectors: object | None,
    reserved: Sequence[Mapping[str, object]] | None = None,
) -> WriteBatch:
    """Validate an add/upsert; a record's text is kept when ``texts`` is not given."""
    texts = check_texts(texts)
    if texts is None and vectors is None:
        msg = "give texts, vectors or both"
        raise InvalidInputError(msg)
    if texts is None:
        check_lengths(len(vectors), vectors=vectors)  # type: ignore[arg-type]
    n = len(texts) if texts is not None else len(vectors)  # type: ignore[arg-type]
    record_ids = check_ids(ids, n)
    check_lengths(n, metadatas=metadatas, vectors=vectors)  # type: ignore[arg-type]
    metas = [clean_metadata(m, f"metadatas[{i}]") for i, m in enumerate(metadatas or [None] * n)]
    given = None if vectors is None else check_vectors(vectors, n, _dimension(mirrors, embedder))
    docs: list[str | None] = list(texts) if texts is not None else [_doc(mirrors, i) for i in record_ids]
    return _assemble(mirrors, embedder, record_ids, docs, metas, given, reserved or [{}] * n)


def prepare_update(
    mirrors: Mirrors | None,
    embedder: Embedder | None,
    *,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    metadatas: Sequence[Mapping[str, object] | None] | None,
    vectors: object | None,
) -> WriteBatch:
    """Validate an update of existing records: metadata keys merge (``None`` removes a key)."""
    record_ids = check_ids(ids, len(check_list(ids, "ids", of="strings")))
    n = len(record_ids)
    texts = check_texts(texts)
    check_lengths(n, texts=texts, metadatas=metadatas, vectors=vectors)  # type: ignore[arg-type]
    rows = mirrors.records.row_of if mirrors else {}
    missing = [i for i in record_ids if i not in rows]
    if missing:
        msg = f"cannot update records that do not exist: {missing[:5]}; use upsert to create them"
        raise RecordNotFoundError(msg)
    assert mirrors is not None
    docs: list[str | None] = []
    metas = []
    reserved = []
    for i, record_id in enumerate(record_ids):
        old = mirrors.records.metas[rows[record_id]]
        docs.append(texts[i] if texts is not None else mirrors.records.docs[rows[record_id]])
        merged = user_metadata(old)  # dates and times as given: they are encoded afresh below
        change = (metadatas or [None] * n)[i] or {}
        if not isinstance(change, Mapping):
            msg = f"metadatas[{i}] must be a dict, got {type(change).__name__}"
            raise InvalidInputError(msg)
        for key, value in change.items():
            merged.pop(key, None) if value is None else merged.__setitem__(key, value)
        metas.append(clean_metadata(merged, f"metadatas[{i}]"))
        reserved.append({k: v for k, v in old.items() if is_reserved(k) and k not in WRITE_KEYS and not is_time(k)})
    given = None if vectors is None else check_vectors(vectors, n, mirrors.dimension)
    batch = _assemble(mirrors, embedder, record_ids, docs, metas, given, reserved)
    if texts is not None or vectors is not None:
        return batch
    # Each changed key is sent with its time key: set when the new value is a date or time,
    # removed otherwise (a no-op when there was none).
    changes: list[dict[str, object]] = [
        {name: meta.get(name) for key in (change or {}) for name in (key, TIME_PREFIX + key) if isinstance(key, str)}
        for change, meta in zip(metadatas or [None] * n, metas, strict=True)
    ]
    return replace(batch, changes=changes)


def _dimension(mirrors: Mirrors | None, embedder: Embedder | None) -> int | None:
    if mirrors is not None:
        return mirrors.dimension
    return embedder.dimension if embedder is not None else None


def _doc(mirrors: Mirrors | None, record_id: str) -> str | None:
    if mirrors is None:
        return None
    row = mirrors.records.row_of.get(record_id)
    return None if row is None else mirrors.records.docs[row]


def _assemble(
    mirrors: Mirrors | None,
    embedder: Embedder | None,
    ids: list[str],
    docs: list[str | None],
    metas: Sequence[Mapping[str, object]],
    given: Vector | None,
    reserved: Sequence[Mapping[str, object]],
) -> WriteBatch:
    n = len(ids)
    to_embed: list[int] = []
    vectors: list[Vector | None] = [None] * n
    for i, record_id in enumerate(ids):
        if given is not None:
            vectors[i] = given[i]
            continue
        row = mirrors.records.row_of.get(record_id) if mirrors else None
        if row is not None and mirrors is not None and mirrors.records.docs[row] == docs[i]:
            vectors[i] = mirrors.dense.vectors[row]  # same text: keep its vector, no re-embedding
        elif docs[i] is None:
            msg = f"record {record_id!r} has neither a text nor a vector"
            raise InvalidInputError(msg)
        else:
            to_embed.append(i)
    if to_embed:
        if embedder is None:
            msg = "this store has no embedder, so texts need vectors: pass vectors= as well"
            raise InvalidInputError(msg)
        fresh = check_vectors(
            embedder.embed_documents([docs[i] for i in to_embed]),  # type: ignore[misc]
            len(to_embed),
            _dimension(mirrors, embedder),
            what=f"vectors from embedder {embedder.name!r}",
        )
        for j, i in enumerate(to_embed):
            vectors[i] = fresh[j]
    full = [{**meta, **extra} for meta, extra in zip(metas, reserved, strict=True)]
    removed = []
    for i, record_id in enumerate(ids):
        row = mirrors.records.row_of.get(record_id) if mirrors else None
        old_keys = mirrors.records.metas[row].keys() if row is not None and mirrors else ()
        removed.append([k for k in old_keys if k not in full[i] and k not in WRITE_KEYS])
    matrix = np.stack(vectors) if n else np.zeros((0, _dimension(mirrors, embedder) or 0), dtype=np.float32)  # type: ignore[arg-type]
    return WriteBatch(ids, docs, full, matrix.astype(np.float32), removed, len(to_embed))
