"""One search over several stores (collections), merged into one ranking by the final score.

The MIRA guides search each collection by hand and sort the union by distance. Here each store
runs its whole search (filters, hybrid fusion, boosts, threshold), and the hits are merged by
their final score, which means the same in every store when the stores fuse alike: the cosine
of a dense search, the fused score of a hybrid one (``FusionConfig``). Stores whose searches
would score on different scales (another mode, fusion method or weight) are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from mira_vectorstores.engine.config import enum_value
from mira_vectorstores.engine.errors import InvalidInputError
from mira_vectorstores.engine.store import HybridStore
from mira_vectorstores.engine.types import FusionMethod, SearchHit, SearchMode, Vector


def search_collections(
    stores: Sequence[HybridStore],
    query: str | None = None,
    *,
    vector: Sequence[float] | Vector | None = None,
    k: int = 4,
    **options: Any,
) -> list[SearchHit]:
    """The ``k`` best hits of ``query`` over every store, each hit naming its store in ``collection``.

    Each store answers ``store.search(query, vector=vector, k=k, **options)``; the query is
    embedded once per embedder (stores sharing an embedder share the vector). Ties in the final
    score break by store name, then id.

    Args:
        stores: the stores to search (at least one, each once).
        query: the query text.
        vector: a query vector instead of embedding the text (every store must take its length).
        k: hits to return in all.
        **options: any option of ``HybridStore.search`` (``where``, ``mode``, ``fusion``, ...),
            for every store.

    Raises:
        InvalidInputError: for no stores, a store given twice or closed, or stores whose
            scores are not comparable (another mode, fusion or alpha by default: pass ``mode=``,
            ``fusion=`` and ``alpha=`` to search them alike).
    """
    chosen = _checked(stores, options)
    vectors: dict[str, Vector] = {}
    merged: list[SearchHit] = []
    for store in chosen:
        given = vector
        embedder = store.embedder
        if given is None and query is not None and embedder is not None and _needs_vector(store, options):
            given = vectors.get(embedder.name)
            if given is None:
                given = vectors[embedder.name] = store.embed_query(query)
        hits = store.search(query, vector=given, k=k, **options)
        merged.extend(dataclasses.replace(hit, collection=store.name) for hit in hits)
    merged.sort(key=lambda hit: (-hit.score, hit.collection or "", hit.id))
    return merged[:k]


def _checked(stores: Sequence[HybridStore], options: dict[str, Any]) -> list[HybridStore]:
    if isinstance(stores, HybridStore) or not isinstance(stores, Sequence) or not stores:
        msg = "stores must be a non-empty list of HybridStore objects (one per collection to search)"
        raise InvalidInputError(msg)
    chosen = list(stores)
    for store in chosen:
        if not isinstance(store, HybridStore):
            msg = f"stores must hold HybridStore objects, got a {type(store).__name__}"
            raise InvalidInputError(msg)
        if store.closed:
            msg = f"store {store.name!r} is closed; open it again before searching it"
            raise InvalidInputError(msg)
    names = [store.name for store in chosen]
    if len(set(map(id, chosen))) != len(chosen) or len(set(names)) != len(names):
        msg = f"each store may be given once, and their names must differ; got {names}"
        raise InvalidInputError(msg)
    scales = {_scale(store, options) for store in chosen}
    if len(scales) > 1:
        msg = (
            f"the stores score on different scales by default (mode, fusion, alpha: {sorted(map(str, scales))}); "
            "pass mode=, fusion= and alpha= to search them alike"
        )
        raise InvalidInputError(msg)
    return chosen


def _scale(store: HybridStore, options: dict[str, Any]) -> tuple[str, str, float]:
    """What a store's final scores depend on: its mode, fusion method and dense weight."""
    defaults = store.config.fusion
    mode = enum_value(SearchMode, defaults.mode if options.get("mode") is None else options["mode"], "mode")
    method = enum_value(FusionMethod, defaults.method if options.get("fusion") is None else options["fusion"], "fusion")
    alpha = defaults.alpha_for(method) if options.get("alpha") is None else float(options["alpha"])
    return mode.value, method.value, alpha


def _needs_vector(store: HybridStore, options: dict[str, Any]) -> bool:
    return _scale(store, options)[0] != SearchMode.LEXICAL.value or options.get("mmr_lambda") is not None
