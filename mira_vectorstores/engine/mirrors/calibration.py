"""Recall by target: measure an HNSW index against exact search and pick its ``efSearch``.

A fixed ``efSearch`` cannot hold a recall target across data sets (issue 14: efSearch 128
found 0.933 of the exact top 10 on 30,000 tightly clustered vectors, and 0.995 on the
benchmark's). So the dense mirror measures its own index: a seeded sample of its vectors,
each moved off its row in a random direction by its distance to its nearest neighbour (a
stored vector would find itself first and flatter the index; a fresh draw of the same data
sits about that far from its nearest row), is searched exactly (ground
truth) and through the index at growing ``efSearch`` values; the smallest value that reaches
the target wins. One-query latencies of that setting and of an exact scan are then compared
on the same sample, and where the scan is faster (a small index, or a beam so wide that it
costs more than the scan) unfiltered queries are answered by the scan.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.types import Vector

logger = logging.getLogger(__name__)
K = 10  # recall@10, the figure the benchmarks report
#: Sample size: 200 queries x 10 neighbours put the standard error of a measured 0.99 at
#: ~0.002. The exact ground truth (200 x rows x dimension) is the largest cost (see
#: ``benchmarks/results/recall.md`` for its share of the dense mirror's write time).
QUERIES = 200
#: ``efSearch`` candidates, tried from the smallest; each step is 1.5-2x the last, so the
#: ladder costs at most ~3x the winning step.
LADDER = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
#: One-query searches timed per side (ANN, exact scan), after one untimed run; the medians are
#: compared. Few: an exact scan of 100,000 rows takes 10-90 ms on the busy 2-core machine here.
TIMED = 7
SEED = 14
#: Sample rows are moved by their distance to this neighbour (see ``sample_queries``).
NEIGHBOUR = 3
FILE = "calibration.json"


@dataclass(frozen=True, slots=True)
class Calibration:
    """What a calibration chose and measured (persisted beside the index, shown by ``stats``)."""

    M: int  # FAISS's and the HNSW paper's name
    ef_construction: int
    ef_search: int
    target_recall: float
    #: Recall@10 on the sample of the search chosen: the index at ``ef_search``, or 1.0 for
    #: an exact scan.
    measured_recall: float
    ann_recall: float  # recall@10 of the index at ``ef_search`` on the sample
    calibrated_at_rows: int  # live rows when measured (``recalibrate_growth`` counts from here)
    exact_scan: bool
    #: Whether the index met the target at ``ef_search`` (see ``meets``): when not, a wider
    #: graph is tried at build time (up to ``dense.WIDEN_MAX_ROWS`` rows).
    ann_reached: bool
    ann_ms: float | None = None  # median one-query latency of the index at ``ef_search``
    exact_ms: float | None = None  # median one-query latency of an exact scan
    seconds: float = 0.0  # what the calibration cost

    def save(self, folder: Path) -> Path:
        """Write the calibration as JSON into ``folder``."""
        path = folder / FILE
        path.write_text(json.dumps(asdict(self), indent=1))
        return path

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        """The saved calibration, or ``None`` when there is none (an index saved before it existed)."""
        path = folder / FILE
        if not path.exists():
            return None
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            msg = f"{path} is not a calibration: {exc}"
            raise ValueError(msg) from exc


def calibrate(
    index: faiss.Index,
    vectors: Vector,
    *,
    target: float,
    fixed_ef: int | None,
    live_rows: int,
    may_scan: bool = True,
    previous_ef: int | None = None,
) -> Calibration:
    """Choose ``efSearch`` for ``index`` over ``vectors`` (its rows, unit length) to reach ``target``.

    Args:
        index: an HNSW index over ``vectors``.
        vectors: every row's unit vector, by row.
        target: the recall@10 to reach.
        fixed_ef: an ``efSearch`` the configuration fixes: only measured, never replaced by
            another, and never replaced by an exact scan.
        live_rows: live rows now (recorded, to tell when the index has grown).
        may_scan: whether an exact scan may replace the index (not when the configuration
            asked for HNSW by name).
        previous_ef: the ``efSearch`` the last calibration of this index chose: the ladder is
            walked from the step below it (see ``choose_ef``) instead of from its bottom.

    Dead rows (masked at query time, gone at the next compaction) are sampled and searched
    like live ones: the graph holds them, so they take part in its recall.
    """
    started = time.perf_counter()
    m, ef_construction = hnsw_parameters(index)
    queries = sample_queries(index, vectors)
    truth = exact_top_k(vectors, queries, K)

    def measure(ef: int) -> NDArray[np.float64]:
        return _recalls(index, queries, truth, ef)

    if fixed_ef is not None:
        ef, per_query = fixed_ef, measure(fixed_ef)
        reached = meets(per_query, target)
    else:
        ef, per_query, reached = choose_ef(measure, target, previous_ef)
    recall = float(per_query.mean())
    ann_ms, exact_ms = _latencies(index, vectors, queries, ef)
    # The scan wins when it is faster. When even the widest beam misses the target and the
    # graph is still faster, the graph stays at that beam (its recall is reported): at 1,000,000
    # rows a scan took 941 ms a query against 95 ms for efSearch 4,096 at a measured 0.988.
    exact = may_scan and fixed_ef is None and exact_ms <= ann_ms
    if not reached and not exact:
        logger.warning(
            "HNSW over %d rows reaches recall@10 %.4f at efSearch %d, below the target %.3f; an exact scan "
            "would take %.1f ms a query against %.1f ms",
            len(vectors),
            recall,
            ef,
            target,
            exact_ms,
            ann_ms,
        )
    calibration = Calibration(
        M=m,
        ef_construction=ef_construction,
        ef_search=ef,
        target_recall=target,
        measured_recall=1.0 if exact else recall,
        ann_recall=recall,
        calibrated_at_rows=live_rows,
        exact_scan=exact,
        ann_reached=reached,
        ann_ms=ann_ms,
        exact_ms=exact_ms,
        seconds=time.perf_counter() - started,
    )
    logger.info("calibrated HNSW over %d rows: %s", len(vectors), calibration)
    return calibration


def choose_ef(
    measure: Callable[[int], NDArray[np.float64]], target: float, previous_ef: int | None = None
) -> tuple[int, NDArray[np.float64], bool]:
    """The smallest ``LADDER`` step whose per-query recalls ``meets`` the target: ``(ef, recalls, reached)``.

    Recall grows with the beam, so the ladder is walked from one step below ``previous_ef`` (the
    last choice, when there is one: a grown index rarely needs a narrower beam, and a climb from
    16 measured all 17 steps at each recalibration where the target is out of reach, as from
    ~260,000 rows of the speed benchmark's data): down while the step still meets the target,
    else up until one does. When no step does, the widest is kept: the best
    recall on offer. (Taking instead the smallest step within one standard error of the widest
    one's recall was measured and not kept: at 1,000,000 rows it chose efSearch 1,024 from a
    sample of 808,228 rows, and fresh queries found 0.9695 of their top 10, against 0.976 at
    4,096; ``benchmarks/README.md``.)
    """

    @functools.cache  # each step measured once, however the walk turns
    def recalls(i: int) -> NDArray[np.float64]:
        return measure(LADDER[i])

    i = max(LADDER.index(previous_ef) - 1, 0) if previous_ef in LADDER else 0
    if meets(recalls(i), target):
        while i > 0 and meets(recalls(i - 1), target):
            i -= 1
        return LADDER[i], recalls(i), True
    while i + 1 < len(LADDER):
        i += 1
        if meets(recalls(i), target):
            return LADDER[i], recalls(i), True
    return LADDER[i], recalls(i), False


def meets(per_query: NDArray[np.float64], target: float) -> bool:
    """Whether the mean of per-query recalls is above ``target`` by two standard errors.

    The error is that of the per-query recalls (most queries find all 10, a few in a crowded
    cluster find 6): counting 2,000 (query, neighbour) slots as independent made it 3-4x too
    small. On the benchmark's data that margin chose efSearch 64 at 76,454 rows, whose sample
    recall was 1.0 there and 0.975 at 100,000, and fresh queries found 0.970 of their top 10
    (``benchmarks/results/speed-100k``). The margin also covers growth until the next calibration.
    """
    return float(per_query.mean()) - 2.0 * _standard_error(per_query) >= target


def _standard_error(per_query: NDArray[np.float64]) -> float:
    """Standard error of the mean of per-query recalls."""
    return float(per_query.std(ddof=1) / np.sqrt(len(per_query))) if len(per_query) > 1 else 0.0


def hnsw_parameters(index: faiss.Index) -> tuple[int, int]:
    """``(M, efConstruction)`` of an HNSW index."""
    down = faiss.downcast_index(index)
    if not isinstance(down, faiss.IndexHNSW):
        msg = f"expected an HNSW index, got {type(down).__name__}"
        raise TypeError(msg)
    # Level 1 and above hold M neighbours per node (level 0 holds 2 M); SWIG method, not in the stubs.
    return int(down.hnsw.nb_neighbors(1)), int(down.hnsw.efConstruction)  # type: ignore[attr-defined]


def sample_queries(index: faiss.Index, vectors: Vector) -> Vector:
    """Seeded sample rows, each moved by its distance to its ``NEIGHBOUR``-th nearest other row, renormalised.

    Why that distance: fresh draws of the data sit about that far from their rows. On 60,000
    tightly clustered rows (``benchmarks/recall.py``, built in 5,461-row batches), fresh queries
    found 0.975 of their top 10 at efSearch 512; queries moved by the 1st neighbour's distance
    0.986 (optimistic), by the 3rd's 0.984, by the 10th's 0.979; at efSearch 128: 0.916 against
    0.944 / 0.934 / 0.886. On the benchmark's 100,000 rows at efSearch 64: fresh 0.982, 1st
    0.966, 3rd 0.966, 10th 0.956 (all conservative there).
    """
    rng = np.random.default_rng(SEED)
    n = len(vectors)
    rows = np.sort(rng.choice(n, size=min(QUERIES, n), replace=False))
    picked = np.ascontiguousarray(vectors[rows], dtype=np.float32)
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # in faiss, not in its stubs
    params.efSearch = 4 * K  # a scale for the noise, not a result: an approximate neighbour will do
    sims, _ = index.search(picked, NEIGHBOUR + 1, params=params)  # the row itself, then its neighbours
    radius = np.sqrt(np.clip(2.0 - 2.0 * sims[:, NEIGHBOUR:], 0.0, 4.0))  # unit vectors: |a-b|^2 = 2 - 2 a.b
    noise = rng.standard_normal(picked.shape).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    moved = picked + radius.astype(np.float32) * noise
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    return np.ascontiguousarray(moved, dtype=np.float32)


def exact_top_k(vectors: Vector, queries: Vector, k: int, *, chunk: int = 4_096) -> NDArray[np.int64]:
    """Exact top ``k`` rows by inner product, per query, in row chunks.

    Only the best ``k`` of each chunk are kept beside the best so far, so memory stays a few MB
    at any size (65,536-row chunks held ~0.5 GB of temporaries at each calibration: at 100,000
    records, 2.2 KB per record of the ingest's peak RSS, ``benchmarks/memory.py``).
    """
    best_sims = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(vectors), chunk):
        sims = queries @ np.asarray(vectors[start : start + chunk]).T
        if sims.shape[1] > k:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            sims = np.take_along_axis(sims, top, axis=1)
            rows = top.astype(np.int64) + start
        else:
            rows = np.broadcast_to(np.arange(start, start + sims.shape[1], dtype=np.int64), sims.shape)
        best_sims = np.concatenate([best_sims, sims], axis=1)
        best_rows = np.concatenate([best_rows, rows], axis=1)
        if best_sims.shape[1] > k:
            top = np.argpartition(-best_sims, k - 1, axis=1)[:, :k]
            best_sims = np.take_along_axis(best_sims, top, axis=1)
            best_rows = np.take_along_axis(best_rows, top, axis=1)
    return best_rows


def _recalls(index: faiss.Index, queries: Vector, truth: NDArray[np.int64], ef: int) -> NDArray[np.float64]:
    """Recall@10 of each query through the index at ``ef``."""
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = max(ef, K)
    _, labels = index.search(queries, K, params=params)
    found = [
        len(set(row.tolist()) & set(exact.tolist())) / exact.size for row, exact in zip(labels, truth, strict=True)
    ]
    return np.asarray(found, dtype=np.float64)


def _latencies(index: faiss.Index, vectors: Vector, queries: Vector, ef: int) -> tuple[float, float]:
    """Median one-query milliseconds of the index at ``ef`` and of an exact scan (as ``FaissMirror`` runs them).

    Each side is timed in its own block, after an untimed run: FAISS's OpenMP threads and
    NumPy's BLAS threads each spin a while after a call, and alternating the two doubled both
    medians here (0.32 and 0.35 ms against 0.13 and 0.16 ms on 5,000 rows).
    """
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = max(ef, K)

    kth = min(K, len(vectors)) - 1  # a graph of fewer than ``K`` rows returns them all

    def scan(query: Vector) -> None:
        np.argpartition(-(vectors @ query), kth)[:K]

    def ann(query: Vector) -> None:
        index.search(query.reshape(1, -1), K, params=params)

    exact_ms = _median_ms(scan, queries)
    return _median_ms(ann, queries), exact_ms


def _median_ms(run: Callable[[Vector], None], queries: Vector, *, warm_up: int = 1) -> float:
    for query in queries[:warm_up]:
        run(query)
    times = []
    for query in queries[warm_up : warm_up + TIMED]:
        started = time.perf_counter()
        run(query)
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1e3
