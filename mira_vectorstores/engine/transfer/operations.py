"""Whole-store operations: export and import, backup and restore, doctor, stats.

Each takes an open ``HybridStore`` and uses its parts the way its own methods do. A copy
(export, backup) is taken under ``HybridStore._frozen``: writes and catch-ups of this process
wait, searches go on, so the copy is the store as of one moment. An import reads its file twice:
once to check every row (a bad row refuses the import before anything is written), once to write.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import chromadb
import numpy as np
import orjson
from tqdm import tqdm

from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.errors import (
    ConfigError,
    DimensionMismatchError,
    EmbeddingMismatchError,
    InvalidInputError,
)
from mira_vectorstores.engine.locks import PathLock
from mira_vectorstores.engine.mirrors import catch_up
from mira_vectorstores.engine.storage.aliases import ALIAS_COLLECTION, ChromaAliases, FileAliases, aliases_of
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, STATE_PREFIX, close_client, failure, make_client
from mira_vectorstores.engine.storage.codecs import CODECS
from mira_vectorstores.engine.storage.payloads import write_atomic
from mira_vectorstores.engine.transfer import files
from mira_vectorstores.engine.transfer.files import Header, Row
from mira_vectorstores.engine.types import CollectionInfo, DoctorReport, FilterDict, StoreStats, TransferReport
from mira_vectorstores.engine.writes.batch import ObjectWrite
from mira_vectorstores.engine.writes.validate import check_ids, check_texts, clean_metadata

if TYPE_CHECKING:
    from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
    from mira_vectorstores.engine.replica import Where
    from mira_vectorstores.engine.storage.objects import ObjectStore
    from mira_vectorstores.engine.store import HybridStore

BACKUP_FORMAT = "mira-backup"
BACKUP_FILE = "records.parquet"
BACKUP_MANIFEST = "backup.json"


# -- export / import -----------------------------------------------------------------------------
def export(
    store: HybridStore,
    path: str | Path,
    *,
    where: FilterDict | None = None,
    batch_size: int = 1000,
    progress: bool = False,
    extra: dict[str, object] | None = None,
) -> TransferReport:
    """Write the store's records (all, or those ``where`` matches) to an export file, replaced
    atomically: a reader never sees half a file.
    """
    target = Path(path)
    kind = files.file_format(target)
    started = time.perf_counter()
    _check_batch(batch_size)
    temp = target.with_name(f".partial-{target.name}")  # same suffix: same format
    objects = 0
    with store._frozen() as mirrors:
        ids = store._matching(None, where, None)
        header = Header(
            store=store.name,
            embedder=None if store.embedder is None else store.embedder.name,
            dimension=store.dimension or 0,
            space=store.space,
            records=len(ids),
            extra=extra or {},
        )
        writer = files.Writer(temp, header)
        try:
            with tqdm(total=len(ids), unit="rec", desc="export", disable=not progress) as bar:
                for start in range(0, len(ids), batch_size):
                    assert mirrors is not None  # ids come from the mirrors
                    rows = [source_row(store.objects, mirrors, i) for i in ids[start : start + batch_size]]
                    objects += sum(r.payload is not None for r in rows)
                    writer.write(rows)
                    bar.update(len(rows))
            writer.close()
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
    return TransferReport(str(target), kind, len(ids), objects, time.perf_counter() - started)


def source_row(objects: ObjectStore, mirrors: Mirrors, record_id: str) -> Row:
    """A live record as an export file holds it (its raw object's bytes read and verified)."""
    records = mirrors.records
    row = records.row_of[record_id]
    meta = records.metas[row]
    info = reserved.read_object(meta, record_id)  # malformed object metadata: CorruptedObjectError
    payload = None if info is None else objects.read(info, record_id)
    return Row(
        id=record_id,
        document=records.docs[row],
        metadata=reserved.user_metadata(meta),
        vector=mirrors.dense.vectors[row].copy(),
        payload=payload,
        object_info=None if info is None else asdict(info),
    )


def import_(
    store: HybridStore, path: str | Path, *, batch_size: int = 1000, reembed: bool = False, progress: bool = False
) -> TransferReport:
    """Upsert every record of an export file (checked whole first: a bad row writes nothing)."""
    source = Path(path)
    started = time.perf_counter()
    _check_batch(batch_size)
    header = files.read_header(source)
    check_compatible(store, header, reembed=reembed)
    total = 0
    for rows in files.read(source, batch_size=batch_size):  # pass 1: every row checked
        _check_rows(rows, reembed=reembed)
        total += len(rows)
    objects = 0
    with tqdm(total=total, unit="rec", desc="import", disable=not progress) as bar:
        for rows in files.read(source, batch_size=batch_size):  # pass 2: written
            objects += write_rows(store, rows, reembed=reembed)
            bar.update(len(rows))
    return TransferReport(str(source), files.file_format(source), total, objects, time.perf_counter() - started)


def check_compatible(store: HybridStore, header: Header, *, reembed: bool) -> None:
    """Refuse a file whose vectors the store cannot hold as they are (unless ``reembed``)."""
    mine = None if store.embedder is None else store.embedder.name
    if reembed:
        if store.embedder is None:
            msg = "reembed=True needs a store with an embedder; this one takes vectors only"
            raise ConfigError(msg)
        return
    if header.embedder is not None and mine is not None and header.embedder != mine and header.records:
        msg = (
            f"the file's vectors were made by {header.embedder!r}, this store embeds with {mine!r}; "
            "import with reembed=True (mira-vs import --reembed) to embed the texts again, or open "
            "the store with the file's embedder"
        )
        raise EmbeddingMismatchError(msg)
    if store.dimension is not None and header.records and header.dimension != store.dimension:
        msg = f"the file holds {header.dimension}-dim vectors; this store holds {store.dimension}"
        raise DimensionMismatchError(msg)


def _check_rows(rows: Sequence[Row], *, reembed: bool) -> None:
    check_ids([r.id for r in rows], len(rows))
    for row in rows:
        clean_metadata(row.metadata, f"record {row.id!r}: metadata")
        if reembed and row.document is None:
            msg = f"record {row.id!r} has no text to embed again; import it without reembed"
            raise InvalidInputError(msg)
        info = row.object_info
        if info is not None and info["codec"] not in CODECS:
            msg = f"record {row.id!r}: unknown object codec {info['codec']!r}; valid: {', '.join(CODECS)}"
            raise InvalidInputError(msg)


def write_rows(store: HybridStore, rows: Sequence[Row], *, reembed: bool) -> int:
    """Write one checked batch: plain records with and without text, then raw objects; returns the objects."""
    plain = [r for r in rows if r.payload is None]
    for has_text in (True, False):
        group = [r for r in plain if (r.document is not None) == has_text]
        if group:
            store.upsert(
                check_texts([r.document for r in group]) if has_text else None,  # type: ignore[misc]
                ids=[r.id for r in group],
                metadatas=[r.metadata for r in group],
                vectors=None if reembed else np.stack([r.vector for r in group]),
            )
    writes, payloads = [], []
    for row in rows:
        if row.payload is None or row.object_info is None:
            continue
        info = row.object_info
        described = reserved.object_metadata(
            content_type=str(info["content_type"]),
            codec=str(info["codec"]),
            size=len(row.payload),
            sha256=str(info["sha256"]),
        )
        vector = None if reembed else row.vector
        writes.append(ObjectWrite(row.id, row.document, row.metadata, vector, described))
        payloads.append((row.payload, described))
    if writes:
        store._write_objects([w.id for w in writes], writes, payloads)
    return len(writes)


def _check_batch(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be an int >= 1, got {batch_size!r}"
        raise ConfigError(msg)


# -- backup / restore ------------------------------------------------------------------------------
def backup(store: HybridStore, dest: str | Path, *, progress: bool = False) -> TransferReport:
    """A consistent copy of the store in folder ``dest``: its records file and a manifest with the
    file's sha256 (written last: a folder without it is an interrupted backup).
    """
    folder = Path(dest)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        msg = f"backup folder {str(folder)!r} exists and is not empty; give a new folder"
        raise ConfigError(msg)
    folder.mkdir(parents=True, exist_ok=True)
    report = export(store, folder / BACKUP_FILE, progress=progress, extra={"collection": store.collection})
    manifest = {
        "format": BACKUP_FORMAT,
        "version": 1,
        "store": store.name,
        "records": report.records,
        "objects": report.objects,
        "file": BACKUP_FILE,
        "sha256": _sha256_file(folder / BACKUP_FILE),
        "created": datetime.now(UTC).isoformat(),
    }
    write_atomic(folder / BACKUP_MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return TransferReport(str(folder), "backup", report.records, report.objects, report.seconds)


def backup_file(source: str | Path) -> tuple[Path, Header]:
    """The records file of a backup folder and its header, after checking the manifest and the
    file's sha256.

    Raises:
        InvalidInputError: not a backup folder, an interrupted backup, or a damaged file.
    """
    folder = Path(source)
    manifest_path = folder / BACKUP_MANIFEST
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
    except FileNotFoundError:
        msg = f"{str(folder)!r} is not a backup folder (no {BACKUP_MANIFEST}; an interrupted backup has none)"
        raise InvalidInputError(msg) from None
    except (OSError, orjson.JSONDecodeError) as exc:
        msg = f"{str(manifest_path)!r} is unreadable ({exc})"
        raise InvalidInputError(msg) from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT or manifest.get("file") != BACKUP_FILE:
        msg = f"{str(manifest_path)!r} is not a mira_vectorstores backup manifest"
        raise InvalidInputError(msg)
    data = folder / BACKUP_FILE
    if not data.exists() or _sha256_file(data) != manifest.get("sha256"):
        msg = f"the backup at {str(folder)!r} is damaged: {BACKUP_FILE} is missing or fails its sha256 check"
        raise InvalidInputError(msg)
    return data, files.read_header(data)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# -- doctor and stats --------------------------------------------------------------------------------
def doctor(store: HybridStore, *, repair: bool = False) -> DoctorReport:
    """Compare the mirrors with Chroma record by record and every payload with its digest;
    ``repair`` rebuilds the mirrors from Chroma (``refresh(full=True)``, which also takes in edits
    a plain client made without a new revision) and removes old orphaned payloads. The report lists
    what was found before any repair.
    """
    missing, unknown, stale = _differences(store)
    repaired = False
    if repair:
        store.refresh(full=True)
        repaired = bool(missing or unknown or stale) and not any(_differences(store))
    objects = store.verify_objects(repair=repair)
    return DoctorReport(store.count(), missing, unknown, stale, objects, repaired)


def _differences(store: HybridStore) -> tuple[list[str], list[str], list[str]]:
    with store._frozen() as mirrors:
        if mirrors is None:
            return [], [], []
        changed, gone = catch_up.differences(store._replica.storage, mirrors)
        rows = mirrors.records.row_of
        return [i for i in changed if i not in rows], gone, [i for i in changed if i in rows]


def stats(store: HybridStore) -> StoreStats:
    """What ``HybridStore.stats`` reports."""
    config = store.config
    health = store.health()
    with store._frozen() as mirrors:
        kind = "flat" if mirrors is None else mirrors.dense.kind.value
        # The HNSW parameters in use, chosen by calibration unless configured (``FaissMirror.describe``).
        hnsw = {} if mirrors is None else mirrors.dense.describe()
    index: dict[str, object] = {"kind": kind, "configured": config.faiss.index_kind.value}
    if kind == "hnsw":
        index.update(hnsw)
    elif kind == "ivf":
        index.update(nlist=config.faiss.ivf_nlist, nprobe=config.faiss.ivf_nprobe)
    else:
        index.update(hnsw_threshold=config.faiss.hnsw_threshold)
    lexical = {k: v for k, v in asdict(config.lexical).items() if not k.startswith("_")}
    replica = store._replica
    folder = replica.storage.path or replica.mirror_dir  # an embedded store's folder holds its mirrors
    disk = None if folder is None else _size(Path(folder))
    return StoreStats(
        name=store.name,
        collection=store.collection,
        mode=replica.mode,
        records=health.records,
        dimension=store.dimension,
        embedder=None if store.embedder is None else store.embedder.name,
        space=store.space,
        index=index,
        lexical=lexical,
        health=health,
        disk_bytes=disk,
    )


def _size(folder: Path) -> int:
    total = 0
    for file in _walk(folder):
        try:
            total += file.stat().st_size
        except OSError:
            continue
    return total


def _walk(folder: Path) -> Iterator[Path]:
    if folder.is_file():
        yield folder
        return
    for root, _, names in os.walk(folder):
        for name in names:
            yield Path(root) / name


# -- collections -----------------------------------------------------------------------------------
def _is_side(name: str) -> bool:
    """The store's own side collections: aliases, tombstones, payload chunks."""
    return name == ALIAS_COLLECTION or name.endswith(("-mira-tombstones", "-mira-payloads"))


@contextmanager
def _client(where: Where) -> Iterator[tuple[chromadb.api.ClientAPI, FileAliases | ChromaAliases]]:
    """A client of ``where`` and its aliases; an embedded folder is locked meanwhile."""
    lock = PathLock(Path(where.path)) if where.host is None and where.path is not None else None
    try:
        client, place = make_client(path=where.path, host=where.host, port=where.port, server=where.server)
        try:
            yield client, aliases_of(where.path if lock else None, client, place)
        finally:
            close_client(client)
    finally:
        if lock is not None:
            lock.release()


def collections(where: Where) -> list[CollectionInfo]:
    """What ``HybridStore.collections`` lists (none for a folder that does not exist: it is not made)."""
    if where.host is None and where.path is not None and not Path(where.path).is_dir():
        return []
    out = []
    with _client(where) as (client, aliases):
        known = aliases.all().values()
        try:
            listed = sorted(str(c.name) for c in client.list_collections())
            for name in (n for n in listed if not _is_side(n)):
                collection = client.get_collection(name, embedding_function=None)
                embedder = (collection.metadata or {}).get(STATE_PREFIX + "embedder")
                out.append(
                    CollectionInfo(
                        name=name,
                        records=int(collection.count()),
                        embedder=embedder if isinstance(embedder, str) else None,
                        alias=next((a.name for a in known if a.collection == name), None),
                        replaced_by=next((a.collection for a in known if a.previous == name), None),
                    )
                )
        except CHROMA_ERRORS as exc:
            raise failure(exc, "list the collections", str(where.host or where.path)) from exc
    return out


def check_droppable(where: Where, name: str) -> None:
    """Refuse to drop the collection a migrated store opens now."""
    if where.host is None and where.path is not None and not Path(where.path).is_dir():
        return  # nothing there: the drop's own open says so
    with _client(where) as (_, aliases):
        for alias in aliases.all().values():
            if alias.collection == name:
                msg = (
                    f"collection {name!r} holds store {alias.name!r} since its migration; drop the store "
                    f"(HybridStore({alias.name!r}).drop()) to delete it"
                )
                raise ConfigError(msg)
