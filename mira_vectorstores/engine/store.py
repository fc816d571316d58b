"""``HybridStore``: the façade both adapters wrap.

Each public method validates its arguments and calls the parts in a few lines: the
``Replica`` (Chroma and the mirrors: open, commit, catch up, save), ``writes`` (validated
write batches), ``query`` (filters and the search pipeline) and ``ObjectStore`` (raw-object
payloads). No algorithm lives here.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import chromadb
import numpy as np

from mira_vectorstores.engine.config import SERVER_REFRESH_INTERVAL, ServerConfig, StoreConfig
from mira_vectorstores.engine.embeddings import Embedder, MiniLMEmbedder, embedder_for_stored
from mira_vectorstores.engine.errors import (
    ConfigError,
    CorruptedObjectError,
    EmbeddingMismatchError,
    InvalidInputError,
    RecordNotFoundError,
    StorageError,
    StoreCorruptedError,
)
from mira_vectorstores.engine.locks import ReadWriteLock, holder_pid
from mira_vectorstores.engine.query import batch
from mira_vectorstores.engine.query.boosting import BoostLike, parse_boosts
from mira_vectorstores.engine.query.cache import QueryCache
from mira_vectorstores.engine.query.filters import combine, parse_where, parse_where_document
from mira_vectorstores.engine.query.request import SearchRequest, check_query_text
from mira_vectorstores.engine.repair.rebuild import repair
from mira_vectorstores.engine.replica import Refresher, Replica, Where
from mira_vectorstores.engine.storage.aliases import Alias, ChromaAliases, FileAliases, aliases_of
from mira_vectorstores.engine.storage.chroma import client_of
from mira_vectorstores.engine.storage.codecs import choose_codec, decode
from mira_vectorstores.engine.storage.objects import ObjectStore
from mira_vectorstores.engine.transfer import migrate, operations
from mira_vectorstores.engine.types import (
    CollectionInfo,
    DoctorReport,
    DuplicatePair,
    FilterDict,
    FusionMethod,
    MigrationReport,
    ObjectInfo,
    ObjectsReport,
    Record,
    RecordId,
    RepairReport,
    SearchHit,
    SearchMode,
    StoreHealth,
    StoreStats,
    TransferReport,
    Vector,
)
from mira_vectorstores.engine.writes.batch import (
    ObjectWrite,
    WriteBatch,
    prepare_objects,
    prepare_update,
    prepare_upsert,
)
from mira_vectorstores.engine.writes.validate import (
    check_folder,
    check_id_list,
    check_ids,
    check_lengths,
    check_list,
    check_query_vector,
    check_vectors,
)

if TYPE_CHECKING:
    from mira_vectorstores.engine.mirrors.mirror_set import Mirrors

logger = logging.getLogger(__name__)
DEFAULT: Literal["default"] = "default"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")
_OPEN_STORES: weakref.WeakSet[HybridStore] = weakref.WeakSet()


class HybridStore:
    """Chroma-backed records with FAISS + BM25 mirrors: hybrid, filtered, boosted search.

    ``HybridStore("notes")`` is an embedded, persistent store under ``./mira_data`` using the
    bundled all-MiniLM-L6-v2. ``HybridStore.in_memory()``, ``HybridStore.persistent(path)``
    and ``HybridStore.connect(host, port)`` open the other client modes.

    Example:
        >>> from mira_vectorstores import HashingEmbedder, HybridStore
        >>> store = HybridStore.in_memory(embedder=HashingEmbedder())
        >>> store.add(["cats purr", "dogs bark"], ids=["c", "d"], metadatas=[{"pet": True}, {"pet": True}])
        ['c', 'd']
        >>> [hit.id for hit in store.search("do cats purr?", k=1)]
        ['c']
        >>> store.close()
    """

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
        server: ServerConfig | None = None,
        client: chromadb.api.ClientAPI | None = None,
        create: bool = True,
        collection_metadata: Mapping[str, object] | None = None,
        follow_alias: bool = True,
    ) -> None:
        """Open or create a store.

        An existing Chroma collection is opened in place, whoever wrote it (langchain-chroma,
        LlamaIndex's ChromaVectorStore, a plain chromadb client) and whatever its distance space:
        the mirrors are built from its records (vectors normalised to unit length for them; what
        Chroma holds is left as it is), and what this store writes there stays readable by the
        original library (each record also carries the store's ``_mira_*`` metadata keys). Dense
        search ranks by cosine in every space; ``ScoreBreakdown.distance`` reports the
        collection's own distance of unit vectors. Writes other libraries make while the store is
        open reach the mirrors on ``refresh(full=True)`` (they do not announce themselves); those
        made to an embedded folder while it was closed, at the next open.

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
                embedded, and for a server store to a folder of the user's cache directory
                keyed by server, tenant, database and collection (a restart catches up by the
                change instead of reading every record).
            server: TLS, headers (token auth), tenant and database of the server.
            client: an open chromadb client (``PersistentClient``, ``HttpClient``,
                ``EphemeralClient``) to use instead of ``path`` / ``host``; the store never
                closes it, and never drops its collection on ``close``.
            create: create the collection when it does not exist (``False``: ``StorageError``).
            collection_metadata: metadata of a new collection (an existing one keeps its own);
                ``{"hnsw:space": "cosine" | "l2" | "ip"}`` picks Chroma's space as in Chroma.
            follow_alias: after ``migrate_embeddings``, ``name`` opens the new collection;
                ``False`` opens the collection called ``name`` itself (the one left behind).

        Raises:
            ConfigError: for a bad name or option, or a ``path`` that is not a folder this
                process can create and write to.
            StoreLockedError: another process holds the embedded folder.
            EmbeddingMismatchError: when the store was built with another embedder.
            StoreUnavailableError: when the server cannot be reached.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            msg = (
                f"store name must be 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric; got {name!r}"
            )
            raise ConfigError(msg)
        methods = ("embed_documents", "embed_query")
        if embedder not in (None, DEFAULT) and not all(callable(getattr(embedder, m, None)) for m in methods):
            msg = (
                "embedder must be an Embedder (name, dimension, embed_documents, embed_query), 'default' for "
                f"the bundled all-MiniLM-L6-v2, or None for vectors only; got {type(embedder).__name__}"
            )
            raise ConfigError(msg)
        if client is not None and not callable(getattr(client, "get_or_create_collection", None)):
            msg = f"client must be a chromadb client (chromadb.PersistentClient(...), ...), got {type(client).__name__}"
            raise ConfigError(msg)
        if client is None and host is None and path is not None:
            check_folder(path)  # a clear ConfigError now, not an OSError from deep inside the open
        self.name = name
        self.config = config or StoreConfig()
        self.embedder: Embedder | None = MiniLMEmbedder() if embedder == DEFAULT else embedder
        self.default_boosts = parse_boosts(boosts)
        self._cache = QueryCache(self.config.query_cache)
        self._lock = ReadWriteLock()  # searches share it; writes and catch-ups hold it alone
        self._writer = threading.RLock()  # one write or catch-up at a time, embedding included
        self._closed = False
        #: The collection another process migrated this store's name to (writes here are refused).
        self._moved_to: str | None = None
        if client is not None:
            where = Where.of_client(client)
        else:
            where = Where(path=None if host else path, host=host, port=port, server=server)

        self._where = where
        self._follow_alias = follow_alias

        def open_replica() -> Replica:
            return Replica.open(
                name,
                where,
                embedder=self.embedder,
                config=self.config,
                mirror_dir=mirror_dir,
                create=create,
                collection_metadata=collection_metadata,
                follow_alias=follow_alias,
            )

        try:
            self._replica = open_replica()
        except StoreCorruptedError as exc:
            if not self.config.repair_on_open or where.path is None or where.client is not None:
                raise
            logger.warning("%s Repairing it now.", exc)
            # force: the open's probe just found the damage
            physical = FileAliases(where.path).resolve(name) if follow_alias else name
            repair(where.path, physical, config=self.config, allow_loss=False, force=True, mirror_dir=mirror_dir)
            self._replica = open_replica()
        self.embedder = self._replica.embedder  # an "auto" MiniLM takes the store's own model
        folder = self._replica.folder
        self.objects = ObjectStore.for_storage(self._replica.storage, None if folder is None else folder / "objects")
        self._refresher: Refresher | None = None
        if self._replica.shared:
            interval = self.config.refresh_interval
            self._refresher = Refresher(self, self._refresh_in_background, interval or SERVER_REFRESH_INTERVAL)
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
        server: ServerConfig | None = None,
    ) -> Self:
        """A store on a Chroma server (``chroma run --path DIR --port P``), shared by any number of processes.

        Each process keeps its own mirrors and catches up with the others' writes in the
        background (``StoreConfig.refresh_interval``). ``server`` sets TLS, headers (token
        auth), tenant and database (``ServerConfig``).
        """
        return cls(
            name,
            host=host,
            port=port,
            embedder=embedder,
            config=config,
            boosts=boosts,
            mirror_dir=mirror_dir,
            server=server,
        )

    @classmethod
    def from_collection(
        cls,
        collection: chromadb.Collection,
        *,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
    ) -> Self:
        """A store on an open chromadb ``Collection`` (e.g. one LlamaIndex's ChromaVectorStore
        or langchain-chroma wrote), through a client with the same settings, tenant and database.

        Raises:
            ConfigError: when ``collection`` is not a chromadb collection.
        """
        client = client_of(collection)
        store = cls(str(collection.name), client=client, embedder=embedder, config=config, boosts=boosts)
        store._replica.storage.close_client = True  # made here: released on close (the collection stays)
        return store

    @staticmethod
    def repair(
        path: str | Path,
        name: str = "mira",
        *,
        embedder: Embedder | None = None,
        config: StoreConfig | None = None,
        force: bool = False,
        mirror_dir: str | Path | None = None,
    ) -> RepairReport:
        """Rebuild an embedded collection Chroma cannot read (after a killed writer), keeping
        every record: documents and metadata from Chroma's database, each vector from the journal,
        Chroma's write log, the mirror snapshot or Chroma's HNSW files (whichever holds the
        record's current version). The damaged files are kept in ``<path>/mira/<name>/damaged-*``;
        a repair that is interrupted finishes on the next call. The store must be closed.

        Args:
            path: the store's folder.
            name: the collection.
            embedder: re-embed the texts of records no source holds a vector for; give the one
                that made their vectors. Without it they are listed in ``RepairReport.unrecovered``
                and kept, with documents and metadata, in ``lost.jsonl``.
            config: settings for the rebuilt collection when its own cannot be read.
            force: rebuild even when a probe finds that Chroma reads the collection.
            mirror_dir: the store's ``mirror_dir``, if it was opened with one.

        Raises:
            StoreLockedError: another process has the store open.
        """
        return repair(path, name, config=config, embedder=embedder, force=force, mirror_dir=mirror_dir)

    # -- lifecycle ----------------------------------------------------------------------------
    def refresh(self, *, full: bool = False) -> None:
        """Catch up with writes made by other processes (one cheap read when nothing changed).

        Args:
            full: re-read everything from Chroma; catches writes of plain Chroma clients,
                which do not announce themselves.
        """
        replica = self._replica
        try:
            if full or replica.mirrors is None:
                with self._exclusive():
                    replica.refresh(full=full)
                return
            # One catch-up at a time; searches go on while it reads Chroma, and wait only while
            # it applies what it found.
            with self._writer:
                with self._lock.read():
                    self._check_open()
                    changes = replica.read_changes()
                    following = replica.shared and self._follow_alias
                    moved = self._aliases().resolve(self.name) if following else self.collection
                with self._lock.write():
                    self._check_open()
                    replica.apply_changes(changes)
                    self._moved_to = None if moved == self.collection else moved
        except StorageError as exc:
            replica.last_error = str(exc)
            raise

    def _refresh_in_background(self) -> None:
        try:
            if not self._closed:
                self.refresh()
        except StorageError:
            logger.debug("background catch-up of %r failed", self.name, exc_info=True)

    def flush(self) -> None:
        """Persist the mirrors now (also done by ``close`` and at interpreter exit)."""
        with self._exclusive():
            self._replica.flush()

    def close(self) -> None:
        """Persist the mirrors and release the store (an in-memory store's data is dropped)."""
        if self._refresher is not None:
            self._refresher.stop()
        with self._writer, self._lock.write():
            if self._closed:
                return
            self._closed = True
            _OPEN_STORES.discard(self)
            if self._replica.mode == "memory" and self._replica.storage.owned:
                self.objects.drop()  # (a caller's collection keeps its objects)
            self._replica.close()

    def __enter__(self) -> Self:
        """Use as a context manager; closes on exit."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the store."""
        self.close()

    def drop(self) -> None:
        """Delete the collection with all its records and raw objects, and this store's files
        (journal, mirror snapshot), then close the store. Other processes using the collection
        get a ``StorageError`` naming the deleted collection. A migrated store's name opens the
        collection it replaced again, if that one was kept.
        """
        if self._refresher is not None:
            self._refresher.stop()
        with self._exclusive():
            self._closed = True
            _OPEN_STORES.discard(self)
            try:
                self.objects.drop()
            finally:
                if self.collection != self.name:  # a migrated store: its name opens what it replaced again
                    self._aliases().remove(self.name)
                self._replica.drop()

    # -- properties -----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether ``close`` or ``drop`` was called."""
        return self._closed

    @property
    def collection(self) -> str:
        """The Chroma collection the store reads and writes: ``name``, or after
        ``migrate_embeddings`` the collection it moved to.
        """
        return self._replica.name

    @property
    def space(self) -> str:
        """The collection's distance space (``ip`` for a store this package created; ``cosine``
        or ``l2`` possible for a collection made elsewhere): the one ``ScoreBreakdown.distance``
        is measured in.
        """
        return self._replica.storage.space

    @property
    def dimension(self) -> int | None:
        """Vector length (``None`` until known for a vectors-only store)."""
        return self._replica.dimension

    def count(self) -> int:
        """Records in the store."""
        with self._reading():
            mirrors = self._replica.mirrors
            return 0 if mirrors is None else mirrors.records.live_count

    def embed_query(self, text: str) -> Vector:
        """Embed a query with the store's embedder."""
        if self.embedder is None:
            msg = "this store has no embedder; pass vector= with the query"
            raise InvalidInputError(msg)
        return np.asarray(self.embedder.embed_query(text), dtype=np.float32)

    # -- writes ---------------------------------------------------------------------------
    def add(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, object] | None] | None = None,
        vectors: Sequence[Sequence[float]] | Vector | None = None,
    ) -> list[RecordId]:
        """Add new records (an id that already exists is an error; use ``upsert`` to replace).

        An empty or whitespace-only text is stored like any other (LangChain and LlamaIndex
        produce them): ``get``, filters and dense search find it, while BM25 never matches it,
        since it has no terms.

        Args:
            texts: documents (a list, even of one), embedded by the store's embedder unless
                ``vectors`` are given.
            ids: one per record; uuid4 hex ids are generated when absent.
            metadatas: one dict per record: str/int/float/bool values or lists of one such type;
                ``None`` values dropped.
            vectors: precomputed vectors, one per record.

        Returns:
            The ids written.

        Raises:
            InvalidInputError: for any invalid input; nothing is written.
        """

        def prepare() -> WriteBatch:
            mirrors = self._replica.mirrors
            if ids is not None and mirrors is not None:
                wanted = check_list(ids, "ids", of="strings")
                taken = [i for i in wanted if isinstance(i, str) and i in mirrors.records.row_of]
                if taken:
                    msg = f"ids already exist: {taken[:5]}; use upsert() to replace records"
                    raise InvalidInputError(msg)
            return prepare_upsert(mirrors, self.embedder, texts=texts, ids=ids, metadatas=metadatas, vectors=vectors)

        return self._commit(ids, prepare)

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, object] | None] | None = None,
        vectors: Sequence[Sequence[float]] | Vector | None = None,
    ) -> list[RecordId]:
        """Add or replace records. A replaced record gets the new metadata; its text is kept
        when ``texts`` is not given, and re-embedded only when it changed. Args as in ``add``;
        empty texts are stored as ``add`` stores them (found by ``get``, filters and dense
        search, never by BM25).

        Raises:
            InvalidInputError: for any invalid input; nothing is written.
        """
        return self._commit(
            ids,
            lambda: prepare_upsert(
                self._replica.mirrors, self.embedder, texts=texts, ids=ids, metadatas=metadatas, vectors=vectors
            ),
        )

    def update(
        self,
        ids: Sequence[str],
        *,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, object] | None] | None = None,
        vectors: Sequence[Sequence[float]] | Vector | None = None,
    ) -> None:
        """Change existing records: metadata keys are merged (a ``None`` value removes the key),
        and only changed texts are re-embedded.

        Raises:
            RecordNotFoundError: when an id does not exist; nothing is written.
        """
        self._commit(
            ids,
            lambda: prepare_update(
                self._replica.mirrors, self.embedder, ids=ids, texts=texts, metadatas=metadatas, vectors=vectors
            ),
        )

    def delete(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: FilterDict | None = None,
        where_document: FilterDict | None = None,
    ) -> int:
        """Delete records by id and/or filter (both given: the ids that also match). Unknown ids
        are ignored. A deleted object's payload goes too. On a server, ids act on what Chroma
        holds, and a filter on the records as of a catch-up made first.

        Returns:
            How many records were deleted.

        Raises:
            InvalidInputError: when neither ids nor a filter is given (use ``clear()``).
        """
        with self._exclusive():
            self._check_writable()
            if ids is None and not where and not where_document:
                msg = "delete() needs ids or a filter; call clear() to delete every record"
                raise InvalidInputError(msg)
            if ids is not None and not where and not where_document:
                return self._delete(self._checked_ids(ids))
            if self._replica.shared:
                self._replica.catch_up()
            self._sync(ids)
            return self._delete(self._matching(ids, where, where_document))

    def clear(self) -> int:
        """Delete every record; returns how many there were."""
        with self._exclusive():
            self._check_writable()
            if self._replica.shared:
                self._replica.catch_up()
            mirrors = self._replica.mirrors
            return self._delete(list(mirrors.records.row_of) if mirrors else [])

    # -- reads ----------------------------------------------------------------------------
    def get(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: FilterDict | None = None,
        where_document: FilterDict | None = None,
        limit: int | None = None,
        offset: int = 0,
        include_embeddings: bool = False,
    ) -> list[Record]:
        """Records by id and/or filter (unknown ids are skipped), from the in-process mirror.

        Args:
            ids: the ids to fetch, in this order; ``None`` for every match.
            where: metadata filter.
            where_document: document filter.
            limit: at most this many records.
            offset: skip this many first.
            include_embeddings: add the unit vectors.

        Raises:
            InvalidInputError: for ids that are not a list of strings (a single id goes in a
                list too), or a negative limit or offset.
            FilterError: for a malformed filter.
        """
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                msg = f"{name} must be an int >= 0, got {value!r}"
                raise InvalidInputError(msg)
        with self._reading():
            chosen = self._matching(ids, where, where_document)[offset : None if limit is None else offset + limit]
            mirrors = self._replica.mirrors
            return [] if mirrors is None else [mirrors.record(i, include_embedding=include_embeddings) for i in chosen]

    def search(
        self,
        query: str | None = None,
        *,
        vector: Sequence[float] | Vector | None = None,
        k: int = 4,
        where: FilterDict | None = None,
        where_document: FilterDict | None = None,
        mode: SearchMode | str | None = None,
        fusion: FusionMethod | str | None = None,
        alpha: float | None = None,
        boosts: Sequence[BoostLike] | None = None,
        fetch_k: int | None = None,
        score_threshold: float | None = None,
        mmr_lambda: float | None = None,
        ids: Sequence[str] | None = None,
        lexical_fetch_k: int | None = None,
        include_embeddings: bool = False,
    ) -> list[SearchHit]:
        """Search by text and/or vector; filters restrict the candidates before ranking.

        Each hit's ``scores.distance`` is the collection's own distance to the query vector
        (``1 - cosine`` for a store this package made), for code written against Chroma.
        Answers are cached (``StoreConfig.query_cache``) until the store learns of any write.

        Args:
            query: query text (embedded for the dense side, tokenised for BM25).
            vector: a query vector (skips embedding).
            k: hits to return.
            where: metadata filter (Chroma grammar).
            where_document: document filter.
            mode: dense, lexical, hybrid or auto (text: hybrid; vector only: dense).
            fusion: rrf, weighted or dbsf (hybrid only).
            alpha: weight of the dense side in fusion, in [0, 1].
            boosts: a list of rules replacing the store's default boosts for this search
                (``[]`` for none).
            fetch_k: candidates per side before fusion, boosts and MMR; each side takes at
                least ``k``, so a hybrid search fills ``k`` whenever ``k`` records are allowed.
            score_threshold: drop hits whose final score is below this.
            mmr_lambda: re-rank with MMR (1 = relevance only, 0 = diversity only).
            ids: search only these records (unknown ids are ignored); combines with the filters.
            lexical_fetch_k: lexical candidates, when they should differ from ``fetch_k``
                (at least ``k`` too).
            include_embeddings: set each hit's ``embedding`` (its unit vector).

        Returns:
            Up to ``k`` hits, best first.

        Raises:
            InvalidInputError: for an empty or whitespace-only query, a vector that is not one
                list of floats, ids that are not a list of strings, or an option out of range.
            FilterError: for a malformed filter.
            ConfigError: for an unknown mode or fusion, or boosts that are not a list of rules.
        """
        options = {
            "k": k,
            "where": where,
            "where_document": where_document,
            "mode": mode,
            "fusion": fusion,
            "alpha": alpha,
            "boosts": boosts,
            "fetch_k": fetch_k,
            "score_threshold": score_threshold,
            "mmr_lambda": mmr_lambda,
            "ids": ids,
            "lexical_fetch_k": lexical_fetch_k,
            "include_embeddings": include_embeddings,
        }
        return self._search([query], [vector], options)[0]

    def search_batch(
        self,
        queries: Sequence[str | None],
        *,
        vectors: Sequence[Sequence[float] | Vector | None] | None = None,
        **options: Any,
    ) -> list[list[SearchHit]]:
        """Several searches with the same options, answered together: what ``[search(q) for q in
        queries]`` returns, with the queries embedded in one call and the dense side of the
        unfiltered ones answered by one FAISS call.

        Args:
            queries: query texts (``None`` for a search by vector alone).
            vectors: one query vector (or ``None``) per query, instead of embedding it.
            **options: any option of ``search`` (``k``, ``where``, ``mode``, ...), for every query.

        Returns:
            One list of hits per query, in order.

        Raises:
            InvalidInputError: for queries that are not a list, vectors of another length, an
                unknown option, or anything ``search`` refuses.
        """
        texts = check_list(queries, "queries", of="query strings")
        given = [None] * len(texts) if vectors is None else check_list(vectors, "vectors", of="query vectors")
        if len(given) != len(texts):
            msg = f"got {len(texts)} queries and {len(given)} vectors; pass one vector (or None) per query"
            raise InvalidInputError(msg)
        return self._search(texts, given, options)

    def _search(
        self, queries: Sequence[object], vectors: Sequence[object], options: dict[str, Any]
    ) -> list[list[SearchHit]]:
        """Check, look up the cache, embed what is missing in one call, search the rest together."""
        texts = [check_query_text(q) for q in queries]
        if options.get("ids") is not None:
            options = {**options, "ids": check_id_list(options["ids"])}
        request = SearchRequest.parse(
            options, defaults=self.config.fusion, default_boosts=self.default_boosts, space=self.space
        )
        given = [None if v is None else self._query_vector(check_query_vector(v)) for v in vectors]
        keys = [request.cache_key(text, vector) for text, vector in zip(texts, given, strict=True)]
        answers: list[list[SearchHit] | None] = [None] * len(texts)
        if self._cache.enabled and any(key is not None for key in keys):  # else: no second lock per search
            with self._reading():
                mirrors = self._replica.mirrors
                for i, key in enumerate(keys):
                    if key is not None and mirrors is not None:
                        answers[i] = self._cache.get(mirrors.version, key)
        missing = [i for i, answer in enumerate(answers) if answer is None]
        embed = [i for i in missing if given[i] is None and texts[i] and request.needs_vector(texts[i])]
        if embed and self.embedder is not None:
            for i, vector in zip(embed, self._embed_queries([texts[i] or "" for i in embed]), strict=True):
                given[i] = self._query_vector(vector)  # checked and unit-normalised like a given one
        plans = [request.plan(texts[i], given[i]) for i in missing]  # checks each (k, mode, vector, ...)
        with self._reading():
            mirrors = self._replica.mirrors
            found = [] if mirrors is None else batch.run_batch(mirrors, plans)
            for i, hits in zip(missing, found, strict=True):
                answers[i] = hits
                key = keys[i]
                if key is not None and mirrors is not None:
                    self._cache.put(mirrors.version, key, hits)
        return [answer or [] for answer in answers]

    def _embed_queries(self, texts: list[str]) -> Vector:
        """Embed queries with the store's embedder: in one call when it offers ``embed_queries``."""
        assert self.embedder is not None
        many = getattr(self.embedder, "embed_queries", None)
        if callable(many):
            return np.asarray(many(texts), dtype=np.float32).reshape(len(texts), -1)
        return np.stack([self.embed_query(text) for text in texts])

    def find_duplicates(self, threshold: float = 0.95, *, where: FilterDict | None = None) -> list[DuplicatePair]:
        """Pairs of records whose cosine similarity is at least ``threshold`` (FAISS range search).

        Returns:
            Pairs, most similar first.
        """
        if not -1.0 <= threshold <= 1.0:
            msg = f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}"
            raise InvalidInputError(msg)
        node = parse_where(where)
        with self._reading():
            mirrors = self._replica.mirrors
            return [] if mirrors is None else mirrors.duplicate_pairs(node, threshold)

    # -- raw objects ----------------------------------------------------------------------
    def put_object(
        self,
        obj: object,
        *,
        id: str | None = None,
        content_type: str | None = None,
        description: str | None = None,
        metadata: Mapping[str, object] | None = None,
        embedding: Sequence[float] | Vector | None = None,
        codec: str | None = None,
    ) -> RecordId:
        """Store any object by id: bytes, text, JSON, NumPy arrays, or (``codec="pickle"``) pickled.

        The object is searchable by ``description`` (text and JSON objects fall back to their
        own text) and returned byte-exact by ``get_object``. Putting an existing id replaces it.

        Returns:
            The object's id.

        Raises:
            ObjectCodecError: when no safe codec fits (pass ``codec="pickle"`` to pickle it).
            InvalidInputError: when there is neither a description/text nor an embedding.
        """
        return self.put_objects(
            [obj],
            ids=None if id is None else [id],
            descriptions=[description],
            metadatas=[metadata],
            content_types=[content_type],
            embeddings=[embedding],
            codec=codec,
        )[0]

    def put_objects(
        self,
        objects: Sequence[object],
        *,
        ids: Sequence[str | None] | None = None,
        descriptions: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, object] | None] | None = None,
        content_types: Sequence[str | None] | None = None,
        embeddings: Sequence[Sequence[float] | Vector | None] | None = None,
        codec: str | None = None,
    ) -> list[RecordId]:
        """Store several objects in one write, as ``put_object`` stores one: every object is
        encoded and checked first, so a bad one refuses the write and nothing is stored. Their
        encoded payloads are held in memory together: put very large objects a few at a time.

        Args:
            objects: the objects (a list, even of one).
            ids: one per object (``None`` entries: generated ids).
            descriptions: one per object: the text it is found by (text and JSON objects fall
                back to their own text).
            metadatas: one dict per object.
            content_types: one per object (``None``: the codec's).
            embeddings: one vector per object (``None``: embed its description).
            codec: force a codec for every object.

        Returns:
            The objects' ids, in order.
        """
        if isinstance(objects, np.ndarray):  # one array is one object, not a list of its rows
            msg = "objects must be a list of objects, got a single NumPy array; wrap it in a list"
            raise InvalidInputError(msg)
        items = check_list(objects, "objects", of="objects")
        n = len(items)
        columns = {
            name: check_list(column, name, of=kind)
            for name, column, kind in (
                ("descriptions", descriptions, "strings"),
                ("metadatas", metadatas, "dicts"),
                ("content_types", content_types, "strings"),
                ("embeddings", embeddings, "vectors"),
            )
            if column is not None
        }
        check_lengths(n, **columns)
        named: list[str] | None = None  # ids given (``None`` entries generated), checked
        if ids is not None:
            given = check_list(ids, "ids", of="strings")
            check_lengths(n, ids=given)
            named = check_ids([uuid.uuid4().hex if i is None else i for i in given], n)
        record_ids = named if named is not None else check_ids(None, n)
        writes, payloads = [], []
        for i, obj in enumerate(items):
            column = {name: values[i] for name, values in columns.items()}
            chosen = choose_codec(obj, codec)
            data = chosen.encode(obj)
            text = column.get("descriptions")
            if text is None and chosen.render is not None:
                text = chosen.render(obj)
            if text is None and column.get("embeddings") is None:
                msg = f"objects[{i}]: a {chosen.name} object needs description= (to be searchable) or embedding="
                raise InvalidInputError(msg)
            reserved = self.objects.describe(data, chosen, column.get("content_types"))
            writes.append(ObjectWrite(record_ids[i], text, column.get("metadatas"), column.get("embeddings"), reserved))
            payloads.append((data, reserved))

        return self._write_objects(named, writes, payloads)

    def _write_objects(
        self, ids: list[str] | None, writes: list[ObjectWrite], payloads: list[tuple[bytes, dict[str, object]]]
    ) -> list[RecordId]:
        """Commit raw objects whose payloads are encoded and described already."""

        def prepare() -> WriteBatch:
            batch = prepare_objects(self._replica.mirrors, self.embedder, writes)
            for data, reserved in payloads:  # the payloads first: a record never names a missing one
                self.objects.put(data, reserved)
            return batch

        return self._commit(ids, prepare)

    def get_object(self, id: str, *, allow_pickle: bool = False) -> object:
        """The object stored under ``id``, decoded.

        Raises:
            RecordNotFoundError: no record has this id, or it is a plain record (not a raw object).
            CorruptedObjectError: the payload is missing or fails its sha256, or the record's
                reserved object metadata was changed outside this store.
            UnsafeDeserializationError: a pickled object without ``allow_pickle=True``.
        """
        data, info = self.get_object_bytes(id)
        return decode(data, info.codec, allow_pickle=allow_pickle, record_id=id)

    def get_object_bytes(self, id: str) -> tuple[bytes, ObjectInfo]:
        """The raw payload bytes (verified) and what they are; raises as ``get_object`` does."""
        with self._reading():
            mirrors = self._replica.mirrors
            info = None if mirrors is None else mirrors.object_of(id)
            exists = mirrors is not None and id in mirrors.records.row_of
        if info is None:
            msg = f"no object with id {id!r} in store {self.name!r}"
            if exists:
                msg = (
                    f"record {id!r} in store {self.name!r} holds no object: it was added with add/upsert, "
                    f"not put_object; read it with get([{id!r}])"
                )
            raise RecordNotFoundError(msg)
        return self.objects.read(info, id), info

    def verify_objects(self, *, repair: bool = False) -> ObjectsReport:
        """Check every raw object's payload against its sha256 and size, and find orphaned payloads.

        Orphans are payloads no live record refers to (a crash between writing a payload and its
        record leaves one) and temp files of interrupted writes. Payloads are read one at a time,
        a block at a time; writes wait meanwhile, searches go on. On a server, this process first
        catches up with the others.

        Args:
            repair: remove the orphans older than 10 minutes (``ORPHAN_GRACE_SECONDS``), so a
                put still in flight in another process is never taken. Damaged objects are only
                reported: put them again or delete them.

        Returns:
            The ids of objects whose payload is missing or corrupted, of records whose reserved
            object metadata is malformed, and the orphans found and removed.
        """
        with self._writer:
            if self._replica.shared:
                self.refresh()
            with self._reading():
                mirrors = self._replica.mirrors
                if mirrors is None:  # no record yet
                    return self.objects.verify((), repair=repair)
                rows, metas = mirrors.records.row_of, mirrors.records.metas
                return self.objects.verify(((i, metas[row]) for i, row in rows.items()), repair=repair)

    # -- operations: export, backup, migration, checks ----------------------------------------------
    def export(
        self,
        path: str | Path,
        *,
        where: FilterDict | None = None,
        batch_size: int = 1000,
        progress: bool = False,
    ) -> TransferReport:
        """Write every record (or those ``where`` matches) to a portable file: ids, texts,
        metadata, unit vectors and raw objects' bytes. ``.parquet`` (pyarrow, one row group per
        batch) or ``.jsonl`` (base64 vectors and bytes, bit-exact), by the suffix. The file is the
        store as of one moment: writes of this process wait meanwhile, searches go on; it is
        written beside ``path`` and renamed into place when complete. Memory: one batch.

        Raises:
            ConfigError: for another suffix or a bad ``batch_size``.
            CorruptedObjectError: a raw object's payload is damaged (``doctor`` lists them).
        """
        return operations.export(self, path, where=where, batch_size=batch_size, progress=progress)

    def import_(
        self, path: str | Path, *, batch_size: int = 1000, reembed: bool = False, progress: bool = False
    ) -> TransferReport:
        """Upsert every record of an ``export`` file, made in any mode on any machine. The file is
        untrusted: every row is checked before the first is written (a bad one writes nothing).

        Args:
            path: a ``.parquet`` or ``.jsonl`` export file.
            batch_size: records per write.
            reembed: embed the texts again with this store's embedder instead of using the
                file's vectors (needed when the file was made with another embedder).
            progress: show a progress bar (stderr).

        Raises:
            InvalidInputError: the file is not an export file, or a row is malformed.
            EmbeddingMismatchError: the file's vectors come from another embedder (use ``reembed``).
            DimensionMismatchError: they have another dimension.
        """
        return operations.import_(self, path, batch_size=batch_size, reembed=reembed, progress=progress)

    def backup(self, dest: str | Path, *, progress: bool = False) -> TransferReport:
        """A consistent copy of the store, taken while it serves: a new folder ``dest`` with the
        records (as ``export`` writes them, Parquet) and a manifest holding their sha256, written
        last. ``HybridStore.restore(dest, ...)`` opens it again, in any mode.

        Raises:
            ConfigError: ``dest`` exists and is not an empty folder.
        """
        return operations.backup(self, dest, progress=progress)

    @classmethod
    def restore(
        cls,
        source: str | Path,
        name: str | None = None,
        *,
        path: str | Path | None = "./mira_data",
        host: str | None = None,
        port: int = 8000,
        server: ServerConfig | None = None,
        embedder: Embedder | Literal["default"] | None = DEFAULT,
        config: StoreConfig | None = None,
        overwrite: bool = False,
        progress: bool = False,
    ) -> Self:
        """Open the store a ``backup`` folder holds, written into collection ``name`` (default: the
        backed-up store's) under ``path`` or on ``host``. Search results match the original's.

        Raises:
            InvalidInputError: ``source`` is not a complete, intact backup.
            EmbeddingMismatchError: ``embedder`` is not the one the backup was made with.
            ConfigError: the collection exists and holds records (pass ``overwrite=True`` to
                replace them).
        """
        data, header = operations.backup_file(source)
        chosen = MiniLMEmbedder() if embedder == DEFAULT else embedder
        if chosen is not None and header.embedder is not None:
            chosen = embedder_for_stored(chosen, header.embedder) or chosen
            if header.records and chosen.name != header.embedder:
                msg = (
                    f"the backup was made with embedder {header.embedder!r}; "
                    f"restore it with that one, not {chosen.name!r}"
                )
                raise EmbeddingMismatchError(msg)
        space = None if header.space == "ip" else {"hnsw:space": header.space}
        store = cls(
            name or header.store,
            path=path,
            host=host,
            port=port,
            server=server,
            embedder=chosen,
            config=config,
            collection_metadata=space,
        )
        try:
            if store.count() and not overwrite:
                msg = (
                    f"store {store.name!r} exists and holds {store.count()} records; restore with overwrite=True "
                    "(mira-vs restore --overwrite) to replace them, or restore under another name"
                )
                raise ConfigError(msg)
            store.clear()
            operations.import_(store, data, progress=progress)
        except BaseException:
            store.close()
            raise
        return store

    def migrate_embeddings(
        self, new_embedder: Embedder, *, batch_size: int = 256, progress: bool = False
    ) -> MigrationReport:
        """Move the store to another embedder: every record is embedded again into a new
        collection (``<name>--<embedder>``) in batches, then the store switches to it atomically
        (one alias write): this object and every later open of ``name`` read the new collection;
        none ever sees a mix. A killed migration continues where it stopped when called again.
        The old collection stays until dropped (``HybridStore.drop_collection``). Open the store
        with the new embedder afterwards.

        On a server, other processes that have the store open learn of the switch at their next
        catch-up (``StoreConfig.refresh_interval``): they go on reading the old collection and
        refuse writes (``StorageError``: reopen with the new embedder). What they wrote to the old
        one before that is copied over two refresh intervals after the switch (the call returns
        then), unless the new collection holds a later version.

        Raises:
            ConfigError: the store already uses ``new_embedder``, some record has no text to
                embed, or the target collection exists and was not made by this migration.
        """
        return migrate.migrate(self, new_embedder, batch_size=batch_size, progress=progress)

    def doctor(self, *, repair: bool = False) -> DoctorReport:
        """Check the store: the mirrors against Chroma, record by record (revision), and every
        raw object's payload against its sha256, plus orphaned payloads. On a server, this
        process first catches up. Cost: one read of every record's metadata and every payload.

        Revisions do not show an edit a plain Chroma client made in place (Chroma's ``update``
        keeps the other metadata keys, the revision among them); ``repair`` takes those in too.

        Args:
            repair: rebuild the mirrors from Chroma (``refresh(full=True)``) and remove orphaned
                payloads older than the grace period; damaged objects are only reported. The
                report still lists what was found.
        """
        if self._replica.shared:
            self.refresh()
        return operations.doctor(self, repair=repair)

    def stats(self) -> StoreStats:
        """Records, dimension, embedder, index kind and parameters, mirror state and lag, disk use."""
        return operations.stats(self)

    @staticmethod
    def collections(
        *,
        path: str | Path | None = "./mira_data",
        host: str | None = None,
        port: int = 8000,
        server: ServerConfig | None = None,
    ) -> list[CollectionInfo]:
        """The collections of an embedded folder (``path``) or a server (``host``), with their
        record counts, recorded embedders and migration aliases (the store's side collections
        are left out).

        Raises:
            StoreLockedError: another process holds the embedded folder.
        """
        return operations.collections(_place(path, host, port, server))

    @classmethod
    def drop_collection(
        cls,
        name: str,
        *,
        path: str | Path | None = "./mira_data",
        host: str | None = None,
        port: int = 8000,
        server: ServerConfig | None = None,
    ) -> None:
        """Delete the collection called ``name`` itself (not what a migrated store name opens),
        with its records, raw objects and this package's files: e.g. the one ``migrate_embeddings``
        left behind.

        Raises:
            StorageError: there is no such collection.
            ConfigError: it is what a migrated store opens now (drop that store instead).
        """
        operations.check_droppable(_place(path, host, port, server), name)
        cls(
            name, path=path, host=host, port=port, server=server, embedder=None, create=False, follow_alias=False
        ).drop()

    # -- monitoring -------------------------------------------------------------------------
    def health(self) -> StoreHealth:
        """How the store is doing, for monitoring; never raises (a down server shows as ``reachable=False``)."""
        replica = self._replica
        reachable, error, behind = True, replica.last_error, None
        try:
            replica.storage.heartbeat()
            with self._lock.read():
                behind = replica.changes_behind() if replica.mirrors is not None else 0
        except StorageError as exc:
            reachable, error = False, str(exc)
        if not replica.shared:
            lag: float | None = 0.0  # the only writer: its writes reach the mirrors at once
        else:
            lag = None if replica.last_catch_up is None else max(0.0, time.time() - replica.last_catch_up)
        mirrors = replica.mirrors
        return StoreHealth(
            mode=replica.mode,
            reachable=reachable,
            records=0 if mirrors is None else mirrors.records.live_count,
            lag_seconds=lag,
            changes_behind=behind,
            last_catch_up=replica.last_catch_up,
            lock_holder=None if replica.path_lock is None else holder_pid(replica.path_lock.folder),
            mirror_dir=None if replica.mirror_dir is None else str(replica.mirror_dir),
            error=error,
        )

    # -- the parts in sequence ------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock shared for a read, after a catch-up that is due (``StoreConfig.refresh_interval``)."""
        if not self._replica.shared and self._replica.due():
            with self._exclusive():
                self._replica.refresh()
        with self._lock.read():
            self._check_open()
            yield

    @contextmanager
    def _frozen(self) -> Iterator[Mirrors | None]:
        """The mirrors as of one moment: writes and catch-ups of this process wait, searches go on."""
        with self._writer, self._lock.read():
            self._check_open()
            yield self._replica.mirrors

    def _live_ids(self) -> set[str]:
        with self._reading():
            mirrors = self._replica.mirrors
            return set() if mirrors is None else set(mirrors.records.row_of)

    def _aliases(self) -> FileAliases | ChromaAliases:
        storage = self._replica.storage
        return aliases_of(self._where.path if self._replica.mode == "embedded" else None, storage.client, storage.where)

    def _sibling(self, collection: str, embedder: Embedder) -> HybridStore:
        """Another collection beside this one (same folder, server or client), opened as itself."""
        where = self._where
        client = self._replica.storage.client if self._replica.mode == "memory" else where.client
        return HybridStore(
            collection,
            path=where.path,
            host=where.host,
            port=where.port,
            server=where.server,
            client=client,
            embedder=embedder,
            config=self.config,
            follow_alias=False,
        )

    def _adopt(self, other: HybridStore, alias: Alias) -> tuple[Replica, ObjectStore]:
        """Switch to ``other``'s collection (a migration's last step): the alias is written, then
        this object takes over ``other``'s parts. Returns its own old parts, for the caller to close.
        """
        with self._writer, self._lock.write():
            self._check_open()
            self._aliases().set(alias)
            if other._refresher is not None:
                other._refresher.stop()
            with other._writer, other._lock.write():
                other._closed = True
                _OPEN_STORES.discard(other)
            old = (self._replica, self.objects)
            self._replica, self.objects, self.embedder = other._replica, other.objects, other.embedder
            return old

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the store alone: no write, catch-up or search runs meanwhile."""
        with self._writer, self._lock.write():
            self._check_open()
            yield

    def _commit(self, ids: Sequence[str] | None, prepare: Callable[[], WriteBatch]) -> list[RecordId]:
        """One writer at a time: bring the named ids level with Chroma (server), prepare the
        batch (validation, embedding) while searches go on, then write it alone.
        """
        with self._writer:
            with self._lock.write():
                self._check_writable()
                self._sync(ids)
            with self._lock.read():
                self._check_open()
                batch = prepare()
            with self._lock.write():
                self._check_open()
                return self._write(batch)

    def _sync(self, ids: Sequence[str] | None) -> None:
        """On a server, bring the mirrors level with Chroma for the ids a write names (must hold the write lock)."""
        if ids is not None and not isinstance(ids, str) and self._replica.shared:
            self._replica.sync([i for i in ids if isinstance(i, str)])

    def _checked_ids(self, ids: Sequence[str]) -> list[str]:
        checked = list(dict.fromkeys(check_id_list(ids)))
        self._sync(checked)
        return checked

    def _check_open(self) -> None:
        if self._closed:
            msg = f"store {self.name!r} is closed; open a new HybridStore"
            raise InvalidInputError(msg)

    def _check_writable(self) -> None:
        """Refuse a write into a collection another process migrated this store's name away from:
        it would be hidden from every later open of the name.
        """
        self._check_open()
        if self._moved_to is not None:
            msg = (
                f"store {self.name!r} was migrated to collection {self._moved_to!r} by another process; this "
                f"process still reads the old collection {self.collection!r}. Reopen the store with the new "
                "embedder to write"
            )
            raise StorageError(msg)

    def _write(self, batch: WriteBatch) -> list[RecordId]:
        """Commit a validated batch; payloads of objects it replaced go when nothing uses them."""
        replaced = self._objects_of(batch.ids)
        self._replica.commit(batch)
        self._release(replaced)
        return [RecordId(i) for i in batch.ids]

    def _delete(self, ids: list[str]) -> int:
        """Delete live records and the payloads nothing else uses."""
        deleted = self._objects_of(ids)
        count = self._replica.delete(ids)
        self._release(deleted)
        return count

    def _objects_of(self, ids: Sequence[str]) -> list[ObjectInfo]:
        """The objects among live records ``ids``, whose payloads a delete or replacement may free.

        A record whose object metadata is malformed is deleted or replaced all the same, but its
        digest names no file: its payload is left alone, with a warning.
        """
        mirrors = self._replica.mirrors
        if mirrors is None:
            return []
        infos: list[ObjectInfo] = []
        for record_id in ids:
            try:
                info = mirrors.object_of(record_id)
            except CorruptedObjectError as exc:
                logger.warning("store %r deletes or replaces a record, touching no payload file: %s", self.name, exc)
                continue
            if info is not None:
                infos.append(info)
        return infos

    def _release(self, infos: list[ObjectInfo]) -> None:
        mirrors = self._replica.mirrors
        if infos and mirrors is not None:
            self.objects.release(infos, mirrors.payload_digests())

    def _matching(
        self, ids: Sequence[str] | None, where: FilterDict | None, where_document: FilterDict | None
    ) -> list[str]:
        """Live ids matching ids and filters, in ids order or else row order."""
        node = combine(parse_where(where), parse_where_document(where_document))
        wanted = None if ids is None else check_id_list(ids)
        mirrors = self._replica.mirrors
        return [] if mirrors is None else mirrors.records.matching(wanted, node)

    def _query_vector(self, vector: Sequence[float] | Vector) -> Vector:
        """A query vector checked like a stored one (finite, the store's dimension) and unit-normalised."""
        matrix = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        return check_vectors(matrix, 1, self.dimension, what="vector").reshape(-1)


def _place(path: str | Path | None, host: str | None, port: int, server: ServerConfig | None) -> Where:
    return Where(path=None if host else path, host=host, port=port, server=server)


@atexit.register
def _close_open_stores() -> None:
    # A store still open at exit is closed: its mirrors are saved, and an embedded one is marked
    # closed, so its next open needs no probe of Chroma (the one after a crash does).
    for store in list(_OPEN_STORES):
        try:
            store.close()
        except Exception:
            logger.warning("could not close store %r at exit", store.name, exc_info=True)
