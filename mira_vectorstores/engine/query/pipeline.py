"""The one query pipeline (DESIGN.md decision 5).

restrict -> dense and/or lexical candidates -> fuse -> boost -> threshold -> MMR -> top k ->
hydrate. It reads only the in-process mirrors: no Chroma call on the hot path.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from dataclasses import dataclass
from itertools import pairwise
from operator import itemgetter
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.errors import InvalidInputError
from mira_vectorstores.engine.query.boosting import BoostRule, apply_boost, boost_factor
from mira_vectorstores.engine.query.filters import All, Node, combine
from mira_vectorstores.engine.query.fusion import (
    absolute_fusion,
    background_cosine,
    maximal_marginal_relevance,
    reciprocal_rank_fusion,
    weighted_fusion,
)
from mira_vectorstores.engine.reserved import object_info, user_metadata
from mira_vectorstores.engine.types import (
    FusionMethod,
    Metadata,
    RecordId,
    ScoreBreakdown,
    SearchHit,
    SearchMode,
    Vector,
)

if TYPE_CHECKING:  # the pipeline reads the mirrors it is given; it never builds, loads or saves them
    from mira_vectorstores.engine.mirrors.mirror_set import Mirrors


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """A validated search request (built by ``HybridStore.search``)."""

    text: str | None
    vector: Vector | None
    k: int
    where: Node
    where_document: Node
    mode: SearchMode
    fusion: FusionMethod
    alpha: float
    rrf_k: int
    boosts: tuple[BoostRule, ...]
    fetch_k: int | None
    score_threshold: float | None
    mmr_lambda: float | None
    #: Only these records are candidates (``None``: every record).
    ids: tuple[str, ...] | None = None
    #: Lexical candidates when they should differ from ``fetch_k`` (hybrid searches).
    lexical_fetch_k: int | None = None
    #: The collection's distance space, which ``ScoreBreakdown.distance`` is reported in.
    space: str = "ip"
    #: Return each hit's unit vector.
    include_embeddings: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k <= 0:
            msg = f"k must be an int >= 1 (the number of hits), got {self.k!r}"
            raise InvalidInputError(msg)
        # Below k is accepted: each side takes at least k anyway (``depth``, ``lexical_depth``).
        for name, value in (("fetch_k", self.fetch_k), ("lexical_fetch_k", self.lexical_fetch_k)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                msg = f"{name} must be an int >= 1 (candidates per side; k={self.k} are always taken), got {value!r}"
                raise InvalidInputError(msg)
        if not 0.0 <= self.alpha <= 1.0:
            msg = f"alpha must be in [0, 1] (the weight of the dense side), got {self.alpha!r}"
            raise InvalidInputError(msg)
        if self.mmr_lambda is not None and not 0.0 <= self.mmr_lambda <= 1.0:
            msg = f"mmr_lambda must be in [0, 1], got {self.mmr_lambda!r}"
            raise InvalidInputError(msg)
        if self.score_threshold is not None and not math.isfinite(self.score_threshold):
            msg = f"score_threshold must be a finite number, got {self.score_threshold!r}"
            raise InvalidInputError(msg)
        if self.mode is SearchMode.LEXICAL and not self.text:
            msg = "lexical search needs query text; pass query='...'"
            raise InvalidInputError(msg)
        if self.mode is SearchMode.HYBRID and not self.text:
            msg = "hybrid search needs query text (and a vector or an embedder); pass query='...'"
            raise InvalidInputError(msg)
        if self.mode in (SearchMode.DENSE, SearchMode.HYBRID) and self.vector is None:
            msg = f"{self.mode.value} search needs a query vector: pass vector= or give the store an embedder"
            raise InvalidInputError(msg)
        if self.mmr_lambda is not None and self.vector is None:
            msg = "MMR needs a query vector: pass vector= or give the store an embedder"
            raise InvalidInputError(msg)

    @property
    def depth(self) -> int:
        """Candidates taken from each side before fusion, boosts, threshold and MMR: at least
        ``k``, so that a hybrid search's union (and any single side) can fill ``k``.
        """
        if self.fetch_k is not None:
            return max(self.fetch_k, self.k)
        if self.mode is SearchMode.DENSE and not self.boosts and self.mmr_lambda is None:
            return self.k  # nothing can reorder the dense top k
        return max(10 * self.k, 200)  # SciFact: 200 per side beats 100 (0.735 vs 0.734), 400 adds nothing

    @property
    def query_vector(self) -> Vector:
        """The query vector of a dense, hybrid or MMR search (``__post_init__`` checked it is there)."""
        if self.vector is None:
            msg = f"a {self.mode.value} search without MMR has no query vector"
            raise InvalidInputError(msg)
        return self.vector

    @property
    def lexical_depth(self) -> int:
        """Candidates taken from the lexical side (``lexical_fetch_k``, else ``depth``; at least ``k``)."""
        return max(self.lexical_fetch_k, self.k) if self.lexical_fetch_k is not None else self.depth


def run(
    mirrors: Mirrors,
    plan: SearchPlan,
    *,
    now: float | None = None,
    dense_hits: tuple[NDArray[np.int64], NDArray[np.float32]] | None = None,
) -> list[SearchHit]:
    """Execute a search plan against the mirrors.

    ``dense_hits`` are the dense candidates (rows, cosines) when a batch of searches already
    found them in one FAISS call (``query/batch.py``); they must be what ``FaissMirror.search``
    would return for this plan.
    """
    records = mirrors.records
    filtered = combine(plan.where, plan.where_document)
    everything_alive = plan.ids is None and isinstance(filtered, All) and records.dead_count() == 0
    # Unfiltered with no dead rows: the (read-only) alive mask is the answer; no new array.
    allowed = records.alive if everything_alive else records.allowed(filtered)
    if plan.ids is not None:
        wanted = np.zeros(records.size, dtype=bool)
        wanted[[records.row_of[i] for i in plan.ids if i in records.row_of]] = True
        allowed = allowed & wanted
    depth = plan.depth

    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    bm25 = np.zeros(0, dtype=np.float32)
    if dense_hits is not None:
        dense = dict(zip(dense_hits[0].tolist(), dense_hits[1].tolist(), strict=True))
    elif plan.mode in (SearchMode.DENSE, SearchMode.HYBRID):
        rows, sims = mirrors.dense.search(
            plan.query_vector,
            depth,
            allowed,
            everything_alive=everything_alive,
            at_least=plan.k if plan.mode is SearchMode.HYBRID else None,  # the lexical side fills the rest
        )
        dense = dict(zip(rows.tolist(), sims.tolist(), strict=True))
    if plan.mode in (SearchMode.LEXICAL, SearchMode.HYBRID):
        mirrors.ensure_lexical()
        # Unmasked: it is read below only at allowed rows (the positives and the dense hits).
        bm25 = mirrors.lexical.scores(plan.text or "", records.size)
        positive = np.flatnonzero(bm25 > 0) if everything_alive else np.flatnonzero((bm25 > 0) & allowed)
        if len(positive) > plan.lexical_depth:
            positive = positive[np.argpartition(-bm25[positive], plan.lexical_depth - 1)[: plan.lexical_depth]]
        positive = positive[np.argsort(-bm25[positive], kind="stable")]
        lexical = dict(zip(positive.tolist(), bm25[positive].tolist(), strict=True))

    # Each mode ranks by one base score: fused (hybrid), cosine (dense) or BM25 (lexical).
    base: dict[int, float]
    if plan.mode is SearchMode.HYBRID:
        # Score the other side too, so fusion and the breakdown see both parts of every hit.
        only_lexical = np.array([r for r in lexical if r not in dense], dtype=np.int64)
        if len(only_lexical):
            dense_extra = mirrors.dense.vectors[only_lexical] @ plan.query_vector
            dense_all = {**dense, **dict(zip(only_lexical.tolist(), dense_extra.tolist(), strict=True))}
        else:
            dense_all = dense
        weights = (plan.alpha, 1.0 - plan.alpha)
        if plan.fusion is FusionMethod.RRF:
            base = reciprocal_rank_fusion([dense, lexical], k=plan.rrf_k, weights=[2 * w for w in weights])
        else:
            lexical_all = {r: float(bm25[r]) for r in dense_all} | lexical
            base = _score_fusion(mirrors, plan, dense_all, lexical_all)

        def parts(row: int) -> tuple[float | None, float | None, float | None]:
            # Every candidate is allowed, so its unmasked BM25 score is its lexical part.
            return dense_all.get(row), float(bm25[row]), base[row]

    elif plan.mode is SearchMode.DENSE:
        base = dense

        def parts(row: int) -> tuple[float | None, float | None, float | None]:
            return dense[row], None, None

    else:
        base = lexical

        def parts(row: int) -> tuple[float | None, float | None, float | None]:
            return None, lexical[row], None

    scored: list[tuple[float, int, float]] = []  # (final score, row, boost factor)
    moment = time.time() if now is None else now
    floor = _boost_floor(plan, fused=plan.mode is SearchMode.HYBRID, dense=plan.mode is SearchMode.DENSE)
    for row, value in base.items():
        factor = boost_factor(plan.boosts, records.metas[row], moment) if plan.boosts else 1.0
        score = float(value) if factor == 1.0 else apply_boost(float(value), factor, floor=floor)
        if plan.score_threshold is None or score >= plan.score_threshold:
            scored.append((score, row, factor))
    if plan.mmr_lambda is None and len(scored) > plan.k:
        # Only the k best can be returned: keep those (and every tie of the k-th) before the
        # sort by id, instead of sorting all fetch_k candidates of a hybrid search.
        kth = heapq.nlargest(plan.k, [item[0] for item in scored])[-1]
        scored = [item for item in scored if item[0] >= kth]
    # Ties break by id, so the order never depends on where a record sits in the mirrors
    # (ids are read only when there is a tie: each read decodes one from the mirror).
    scored.sort(key=itemgetter(0), reverse=True)
    if any(a[0] == b[0] for a, b in pairwise(scored)):
        scored.sort(key=lambda item: (-item[0], records.ids[item[1]]))

    if plan.mmr_lambda is not None and scored:
        candidates = mirrors.dense.vectors[[row for _, row, _ in scored]]
        picks = maximal_marginal_relevance(plan.query_vector, candidates, k=plan.k, lambda_mult=plan.mmr_lambda)
        scored = [scored[i] for i in picks]
    chosen = scored[: plan.k]
    chosen_rows = [row for _, row, _ in chosen]
    vectors = mirrors.dense.vectors[chosen_rows] if plan.vector is not None or plan.include_embeddings else None
    far = distances(plan.vector, vectors, plan.space) if plan.vector is not None and vectors is not None else None
    hits = []
    for i, (score, row, factor) in enumerate(chosen):
        breakdown = ScoreBreakdown(
            *parts(row),
            boost=factor,
            distance=None if far is None else float(far[i]),
            fusion=plan.fusion if plan.mode is SearchMode.HYBRID else None,
        )
        hit = hydrate(mirrors, row, score, breakdown)
        hits.append(
            hit if vectors is None or not plan.include_embeddings else dataclasses.replace(hit, embedding=vectors[i])
        )
    return hits


def distances(query: Vector, vectors: Vector, space: str) -> NDArray[np.float64]:
    """The distance Chroma would report from a unit (or all-zero) query to each row of ``vectors``.

    ``1 - cosine`` in ``ip`` and ``cosine`` spaces, ``2 - 2 * cosine`` (the squared Euclidean
    distance) in ``l2``, computed from the difference of the vectors so that a record's own
    vector is at exactly 0.0. An all-zero vector is at the distance of an orthogonal one. One
    array operation for all the hits of a search.
    """
    diff = vectors.astype(np.float64) - query.astype(np.float64)
    half: NDArray[np.float64] = np.einsum("ij,ij->i", diff, diff) / 2.0
    if not query.any():
        half[:] = 1.0
    half[~vectors.any(axis=1)] = 1.0
    return 2.0 * half if space == "l2" else half


def _score_fusion(
    mirrors: Mirrors, plan: SearchPlan, dense: dict[int, float], lexical: dict[int, float]
) -> dict[int, float]:
    """Fuse by scores: absolute scales (the default), or normalised per query (the others)."""
    if plan.fusion is FusionMethod.ABSOLUTE:
        weight = mirrors.lexical.query_weight(plan.text or "")
        background = background_cosine(_sample_vectors(mirrors) @ plan.query_vector, BACKGROUND_PERCENTILE)
        return absolute_fusion(dense, lexical, alpha=plan.alpha, query_weight=weight, background=background)
    weights = (plan.alpha, 1.0 - plan.alpha)
    return weighted_fusion([dense, lexical], weights=weights, method=plan.fusion, minimums=(-1.0, 0.0))


#: Records sampled for a query's background cosine (``background_cosine``), for one (1,024 x d) product.
BACKGROUND_SAMPLE = 1024
#: The percentile of those cosines taken as the background: the highest that kept the rare-term
#: record first in every case measured (20,000 random 384-d records; a query of the rare word
#: plus 0-3 words each in ~80 records; 5 random query vectors: 20 of 20 at the 99th percentile
#: with alpha 0.3-0.45; 15-16 of 20 at the median). Lower percentiles score a little better on
#: SciFact (nDCG@10 train / test at alpha 0.35: 50th 0.741 / 0.733, 99th 0.735 / 0.726) because
#: more candidates keep a dense part, but a few dense-noise records then outrank the rare word.
BACKGROUND_PERCENTILE = 99.0


def _sample_vectors(mirrors: Mirrors) -> Vector:
    """The vectors of about ``BACKGROUND_SAMPLE`` live records at a fixed stride (no randomness:
    the same store gives the same scores). Unfiltered: the background is the store's. Kept by
    the mirrors until they change (a copy of 1,024 rows is 1.5 MB at 384-d: not one per search).
    """
    return mirrors.stride_sample(BACKGROUND_SAMPLE)


def _boost_floor(plan: SearchPlan, *, fused: bool, dense: bool) -> float:
    """The lowest value of the score scale a boost multiplies the height above.

    Cosine spans [-1, 1], so its floor is -1. Absolute and TM2C2 fusion, BM25 and RRF scores are
    0 only without evidence: floor 0, so a factor scales the score itself (x1.5 lifts a fused
    0.41 to 0.615; measured from -1 it would pass a fused 1.0). Weighted / DBSF fusion gives
    [0, 1] where 0 marks the weakest candidate, not an irrelevant one: it is measured from -1
    too, so every candidate can be lifted.
    """
    if fused:
        return -1.0 if plan.fusion in (FusionMethod.WEIGHTED, FusionMethod.DBSF) else 0.0
    return -1.0 if dense else 0.0


def hydrate(mirrors: Mirrors, row: int, score: float, scores: ScoreBreakdown) -> SearchHit:
    """Turn a mirror row into a hit."""
    records = mirrors.records
    meta = records.metas[row]
    return SearchHit(
        id=RecordId(records.ids[row] or ""),
        document=records.docs[row],
        metadata=cast(Metadata, user_metadata(meta)),
        score=score,
        scores=scores,
        object=object_info(meta),
    )
