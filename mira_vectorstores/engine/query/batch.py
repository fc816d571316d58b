"""Several searches at once: the dense candidates of every unfiltered one in one FAISS call.

A FAISS search of many queries costs little more than one: HNSW walks its graph for each query
in parallel (OpenMP), and an exact scan becomes one matrix product instead of one per query
(``benchmarks/batch.py`` measures it against a loop). Filtered searches keep their own plan
(an exact scan of a selective filter, or the index with a bitmap) and run one by one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.query import pipeline
from mira_vectorstores.engine.query.filters import All, combine
from mira_vectorstores.engine.types import SearchHit, SearchMode

if TYPE_CHECKING:
    from mira_vectorstores.engine.mirrors.mirror_set import Mirrors

DenseHits = tuple[NDArray[np.int64], NDArray[np.float32]]


def run_batch(
    mirrors: Mirrors, plans: Sequence[pipeline.SearchPlan], *, now: float | None = None
) -> list[list[SearchHit]]:
    """Execute search plans against the mirrors, in order; equal to ``[pipeline.run(p) for p in plans]``."""
    found = dense_in_one_call(mirrors, plans)
    return [pipeline.run(mirrors, plan, now=now, dense_hits=found.get(i)) for i, plan in enumerate(plans)]


def dense_in_one_call(mirrors: Mirrors, plans: Sequence[pipeline.SearchPlan]) -> dict[int, DenseHits]:
    """The dense candidates of every plan that searches all live records, by plan position.

    Plans are grouped by their candidate depth; a group of two or more is one FAISS call.
    """
    if mirrors.records.dead_count():
        return {}  # dead rows are masked per search (``FaissMirror.search``)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, plan in enumerate(plans):
        unfiltered = plan.ids is None and isinstance(combine(plan.where, plan.where_document), All)
        if unfiltered and plan.mode in (SearchMode.DENSE, SearchMode.HYBRID):
            groups[plan.depth].append(i)
    found: dict[int, DenseHits] = {}
    for depth, members in groups.items():
        if len(members) < 2:
            continue
        queries = np.stack([plans[i].query_vector for i in members])
        for i, hits in zip(members, mirrors.dense.search_many(queries, depth), strict=True):
            found[i] = hits
    return found
