"""The journal, the open marker, the probe on open and repair on open, through ``HybridStore``."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores import HybridStore, StoreConfig, StoreCorruptedError
from mira_vectorstores.engine.storage import journal

NAME = "crashy"
DIM = 8

# Writes 3,000 records (half before a flush, half after: Chroma persists its HNSW files every
# 1,000) and a delete, then ends as a killed process would: no close, no atexit.
KILLED = r"""
import os, sys
import numpy as np
from mira_vectorstores import HybridStore, StoreConfig
rng = np.random.default_rng(1)
store = HybridStore.persistent(sys.argv[1], "crashy", embedder=None, config=StoreConfig(checkpoint_interval=None))
for start in (0, 1500):
    ids = [f"r{i}" for i in range(start, start + 1500)]
    store.add(ids, ids=ids, vectors=rng.standard_normal((1500, 8)))
    if start == 0:
        store.flush()
store.delete(["r0", "r2999"])
os._exit(0)
"""


def written() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    vectors = np.concatenate([rng.standard_normal((1500, DIM)), rng.standard_normal((1500, DIM))]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return {f"r{i}": vectors[i] for i in range(3000) if i not in (0, 2999)}


def folder_of(path: Path) -> Path:
    return path / "mira" / NAME


def killed_writer(path: Path) -> None:
    subprocess.run([sys.executable, "-c", KILLED, str(path)], check=True)


def damage_vectors(path: Path) -> None:
    """Overwrite Chroma's HNSW data file with garbage: Chroma can no longer read the vectors."""
    files = list(path.glob("*/data_level0.bin"))
    assert files, "Chroma persisted no HNSW files"
    for file in files:
        file.write_bytes(np.random.default_rng(0).bytes(file.stat().st_size))


def test_every_write_is_journalled_until_the_mirrors_are_saved(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, NAME, embedder=None, config=StoreConfig(checkpoint_interval=None))
    try:
        store.add(["a", "b"], ids=["a", "b"], vectors=np.eye(2, DIM))
        store.update(["a"], metadatas=[{"k": 1}])
        store.delete(["b"])
        entries = list(journal.read(folder_of(tmp_path)))
        assert [(e.op, e.ids) for e in entries] == [("upsert", ["a", "b"]), ("update", ["a"]), ("delete", ["b"])]
        np.testing.assert_array_equal(entries[0].vectors, np.eye(2, DIM, dtype=np.float32))
        assert entries[1].metadatas[0]["k"] == 1
        store.flush()
        assert list(journal.read(folder_of(tmp_path))) == []
    finally:
        store.close()


def test_a_checkpoint_interval_saves_the_mirrors_while_writing(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, NAME, embedder=None, config=StoreConfig(checkpoint_interval=0.0))
    try:
        store.add(["a"], ids=["a"], vectors=np.eye(1, DIM))
        assert (folder_of(tmp_path) / "manifest.json").exists()
        assert list(journal.read(folder_of(tmp_path))) == []
    finally:
        store.close()


def test_two_stores_of_one_collection_keep_the_journal_until_the_last_closes(tmp_path: Path) -> None:
    config = StoreConfig(checkpoint_interval=None)
    first = HybridStore.persistent(tmp_path, NAME, embedder=None, config=config)
    second = HybridStore.persistent(tmp_path, NAME, embedder=None, config=config)
    second.add(["b"], ids=["b"], vectors=np.eye(1, DIM))
    first.add(["a"], ids=["a"], vectors=np.eye(1, DIM))
    first.flush()  # its snapshot may lack the other store's write: the journal keeps it
    assert {i for e in journal.read(folder_of(tmp_path)) for i in e.ids} == {"a", "b"}
    first.close()
    second.close()
    assert list(journal.read(folder_of(tmp_path))) == []


def test_the_open_marker_lives_while_the_store_is_open(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, NAME, embedder=None)
    assert (folder_of(tmp_path) / "open.json").exists()
    store.close()
    assert not (folder_of(tmp_path) / "open.json").exists()


def test_after_a_killed_writer_the_open_probes_chroma_and_finds_every_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    killed_writer(tmp_path)
    assert (folder_of(tmp_path) / "open.json").exists()
    with caplog.at_level(logging.INFO, logger="mira_vectorstores"):
        store = HybridStore.persistent(tmp_path, NAME, embedder=None)
    try:
        assert any("was not closed by its last process; Chroma reads it" in r.getMessage() for r in caplog.records)
        records = {r.id: r for r in store.get(include_embeddings=True)}
        expected = written()
        assert set(records) == set(expected)
        for record_id, vector in expected.items():
            np.testing.assert_allclose(records[record_id].embedding, vector, atol=1e-6)
    finally:
        store.close()


def test_a_damaged_collection_raises_when_repair_on_open_is_off(tmp_path: Path) -> None:
    killed_writer(tmp_path)
    damage_vectors(tmp_path)
    with pytest.raises(StoreCorruptedError, match=r"Chroma cannot read it now.*HybridStore\.repair") as raised:
        HybridStore.persistent(tmp_path, NAME, embedder=None, config=StoreConfig(repair_on_open=False))
    assert raised.value.name == NAME
    assert not list(folder_of(tmp_path).glob("damaged-*"))  # nothing was changed


def test_a_damaged_collection_is_repaired_on_open_from_the_journal_and_mirrors(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    killed_writer(tmp_path)
    damage_vectors(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mira_vectorstores"):
        store = HybridStore.persistent(tmp_path, NAME, embedder=None)
    try:
        repaired = [r.getMessage() for r in caplog.records if "repaired store" in r.getMessage()]
        assert len(repaired) == 1
        assert "2998 records" in repaired[0]
        records = {r.id: r for r in store.get(include_embeddings=True)}
        expected = written()
        assert set(records) == set(expected)
        for record_id, vector in expected.items():
            np.testing.assert_allclose(records[record_id].embedding, vector, atol=1e-6)
        assert [h.id for h in store.search(vector=expected["r7"], k=1, mode="dense")] == ["r7"]
    finally:
        store.close()
    (aside,) = folder_of(tmp_path).glob("damaged-*")
    assert (aside / "chroma.sqlite3").exists()
    assert (aside / "report.json").exists()
