"""Tests of ``engine/faiss_mirror.py``: exact scans, and what save/load write and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores.engine.config import FaissConfig
from mira_vectorstores.engine.faiss_mirror import FaissMirror
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
