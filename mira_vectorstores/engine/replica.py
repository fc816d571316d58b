"""``Replica``: this process's copy of one Chroma collection, and keeping it current.

It owns the Chroma handle and the mirrors: it opens them (a snapshot caught up by the change,
or a rebuild from Chroma), commits validated write batches (stamped, Chroma first, then the
mirrors), deletes with tombstones, catches up with other processes' writes, and saves the
mirrors on ``flush`` / ``close``. ``HybridStore`` holds one and adds the public API on top; the
replica takes no lock of its own (the store's lock covers every call).

Modes: ``embedded`` (a folder locked to this process: ``locks.PathLock``), ``server`` (any
number of processes share a Chroma server: id-addressed writes first bring their ids level
with Chroma, and a background ``Refresher`` catches up), ``memory`` (this process only).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import chromadb
import platformdirs

from mira_vectorstores.engine.config import ServerConfig, StoreConfig
from mira_vectorstores.engine.embeddings import Embedder, embedder_for_stored
from mira_vectorstores.engine.errors import (
    EmbeddingMismatchError,
    StorageError,
    StoreCorruptedError,
    WriteOutcomeUnknownError,
)
from mira_vectorstores.engine.locks import PathLock
from mira_vectorstores.engine.mirrors import catch_up, snapshot
from mira_vectorstores.engine.mirrors.catch_up import Caught, Changes
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.reserved import REV
from mira_vectorstores.engine.stamps import Clock, stamp_of_time
from mira_vectorstores.engine.storage import probe
from mira_vectorstores.engine.storage.aliases import ChromaAliases, FileAliases
from mira_vectorstores.engine.storage.chroma import ChromaStorage, state_metadata
from mira_vectorstores.engine.storage.journal import Journal
from mira_vectorstores.engine.storage.payloads import write_atomic
from mira_vectorstores.engine.writes.batch import WriteBatch

logger = logging.getLogger(__name__)
Mode = Literal["embedded", "server", "memory"]
#: Tombstones older than this are dropped; a snapshot older than this is reconciled in full.
TOMBSTONE_HORIZON_S = 7 * 86_400.0
#: An embedded folder has one writing process, so only this process's own concurrent writes can
#: land out of stamp order: a short window covers them.
EMBEDDED_WINDOW = stamp_of_time(2.0)
#: On a server a catch-up reads what was stamped after the newest stamp it holds, and also what
#: may have landed since the previous catch-up began even though stamped before: a write whose
#: request took up to this long (or whose writer's clock ran this far behind). Every
#: ``WIDE_EVERY_S`` seconds one looks back the whole ``catch_up.WINDOW`` since the previous wide
#: one. Reading back from the newest stamp instead re-read the last 30 s of a bulk load on every
#: idle catch-up (~0.9 s each at 100,000 records: ``benchmarks/concurrency.py``).
SERVER_NARROW_WINDOW_S = 2.0
WIDE_EVERY_S = 10.0
_CLOCK = Clock()  # one per process: every store of this process stamps in one order
#: In an embedded store's folder while it is open; one left behind means its process died.
OPEN_MARKER = "open.json"


@dataclass(frozen=True, slots=True)
class Where:
    """Which Chroma a replica opens."""

    path: str | Path | None = None
    host: str | None = None
    port: int = 8000
    server: ServerConfig | None = None
    #: A caller's open chromadb client, used as it is and never closed or dropped by the store.
    client: chromadb.api.ClientAPI | None = None

    @classmethod
    def of_client(cls, client: chromadb.api.ClientAPI) -> Where:
        """Where a caller's client points: a server (an HTTP client), a folder (a persistent
        one) or this process's memory, read from its settings.
        """
        settings = client.get_settings()
        if "fastapi" in str(settings.chroma_api_impl).lower():
            server = ServerConfig(
                ssl=bool(settings.chroma_server_ssl_enabled),
                headers=dict(settings.chroma_server_headers or {}),
                tenant=str(client.tenant),
                database=str(client.database),
            )
            host = str(settings.chroma_server_host or "localhost")
            return cls(host=host, port=int(settings.chroma_server_http_port or 8000), server=server, client=client)
        if settings.is_persistent and settings.persist_directory:
            return cls(path=settings.persist_directory, client=client)
        return cls(client=client)

    @property
    def mode(self) -> Mode:
        """``server`` with a host, ``embedded`` with a path, else ``memory``."""
        return "server" if self.host is not None else "embedded" if self.path is not None else "memory"


class Replica:
    """Chroma handle, mirrors and the highest write stamp they hold, for one collection."""

    def __init__(
        self,
        storage: ChromaStorage,
        *,
        mode: Mode,
        config: StoreConfig,
        embedder: Embedder | None,
        folder: Path | None,
        mirror_dir: Path | None,
        path_lock: PathLock | None = None,
    ) -> None:
        """Wrap an open collection; ``open`` is the usual way in (it also loads the mirrors)."""
        self.storage = storage
        self.mode: Mode = mode
        self.config = config
        self.embedder = embedder
        #: ``<path>/mira/<name>`` of an embedded store (payload files live here); ``None`` otherwise.
        self.folder = folder
        self.mirror_dir = mirror_dir
        self.path_lock = path_lock
        #: The second durable copy of every write since the last snapshot (embedded stores).
        self.journal = Journal(folder) if mode == "embedded" and folder is not None else None
        self.mirrors: Mirrors | None = None
        self.high_water = 0  # the highest write stamp the mirrors hold
        self.writer = uuid.uuid4().hex[:12]
        self.last_catch_up: float | None = None  # wall-clock time of the last successful catch-up
        self.last_error: str | None = None
        self._saved_high_water: int | None = None
        self._dirty = False
        self._deletes = 0
        self._began: float | None = None  # wall-clock start of the previous catch-up (server)
        self._began_wide: float | None = None  # ... and of the previous one that looked back the whole window
        #: Another store of this process wrote to the same embedded folder while this one was open.
        self._folder_shared = False
        self._last_check = time.monotonic()
        self._last_save = time.monotonic()
        self._interrupted = False  # a write was stopped half-way: never close clean
        #: Chroma's write position (embedded) up to which the mirrors are known complete: set when
        #: they are built or reconciled, moved on by a write of ours only when nothing else wrote
        #: between (``_writing``); ``None``: unknown, so the next clean open reconciles.
        self._position: int | None = None

    @classmethod
    def open(
        cls,
        name: str,
        where: Where,
        *,
        embedder: Embedder | None,
        config: StoreConfig,
        mirror_dir: str | Path | None,
        create: bool = True,
        collection_metadata: Mapping[str, object] | None = None,
        follow_alias: bool = True,
    ) -> Replica:
        """Open (or create) the collection and load, catch up or rebuild its mirrors. ``name``
        opens the collection a migration moved it to (``aliases.py``) unless ``follow_alias`` is off.

        Raises:
            StoreLockedError: another process holds the embedded folder.
            EmbeddingMismatchError: when the collection was built with another embedder.
            StoreUnavailableError: when the server cannot be reached.
        """
        mode = where.mode
        store_name = name
        path_lock = PathLock(Path(where.path)) if mode == "embedded" and where.path is not None else None
        try:
            if follow_alias and path_lock is not None:
                name = FileAliases(str(where.path)).resolve(name)
        except BaseException:
            path_lock.release()  # type: ignore[union-attr]
            raise
        resolve = _alias_resolver(name) if follow_alias and path_lock is None else None
        folder = Path(where.path) / "mira" / name if mode == "embedded" and where.path is not None else None
        storage: ChromaStorage | None = None
        try:
            if folder is not None:
                _check_shutdown(Path(str(where.path)), name, folder)
            if collection_metadata is not None and embedder is not None:
                # A new collection is born with the store's state (a later change may not be
                # allowed: ``set_state``); an existing one ignores creation metadata.
                state = {"embedder": embedder.name, "dimension": embedder.dimension}
                collection_metadata = {**collection_metadata, **state_metadata(state)}
            storage = ChromaStorage.open(
                name=name,
                path=where.path,
                host=where.host,
                port=where.port,
                config=config.chroma,
                server=where.server,
                client=where.client,
                create=create,
                metadata=collection_metadata,
                resolve=resolve,
            )
            name = storage.name
            if mirror_dir is None and mode == "server" and where.host is not None:
                mirror_dir = _server_cache(name, where.host, where.port, where.server or ServerConfig())
            replica = cls(
                storage,
                mode=mode,
                config=config,
                embedder=embedder,
                folder=folder,
                mirror_dir=Path(mirror_dir) if mirror_dir is not None else folder,
                path_lock=path_lock,
            )
            replica._load(store_name)
        except BaseException:
            if storage is not None:
                storage.close()
            if folder is not None:
                _closed_here(folder, clean=False)
            if path_lock is not None:
                path_lock.release()
            raise
        return replica

    @property
    def name(self) -> str:
        """The Chroma collection's name."""
        return self.storage.name

    @property
    def shared(self) -> bool:
        """Whether other processes may write to the collection (server mode)."""
        return self.mode == "server"

    @property
    def sole_writer(self) -> bool:
        """Whether no other store can write to the collection now (embedded: the only holder of
        the folder in this process, which holds its lock; in memory: always).
        """
        if self.mode == "memory":
            return True
        return self.mode == "embedded" and self.path_lock is not None and self.path_lock.holders == 1

    def _after(self, now: float) -> tuple[int, bool]:
        """The stamp the next catch-up reads after (capped at the high-water mark by ``since``),
        and whether it looks back the whole window.
        """
        if not self.shared:
            self._folder_shared = self._folder_shared or not self.sole_writer
            return self.high_water - (EMBEDDED_WINDOW if self._folder_shared else 0), False
        if self._began is None or self._began_wide is None:
            return self.high_water - catch_up.WINDOW, True
        if now - self._began_wide >= WIDE_EVERY_S:
            return stamp_of_time(self._began_wide) - catch_up.WINDOW, True
        return stamp_of_time(self._began - SERVER_NARROW_WINDOW_S), False

    @property
    def dimension(self) -> int | None:
        """Vector length (``None`` until known for a vectors-only store)."""
        if self.mirrors is not None:
            return self.mirrors.dimension
        return self.embedder.dimension if self.embedder else None

    # -- opening ----------------------------------------------------------------------------
    def _load(self, store_name: str) -> None:
        state = self.storage.state()
        stored_name, stored_dim = state.get("embedder"), state.get("dimension")
        mine = self.embedder
        if mine is not None and isinstance(stored_name, str) and stored_name not in ("none", mine.name):
            # An "auto" MiniLM opens a store with the model it was built with (fp32 or int8).
            self.embedder = mine = embedder_for_stored(mine, stored_name) or mine
        if mine is not None and stored_name not in (None, "none") and stored_name != mine.name:
            if store_name != self.name:
                msg = (
                    f"store {store_name!r} was migrated to embedder {stored_name!r} ({stored_dim} dims; collection "
                    f"{self.name!r}), not {mine.name!r}: open it with {stored_name!r}. The collection it replaced "
                    "opens with follow_alias=False until it is dropped."
                )
            else:
                msg = (
                    f"store {self.name!r} was built with embedder {stored_name!r} ({stored_dim} dims), "
                    f"not {mine.name!r} ({mine.dimension} dims). Open it with {stored_name!r}; to move it to "
                    f"{mine.name!r}, call migrate_embeddings(<new embedder>) on the store opened with "
                    f"{stored_name!r} (mira-vs migrate --to NAME): it re-embeds every record into a new "
                    "collection and switches to it."
                )
            raise EmbeddingMismatchError(msg)
        if stored_dim is None:  # a collection another library wrote: its records tell
            stored_dim = self.storage.stored_dimension()
        if mine is not None and stored_dim is not None and _as_int(stored_dim) != mine.dimension:
            msg = (
                f"store {self.name!r} holds {stored_dim}-dim vectors; embedder {mine.name!r} makes {mine.dimension}. "
                "Open it with the embeddings that wrote it."
            )
            raise EmbeddingMismatchError(msg)
        dimension = _as_int(stored_dim) if stored_dim is not None else (mine.dimension if mine else None)
        if dimension is not None:
            self.mirrors = self._load_or_rebuild(dimension)
            self.last_catch_up = time.time()
        if stored_name in (None, "none") and mine is not None:
            self.storage.set_state({"embedder": mine.name, "dimension": mine.dimension})

    def _load_or_rebuild(self, dimension: int) -> Mirrors:
        manifest = snapshot.read_manifest(self.mirror_dir) if self.mirror_dir else None
        usable = (
            manifest is not None
            and manifest.dimension == dimension
            and manifest.collection_id == self.storage.collection_id
        )
        if self.mirror_dir is not None and manifest is not None and usable:
            try:
                mirrors = snapshot.load(self.mirror_dir, manifest, self.config)
            except snapshot.MirrorFilesError as exc:
                logger.warning("mirror files of %r are unusable (%s); rebuilding from Chroma", self.name, exc)
            else:
                self.mirrors, self.high_water = mirrors, manifest.high_water
                self._saved_high_water = manifest.high_water
                _CLOCK.observe(manifest.high_water)
                if self.mode == "embedded" and self.sole_writer and manifest.clean:
                    # Saved by the folder's last holder as it closed, and this process holds
                    # the lock now: no store of ours wrote since. Another library may have
                    # (langchain-chroma, ChromaVectorStore: they take no lock and stamp nothing):
                    # Chroma's write position tells, in one small read.
                    position = self.storage.write_position()
                    if position is None or position != manifest.chroma_position:
                        self._note(catch_up.reconcile(self.storage, mirrors))
                    self._position = position
                elif manifest.high_water < stamp_of_time(time.time() - TOMBSTONE_HORIZON_S):
                    # Older than the tombstones: deletes since then are known only by absence.
                    self._note(catch_up.reconcile(self.storage, mirrors))
                else:
                    self.catch_up()
                if manifest.clean and self.mode == "embedded":
                    # A crash from here on is unclean.
                    snapshot.mark(self.mirror_dir, manifest, clean=False, chroma_position=manifest.chroma_position)
                return mirrors
        self._position = self.storage.write_position()  # read first: a write during the rebuild is not missed
        if self.storage.count() == 0:
            return Mirrors(dimension, self.config)
        mirrors, self.high_water = catch_up.rebuild(self.storage, dimension, self.config)
        _CLOCK.observe(self.high_water)
        self._dirty = True
        return mirrors

    # -- writing ----------------------------------------------------------------------------
    def sync(self, ids: Sequence[str]) -> None:
        """Before an id-addressed write on a shared store: mirror exactly what Chroma holds for ``ids``."""
        if self.shared and self.mirrors is not None and ids and catch_up.ids(self.storage, self.mirrors, ids):
            self._dirty = True

    def commit(self, batch: WriteBatch) -> None:
        """Write a validated batch: each chunk stamped, written to Chroma, then mirrored.

        Raises:
            WriteOutcomeUnknownError: the server failed mid-write; what landed shows up once it is back.
        """
        if not batch.ids:
            return
        if self.mirrors is None:
            self.mirrors = Mirrors(batch.vectors.shape[1], self.config)
            self._position = self.storage.write_position()  # as an open that builds mirrors reads it
            if self.embedder is None:  # a vectors-only store learns its dimension from its first write
                self.storage.set_state({"embedder": "none", "dimension": self.mirrors.dimension})
        with self._writing():
            self._commit_chunks(batch)
        logger.debug("committed %d records (%d embedded)", len(batch.ids), batch.embedded)
        self._checkpoint_if_due()

    def _commit_chunks(self, batch: WriteBatch) -> None:
        assert self.mirrors is not None
        for start in range(0, len(batch.ids), self.storage.max_batch):
            rows = slice(start, start + self.storage.max_batch)
            # A stamp per chunk, taken just before it is sent: a long write's last chunk does
            # not land long after its stamp (readers re-read only a window behind the newest).
            stamp = _CLOCK.next()
            metadatas = batch.chroma_metadatas(rows, stamp=stamp, rev=f"{stamp}-{self.writer}")
            ids, vectors, documents = batch.ids[rows], batch.vectors[rows], batch.documents[rows]
            if self.journal is not None:  # durable before Chroma sees it: repair can redo it
                if batch.changes is not None:
                    self.journal.append("update", stamp=stamp, ids=ids, metadatas=metadatas)
                else:
                    self.journal.append(
                        "upsert", stamp=stamp, ids=ids, documents=documents, metadatas=metadatas, vectors=vectors
                    )
            try:
                if batch.changes is not None:
                    self.storage.update_metadata(ids, metadatas)
                else:
                    self.storage.upsert(ids, vectors, documents, metadatas)
            except StorageError as exc:
                self._after_failed_write(batch.ids[start:], exc)
                raise
            if batch.changes is not None and self.shared:
                # Chroma merged our keys into what it holds, which may include another
                # process's concurrent update: mirror its result, not our guess.
                catch_up.ids(self.storage, self.mirrors, ids)
            else:
                self._take_chroma_floats(ids, batch.metadatas[rows])
                self.mirrors.apply_upsert(ids, documents, batch.metadatas[rows], vectors)
            self._advance(stamp)

    def _take_chroma_floats(self, ids: list[str], metadatas: list[dict[str, object]]) -> None:
        """Mirror the floats Chroma holds, not the ones we sent: it returns some a unit in the last
        place off (114289.28571428571 comes back ...572), and a filter must answer the same on the
        mirrors as after they are rebuilt from Chroma. One read, only for writes that hold floats.
        """
        if not any(_holds_float(meta) for meta in metadatas):
            return
        held = self.storage.metadatas_of(ids)
        for record_id, meta in zip(ids, metadatas, strict=True):
            theirs = held.get(record_id)
            if theirs is None or theirs.get(REV) != meta.get(REV):
                continue  # gone or overwritten since: a catch-up brings what Chroma holds
            for key, value in meta.items():
                if _is_float(value) and _is_float(theirs.get(key)):
                    meta[key] = theirs[key]

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Around a write: one stopped by anything but a Chroma failure (whose records are
        re-read: ``_after_failed_write``), say a SIGTERM handler's ``SystemExit``, may have reached
        Chroma and not the mirrors, so the store will not be closed clean: the next open catches up.
        """
        before = self.storage.write_position() if self._position is not None else None
        try:
            yield
        except StorageError:
            self._position = None
            raise
        except BaseException:
            self._interrupted = True
            self._position = None
            raise
        # Only our write moved Chroma's position (nothing else wrote since we last knew it).
        self._position = self.storage.write_position() if before is not None and before == self._position else None

    def delete(self, ids: Sequence[str]) -> int:
        """Delete records (on a shared store: every one Chroma holds); returns how many existed."""
        if not ids:
            return 0
        if self.shared:
            present = self.storage.existing(ids)
            targets = [i for i in dict.fromkeys(ids) if i in present]
        else:
            live = self.mirrors.records.row_of if self.mirrors is not None else {}
            targets = [i for i in dict.fromkeys(ids) if i in live]
        if not targets:
            return 0
        with self._writing():
            self._delete(targets)
        return len(targets)

    def _delete(self, targets: list[str]) -> None:
        stamp = _CLOCK.next()
        if self.journal is not None:
            self.journal.append("delete", stamp=stamp, ids=targets)
        try:
            # Tombstones first: a delete that stops half-way leaves a tombstone for a record
            # that still exists (harmless: readers check), never a deletion nobody hears of.
            # An in-memory store has no other reader and nothing to reopen: it needs none.
            if self.mode != "memory":
                self.storage.add_tombstones(targets, stamp)
            self.storage.delete(targets)
        except StorageError as exc:
            self._after_failed_write(targets, exc)
            raise
        if self.mirrors is not None:
            self.mirrors.apply_delete(targets)
        self._advance(stamp)
        self._deletes += 1
        if self.mode != "memory" and self._deletes % 256 == 1:
            self.compact_tombstones()
        self._checkpoint_if_due()

    def _checkpoint_if_due(self) -> None:
        """Save the mirrors once ``StoreConfig.checkpoint_interval`` has passed since the last
        save (embedded stores): the journal then starts afresh, and a long ingest is never one
        unsaved span.
        """
        interval = self.config.checkpoint_interval
        if self.journal is not None and interval is not None and time.monotonic() - self._last_save >= interval:
            self.flush()

    def _advance(self, stamp: int) -> None:
        self._dirty = True
        self.last_error = None  # Chroma just answered
        if self.mode == "embedded" and not self.sole_writer:
            # Another store of this process may have written below this stamp unseen: the
            # high-water mark moves only by catching up.
            self._folder_shared = True
            return
        # Our own write: the mirrors hold it, so the next catch-up may start after it.
        self.high_water = max(self.high_water, stamp)

    def _after_failed_write(self, ids: Sequence[str], exc: StorageError) -> None:
        """Learn which of ``ids`` landed; if the server cannot say, the write's outcome is unknown."""
        try:
            self.sync_after_failure(ids)
        except StorageError:
            msg = (
                f"{exc} The outcome of writing {len(ids)} records is unknown: the records that landed carry "
                "their stamps, so this and every other process shows them once the server is back "
                "(catch-up). Repeating the write is safe."
            )
            raise WriteOutcomeUnknownError(msg) from exc

    def sync_after_failure(self, ids: Sequence[str]) -> None:
        """Mirror exactly what Chroma holds for ``ids`` (any mode)."""
        if self.mirrors is not None and catch_up.ids(self.storage, self.mirrors, ids):
            self._dirty = True

    # -- catching up ------------------------------------------------------------------------
    def catch_up(self) -> None:
        """Apply every write of other processes since the highest stamp the mirrors hold."""
        if self.mirrors is None:
            dimension = self.storage.state().get("dimension")
            if dimension is None:
                self.last_catch_up = time.time()
                return
            self.mirrors = Mirrors(_as_int(dimension), self.config)
        self.apply_changes(self.read_changes())

    def read_changes(self) -> Changes | None:
        """Read other processes' writes from Chroma without changing the mirrors (``None``: the
        mirrors do not exist yet; ``catch_up`` makes them).
        """
        if self.mirrors is None:
            return None
        began = time.time()
        after, wide = self._after(began)
        changes = catch_up.read_since(self.storage, self.mirrors, self.high_water, after=after)
        self._began = began
        if wide:
            self._began_wide = began
        return changes

    def apply_changes(self, changes: Changes | None) -> None:
        """Put what ``read_changes`` found into the mirrors."""
        if changes is not None and self.mirrors is not None:
            self._note(catch_up.apply(self.mirrors, changes))
        self._last_check = time.monotonic()

    def refresh(self, *, full: bool = False) -> None:
        """Catch up now (``full``: re-read everything from Chroma, plain Chroma clients' writes included)."""
        if full and self.mirrors is not None:
            position = self.storage.write_position()  # read first: a write during the rebuild is not missed
            self.mirrors, top = catch_up.rebuild(self.storage, self.mirrors.dimension, self.config)
            self._position = position
            self.high_water = max(self.high_water, top)
            self._dirty = True
            self.last_catch_up = time.time()
        else:
            self.catch_up()
        self._last_check = time.monotonic()

    def due(self) -> bool:
        """Whether ``StoreConfig.refresh_interval`` has passed since the last check (embedded stores)."""
        interval = self.config.refresh_interval
        return interval is not None and time.monotonic() - self._last_check >= interval

    def _note(self, caught: Caught) -> None:
        _CLOCK.observe(caught.high_water)
        if caught.fetched or caught.dropped or caught.high_water > self.high_water:
            self._dirty = True
        self.high_water = max(self.high_water, caught.high_water)
        self.last_catch_up = time.time()
        self.last_error = None

    def changes_behind(self) -> int:
        """Records and deletes stamped after what the mirrors hold (asks Chroma)."""
        changed = len(self.storage.ids_stamped_after(self.high_water))
        return changed + len(self.storage.tombstones_after(self.high_water))

    # -- persisting and closing ---------------------------------------------------------------
    def flush(self, *, closing: bool = False) -> None:
        """Save the mirrors when they changed since the last save.

        Args:
            closing: the store is closing: an embedded folder's last holder marks the snapshot
                clean (complete), so the next open needs no Chroma read.
        """
        if self.mirror_dir is None or self.mirrors is None:
            return
        journalled = self.journal.last_seq() if self.journal is not None else 0
        clean = False
        if closing and self.mode == "embedded" and self.sole_writer and not self._interrupted:
            if self._folder_shared:
                self.catch_up()  # other stores of this process wrote here: take their writes in
            clean = True
        if self._dirty:
            embedder = self.embedder.name if self.embedder is not None else "none"
            snapshot.save(
                self.mirror_dir,
                self.mirrors,
                collection_id=self.storage.collection_id,
                high_water=self.high_water,
                embedder=embedder,
                clean=clean,
                chroma_position=self._position,
            )
            self._saved_high_water, self._dirty = self.high_water, False
            self._last_save = time.monotonic()
        elif clean:
            manifest = snapshot.read_manifest(self.mirror_dir)
            current = manifest is not None and manifest.high_water == self.high_water
            if manifest is not None and current and manifest.collection_id == self.storage.collection_id:
                snapshot.mark(self.mirror_dir, manifest, clean=True, chroma_position=self._position)
        if self.journal is not None and self.folder is not None and _open_here(self.folder) == 1:
            # The snapshot (fsync'd) holds every journalled write that reached Chroma (one that
            # did not was never acknowledged). With another store of this collection open in this
            # process, either may save the snapshot, without the other's latest writes: the
            # journal then waits for the last one's close.
            self.journal.truncate(journalled)

    def compact_tombstones(self) -> None:
        """Drop tombstones older than the horizon (readers further behind reconcile in full)."""
        self.storage.drop_tombstones_before(stamp_of_time(time.time() - TOMBSTONE_HORIZON_S))

    def drop(self) -> None:
        """Delete the collection (records, tombstones, payload chunks) and this store's files
        (journal, mirror snapshot, payloads), then release everything as ``close`` does.
        """
        try:
            self.storage.drop()
        finally:
            self.storage.close()
            if self.journal is not None:
                self.journal.close()
            for folder in {self.folder, self.mirror_dir} - {None}:
                shutil.rmtree(folder, ignore_errors=True)  # type: ignore[arg-type]
            if self.folder is not None:
                _closed_here(self.folder, clean=True)
            if self.path_lock is not None:
                self.path_lock.release()

    def close(self) -> None:
        """Save the mirrors (or drop an in-memory collection) and release the folder's lock."""
        clean = False
        try:
            if self.mode == "memory" and self.storage.owned:  # a caller's collection outlives the store
                self.storage.drop()
            else:
                self.flush(closing=True)
            clean = True
        finally:
            self.storage.close()
            if self.journal is not None:
                self.journal.close()
            if self.folder is not None:
                _closed_here(self.folder, clean=clean and not self._interrupted)
            if self.path_lock is not None:
                self.path_lock.release()


class Refresher:
    """A daemon thread that starts ``refresh`` every ``interval`` seconds until stopped (at a
    fixed rate: a slow catch-up does not push the next one back).

    It holds its owner weakly (a store nobody references can be collected; the thread then
    ends), and keeps going through failures (the owner records them for ``health()``).
    """

    def __init__(self, owner: object, refresh: Callable[[], None], interval: float) -> None:
        """Start the thread."""
        self._refresh = weakref.WeakMethod(refresh)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"mira-refresh-{id(owner):x}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_start = time.monotonic() + self._interval
        while not self._stop.wait(max(0.0, next_start - time.monotonic())):
            refresh = self._refresh()
            if refresh is None:
                return
            refresh()
            del refresh
            # A catch-up that overran its slot (a large change, a server retrying) is followed by
            # a full interval of rest, so it never runs back to back with the next.
            next_start += self._interval
            if next_start < time.monotonic():
                next_start = time.monotonic() + self._interval

    def stop(self) -> None:
        """Stop the thread (waits for a refresh in progress)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)


def _alias_resolver(name: str) -> Callable[[chromadb.api.ClientAPI, str], str]:
    """The collection store ``name`` opens on a server or in-memory client (``aliases.py``)."""
    return lambda client, where: ChromaAliases(client, where).resolve(name)


def _server_cache(name: str, host: str, port: int, server: ServerConfig) -> Path:
    """Where a server store's mirrors persist on this machine: one folder per collection."""
    key = f"{server.url(host, port)}|{server.tenant}|{server.database}|{name}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return platformdirs.user_cache_path("mira_vectorstores") / "mirrors" / f"{name}-{digest}"


_OPEN_HERE: dict[Path, int] = {}  # embedded collection folder -> its open replicas in this process
_OPEN_GUARD = threading.Lock()


def _check_shutdown(path: Path, name: str, folder: Path) -> None:
    """Mark the collection open; if a marker says its last process died with it open, first
    ask a child process whether Chroma can still read it.

    Raises:
        StoreCorruptedError: Chroma cannot read the collection.
    """
    marker = folder.resolve() / OPEN_MARKER
    with _OPEN_GUARD:
        opened = _OPEN_HERE.get(marker.parent, 0)
        _OPEN_HERE[marker.parent] = opened + 1
    if opened:
        return  # open in this process already: the marker is ours
    if marker.exists():
        found = probe.check(path, [name, ChromaStorage.tombstones_name(name)])
        if not found.ok:
            msg = (
                f"store {name!r} at {path} was not closed (its process ended while writing), and Chroma "
                f"cannot read it now: {found.detail}. Repair it: HybridStore.repair({str(path)!r}, {name!r}) "
                "rebuilds the collection from Chroma's files, the mirrors and the journal, keeping the damaged "
                "files aside (StoreConfig(repair_on_open=True), the default, does this on open)."
            )
            raise StoreCorruptedError(msg, path=str(path), name=name)
        logger.info("store %r was not closed by its last process; Chroma reads it (%s)", name, found.detail)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(marker, f'{{"pid": {os.getpid()}, "opened": {time.time():.3f}}}'.encode())


def _open_here(folder: Path) -> int:
    """How many replicas of this embedded collection folder this process has open."""
    with _OPEN_GUARD:
        return _OPEN_HERE.get(folder.resolve(), 0)


def _closed_here(folder: Path, *, clean: bool) -> None:
    """One replica of ``folder`` closed; the last one to close cleanly removes the marker."""
    key = folder.resolve()
    with _OPEN_GUARD:
        left = _OPEN_HERE.get(key, 1) - 1
        if left > 0:
            _OPEN_HERE[key] = left
            return
        _OPEN_HERE.pop(key, None)
    if clean:
        (key / OPEN_MARKER).unlink(missing_ok=True)


def _as_int(value: object) -> int:
    """An int read back from Chroma's collection metadata."""
    return value if isinstance(value, int) else int(str(value))


def _is_float(value: object) -> bool:
    return type(value) is float or (type(value) is list and bool(value) and type(value[0]) is float)


def _holds_float(metadata: dict[str, object]) -> bool:
    return any(map(_is_float, metadata.values()))
