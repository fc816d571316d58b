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
) -> dict[K, float]:
    """Fuse rankings by a weighted sum of normalised scores; a key missing from a ranking adds 0.

    Args:
        rankings: one mapping key -> score per ranking.
        weights: one weight per ranking (default 1 each).
        method: ``WEIGHTED`` normalises each ranking by min-max, ``DBSF`` by mean ± 3 std.

    Returns:
        key -> fused score, ordered best first.
    """
    weights = _weights(rankings, weights)
    normalise = normalise_dbsf if method is FusionMethod.DBSF else normalise_min_max
    fused: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for key, score in normalise(ranking).items():
            fused[key] = fused.get(key, 0.0) + weight * score
    return _sorted(fused)


def normalise_min_max(scores: Mapping[K, float]) -> dict[K, float]:
    """Scale scores to [0, 1]; all-equal scores become 1."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {key: (s - low) / span if span > 0 else 1.0 for key, s in scores.items()}


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
