"""Tests of ``engine/mirrors/dense.py``: exact scans, and what save/load write and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores.engine.config import FaissConfig
from mira_vectorstores.engine.mirrors.dense import FaissMirror
from mira_vectorstores.engine.types import IndexKind

DIM = 16


def _unit(n: int, seed: int = 3) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _mirror(kind: str, vectors: np.ndarray) -> FaissMirror:
    mirror = FaissMirror(DIM, FaissConfig(index_kind=kind, hnsw_threshold=10))
    mirror.append(vectors[:50], 50)
    mirror.append(vectors[50:], len(vectors))
    return mirror


def test_flat_search_is_the_exact_top_k_without_a_faiss_index() -> None:
    vectors = _unit(300)
    mirror = _mirror("flat", vectors)
    assert mirror.kind is IndexKind.FLAT
    assert mirror._index is None  # the vectors are the index: no second copy
    query = vectors[7]
    rows, sims = mirror.search(query, 5, np.ones(300, dtype=bool), everything_alive=True)
    expected = np.argsort(-(vectors @ query), kind="stable")[:5]
    assert rows.tolist() == expected.tolist()
    assert np.allclose(sims, (vectors @ query)[expected])


def test_an_hnsw_snapshot_holds_no_separate_vectors_and_loads_them_bit_exact(tmp_path: Path) -> None:
    vectors = _unit(200)
    mirror = _mirror("hnsw", vectors)
    assert mirror.kind is IndexKind.HNSW
    files = mirror.save(tmp_path)
    assert [f.name for f in files] == ["index-hnsw.faiss"]
    loaded = FaissMirror(DIM, FaissConfig(index_kind="hnsw", hnsw_threshold=10))
    loaded.load(tmp_path, 200)
    assert loaded.kind is IndexKind.HNSW
    assert np.array_equal(loaded.vectors, vectors)
    query = vectors[11]
    alive = np.ones(200, dtype=bool)
    assert (
        loaded.search(query, 3, alive, everything_alive=True)[0].tolist()
        == mirror.search(query, 3, alive, everything_alive=True)[0].tolist()
    )


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_an_hnsw_snapshot_reopens_as_another_index_kind(tmp_path: Path, kind: str) -> None:
    vectors = _unit(200)
    _mirror("hnsw", vectors).save(tmp_path)
    loaded = FaissMirror(DIM, FaissConfig(index_kind=kind, ivf_nlist=4))
    loaded.load(tmp_path, 200)
    assert np.array_equal(loaded.vectors, vectors)
    assert loaded.kind.value == kind


def test_flat_and_ivf_snapshots_keep_their_vectors_file(tmp_path: Path) -> None:
    vectors = _unit(200)
    assert [f.name for f in _mirror("flat", vectors).save(tmp_path / "flat")] == ["vectors.npy"]
    ivf = FaissMirror(DIM, FaissConfig(index_kind="ivf", ivf_nlist=4))
    ivf.append(vectors, 200)
    assert [f.name for f in ivf.save(tmp_path / "ivf")] == ["vectors.npy", "index-ivf.faiss"]


def test_an_hnsw_snapshot_is_memory_mapped_and_its_vectors_are_the_index_storage(tmp_path: Path) -> None:
    vectors = _unit(200)
    _mirror("hnsw", vectors).save(tmp_path)
    loaded = FaissMirror(DIM, FaissConfig(index_kind="hnsw", hnsw_threshold=10))
    loaded.load(tmp_path, 200)
    assert loaded._mapped is not None
    assert not loaded.vectors.flags.owndata
    assert not loaded.vectors.flags.writeable
    assert np.array_equal(loaded.vectors, vectors)


def test_a_mapped_hnsw_mirror_can_grow_after_loading(tmp_path: Path) -> None:
    vectors = _unit(260)
    _mirror("hnsw", vectors[:200]).save(tmp_path)
    loaded = FaissMirror(DIM, FaissConfig(index_kind="hnsw", hnsw_threshold=10))
    loaded.load(tmp_path, 200)
    loaded.append(vectors[200:], 260)  # FAISS cannot grow a mapped index: this must copy it first
    assert loaded._mapped is None
    assert loaded.size == 260
    assert np.array_equal(loaded.vectors, vectors)
    alive = np.ones(260, dtype=bool)
    for q in (5, 230, 259):
        assert loaded.search(vectors[q], 1, alive, everything_alive=True)[0].tolist() == [q]


def test_an_hnsw_mirror_holds_its_vectors_once_in_the_index_storage() -> None:
    vectors = _unit(260)
    mirror = FaissMirror(DIM, FaissConfig(hnsw_threshold=100))  # auto: flat, then HNSW from 100 rows
    mirror.append(vectors[:60], 60)
    assert mirror.kind is IndexKind.FLAT
    assert np.array_equal(mirror.vectors, vectors[:60])
    mirror.append(vectors[60:200], 200)
    assert mirror.kind is IndexKind.HNSW
    assert len(mirror._vectors) == 0  # no copy beside the index
    assert np.array_equal(mirror.vectors, vectors[:200])
    assert not mirror.vectors.flags.writeable
    mirror.append(vectors[200:], 260)  # the storage may move: the view is made again
    assert np.array_equal(mirror.vectors, vectors)
    alive = np.ones(260, dtype=bool)
    exact_rows = mirror.search(vectors[3], 4, alive & (np.arange(260) % 2 == 1), everything_alive=False)[0]
    expected = np.flatnonzero(np.arange(260) % 2 == 1)[np.argsort(-(vectors[1::2] @ vectors[3]), kind="stable")[:4]]
    assert exact_rows.tolist() == expected.tolist()


def test_an_hnsw_mirror_rebuilt_smaller_falls_back_to_flat_with_its_own_vectors() -> None:
    vectors = _unit(200)
    mirror = FaissMirror(DIM, FaissConfig(hnsw_threshold=100))
    mirror.append(vectors, 200)
    assert mirror.kind is IndexKind.HNSW
    mirror.rebuild(mirror.vectors[:50].copy(), 50)  # e.g. a compaction after deletes
    assert mirror.kind is IndexKind.FLAT
    assert mirror._index is None
    assert np.array_equal(mirror.vectors, vectors[:50])


def test_a_filtered_hnsw_search_widens_its_beam_by_the_allowed_fraction() -> None:
    from mira_vectorstores.engine.mirrors.dense import FILTERED_EF_SEARCH_CAP

    mirror = FaissMirror(DIM, FaissConfig(index_kind="hnsw", hnsw_ef_search=64))
    mirror.append(_unit(100), 100)
    assert mirror._params(10).efSearch == 64
    assert mirror._params(10, allowed_fraction=0.1).efSearch == 640
    assert mirror._params(10, allowed_fraction=0.001).efSearch == FILTERED_EF_SEARCH_CAP
    assert mirror._params(100, allowed_fraction=1.0).efSearch == 100  # never below k


def test_a_filtered_search_through_hnsw_finds_the_exact_allowed_top_k() -> None:
    vectors = _unit(3000, seed=5)
    # Force every filtered search through the graph (no exact subset scan).
    mirror = FaissMirror(DIM, FaissConfig(index_kind="hnsw", exact_scan_max=0, exact_scan_fraction=0.0))
    mirror.append(vectors, 3000)
    allowed = np.random.default_rng(1).random(3000) < 0.1
    rows = np.flatnonzero(allowed)
    found = 0
    for q in range(20):
        query = _unit(1, seed=100 + q)[0]
        got = mirror.search(query, 10, allowed, everything_alive=False)[0]
        assert allowed[got].all()
        expected = rows[np.argsort(-(vectors[rows] @ query), kind="stable")[:10]]
        found += len(set(got.tolist()) & set(expected.tolist()))
    assert found / 200 >= 0.98


def test_a_candidate_list_short_of_k_is_kept_when_it_holds_at_least_the_final_k(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = _unit(400)
    mirror = FaissMirror(DIM, FaissConfig(index_kind="hnsw", exact_scan_max=0, exact_scan_fraction=0.0))
    mirror.append(vectors, 400)
    allowed = np.arange(400) % 2 == 0
    short = (np.arange(0, 100, 2, dtype=np.int64), np.linspace(0.9, 0.1, 50).astype(np.float32))
    monkeypatch.setattr(
        mirror, "_index_search", lambda query, k, allowed, n_allowed: short
    )  # the graph found 50 of 200
    exact_calls = []
    real_exact = mirror.exact
    monkeypatch.setattr(mirror, "exact", lambda *a: exact_calls.append(1) or real_exact(*a))
    rows, _ = mirror.search(vectors[0], 200, allowed, everything_alive=False, at_least=10)
    assert rows.tolist() == short[0].tolist()
    assert exact_calls == []
    rows, _ = mirror.search(vectors[0], 200, allowed, everything_alive=False)
    assert len(rows) == 200
    assert exact_calls == [1]
    rows, _ = mirror.search(vectors[0], 200, allowed, everything_alive=False, at_least=60)
    assert len(rows) == 200
    assert exact_calls == [1, 1]
