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
from mira_vectorstores.engine.query.filters import parse_where, parse_where_document
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
    """Checked search options shared by one or more queries.

    Attributes:
        mode: the requested mode (``AUTO`` is decided per query: ``mode_for``).
        mmr_lambda: MMR's lambda, or ``None``.
        boosts: the boost rules in force.
        fixed: the other ``SearchPlan`` fields, the same for every query.
    """

    mode: SearchMode
    mmr_lambda: float | None
    boosts: tuple[BoostRule, ...]
    fixed: dict[str, Any]

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
        fixed = {
            "k": get("k", 4),
            "where": parse_where(get("where")),
            "where_document": parse_where_document(get("where_document")),
            "fusion": method,
            "alpha": defaults.alpha_for(method) if alpha is None else alpha,
            "rrf_k": defaults.rrf_k,
            "fetch_k": defaults.fetch_k if get("fetch_k") is None else get("fetch_k"),
            "score_threshold": get("score_threshold"),
            "ids": None if ids is None else tuple(ids),  # checked by the store (``check_id_list``)
            "lexical_fetch_k": get("lexical_fetch_k"),
            "include_embeddings": bool(get("include_embeddings", False)),
            "space": space,
        }
        return cls(
            mode=enum_value(SearchMode, defaults.mode if mode is None else mode, "mode"),
            mmr_lambda=get("mmr_lambda"),
            boosts=tuple(default_boosts) if boosts is None else parse_boosts(boosts),
            fixed=fixed,
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
            mode=self.mode_for(text),
            boosts=self.boosts,
            mmr_lambda=self.mmr_lambda,
            **self.fixed,
        )

    def cache_key(self, text: str | None, vector: Vector | None) -> Hashable | None:
        """The whole request of one query as a key (``None``: not cacheable, its answer depends on the clock).

        Filters and boosts are frozen dataclasses whose ``repr`` spells every field (so do the
        other options, with their types: ``k=1`` and ``k=True`` differ); a given vector is keyed
        by its bytes (after normalisation), so equal vectors share an answer.
        """
        if any(isinstance(rule, RecencyBoost) for rule in self.boosts):
            return None
        vector_key = None if vector is None else vector.tobytes()
        options = repr(sorted(self.fixed.items()))
        return (text, vector_key, self.mode_for(text), repr(self.boosts), self.mmr_lambda, options)


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
