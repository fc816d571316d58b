"""``HybridStore``: the façade both adapters wrap. It sequences the parts; the algorithms live
in ``search``, ``mirrors``, ``sync``, ``filters``, ``fusion``, ``boosting`` and ``objects``.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from mira_vectorstores.engine import search as search_pipeline
from mira_vectorstores.engine import sync
from mira_vectorstores.engine.boosting import BoostLike, parse_boosts
from mira_vectorstores.engine.config import StoreConfig, enum_value
from mira_vectorstores.engine.embeddings import Embedder, MiniLMEmbedder
from mira_vectorstores.engine.errors import ConfigError, EmbeddingMismatchError, InvalidInputError
from mira_vectorstores.engine.filters import combine, parse_where, parse_where_document
from mira_vectorstores.engine.mirrors import Mirrors
from mira_vectorstores.engine.object_store import ObjectStore
from mira_vectorstores.engine.records import RESERVED_PREFIX, user_metadata
from mira_vectorstores.engine.storage import ChromaStorage
from mira_vectorstores.engine.types import (
    DuplicatePair,
    FilterDict,
    FusionMethod,
    Metadata,
    ObjectInfo,
    Record,
    RecordId,
    SearchHit,
    SearchMode,
    Vector,
)
from mira_vectorstores.engine.writing import WriteBatch, prepare_update, prepare_upsert

logger = logging.getLogger(__name__)
DEFAULT = "default"
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
        embedder: Embedder | None | Literal["default"] = DEFAULT,
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
        self._storage = ChromaStorage.open(name=name, path=None if host else path, host=host, port=port)
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
        embedder: Embedder | None | Literal["default"] = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
    ) -> HybridStore:
        """A store that lives in this process only (tests, notebooks); a fresh name by default."""
        return cls(name or f"mem-{uuid.uuid4().hex[:12]}", path=None, embedder=embedder, config=config, boosts=boosts)

    @classmethod
    def persistent(
        cls,
        path: str | Path,
        name: str = "mira",
        *,
        embedder: Embedder | None | Literal["default"] = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
    ) -> HybridStore:
        """An embedded store persisted under ``path`` (Chroma data and mirrors)."""
        return cls(name, path=path, embedder=embedder, config=config, boosts=boosts)

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = 8000,
        name: str = "mira",
        *,
        embedder: Embedder | None | Literal["default"] = DEFAULT,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostLike] | None = None,
        mirror_dir: str | Path | None = None,
    ) -> HybridStore:
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
                if manifest.generation != self._generation or manifest.count != self._storage.count():
                    sync.reconcile(self._storage, mirrors)
                else:
                    self._saved_generation = manifest.generation
                return mirrors
        if self._storage.count() == 0:
            return Mirrors(dimension, self.config)
        return sync.rebuild(self._storage, dimension, self.config)

    def _bump_generation(self) -> str:
        """Announce a write: a new generation token in Chroma *before* the write lands, so a
        crash mid-write leaves mirrors whose generation differs and get reconciled."""
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

    def __enter__(self) -> HybridStore:
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

        Args:
            texts: documents, embedded by the store's embedder unless ``vectors`` are given.
            ids: one per record; uuid4 hex ids are generated when absent.
            metadatas: str/int/float/bool values or lists of one such type; ``None`` values dropped.
            vectors: precomputed vectors, one per record.

        Returns:
            The ids written.

        Raises:
            InvalidInputError: for any invalid input; nothing is written.
        """
        with self._lock:
            self._check_open()
            if ids is not None and self._mirrors is not None:
                taken = [i for i in ids if isinstance(i, str) and i in self._mirrors.records.row_of]
                if taken:
                    msg = f"ids already exist: {taken[:5]}; use upsert() to replace records"
                    raise InvalidInputError(msg)
            batch = prepare_upsert(self._mirrors, self.embedder, texts=texts, ids=ids, metadatas=metadatas, vectors=vectors)
            return self._commit(batch)

    def upsert(
        self,
        texts: Sequence[str] | None = None,
        *,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, object] | None] | None = None,
        vectors: Sequence[Sequence[float]] | Vector | None = None,
    ) -> list[RecordId]:
        """Add or replace records. A replaced record gets the new metadata; its text is kept
        when ``texts`` is not given, and re-embedded only when it changed. Args as in ``add``."""
        with self._lock:
            self._check_open()
            batch = prepare_upsert(self._mirrors, self.embedder, texts=texts, ids=ids, metadatas=metadatas, vectors=vectors)
            return self._commit(batch)

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
        with self._lock:
            self._check_open()
            batch = prepare_update(self._mirrors, self.embedder, ids=ids, texts=texts, metadatas=metadatas, vectors=vectors)
            self._commit(batch)

    def _commit(self, batch: WriteBatch, released: list[ObjectInfo] | None = None) -> list[RecordId]:
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

    def delete(
        self,
        ids: Sequence[str] | None = None,
        *,
        where: FilterDict | None = None,
        where_document: FilterDict | None = None,
    ) -> int:
        """Delete records by id and/or filter (both given: the ids that also match). Unknown ids
        are ignored. A deleted object's payload goes too.

        Returns:
            How many records were deleted.

        Raises:
            InvalidInputError: when neither ids nor a filter is given (use ``clear()``).
        """
        with self._lock:
            self._check_open()
            if ids is None and not where and not where_document:
                msg = "delete() needs ids or a filter; call clear() to delete every record"
                raise InvalidInputError(msg)
            targets = self._resolve(ids, where, where_document)
            return self._delete_ids(targets)

    def clear(self) -> int:
        """Delete every record; returns how many there were."""
        with self._lock:
            self._check_open()
            return self._delete_ids(list(self._mirrors.records.row_of) if self._mirrors else [])

    def _delete_ids(self, targets: list[str]) -> int:
        if not targets or self._mirrors is None:
            return 0
        objects = [info for info in (self._object_of(i) for i in targets) if info is not None]
        self._bump_generation()
        try:
            self._storage.delete(targets)
        except Exception:
            sync.reconcile(self._storage, self._mirrors)
            raise
        deleted = self._mirrors.apply_delete(targets)
        self._release(objects)
        return len(deleted)

    def _resolve(self, ids: Sequence[str] | None, where: FilterDict | None, where_document: FilterDict | None) -> list[str]:
        """Live ids matching ids and filters, in ids order or else row order."""
        node = combine(parse_where(where), parse_where_document(where_document))
        if ids is not None and isinstance(ids, str):
            msg = "ids must be a list of strings, got a single str; wrap it in a list"
            raise InvalidInputError(msg)
        if self._mirrors is None:
            return []
        records = self._mirrors.records
        if ids is None:
            return [records.ids[r] for r in np.flatnonzero(records.allowed(node))]  # type: ignore[misc]
        mask = records.allowed(node)
        return [i for i in dict.fromkeys(ids) if i in records.row_of and mask[records.row_of[i]]]

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
        """
        with self._lock:
            self._check_open()
            if limit is not None and limit < 0 or offset < 0:
                msg = f"limit and offset must be >= 0, got limit={limit}, offset={offset}"
                raise InvalidInputError(msg)
            chosen = self._resolve(ids, where, where_document)[offset : None if limit is None else offset + limit]
            return [self._record(i, include_embeddings=include_embeddings) for i in chosen]

    def _record(self, record_id: str, *, include_embeddings: bool) -> Record:
        assert self._mirrors is not None  # noqa: S101 - callers resolved the id in it
        row = self._mirrors.records.row_of[record_id]
        meta = self._mirrors.records.metas[row]
        return Record(
            id=RecordId(record_id),
            document=self._mirrors.records.docs[row],
            metadata=user_metadata(meta),  # type: ignore[arg-type]
            embedding=self._mirrors.dense.vectors[row].copy() if include_embeddings else None,
            object=search_pipeline.object_info(meta),
        )

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
    ) -> list[SearchHit]:
        """Search by text and/or vector; filters restrict the candidates before ranking.

        Args:
            query: query text (embedded for the dense side, tokenised for BM25).
            vector: a query vector (skips embedding).
            k: hits to return.
            where: metadata filter (Chroma grammar).
            where_document: document filter.
            mode: dense, lexical, hybrid or auto (text: hybrid; vector only: dense).
            fusion: rrf, weighted or dbsf (hybrid only).
            alpha: weight of the dense side in fusion, in [0, 1].
            boosts: rules replacing the store's default boosts for this search (``[]`` for none).
            fetch_k: candidates per side before fusion, boosts and MMR.
            score_threshold: drop hits whose final score is below this.
            mmr_lambda: re-rank with MMR (1 = relevance only, 0 = diversity only).
            ids: search only these records (unknown ids are ignored); combines with the filters.
            lexical_fetch_k: lexical candidates, when they should differ from ``fetch_k``. In
                hybrid mode either side may fetch fewer than ``k``: their union fills ``k``.

        Returns:
            Up to ``k`` hits, best first.
        """
        fusion_defaults = self.config.fusion
        chosen_mode = enum_value(SearchMode, mode or fusion_defaults.mode, "mode")
        if chosen_mode is SearchMode.AUTO:
            chosen_mode = SearchMode.HYBRID if query else SearchMode.DENSE
        if query is not None and not isinstance(query, str):
            msg = f"query must be a str, got {type(query).__name__}"
            raise InvalidInputError(msg)
        if isinstance(ids, str) or (ids is not None and not all(isinstance(i, str) for i in ids)):
            msg = "ids must be a list of strings; wrap a single id in a list"
            raise InvalidInputError(msg)
        needs_vector = chosen_mode in (SearchMode.DENSE, SearchMode.HYBRID) or mmr_lambda is not None
        if vector is not None:
            query_vector = self._query_vector(vector)
        elif needs_vector and query and self.embedder is not None:
            # Checked and unit-normalised like a given vector: dense scores must be cosines.
            query_vector = self._query_vector(self.embed_query(query))
        else:
            query_vector = None
        plan = search_pipeline.SearchPlan(
            text=query,
            vector=query_vector,
            k=k,
            where=parse_where(where),
            where_document=parse_where_document(where_document),
            mode=chosen_mode,  # type: ignore[arg-type]
            fusion=enum_value(FusionMethod, fusion or fusion_defaults.method, "fusion"),  # type: ignore[arg-type]
            alpha=fusion_defaults.alpha if alpha is None else alpha,
            rrf_k=fusion_defaults.rrf_k,
            boosts=self.default_boosts if boosts is None else parse_boosts(boosts),
            fetch_k=fetch_k if fetch_k is not None else fusion_defaults.fetch_k,
            score_threshold=score_threshold,
            mmr_lambda=mmr_lambda,
            ids=None if ids is None else tuple(ids),
            lexical_fetch_k=lexical_fetch_k,
        )
        with self._lock:
            self._check_open()
            self._maybe_refresh()
            if self._mirrors is None:
                return []
            return search_pipeline.run(self._mirrors, plan)

    def _query_vector(self, vector: Sequence[float] | Vector) -> Vector:
        from mira_vectorstores.engine.writes import check_vectors

        return check_vectors(np.asarray(vector, dtype=np.float32).reshape(1, -1), 1, self.dimension, what="vector")[0]

    def find_duplicates(self, threshold: float = 0.95, *, where: FilterDict | None = None) -> list[DuplicatePair]:
        """Pairs of records whose cosine similarity is at least ``threshold`` (FAISS range search).

        Returns:
            Pairs, most similar first.
        """
        if not -1.0 <= threshold <= 1.0:
            msg = f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}"
            raise InvalidInputError(msg)
        node = parse_where(where)
        with self._lock:
            self._check_open()
            if self._mirrors is None:
                return []
            records = self._mirrors.records
            rows = np.flatnonzero(records.allowed(node))
            pairs = self._mirrors.dense.range_pairs(rows, threshold)
            out = [DuplicatePair(RecordId(records.ids[a]), RecordId(records.ids[b]), s) for a, b, s in pairs]  # type: ignore[arg-type]
        return sorted(out, key=lambda p: (-p.similarity, p.first, p.second))

    # -- raw objects ----------------------------------------------------------------------
    def put_object(
        self,
        obj: object,
        *,
        id: str | None = None,  # noqa: A002 - the natural name in this API
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
        from mira_vectorstores.engine.objects import choose_codec

        chosen = choose_codec(obj, codec)
        data = chosen.encode(obj)
        text = description if description is not None else (chosen.render(obj) if chosen.render else None)
        if text is None and embedding is None:
            msg = f"a {chosen.name} object needs description= (to be searchable) or embedding="
            raise InvalidInputError(msg)
        with self._lock:
            self._check_open()
            reserved = self.objects.describe(data, chosen, content_type)
            batch = prepare_upsert(
                self._mirrors,
                self.embedder,
                texts=None if text is None else [text],
                ids=None if id is None else [id],
                metadatas=[metadata],
                vectors=None if embedding is None else [embedding],
                reserved=[reserved],
            )
            self.objects.put(data, reserved)
            return self._commit(batch)[0]

    def get_object(self, id: str, *, allow_pickle: bool = False) -> object:  # noqa: A002
        """The object stored under ``id``, decoded.

        Raises:
            RecordNotFoundError: no object has this id.
            CorruptedObjectError: the payload is missing or fails its sha256.
            UnsafeDeserializationError: a pickled object without ``allow_pickle=True``.
        """
        from mira_vectorstores.engine.objects import decode

        data, info = self.get_object_bytes(id)
        return decode(data, info.codec, allow_pickle=allow_pickle, record_id=id)

    def get_object_bytes(self, id: str) -> tuple[bytes, ObjectInfo]:  # noqa: A002
        """The raw payload bytes (verified) and what they are."""
        from mira_vectorstores.engine.errors import RecordNotFoundError

        with self._lock:
            self._check_open()
            info = self._object_of(id)
        if info is None:
            msg = f"no object with id {id!r} in store {self.name!r}"
            raise RecordNotFoundError(msg)
        return self.objects.read(info, id), info

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
        except Exception:  # noqa: BLE001 - never fail interpreter shutdown over a cache
            logger.warning("could not save the mirrors of %r at exit", store.name, exc_info=True)
