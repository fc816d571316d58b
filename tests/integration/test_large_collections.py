"""100,000 records: exact filtered top-k for every index kind, paged reads past Chroma's limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fakes import unit_vectors

from mira_vectorstores import FaissConfig, HybridStore, IndexKind, StoreConfig

pytestmark = pytest.mark.integration
N, DIM = 100_000, 32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, list[dict]]:
    return unit_vectors(N, DIM, seed=11), [{"bucket": i % 100, "tenth": i % 10} for i in range(N)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, data: tuple[np.ndarray, list[dict]]) -> Path:
    """One persistent Chroma collection of 100k records, written once for the module."""
    path = tmp_path_factory.mktemp("large")
    vectors, metas = data
    store = HybridStore.persistent(path, "large", embedder=None)
    store.add(ids=[f"r{i}" for i in range(N)], vectors=vectors, metadatas=metas)
    assert store._replica.storage.count() == N
    store.close()
    return path


def _open(path: Path, kind: str) -> HybridStore:
    config = StoreConfig(faiss=FaissConfig(index_kind=kind, ivf_nlist=256, ivf_nprobe=64))
    return HybridStore.persistent(path, "large", embedder=None, config=config)


@pytest.fixture(params=["flat", "hnsw", "ivf"])
def store(request: pytest.FixtureRequest, built: Path) -> Iterator[HybridStore]:
    s = _open(built, request.param)
    yield s
    s.close()


def _truth(vectors: np.ndarray, allowed: np.ndarray, query: np.ndarray, k: int = 10) -> list[str]:
    sims = vectors[allowed] @ query
    return [f"r{i}" for i in allowed[np.argsort(-sims, kind="stable")[:k]]]


@pytest.mark.parametrize(("where", "modulus"), [({"bucket": 7}, 100), ({"tenth": 3}, 10)])
def test_filtered_top10_is_exact_for_every_index_kind(
    store: HybridStore, data: tuple[np.ndarray, list[dict]], where: dict, modulus: int
) -> None:
    vectors, _ = data
    remainder = next(iter(where.values()))
    allowed = np.arange(remainder, N, modulus)
    for seed in range(5):
        query = unit_vectors(1, DIM, seed=100 + seed)[0]
        hits = store.search(vector=query, k=10, where=where)
        assert [h.id for h in hits] == _truth(vectors, allowed, query)


def test_unfiltered_recall_of_the_index(store: HybridStore, data: tuple[np.ndarray, list[dict]]) -> None:
    vectors, _ = data
    everything = np.arange(N)
    found = 0
    for seed in range(20):
        query = unit_vectors(1, DIM, seed=200 + seed)[0]
        found += len({h.id for h in store.search(vector=query, k=10)} & set(_truth(vectors, everything, query)))
    recall = found / 200
    assert store._replica.mirrors.dense.kind.value == store.config.faiss.index_kind.value
    assert recall >= (1.0 if store.config.faiss.index_kind is IndexKind.FLAT else 0.9), recall


def test_reads_and_rebuilds_page_past_chromas_row_limit(built: Path) -> None:
    mirror_dir = built / "mira" / "large"
    for snap in mirror_dir.glob("snap-*"):
        for f in snap.rglob("*"):
            if f.is_file():
                f.unlink()  # every mirror file gone: the store must rebuild from 100k Chroma rows
    store = _open(built, "flat")
    assert store.count() == N
    assert len(store.get(where={"tenth": {"$lt": 4}})) == 40_000
    store.close()


def test_delete_and_get_of_40k_rows(tmp_path: Path) -> None:
    n = 45_000
    store = HybridStore.persistent(tmp_path, "many", embedder=None)
    store.add(
        ids=[f"m{i}" for i in range(n)],
        vectors=unit_vectors(n, 8, seed=3),
        metadatas=[{"keep": i < 5_000} for i in range(n)],
    )
    assert store.delete(where={"keep": False}) == 40_000
    assert store._replica.storage.count() == 5_000 == store.count()
    store.close()
    reopened = HybridStore.persistent(tmp_path, "many", embedder=None)
    assert reopened.count() == 5_000
    assert reopened.get(["m40000"]) == []
    reopened.close()
