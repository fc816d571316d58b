"""``StoreCore``: opening, syncing and closing a store (the half of ``HybridStore`` that
manages its Chroma collection, mirrors and payloads; ``store.py`` holds the operations).
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Self

import numpy as np

from mira_vectorstores.engine import search as search_pipeline
from mira_vectorstores.engine import sync
from mira_vectorstores.engine.boosting import BoostLike, parse_boosts
from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.embeddings import Embedder, MiniLMEmbedder
from mira_vectorstores.engine.errors import ConfigError, EmbeddingMismatchError, InvalidInputError
from mira_vectorstores.engine.mirrors import Mirrors
from mira_vectorstores.engine.object_store import ObjectStore
from mira_vectorstores.engine.records import RESERVED_PREFIX
from mira_vectorstores.engine.storage import ChromaStorage
from mira_vectorstores.engine.types import (
    ObjectInfo,
    RecordId,
    Vector,
)
from mira_vectorstores.engine.writing import WriteBatch

logger = logging.getLogger(__name__)
DEFAULT = "default"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
_OPEN_STORES: weakref.WeakSet[StoreCore] = weakref.WeakSet()


class StoreCore:
    """Client modes, mirror loading and reconciling, persistence and closing."""

    def __init__(
        self,
        name: str = "mira",
        *,
        path: str | Path | None = "./mira_data",
        host: str | None = None,
        port: int = 8000,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
        mirror_dir: str | Path | None = None,
    ) -> None:
        """Open or create a store.

        Args:
            name: the Chroma collection (3-512 chars of ``[a-zA-Z0-9._-]``).
            path: folder of the embedded store; ``None`` (and no ``host``) keeps it in memory.
            host: a Chroma server (``chroma run``); ``path`` is then ignored.
            port: the server's port.
            embedder: turns text into vectors; ``"default"`` is the bundled MiniLM, ``None``
                means vectors only (text still feeds BM25).
            config: tuning; see ``StoreConfig``.
            boosts: default boost rules for every search (a search can override them).
            mirror_dir: where mirrors persist; defaults to ``<path>/mira/<name>`` when
                embedded, and to nowhere (rebuilt at open) otherwise.

        Raises:
            ConfigError: for a bad name or option.
            EmbeddingMismatchError: when the store was built with another embedder.
            StoreUnavailableError: when the server cannot be reached.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            msg = f"store name must be 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric; got {name!r}"
            raise ConfigError(msg)
        self.name = name
        self.config = config or StoreConfig()
        self.embedder: Embedder | None = MiniLMEmbedder() if embedder == DEFAULT else embedder  # type: ignore[assignment]
        self.default_boosts = parse_boosts(boosts)
        self._lock = threading.RLock()
        self._closed = False
        embedded = host is None and path is not None
        self._storage = ChromaStorage.open(
            name=name, path=None if host else path, host=host, port=port, config=self.config.chroma
        )
        if mirror_dir is None and embedded:
            mirror_dir = Path(path) / "mira" / name  # type: ignore[arg-type]
        self._mirror_dir = Path(mirror_dir) if mirror_dir is not None else None
        self._ephemeral = host is None and path is None
        self.objects = ObjectStore.for_storage(self._storage, None if not embedded else Path(path) / "mira" / name / "objects")  # type: ignore[arg-type]
        self._saved_generation: str | None = None
        self._last_check = time.monotonic()
        self._open_mirrors()
        _OPEN_STORES.add(self)

    # -- factories -------------------------------------------------------------------------
    @classmethod
    def in_memory(
        cls,
        name: str | None = None,
        *,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
    ) -> Self:
        """A store that lives in this process only (tests, notebooks); a fresh name by default."""
        return cls(name or f"mem-{uuid.uuid4().hex[:12]}", path=None, embedder=embedder, config=config, boosts=boosts)

    @classmethod
    def persistent(
        cls,
        path: str | Path,
        name: str = "mira",
        *,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
    ) -> Self:
        """An embedded store persisted under ``path`` (Chroma data and mirrors)."""
        return cls(name, path=path, embedder=embedder, config=config, boosts=boosts)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = 8000,
        name: str = "mira",
        *,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
        mirror_dir: str | Path | None = None,
    ) -> Self:
        """A store on a Chroma server (``chroma run --path DIR --port P``)."""
        return cls(name, host=host, port=port, embedder=embedder, config=config, boosts=boosts, mirror_dir=mirror_dir)

    # -- opening, syncing, closing -----------------------------------------------------------
    def _open_mirrors(self) -> None:
        state = self._storage.state()
        stored_name, stored_dim = state.get("embedder"), state.get("dimension")
        mine = self.embedder
        if mine is not None and stored_name not in (None, "none") and stored_name != mine.name:
            msg = (
                f"store {self.name!r} was built with embedder {stored_name!r} ({stored_dim} dims), "
                f"not {mine.name!r} ({mine.dimension} dims). Open it with the same embedder, or migrate: "
                "read its records with get() and add their texts to a new store."
            )
            raise EmbeddingMismatchError(msg)
        if mine is not None and stored_dim is not None and int(stored_dim) != mine.dimension:  # type: ignore[call-overload]
            msg = f"store {self.name!r} holds {stored_dim}-dim vectors; embedder {mine.name!r} makes {mine.dimension}"
            raise EmbeddingMismatchError(msg)
        self._generation = str(state.get("generation", ""))
        dimension = int(stored_dim) if stored_dim is not None else (mine.dimension if mine else None)  # type: ignore[call-overload]
        self._mirrors: Mirrors | None = None
        if dimension is not None:
            self._mirrors = self._load_or_rebuild(dimension)
        if not state.get("generation") or (stored_name in (None, "none") and mine is not None):
            self._bump_generation()

    def _load_or_rebuild(self, dimension: int) -> Mirrors:
        manifest = sync.read_manifest(self._mirror_dir) if self._mirror_dir else None
        if manifest is not None and manifest.dimension == dimension:
            try:
                mirrors = sync.load(self._mirror_dir, manifest, self.config)  # type: ignore[arg-type]
            except sync.MirrorFilesError as exc:
                logger.warning("mirror files of %r are unusable (%s); rebuilding from Chroma", self.name, exc)
            else:
                # The generation alone decides (DESIGN.md decision 3): our writers bump it before
                # every write, and plain Chroma writes are caught by refresh(full=True). No
                # count() here: Chroma's first count() loads the collection's whole HNSW index,
                # which our searches never use (0.28 s and ~170 MB at 100,000 records).
                if manifest.generation != self._generation:
                    sync.reconcile(self._storage, mirrors)
                else:
                    self._saved_generation = manifest.generation
                return mirrors
        if self._storage.count() == 0:
            return Mirrors(dimension, self.config)
        return sync.rebuild(self._storage, dimension, self.config)

    def _bump_generation(self) -> str:
        """Announce a write: a new generation token in Chroma *before* the write lands, so a
        crash mid-write leaves mirrors whose generation differs and get reconciled.
        """
        counter = int(self._generation.split("-")[0]) + 1 if self._generation[:1].isdigit() else 1
        token = f"{counter}-{uuid.uuid4().hex[:12]}"
        state = {"generation": token}
        if self.embedder is not None:
            state.update(embedder=self.embedder.name, dimension=self.embedder.dimension)  # type: ignore[arg-type]
        elif self._mirrors is not None:
            state.update(embedder="none", dimension=self._mirrors.dimension)  # type: ignore[arg-type]
        self._storage.set_state(state)
        self._generation = token
        return token

    def refresh(self, *, full: bool = False) -> None:
        """Catch up with writes made by other processes (one cheap read when nothing changed).

        Args:
            full: re-read everything from Chroma; catches writes of plain Chroma clients,
                which do not announce themselves.
        """
        with self._lock:
            state = self._storage.state()
            generation = str(state.get("generation", ""))
            dimension = state.get("dimension")
            if self._mirrors is None and dimension is not None:
                self._mirrors = Mirrors(int(dimension), self.config)  # type: ignore[call-overload]
            if self._mirrors is None:
                return
            if full:
                self._mirrors = sync.rebuild(self._storage, self._mirrors.dimension, self.config)
            elif generation != self._generation:
                sync.reconcile(self._storage, self._mirrors)
            self._generation = generation
            self._last_check = time.monotonic()

    def _maybe_refresh(self) -> None:
        interval = self.config.refresh_interval
        if interval is not None and time.monotonic() - self._last_check >= interval:
            self.refresh()

    def flush(self) -> None:
        """Persist the mirrors now (also done by ``close`` and at interpreter exit)."""
        with self._lock:
            if self._mirror_dir is None or self._mirrors is None or self._saved_generation == self._generation:
                return
            sync.save(self._mirror_dir, self._mirrors, generation=self._generation, embedder=self._embedder_name)
            self._saved_generation = self._generation

    @property
    def _embedder_name(self) -> str:
        return self.embedder.name if self.embedder is not None else "none"

    def close(self) -> None:
        """Persist the mirrors and release the store (an in-memory store's data is dropped)."""
        with self._lock:
            if self._closed:
                return
            if self._ephemeral:
                self.objects.drop()
                self._storage.drop()
            else:
                self.flush()
            self._closed = True
            _OPEN_STORES.discard(self)

    def __enter__(self) -> Self:
        """Use as a context manager; closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            msg = f"store {self.name!r} is closed; open a new HybridStore"
            raise InvalidInputError(msg)

    # -- properties -----------------------------------------------------------------------
    @property
    def dimension(self) -> int | None:
        """Vector length (``None`` until known for a vectors-only store)."""
        if self._mirrors is not None:
            return self._mirrors.dimension
        return self.embedder.dimension if self.embedder else None

    def count(self) -> int:
        """Records in the store."""
        with self._lock:
            self._check_open()
            return 0 if self._mirrors is None else self._mirrors.records.live_count

    def embed_query(self, text: str) -> Vector:
        """Embed a query with the store's embedder."""
        if self.embedder is None:
            msg = "this store has no embedder; pass vector= with the query"
            raise InvalidInputError(msg)
        return np.asarray(self.embedder.embed_query(text), dtype=np.float32)

    def _commit(self, batch: WriteBatch) -> list[RecordId]:
        """Write a validated batch: announce, write to Chroma, then mirror it."""
        if not batch.ids:
            return []
        if self._mirrors is None:
            self._mirrors = Mirrors(batch.vectors.shape[1], self.config)
        old_objects = [info for info in (self._object_of(i) for i in batch.ids) if info is not None]
        rev = self._bump_generation()
        try:
            self._storage.upsert(batch.ids, batch.vectors, batch.documents, batch.chroma_metadatas(rev))
        except Exception:
            # Some chunks may have landed: bring the mirrors level with whatever Chroma holds.
            sync.reconcile(self._storage, self._mirrors)
            raise
        self._mirrors.apply_upsert(batch.ids, batch.documents, batch.metadatas, batch.vectors)
        self._release(old_objects)
        logger.debug("committed %d records (%d embedded) at %s", len(batch.ids), batch.embedded, rev)
        return [RecordId(i) for i in batch.ids]

    def _object_of(self, record_id: str) -> ObjectInfo | None:
        if self._mirrors is None:
            return None
        row = self._mirrors.records.row_of.get(record_id)
        return None if row is None else search_pipeline.object_info(self._mirrors.records.metas[row])

    def _release(self, infos: list[ObjectInfo]) -> None:
        if not infos or self._mirrors is None:
            return
        used = {m.get(RESERVED_PREFIX + "sha256") for m in self._mirrors.records.metas}
        self.objects.release(infos, used)  # type: ignore[arg-type]



@atexit.register
def _flush_open_stores() -> None:
    # Mirrors are derived data: saving them at exit only spares the next open a reconcile.
    for store in list(_OPEN_STORES):
        try:
            store.flush()
        except Exception:
            logger.warning("could not save the mirrors of %r at exit", store.name, exc_info=True)
