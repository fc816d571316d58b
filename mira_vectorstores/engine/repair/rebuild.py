"""``repair``: rebuild an embedded collection Chroma can no longer read, losing no acknowledged write.

The steps, each safe to interrupt (a repair killed at any point is finished by the next):

1. **Set the damaged files aside**, under ``<path>/mira/<name>/damaged-<time>/``: a copy of
   ``chroma.sqlite3``, the collection's HNSW segment folders, the mirror snapshot and the
   journal. Nothing is ever deleted from there. ``repair.json`` names that folder and how far
   the repair got: once the copy is complete, every attempt recovers from it alone.
2. **Recover** every record from the copy (``recover.py``): documents and metadata from Chroma's
   database, each vector from the best source that holds the record's current version.
3. **Rebuild**: drop the damaged collection from Chroma, create it afresh (same name,
   settings and collection metadata) and write the recovered records.
4. **Verify**: read everything back through Chroma and compare with what was recovered.
5. **Finish**: drop the live journal and mirrors (the next open rebuilds the mirrors from the
   repaired collection), remove ``repair.json`` and the open marker, write ``report.json``.

Records no source holds a vector for are not written; they are listed in the report and, with
their documents and metadata, in ``lost.jsonl`` beside the damaged files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import chromadb
import numpy as np
import orjson
from chromadb.api.collection_configuration import CreateCollectionConfiguration
from chromadb.errors import NotFoundError

from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.embeddings import Embedder
from mira_vectorstores.engine.errors import StorageError, StoreCorruptedError
from mira_vectorstores.engine.locks import PathLock
from mira_vectorstores.engine.mirrors import snapshot
from mira_vectorstores.engine.repair import chroma_files
from mira_vectorstores.engine.repair.recover import Recovered, recover
from mira_vectorstores.engine.replica import OPEN_MARKER
from mira_vectorstores.engine.storage import journal, probe
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, READ_PAGE, ChromaStorage, close_client
from mira_vectorstores.engine.storage.payloads import write_atomic
from mira_vectorstores.engine.types import RepairReport

logger = logging.getLogger(__name__)
STATE = "repair.json"  # while a repair is under way: which copy it recovers from
DATABASE = "chroma.sqlite3"


def repair(
    path: str | Path,
    name: str,
    *,
    config: StoreConfig | None = None,
    embedder: Embedder | None = None,
    allow_loss: bool = True,
    force: bool = False,
    mirror_dir: str | Path | None = None,
) -> RepairReport:
    """Repair collection ``name`` of the embedded store at ``path`` (see the module's docstring).

    Args:
        path: the store's folder.
        name: the collection.
        config: settings for the rebuilt collection when its own cannot be read.
        embedder: re-embed the text of records no other source holds a vector for (give the
            embedder that made their vectors; without one they are listed as unrecovered).
        allow_loss: ``False`` raises ``StoreCorruptedError`` (changing nothing) when any record
            would stay without a vector.
        force: rebuild even when Chroma reads the collection.
        mirror_dir: where the store keeps its mirrors, if not in ``<path>/mira/<name>``.

    Raises:
        StoreLockedError: another process has the store open.
        StoreCorruptedError: (``allow_loss=False``) records would be lost, or the rebuilt
            collection does not read back as recovered.
    """
    began = time.monotonic()
    root = Path(path).resolve()
    folder = root / "mira" / name
    mirrors = Path(mirror_dir) if mirror_dir is not None else folder
    lock = PathLock(root)
    try:
        if lock.holders > 1:
            msg = f"store {name!r} at {root} is open in this process; close it before repairing"
            raise StorageError(msg)
        progress = _Progress.read(folder)
        if progress is None:
            if not force and (root / DATABASE).exists():
                found = probe.check(root, [name, ChromaStorage.tombstones_name(name)])
                if found.ok:
                    (folder / OPEN_MARKER).unlink(missing_ok=True)
                    return RepairReport(str(root), name, needed=False, detail=found.detail)
            progress = _Progress(folder, time.strftime("damaged-%Y%m%dT%H%M%S", time.gmtime()))
            progress.save()
        if not progress.copied:
            _set_aside(root, folder, mirrors, name, progress.aside)
            progress.copied = True
            progress.save()
        recovered = recover(progress.aside, name, embedder=embedder)
        if recovered.unrecovered and not allow_loss and not progress.rebuilding:
            progress.abandon()  # nothing changed yet: the copy goes, the live files stay as they were
            msg = (
                f"repairing store {name!r} at {root} would leave {len(recovered.unrecovered)} records without a "
                f"vector (no surviving copy), e.g. {recovered.unrecovered[:5]}. Run HybridStore.repair({str(root)!r}, "
                f"{name!r}) to repair anyway (they are listed and kept, without vectors, in lost.jsonl), or pass "
                "the embedder that made their vectors to re-embed their texts."
            )
            raise StoreCorruptedError(msg, path=str(root), name=name, unrecovered=recovered.unrecovered)
        progress.rebuilding = True
        progress.save()
        _rebuild(root, name, recovered, config or StoreConfig())
        report = _finish(root, folder, mirrors, progress.aside, recovered, time.monotonic() - began)
        progress.done()
    finally:
        lock.release()
    logger.warning(
        "repaired store %r at %s: %d records (%s); damaged files kept in %s",
        name,
        root,
        report.records,
        ", ".join(f"{k} {v}" for k, v in report.sources.items()),
        progress.aside,
    )
    return report


@dataclass
class _Progress:
    """How far a repair got (``repair.json``): a killed repair is finished by the next, from the
    same copy of the damaged files.
    """

    folder: Path
    name: str  # the copy's folder, ``damaged-<time>``
    copied: bool = False  # the copy is complete: recovery reads it alone from now on
    rebuilding: bool = False  # the damaged collection may be dropped already: no way back

    @property
    def aside(self) -> Path:
        return self.folder / self.name

    @classmethod
    def read(cls, folder: Path) -> _Progress | None:
        try:
            data = json.loads((folder / STATE).read_text())
            name = str(data["aside"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not name.startswith("damaged-") or "/" in name or name in (".", ".."):
            return None  # not a name this module writes: start afresh
        return cls(folder, name, copied=data.get("copied") is True, rebuilding=data.get("rebuilding") is True)

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state = {"aside": self.name, "copied": self.copied, "rebuilding": self.rebuilding}
        write_atomic(self.folder / STATE, json.dumps(state).encode())

    def abandon(self) -> None:
        shutil.rmtree(self.aside, ignore_errors=True)
        self.done()

    def done(self) -> None:
        (self.folder / STATE).unlink(missing_ok=True)


def _set_aside(root: Path, folder: Path, mirrors: Path, name: str, aside: Path) -> None:
    """Copy what recovery reads into ``aside`` (afresh, fsync'd): Chroma's database, the
    collection's HNSW segments, the mirror snapshot and the journal.
    """
    shutil.rmtree(aside, ignore_errors=True)  # an interrupted copy: the live files are all still there
    aside.mkdir(parents=True)
    database = root / DATABASE
    if database.exists():
        _backup(database, aside / DATABASE)
        found = chroma_files.read(aside / DATABASE, name)
        for segment in found.vector_segments if found else []:
            if (root / segment).is_dir():
                shutil.copytree(root / segment, aside / "segments" / segment, copy_function=_copy_dense)
    manifest = snapshot.read_manifest(mirrors)
    if manifest is not None and (mirrors / manifest.snapshot).is_dir():
        shutil.copytree(mirrors / manifest.snapshot, aside / "mirrors" / manifest.snapshot, copy_function=_link)
        shutil.copy2(mirrors / "manifest.json", aside / "mirrors" / "manifest.json")
    if (folder / journal.FILE).exists():
        (aside / "journal").mkdir()
        _backup(folder / journal.FILE, aside / "journal" / journal.FILE)
    for file in aside.rglob("*"):
        if file.is_file():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())


def _backup(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (its write-ahead log included)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _copy_dense(source: str, target: str) -> None:
    """Copy a file, or hard-link it when it is mostly holes: a torn HNSW file can be sparse and
    terabytes long (a copy would fill the disk); the link keeps it, unread, at no cost.
    """
    stat = os.stat(source)
    if stat.st_size > (1 << 30) and stat.st_blocks * 512 < stat.st_size // 2:
        logger.warning("%s is sparse (%d bytes, mostly holes): linked, not copied", source, stat.st_size)
        _link(source, target)
    else:
        shutil.copy2(source, target)


def _link(source: str, target: str) -> None:
    """Snapshot files are never rewritten in place: a hard link is a copy (a real copy across devices)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _rebuild(root: Path, name: str, recovered: Recovered, config: StoreConfig) -> None:
    client = chromadb.PersistentClient(path=str(root))
    try:
        _rewrite(client, root, name, recovered, config)
    finally:
        close_client(client)  # no stale engine left in this process for the store that opens next


def _rewrite(client: chromadb.api.ClientAPI, root: Path, name: str, recovered: Recovered, config: StoreConfig) -> None:
    for doomed in (name, ChromaStorage.tombstones_name(name)):
        try:
            client.delete_collection(doomed)  # drops Chroma's records; its files are set aside
        except NotFoundError:
            pass
        except CHROMA_ERRORS as exc:
            msg = f"Chroma cannot drop the damaged collection {doomed!r}: {exc}"
            raise StoreCorruptedError(msg, path=str(root), name=name) from exc
    _drop_orphans(root / DATABASE)
    metadata = {k: v for k, v in recovered.collection_metadata.items() if not k.startswith("hnsw:")}
    collection = client.create_collection(
        name,
        embedding_function=None,
        configuration=cast(CreateCollectionConfiguration, {"hnsw": recovered.hnsw or _our_hnsw(config)}),
        metadata=metadata or None,
    )
    batch = int(client.get_max_batch_size())
    ids = recovered.ids
    for start in range(0, len(ids), batch):
        chunk = slice(start, start + batch)
        collection.add(
            ids=ids[chunk],
            embeddings=recovered.vectors[chunk],
            documents=recovered.documents[chunk],  # type: ignore[arg-type]
            metadatas=[m or None for m in recovered.metadatas[chunk]],  # type: ignore[misc]
        )
    _verify(collection, recovered, root)


def _our_hnsw(config: StoreConfig) -> dict[str, object]:
    chroma = config.chroma
    return {"space": "ip", "max_neighbors": chroma.hnsw_max_neighbors, "ef_construction": chroma.hnsw_ef_construction}


def _drop_orphans(database: Path) -> None:
    """Chroma 1.5 leaves a dropped collection's list metadata behind, where a new collection's
    records can pick it up (chroma-core/chroma#7594): remove rows no record owns.
    """
    db = sqlite3.connect(database, timeout=30)
    try:
        with db:
            db.execute("DELETE FROM embedding_metadata_array WHERE id NOT IN (SELECT id FROM embeddings)")
    except sqlite3.OperationalError:
        pass  # no such table in this Chroma: nothing left behind
    finally:
        db.close()


def _verify(collection: chromadb.Collection, recovered: Recovered, root: Path) -> None:
    """Everything recovered, and nothing else, reads back through Chroma."""
    row = {record_id: i for i, record_id in enumerate(recovered.ids)}
    seen = 0
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=READ_PAGE, offset=offset)
        if not got["ids"]:
            break
        offset += len(got["ids"])
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        for j, record_id in enumerate(got["ids"]):
            i = row.get(record_id)
            same = (
                i is not None
                and got["documents"][j] == recovered.documents[i]  # type: ignore[index]
                and _same_metadata(dict(got["metadatas"][j] or {}), recovered.metadatas[i])  # type: ignore[index]
                and np.allclose(vectors[j], recovered.vectors[i], atol=1e-6)
            )
            if not same:
                msg = f"the rebuilt collection differs from what was recovered at record {record_id!r}"
                raise StoreCorruptedError(msg, path=str(root), name=collection.name)
            seen += 1
    if seen != len(recovered.ids):
        msg = f"the rebuilt collection holds {seen} records, {len(recovered.ids)} were recovered"
        raise StoreCorruptedError(msg, path=str(root), name=collection.name)


def _same_metadata(got: dict[str, object], want: dict[str, object]) -> bool:
    if got.keys() != want.keys():
        return False
    for key, value in want.items():
        other = got[key]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-12, abs_tol=0.0):
                return False
        elif other != value:
            return False
    return True


def _finish(root: Path, folder: Path, mirrors: Path, aside: Path, recovered: Recovered, seconds: float) -> RepairReport:
    # The live journal and mirrors are copied aside; the repaired collection is their content now.
    for file in folder.glob(journal.FILE + "*"):
        file.unlink()
    (mirrors / "manifest.json").unlink(missing_ok=True)
    for snap in mirrors.glob("snap-*"):
        shutil.rmtree(snap, ignore_errors=True)
    lost = None
    if recovered.unrecovered:
        lost = aside / "lost.jsonl"
        with lost.open("wb") as handle:
            for record_id in recovered.unrecovered:
                document, metadata = recovered.lost[record_id]
                handle.write(orjson.dumps({"id": record_id, "document": document, "metadata": metadata}) + b"\n")
    report = RepairReport(
        str(root),
        recovered.name,
        needed=True,
        records=len(recovered.ids),
        sources=dict(recovered.sources),
        redone=recovered.redone,
        unrecovered=list(recovered.unrecovered),
        aside=str(aside),
        lost_file=None if lost is None else str(lost),
        seconds=round(seconds, 3),
        detail=recovered.detail,
    )
    write_atomic(aside / "report.json", orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    (folder / OPEN_MARKER).unlink(missing_ok=True)
    return report
