"""A search request: its options checked once, then a plan (and a cache key) per query.

``HybridStore.search`` and ``search_batch`` take the same options; ``SearchRequest`` checks them
(types, ranges, filters, boosts) before anything is embedded or read, and turns each query text
and/or vector into a ``SearchPlan``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from mira_vectorstores.engine.config import FusionConfig, enum_value
from mira_vectorstores.engine.errors import InvalidInputError
from mira_vectorstores.engine.query.boosting import BoostRule, RecencyBoost, parse_boosts
from mira_vectorstores.engine.query.filters import Node, parse_where, parse_where_document
from mira_vectorstores.engine.query.pipeline import SearchPlan
from mira_vectorstores.engine.types import FusionMethod, SearchMode, Vector

#: The options of ``HybridStore.search`` besides the query and the vector.
OPTIONS = (
    "k",
    "where",
    "where_document",
    "mode",
    "fusion",
    "alpha",
    "boosts",
    "fetch_k",
    "score_threshold",
    "mmr_lambda",
    "ids",
    "lexical_fetch_k",
    "include_embeddings",
)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """Checked search options shared by one or more queries."""

    k: Any
    where: Node
    where_document: Node
    mode: SearchMode
    fusion: FusionMethod
    alpha: float
    rrf_k: int
    boosts: tuple[BoostRule, ...]
    fetch_k: Any
    score_threshold: float | None
    mmr_lambda: float | None
    ids: tuple[str, ...] | None
    lexical_fetch_k: Any
    include_embeddings: bool
    space: str

    @classmethod
    def parse(
        cls, options: dict[str, Any], *, defaults: FusionConfig, default_boosts: Sequence[BoostRule], space: str
    ) -> SearchRequest:
        """Check the options (``OPTIONS``; ``None`` or absent: the store's default).

        Raises:
            InvalidInputError: for an unknown option, or a number of the wrong type.
            FilterError: for a malformed filter.
            ConfigError: for an unknown mode or fusion, or boosts that are not a list of rules.
        """
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            msg = f"unknown search option(s) {unknown}; the options are {list(OPTIONS)}"
            raise InvalidInputError(msg)
        get = options.get
        for name in ("alpha", "mmr_lambda", "score_threshold"):
            number = get(name)
            if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
                scale = "a finite number" if name == "score_threshold" else "a number in [0, 1]"
                msg = f"{name} must be {scale}, got {type(number).__name__}"
                raise InvalidInputError(msg)
        # ``is None``, not ``or``: an empty string is an unknown mode, not the default one.
        mode, fusion, ids, boosts, alpha = get("mode"), get("fusion"), get("ids"), get("boosts"), get("alpha")
        method = enum_value(FusionMethod, defaults.method if fusion is None else fusion, "fusion")
        return cls(
            k=get("k", 4),
            where=parse_where(get("where")),
            where_document=parse_where_document(get("where_document")),
            mode=enum_value(SearchMode, defaults.mode if mode is None else mode, "mode"),
            fusion=method,
            alpha=defaults.alpha_for(method) if alpha is None else alpha,
            rrf_k=defaults.rrf_k,
            boosts=tuple(default_boosts) if boosts is None else parse_boosts(boosts),
            fetch_k=defaults.fetch_k if get("fetch_k") is None else get("fetch_k"),
            score_threshold=get("score_threshold"),
            mmr_lambda=get("mmr_lambda"),
            ids=None if ids is None else tuple(ids),  # checked by the store (``check_id_list``)
            lexical_fetch_k=get("lexical_fetch_k"),
            include_embeddings=bool(get("include_embeddings", False)),
            space=space,
        )

    def mode_for(self, text: str | None) -> SearchMode:
        """The mode a query runs in (auto: hybrid with text, dense without)."""
        if self.mode is SearchMode.AUTO:
            return SearchMode.HYBRID if text else SearchMode.DENSE
        return self.mode

    def needs_vector(self, text: str | None) -> bool:
        """Whether the query needs a vector (a dense or hybrid search, or MMR)."""
        return self.mode_for(text) in (SearchMode.DENSE, SearchMode.HYBRID) or self.mmr_lambda is not None

    def plan(self, text: str | None, vector: Vector | None) -> SearchPlan:
        """The plan of one query (``vector``: unit-normalised, or ``None``)."""
        return SearchPlan(
            text=text,
            vector=vector,
            k=self.k,
            where=self.where,
            where_document=self.where_document,
            mode=self.mode_for(text),
            fusion=self.fusion,
            alpha=self.alpha,
            rrf_k=self.rrf_k,
            boosts=self.boosts,
            fetch_k=self.fetch_k,
            score_threshold=self.score_threshold,
            mmr_lambda=self.mmr_lambda,
            ids=self.ids,
            lexical_fetch_k=self.lexical_fetch_k,
            space=self.space,
            include_embeddings=self.include_embeddings,
        )

    def cache_key(self, text: str | None, vector: Vector | None) -> Hashable | None:
        """The whole request of one query as a key (``None``: not cacheable, its answer depends on the clock).

        Filters and boosts are frozen dataclasses whose ``repr`` spells every field; a given
        vector is keyed by its bytes (after normalisation), so equal vectors share an answer.
        """
        if any(isinstance(rule, RecencyBoost) for rule in self.boosts):
            return None
        vector_key = None if vector is None else vector.tobytes()
        return (
            text,
            vector_key,
            repr(self.k),
            repr(self.where),
            repr(self.where_document),
            self.mode_for(text),
            self.fusion,
            self.alpha,
            self.rrf_k,
            repr(self.boosts),
            repr(self.fetch_k),
            self.score_threshold,
            self.mmr_lambda,
            self.ids,
            repr(self.lexical_fetch_k),
            self.include_embeddings,
        )


def check_query_text(query: object) -> str | None:
    """A query text: a non-blank ``str``, or ``None`` for a search by vector alone.

    Raises:
        InvalidInputError: for a query that is not a str, or is empty or only whitespace.
    """
    if query is not None and not isinstance(query, str):
        msg = f"query must be a str, got {type(query).__name__}"
        raise InvalidInputError(msg)
    if query is not None and not query.strip():
        what = "empty" if not query else "only whitespace"
        msg = (
            f"the query is {what}; pass the text to search for, or query=None with vector= to search by a vector alone"
        )
        raise InvalidInputError(msg)
    return query
