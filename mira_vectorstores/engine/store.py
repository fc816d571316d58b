"""``HybridStore``: the façade both adapters wrap. It sequences the parts; the algorithms live
in ``search``, ``mirrors``, ``sync``, ``filters``, ``fusion``, ``boosting`` and ``objects``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from mira_vectorstores.engine import search as search_pipeline
from mira_vectorstores.engine import sync
from mira_vectorstores.engine.boosting import BoostLike, parse_boosts
from mira_vectorstores.engine.config import enum_value
from mira_vectorstores.engine.errors import InvalidInputError
from mira_vectorstores.engine.filters import combine, parse_where, parse_where_document
from mira_vectorstores.engine.records import user_metadata
from mira_vectorstores.engine.store_objects import ObjectMethods
from mira_vectorstores.engine.types import (
    DuplicatePair,
    FilterDict,
    FusionMethod,
    Record,
    RecordId,
    SearchHit,
    SearchMode,
    Vector,
)
from mira_vectorstores.engine.writing import prepare_update, prepare_upsert

logger = logging.getLogger(__name__)



class HybridStore(ObjectMethods):
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
        when ``texts`` is not given, and re-embedded only when it changed. Args as in ``add``.
        """
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
            if (limit is not None and limit < 0) or offset < 0:
                msg = f"limit and offset must be >= 0, got limit={limit}, offset={offset}"
                raise InvalidInputError(msg)
            chosen = self._resolve(ids, where, where_document)[offset : None if limit is None else offset + limit]
            return [self._record(i, include_embeddings=include_embeddings) for i in chosen]

    def _record(self, record_id: str, *, include_embeddings: bool) -> Record:
        assert self._mirrors is not None
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

