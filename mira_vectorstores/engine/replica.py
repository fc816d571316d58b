"""``Replica``: this process's copy of one Chroma collection, and keeping it current.

It owns the Chroma handle and the mirrors: it opens them (loading a snapshot or rebuilding
from Chroma), commits validated write batches (Chroma first, then the mirrors), catches up
with other writers, and saves the mirrors on ``flush`` / ``close`` and at interpreter exit.
``HybridStore`` holds one and adds the public API on top; the replica takes no lock of its
own (the store's lock covers every call, the exit-time save included).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.embeddings import Embedder
from mira_vectorstores.engine.errors import EmbeddingMismatchError
from mira_vectorstores.engine.mirrors import catch_up, snapshot
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.storage.chroma import ChromaStorage
from mira_vectorstores.engine.writes.batch import WriteBatch

logger = logging.getLogger(__name__)


class Replica:
    """Chroma handle, mirrors and the generation they match, for one collection."""

    def __init__(
        self,
        storage: ChromaStorage,
        *,
        config: StoreConfig,
        embedder: Embedder | None,
        folder: Path | None,
        mirror_dir: Path | None,
        ephemeral: bool,
    ) -> None:
        """Wrap an open collection; ``open`` is the usual way in (it also loads the mirrors)."""
        self.storage = storage
        self.config = config
        self.embedder = embedder
        #: ``<path>/mira/<name>`` of an embedded store (payload files live here); ``None`` otherwise.
        self.folder = folder
        self.mirror_dir = mirror_dir
        self.ephemeral = ephemeral
        self.mirrors: Mirrors | None = None
        self.generation = ""
        self._saved_generation: str | None = None
        self._last_check = time.monotonic()

    @classmethod
    def open(
        cls,
        name: str,
        *,
        path: str | Path | None,
        host: str | None,
        port: int,
        embedder: Embedder | None,
        config: StoreConfig,
        mirror_dir: str | Path | None,
    ) -> Replica:
        """Open (or create) the collection and load or rebuild its mirrors.

        Raises:
            EmbeddingMismatchError: when the collection was built with another embedder.
            StoreUnavailableError: when the server cannot be reached.
        """
        embedded = host is None and path is not None
        storage = ChromaStorage.open(name=name, path=None if host else path, host=host, port=port, config=config.chroma)
        folder = Path(path) / "mira" / name if embedded and path is not None else None
        if mirror_dir is None:
            mirror_dir = folder
        replica = cls(
            storage,
            config=config,
            embedder=embedder,
            folder=folder,
            mirror_dir=Path(mirror_dir) if mirror_dir is not None else None,
            ephemeral=host is None and path is None,
        )
        replica._load()
        return replica

    @property
    def name(self) -> str:
        """The Chroma collection's name."""
        return self.storage.name

    @property
    def dimension(self) -> int | None:
        """Vector length (``None`` until known for a vectors-only store)."""
        if self.mirrors is not None:
            return self.mirrors.dimension
        return self.embedder.dimension if self.embedder else None

    # -- opening ----------------------------------------------------------------------------
    def _load(self) -> None:
        state = self.storage.state()
        stored_name, stored_dim = state.get("embedder"), state.get("dimension")
        mine = self.embedder
        if mine is not None and stored_name not in (None, "none") and stored_name != mine.name:
            msg = (
                f"store {self.name!r} was built with embedder {stored_name!r} ({stored_dim} dims), "
                f"not {mine.name!r} ({mine.dimension} dims). Open it with the same embedder, or migrate: "
                "read its records with get() and add their texts to a new store."
            )
            raise EmbeddingMismatchError(msg)
        if mine is not None and stored_dim is not None and _as_int(stored_dim) != mine.dimension:
            msg = f"store {self.name!r} holds {stored_dim}-dim vectors; embedder {mine.name!r} makes {mine.dimension}"
            raise EmbeddingMismatchError(msg)
        self.generation = str(state.get("generation", ""))
        dimension = _as_int(stored_dim) if stored_dim is not None else (mine.dimension if mine else None)
        if dimension is not None:
            self.mirrors = self._load_or_rebuild(dimension)
        if not state.get("generation") or (stored_name in (None, "none") and mine is not None):
            self._bump_generation()

    def _load_or_rebuild(self, dimension: int) -> Mirrors:
        manifest = snapshot.read_manifest(self.mirror_dir) if self.mirror_dir else None
        if self.mirror_dir is not None and manifest is not None and manifest.dimension == dimension:
            try:
                mirrors = snapshot.load(self.mirror_dir, manifest, self.config)
            except snapshot.MirrorFilesError as exc:
                logger.warning("mirror files of %r are unusable (%s); rebuilding from Chroma", self.name, exc)
            else:
                # The generation alone decides (DESIGN.md decision 3): our writers bump it before
                # every write, and plain Chroma writes are caught by refresh(full=True). No
                # count() here: Chroma's first count() loads the collection's whole HNSW index,
                # which our searches never use (0.28 s and ~170 MB at 100,000 records).
                if manifest.generation != self.generation:
                    catch_up.reconcile(self.storage, mirrors)
                else:
                    self._saved_generation = manifest.generation
                return mirrors
        if self.storage.count() == 0:
            return Mirrors(dimension, self.config)
        return catch_up.rebuild(self.storage, dimension, self.config)

    # -- writing ----------------------------------------------------------------------------
    def _bump_generation(self) -> str:
        """Announce a write: a new generation token in Chroma *before* the write lands, so a
        crash mid-write leaves mirrors whose generation differs and get reconciled.
        """
        counter = int(self.generation.split("-")[0]) + 1 if self.generation[:1].isdigit() else 1
        token = f"{counter}-{uuid.uuid4().hex[:12]}"
        state: dict[str, object] = {"generation": token}
        if self.embedder is not None:
            state.update(embedder=self.embedder.name, dimension=self.embedder.dimension)
        elif self.mirrors is not None:
            state.update(embedder="none", dimension=self.mirrors.dimension)
        self.storage.set_state(state)
        self.generation = token
        return token

    def commit(self, batch: WriteBatch) -> None:
        """Write a validated batch: announce, write to Chroma, then mirror it."""
        if not batch.ids:
            return
        if self.mirrors is None:
            self.mirrors = Mirrors(batch.vectors.shape[1], self.config)
        rev = self._bump_generation()
        try:
            self.storage.upsert(batch.ids, batch.vectors, batch.documents, batch.chroma_metadatas(rev))
        except Exception:
            # Some chunks may have landed: bring the mirrors level with whatever Chroma holds.
            catch_up.reconcile(self.storage, self.mirrors)
            raise
        self.mirrors.apply_upsert(batch.ids, batch.documents, batch.metadatas, batch.vectors)
        logger.debug("committed %d records (%d embedded) at %s", len(batch.ids), batch.embedded, rev)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete live records from Chroma, then from the mirrors; returns how many were live."""
        if not ids or self.mirrors is None:
            return 0
        self._bump_generation()
        try:
            self.storage.delete(ids)
        except Exception:
            catch_up.reconcile(self.storage, self.mirrors)
            raise
        return len(self.mirrors.apply_delete(ids))

    # -- catching up ------------------------------------------------------------------------
    def refresh(self, *, full: bool = False) -> None:
        """Catch up with writes of other processes (``full``: re-read everything from Chroma)."""
        state = self.storage.state()
        generation = str(state.get("generation", ""))
        dimension = state.get("dimension")
        if self.mirrors is None and dimension is not None:
            self.mirrors = Mirrors(_as_int(dimension), self.config)
        if self.mirrors is None:
            return
        if full:
            self.mirrors = catch_up.rebuild(self.storage, self.mirrors.dimension, self.config)
        elif generation != self.generation:
            catch_up.reconcile(self.storage, self.mirrors)
        self.generation = generation
        self._last_check = time.monotonic()

    def maybe_refresh(self) -> None:
        """``refresh`` when ``StoreConfig.refresh_interval`` has passed since the last check."""
        interval = self.config.refresh_interval
        if interval is not None and time.monotonic() - self._last_check >= interval:
            self.refresh()

    # -- persisting and closing ---------------------------------------------------------------
    def flush(self) -> None:
        """Save the mirrors when they changed since the last save (embedded stores)."""
        if self.mirror_dir is None or self.mirrors is None or self._saved_generation == self.generation:
            return
        embedder = self.embedder.name if self.embedder is not None else "none"
        snapshot.save(self.mirror_dir, self.mirrors, generation=self.generation, embedder=embedder)
        self._saved_generation = self.generation

    def close(self) -> None:
        """Save the mirrors, or drop the collection of an in-memory store."""
        if self.ephemeral:
            self.storage.drop()
        else:
            self.flush()


def _as_int(value: object) -> int:
    """An int read back from Chroma's collection metadata."""
    return value if isinstance(value, int) else int(str(value))
