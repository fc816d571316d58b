"""Pure ranking maths: score fusion and maximal marginal relevance. No I/O, no mutation.

Candidates are keyed by an opaque hashable (the engine uses mirror rows); a ranking is a
mapping of key -> score, higher is better.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.types import FusionMethod

K = TypeVar("K", bound=Hashable)  #: a ranked key: a mirror row in the pipeline, anything hashable in tests


def reciprocal_rank_fusion(
    rankings: Sequence[Mapping[K, float]], *, k: int = 60, weights: Sequence[float] | None = None
) -> dict[K, float]:
    """Fuse rankings by ``sum(weight / (k + rank))`` (Cormack et al. 2009; ranks start at 1).

    Equal scores share a rank (1 + the number of strictly better keys), so the result does
    not depend on how ties happen to be ordered; ties in the fused score keep the order in
    which keys were first seen.

    Args:
        rankings: one mapping key -> score per ranking (ranked by score, descending).
        k: the RRF constant; a small k over-rewards the top ranks.
        weights: one weight per ranking (default 1 each).

    Returns:
        key -> fused score, ordered best first.
    """
    weights = _weights(rankings, weights)
    fused: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        rank, previous = 0, None
        for position, (key, score) in enumerate(_by_score(ranking.items()), start=1):
            if score != previous:
                rank, previous = position, score
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return _sorted(fused)


def weighted_fusion(
    rankings: Sequence[Mapping[K, float]],
    *,
    weights: Sequence[float] | None = None,
    method: FusionMethod = FusionMethod.WEIGHTED,
    minimums: Sequence[float] | None = None,
) -> dict[K, float]:
    """Fuse rankings by a weighted sum of normalised scores; a key missing from a ranking adds 0.

    Args:
        rankings: one mapping key -> score per ranking.
        weights: one weight per ranking (default 1 each).
        method: ``WEIGHTED`` normalises each ranking by min-max, ``DBSF`` by mean ± 3 std,
            ``TM2C2`` by its theoretical minimum and its maximum.
        minimums: ``TM2C2`` only: the lowest score each ranking's scorer can give (default 0).

    Returns:
        key -> fused score, ordered best first.
    """
    weights = _weights(rankings, weights)
    floors = _weights(rankings, minimums) if minimums is not None else [0.0] * len(rankings)
    fused: dict[K, float] = {}
    for ranking, weight, floor in zip(rankings, weights, floors, strict=True):
        if method is FusionMethod.TM2C2:
            normalised = normalise_theoretical_min(ranking, floor)
        else:
            normalised = normalise_dbsf(ranking) if method is FusionMethod.DBSF else normalise_min_max(ranking)
        for key, score in normalised.items():
            fused[key] = fused.get(key, 0.0) + weight * score
    return _sorted(fused)


def absolute_fusion(
    dense: Mapping[K, float],
    lexical: Mapping[K, float],
    *,
    alpha: float,
    query_weight: float,
    background: float = 0.0,
) -> dict[K, float]:
    """Fuse on scales fixed before the query's candidates are seen:
    ``alpha * above(cosine, background) + (1 - alpha) * bm25 / query_weight``.

    ``above(c, b) = max(0, (c - b) / (1 - b))`` is the share of the way from the query's
    background cosine (what unrelated records reach, ``background_cosine``) to 1. Neither side
    is rescaled by the best candidate, so a score means the same in every query: in [0, 1], 0
    when neither side has evidence, 1 only for the query's own vector in a document holding
    every query word without limit. A key missing from one side adds 0 for it.

    Args:
        dense: key -> cosine similarity.
        lexical: key -> BM25 score.
        alpha: weight of the dense side, in [0, 1].
        query_weight: the BM25 score no document reaches for this query (``LexicalIndex.query_weight``);
            0 when the query has no word (the lexical side then adds nothing).
        background: the query's background cosine, below 1 (0: the cosine as it is, clipped at 0).

    Returns:
        key -> fused score, ordered best first.

    Example:
        >>> absolute_fusion({"a": 0.6, "b": -0.2}, {"b": 5.0}, alpha=0.5, query_weight=10.0)
        {'a': 0.3, 'b': 0.25}
        >>> absolute_fusion({"a": 0.75}, {}, alpha=0.5, query_weight=10.0, background=0.5)
        {'a': 0.25}
    """
    span = 1.0 - background
    fused = {key: alpha * max(score - background, 0.0) / span for key, score in dense.items()}
    share = normalise_bm25(lexical, query_weight)
    for key, value in share.items():
        fused[key] = fused.get(key, 0.0) + (1.0 - alpha) * value
    return _sorted(fused)


def background_cosine(cosines: NDArray[np.floating], percentile: float = 99.0, *, least: int = 1000) -> float:
    """The cosine that unrelated records reach for a query: a high percentile of its cosines to
    a sample of the store (at least 0, below 1); 0 for a sample under ``least`` records.

    The best cosine among N unrelated records grows with N (about ``sqrt(2 ln N / d)`` for random
    d-dimensional vectors: 0.23 for 20,000 of 384 dimensions), so a raw cosine of 0.2 can be
    pure noise; measured from the background, noise scores about 0 and a lexical-only match is
    not outranked by it. A percentile, not the sample's maximum, so that the few relevant records
    a sample may hold do not raise it; none below ``least`` records, where the 99th percentile
    would be one of the few best records (and the noise of a few hundred records is small).

    Example:
        >>> round(background_cosine(np.linspace(-0.2, 0.3, 2001)), 3), background_cosine(np.zeros(999))
        (0.295, 0.0)
    """
    if len(cosines) < least:
        return 0.0
    level = float(np.percentile(cosines, percentile))
    return min(max(level, 0.0), 0.99)


def normalise_bm25(scores: Mapping[K, float], query_weight: float) -> dict[K, float]:
    """BM25 scores as shares of ``query_weight``, the score no document reaches: in [0, 1].

    Args:
        scores: key -> BM25 score (>= 0).
        query_weight: > 0 to scale; 0 (no indexed query word) makes every share 0.

    Example:
        >>> normalise_bm25({"a": 3.0, "b": 0.0}, 4.0)
        {'a': 0.75, 'b': 0.0}
    """
    if query_weight <= 0:
        return dict.fromkeys(scores, 0.0)
    return {key: min(1.0, max(0.0, s / query_weight)) for key, s in scores.items()}


def normalise_theoretical_min(scores: Mapping[K, float], minimum: float) -> dict[K, float]:
    """Scale scores by ``(s - minimum) / (max - minimum)`` (Bruch et al. 2023, "TM2C2").

    ``minimum`` is the lowest score the scorer can give (cosine: -1, BM25: 0), so the weakest
    candidate is not stretched down to 0 as min-max does; the best of the query is still 1.

    Example:
        >>> normalise_theoretical_min({"a": 0.5, "b": 0.0}, -1.0)
        {'a': 1.0, 'b': 0.6666666666666666}
    """
    if not scores:
        return {}
    span = max(scores.values()) - minimum
    return {key: (s - minimum) / span if span > 0 else 0.0 for key, s in scores.items()}


def normalise_min_max(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale scores to [0, 1]; all-equal scores become 1 when positive, 0 otherwise (a side
    where no candidate has evidence adds nothing).
    """
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    if span <= 0:
        return dict.fromkeys(scores, 1.0 if high > 0 else 0.0)
    return {key: (s - low) / span for key, s in scores.items()}


def normalise_dbsf(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale scores by ``mean ± 3 std`` into [0, 1] (distribution-based score fusion)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    mean, std = float(values.mean()), float(values.std())
    if std == 0:
        return dict.fromkeys(scores, 1.0)
    low, span = mean - 3 * std, 6 * std
    return {key: min(1.0, max(0.0, (s - low) / span)) for key, s in scores.items()}


def maximal_marginal_relevance(
    query: NDArray[np.float32], candidates: NDArray[np.float32], *, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Pick ``k`` candidate positions balancing relevance to the query and diversity.

    Each step takes ``argmax(lambda * sim(q, c) - (1 - lambda) * max sim(c, picked))``
    (Carbonell & Goldstein 1998) over unit vectors.

    Args:
        query: the unit query vector, shape ``(d,)``.
        candidates: unit candidate vectors, shape ``(n, d)``, in relevance order.
        k: how many to pick.
        lambda_mult: 1 is pure relevance, 0 is pure diversity.

    Returns:
        Positions into ``candidates``, in pick order.
    """
    n = len(candidates)
    if n == 0 or k <= 0:
        return []
    relevance = candidates @ query
    picked = [int(np.argmax(relevance))]
    closest = candidates @ candidates[picked[0]]
    while len(picked) < min(k, n):
        score = lambda_mult * relevance - (1.0 - lambda_mult) * closest
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        closest = np.maximum(closest, candidates @ candidates[best])
    return picked


def _weights(rankings: Sequence[Mapping[K, float]], weights: Sequence[float] | None) -> Sequence[float]:
    if weights is None:
        return [1.0] * len(rankings)
    if len(weights) != len(rankings):
        msg = f"got {len(weights)} weights for {len(rankings)} rankings; give one weight per ranking"
        raise ValueError(msg)
    return weights


def _by_score(items: Iterable[tuple[K, float]]) -> list[tuple[K, float]]:
    # Best first; a stable sort (``reverse`` keeps equal keys in their first-seen order).
    return sorted(items, key=itemgetter(1), reverse=True)


def _sorted(fused: dict[K, float]) -> dict[K, float]:
    return dict(_by_score(fused.items()))
