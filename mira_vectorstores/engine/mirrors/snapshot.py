"""Snapshot files of the mirrors: the manifest, save and verified load.

Files live in ``<mirror_dir>/snap-<id>/`` and ``<mirror_dir>/manifest.json`` names the
current snapshot with the Chroma collection it mirrors, the highest write stamp it holds and a
checksum (xxh3-64) of every file. A save writes a new snapshot, fsyncs, then atomically
replaces the manifest, so a crash leaves either the old or the new snapshot, never a mix. On
open, ``catch_up.since`` applies what was written after the snapshot's stamp. A file that is
missing, truncated or fails its checksum makes the mirrors rebuild from Chroma.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import xxhash

from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.mirrors.calibration import Calibration
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.mirrors.records import RecordsMirror
from mira_vectorstores.engine.storage.payloads import write_atomic

logger = logging.getLogger(__name__)
FORMAT = 3  # 1: records as one JSON document; 2: packed records, xxh3 checksums; 3: write stamps


class MirrorFilesError(Exception):
    """Mirror files are missing, stale in format, or corrupt: rebuild from Chroma."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a snapshot of the mirrors holds."""

    format: int
    collection_id: str  # Chroma's id of the collection: a dropped and re-made one does not match
    high_water: int  # the highest write stamp the snapshot holds (``stamps.py``)
    #: Written by the folder's last holder as it closed, after every write: nothing can have
    #: changed since. Opening sets it False again, so a crash leaves it False.
    clean: bool
    count: int
    dimension: int
    embedder: str
    index_kind: str
    snapshot: str
    files: dict[str, str]  # relative path -> xxh3-64 hex digest
    #: Chroma's write position (``ChromaStorage.write_position``) the snapshot is complete up to,
    #: when known: a clean reopen that finds another one reconciles (another library wrote).
    chroma_position: int | None = None


def _checksum(path: Path) -> str:
    # xxh3 hashes at ~5 GB/s here (CRC32: ~2 GB/s); one reused buffer keeps
    # the read of a 180 MB index from allocating it.
    digest, buffer = xxhash.xxh3_64(), bytearray(1 << 22)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            digest.update(view[:size])
    return digest.hexdigest()


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    write_atomic(folder / "manifest.json", json.dumps(asdict(manifest), indent=1).encode())


def save(
    folder: Path,
    mirrors: Mirrors,
    *,
    collection_id: str,
    high_water: int,
    embedder: str,
    clean: bool,
    chroma_position: int | None = None,
) -> None:
    """Write a snapshot of the mirrors and make it current."""
    folder.mkdir(parents=True, exist_ok=True)
    # A unique name per snapshot: two processes saving at once never write into one folder.
    snap = folder / f"snap-{uuid.uuid4().hex[:12]}"
    snap.mkdir()
    mirrors.ensure_lexical()
    files = [
        *mirrors.records.save(snap / "records"),
        *mirrors.dense.save(snap),
        *mirrors.lexical.save(snap / "lexical"),
    ]
    if mirrors.dense.calibration is not None:  # kept with the index it measured: a reopen does not recalibrate
        files.append(mirrors.dense.calibration.save(snap))
    for path in files:
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    manifest = Manifest(
        format=FORMAT,
        collection_id=collection_id,
        high_water=high_water,
        clean=clean,
        count=mirrors.records.live_count,
        dimension=mirrors.dimension,
        embedder=embedder,
        index_kind=mirrors.dense.kind.value,
        snapshot=snap.name,
        files={p.relative_to(snap).as_posix(): _checksum(p) for p in files},
        chroma_position=chroma_position,
    )
    _write_manifest(folder, manifest)
    for stale in folder.glob("snap-*"):
        if stale.name != snap.name:
            shutil.rmtree(stale, ignore_errors=True)
    logger.debug("saved mirrors at stamp %d (%d records)", high_water, manifest.count)


def mark(folder: Path, manifest: Manifest, *, clean: bool, chroma_position: int | None = None) -> Manifest:
    """Rewrite the manifest with another ``clean`` flag and Chroma position (same snapshot files)."""
    marked = replace(manifest, clean=clean, chroma_position=chroma_position)
    _write_manifest(folder, marked)
    return marked


def read_manifest(folder: Path) -> Manifest | None:
    """The current manifest, or ``None`` when there is none or it is unreadable."""
    try:
        data = json.loads((folder / "manifest.json").read_text())
        manifest = Manifest(**data)
    except (OSError, ValueError, TypeError):
        return None
    return manifest if manifest.format == FORMAT else None


def load(folder: Path, manifest: Manifest, config: StoreConfig) -> Mirrors:
    """Load and verify the snapshot a manifest names.

    Raises:
        MirrorFilesError: when a file is missing or corrupt.
    """
    snap = folder / manifest.snapshot
    mirrors = Mirrors(manifest.dimension, config)

    def verify() -> None:
        for name, digest in manifest.files.items():
            if _checksum(snap / name) != digest:
                msg = f"{snap / name} fails its checksum"
                raise MirrorFilesError(msg)

    # Checksums read every file (~200 MB at 100,000 records) and release the GIL, so they run
    # in a thread while this one reads the records and BM25; the FAISS index is then mapped,
    # not read (see ``FaissMirror.load``). The cyclic garbage collector is paused meanwhile:
    # allocating the mirrors right after a process's imports otherwise triggers full
    # collections of every object those imports made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mira-load") as pool:
            checked = pool.submit(verify)
            try:
                mirrors.records = RecordsMirror.load(snap / "records")
                mirrors.lexical.load(snap / "lexical")
            finally:
                checked.result()  # re-raises a failed checksum (before any error of the loads)
        # FAISS reads only verified files: a damaged graph could crash it, not just raise.
        # The manifest's count is the records' live count.
        mirrors.dense.load(snap, manifest.count, calibration=Calibration.load(snap))
        if mirrors.dense.size != mirrors.records.size:
            msg = f"vectors hold {mirrors.dense.size} rows, records {mirrors.records.size}"
            raise MirrorFilesError(msg)
    except MirrorFilesError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise MirrorFilesError(str(exc)) from exc
    finally:
        if collecting:
            gc.enable()
    return mirrors
