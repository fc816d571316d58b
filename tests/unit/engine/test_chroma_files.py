"""Tests of ``engine/repair/chroma_files.py``: a collection read from a real ``chroma.sqlite3``
without Chroma equals what Chroma returns; the write log's vectors are the newest written.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import chromadb
import numpy as np
import pytest

from mira_vectorstores.engine.errors import StorageError
from mira_vectorstores.engine.repair import chroma_files

DIM = 16
N = 300  # over sync_threshold: the first writes are persisted to the HNSW files and purged from the log
CONFIG = {"hnsw": {"space": "ip", "sync_threshold": 100, "batch_size": 100}}


@dataclass(frozen=True)
class Folder:
    path: Path
    expected: dict[str, tuple[str | None, dict[str, object]]]  # collection.get() before closing
    newest: dict[str, np.ndarray]  # the last vector written for each live record
    deleted: list[str]
    updated: list[str]


def _rows(collection: chromadb.Collection) -> dict[str, tuple[str | None, dict[str, object]]]:
    got = collection.get(include=["documents", "metadatas"])
    documents, metadatas = got["documents"], got["metadatas"]
    assert documents is not None
    assert metadatas is not None
    return {i: (d, dict(m or {})) for i, d, m in zip(got["ids"], documents, metadatas, strict=True)}


def _metadata(i: int) -> dict[str, object]:
    metadata: dict[str, object] = {"s": f"s{i}", "i": i - 100, "f": i / 7, "b": i % 2 == 0}
    if i % 10 == 0:
        metadata.update(tags=["a", f"t{i}"], nums=[i, 2, 3], reals=[0.5, i / 3], flags=[True, False])
    return metadata


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    path = tmp_path_factory.mktemp("chroma")
    rng = np.random.default_rng(11)
    ids = [f"rec-{i}" for i in range(N)]
    vectors = rng.standard_normal((N, DIM)).astype(np.float32)
    client = chromadb.PersistentClient(path=str(path))
    collection = client.create_collection(
        "docs", embedding_function=None, configuration=CONFIG, metadata={"owner": "me", "n": 3, "r": 0.5}
    )
    documents = [None if i % 3 == 0 else f"document {i}" for i in range(N)]
    collection.add(ids=ids, embeddings=vectors, documents=documents, metadatas=[_metadata(i) for i in range(N)])
    newest = {record_id: vectors[i] for i, record_id in enumerate(ids)}

    # Newer writes, fewer than sync_threshold: they stay in the log.
    deleted = ["rec-4", "rec-5", "rec-250"]
    collection.delete(ids=deleted)
    for record_id in deleted:
        del newest[record_id]
    moved = rng.standard_normal((2, DIM)).astype(np.float32)
    collection.update(
        ids=["rec-7", "rec-260"],
        embeddings=moved,
        documents=["seven, rewritten", "260, rewritten"],
        metadatas=[{"s": "changed", "i": None, "added": 1.25}, {"b": True}],
    )
    newest["rec-7"], newest["rec-260"] = moved[0], moved[1]
    collection.update(ids=["rec-8"], metadatas=[{"f": None, "flag": False}])  # metadata only: no new vector
    upserted = rng.standard_normal((2, DIM)).astype(np.float32)
    collection.upsert(
        ids=["rec-9", "fresh"],
        embeddings=upserted,
        documents=["nine, upserted", None],
        metadatas=[{"up": "yes"}, {"only": 0, "list": ["x", "y"]}],
    )
    newest["rec-9"], newest["fresh"] = upserted[0], upserted[1]
    readded = rng.standard_normal((1, DIM)).astype(np.float32)
    collection.add(ids=["rec-5"], embeddings=readded, metadatas=[{"again": True}])  # deleted, then added again
    newest["rec-5"] = readded[0]
    expected = _rows(collection)

    other = client.create_collection("other", embedding_function=None, configuration=CONFIG)
    other.add(ids=["rec-1", "o-2"], embeddings=np.ones((2, DIM), np.float32), documents=["other one", "other two"])
    client.close()
    return Folder(path, expected, newest, deleted=["rec-4", "rec-250"], updated=["rec-7", "rec-260", "rec-8", "rec-9"])


def test_documents_and_metadata_equal_what_chroma_returns(folder: Folder) -> None:
    found = chroma_files.read(folder.path / "chroma.sqlite3", "docs")
    assert found is not None
    assert found.malformed == []
    assert set(found.documents) == set(found.metadatas) == set(folder.expected)
    for record_id, (document, metadata) in folder.expected.items():
        assert found.documents[record_id] == document, record_id
        assert found.metadatas[record_id] == metadata, record_id
        for key, value in metadata.items():  # True is not 1, 1.0 is not 1
            assert type(found.metadatas[record_id][key]) is type(value), (record_id, key)


def test_the_fixture_covers_every_kind_of_value(folder: Folder) -> None:
    values = [v for _, metadata in folder.expected.values() for v in metadata.values()]
    assert {type(v) for v in values} == {str, int, float, bool, list}
    assert {type(x) for v in values if isinstance(v, list) for x in v} == {str, int, float, bool}
    assert any(document is None for document, _ in folder.expected.values())


def test_deleted_ids_are_absent_and_updates_show_their_new_values(folder: Folder) -> None:
    found = chroma_files.read(folder.path / "chroma.sqlite3", "docs")
    assert found is not None
    for record_id in folder.deleted:
        assert record_id not in found.documents
        assert record_id not in found.metadatas
        assert record_id not in found.log_vectors
    assert found.documents["rec-7"] == "seven, rewritten"
    assert found.metadatas["rec-7"] == {"s": "changed", "f": 7 / 7, "b": False, "added": 1.25}  # "i" removed
    assert found.metadatas["rec-8"] == {"s": "s8", "i": -92, "b": True, "flag": False}  # "f" removed
    assert found.documents["rec-8"] == "document 8"
    assert found.documents["rec-9"] == "nine, upserted"
    assert found.metadatas["rec-9"]["up"] == "yes"
    assert found.metadatas["rec-9"]["s"] == "s9"  # an upsert of an existing record merges
    assert found.documents["fresh"] is None
    assert found.metadatas["fresh"] == {"only": 0, "list": ["x", "y"]}
    assert found.metadatas["rec-5"] == {"again": True}  # deleted, then added again: only the new write
    assert found.documents["rec-5"] is None


def test_log_vectors_are_the_newest_written_vectors(folder: Folder) -> None:
    found = chroma_files.read(folder.path / "chroma.sqlite3", "docs")
    assert found is not None
    # Every write after the last HNSW persist is in the log, with its vector.
    assert {"rec-7", "rec-260", "rec-9", "fresh", "rec-5"} <= set(found.log_vectors)
    assert len(found.log_vectors) < len(folder.expected)  # the older writes were purged from the log
    for record_id, vector in found.log_vectors.items():
        assert vector.dtype == np.float32
        assert np.array_equal(vector.view(np.uint32), folder.newest[record_id].view(np.uint32)), record_id


def test_collection_facts(folder: Folder) -> None:
    found = chroma_files.read(folder.path / "chroma.sqlite3", "docs")
    assert found is not None
    assert found.dimension == DIM
    assert found.collection_metadata == {"owner": "me", "n": 3, "r": 0.5}
    assert found.hnsw is not None
    assert found.hnsw["space"] == "ip"
    assert found.hnsw["sync_threshold"] == 100
    assert found.hnsw["batch_size"] == 100
    assert "num_threads" not in found.hnsw
    assert set(found.hnsw) <= {*chroma_files.HNSW_KEYS, "space"}
    (segment,) = found.vector_segments
    assert (folder.path / segment / "data_level0.bin").is_file()


def test_collections_are_read_apart(folder: Folder) -> None:
    docs = chroma_files.read(folder.path / "chroma.sqlite3", "docs")
    other = chroma_files.read(folder.path / "chroma.sqlite3", "other")
    assert docs is not None
    assert other is not None
    assert other.collection_id != docs.collection_id
    assert other.documents == {"rec-1": "other one", "o-2": "other two"}
    assert set(other.log_vectors) == {"rec-1", "o-2"}
    assert np.array_equal(other.log_vectors["rec-1"], np.ones(DIM, np.float32))
    assert "o-2" not in docs.documents
    assert docs.documents["rec-1"] == "document 1"
    assert other.hnsw is not None
    assert other.hnsw["space"] == "ip"


def test_a_missing_collection_is_none(folder: Folder) -> None:
    assert chroma_files.read(folder.path / "chroma.sqlite3", "nope") is None


def test_reading_does_not_change_the_database(folder: Folder, tmp_path: Path) -> None:
    copy = tmp_path / "chroma.sqlite3"
    shutil.copy(folder.path / "chroma.sqlite3", copy)
    before = copy.read_bytes()
    assert chroma_files.read(copy, "docs") is not None
    assert copy.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"garbage " * 4096], ids=["empty", "garbage"])
def test_a_file_that_is_not_chromas_database_raises_storage_error(tmp_path: Path, content: bytes) -> None:
    database = tmp_path / "chroma.sqlite3"
    database.write_bytes(content)
    with pytest.raises(StorageError, match="Chroma's database"):
        chroma_files.read(database, "docs")


def test_a_missing_database_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Chroma's database"):
        chroma_files.read(tmp_path / "chroma.sqlite3", "docs")
    assert not (tmp_path / "chroma.sqlite3").exists()


def test_a_malformed_log_row_is_reported_by_id(folder: Folder, tmp_path: Path) -> None:
    database = tmp_path / "chroma.sqlite3"
    shutil.copy(folder.path / "chroma.sqlite3", database)
    db = sqlite3.connect(database)
    db.execute("UPDATE embeddings_queue SET vector = ? WHERE id = 'rec-7'", (b"\x00" * (4 * DIM - 4),))
    db.execute(
        "UPDATE embeddings_queue SET vector = ? WHERE id = 'fresh'", (np.full(DIM, np.nan, np.float32).tobytes(),)
    )
    db.commit()
    db.close()
    found = chroma_files.read(database, "docs")
    assert found is not None
    assert set(found.malformed) == {"fresh", "rec-7"}
    assert "rec-7" not in found.log_vectors
    assert "fresh" not in found.log_vectors
    assert found.documents["rec-7"] == "seven, rewritten"  # documents and metadata are still read


# -- the write log's metadata, when the metadata segment had not applied it yet -------------------------------
def _writes_after_a_snapshot(path: Path) -> dict[str, tuple[str | None, dict[str, object]]]:
    """Writes into ``path``; ``path/before.sqlite3`` is the database before the last writes."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((12, DIM)).astype(np.float32)
    client = chromadb.PersistentClient(path=str(path))
    collection = client.create_collection("docs", embedding_function=None, configuration=CONFIG)
    collection.add(
        ids=[f"a{i}" for i in range(5)],
        embeddings=vectors[:5],
        documents=[f"doc{i}" for i in range(5)],
        metadatas=[{"i": i, "s": "old", "b": True} for i in range(5)],
    )
    client.close()
    shutil.copy(path / "chroma.sqlite3", path / "before.sqlite3")
    client = chromadb.PersistentClient(path=str(path))
    collection = client.get_collection("docs", embedding_function=None)
    collection.upsert(
        ids=["a0", "n1"], embeddings=vectors[5:7], metadatas=[{"s": "up", "f": 1.5}, {"k": 1}], documents=["u0", "n"]
    )
    collection.update(ids=["a1"], metadatas=[{"i": None, "s": "changed"}])
    collection.update(ids=["a2"], embeddings=vectors[7:8], documents=["doc2b"])
    collection.delete(ids=["a3"])
    collection.add(ids=["a4"], embeddings=vectors[8:9], metadatas=[{"ignored": True}], documents=["ignored"])
    collection.add(ids=["n2"], embeddings=vectors[9:10], metadatas=[{"x": False, "l": [1, 2]}])
    collection.update(ids=["ghost"], embeddings=vectors[10:11], metadatas=[{"g": 1}])  # no such record: ignored
    expected = _rows(collection)
    client.close()
    return expected


def _roll_metadata_segment_back(database: Path, before: Path) -> None:
    """Put the metadata segment of ``database`` back to its state in ``before`` (same folder, same ids),
    as if a writer had died after logging the newest writes and before applying them.
    """
    db = sqlite3.connect(database)
    try:
        db.execute("ATTACH DATABASE ? AS b", (str(before),))
        (segment,) = db.execute("SELECT id FROM segments WHERE scope = 'METADATA'").fetchone()
        for table in ("embedding_metadata_array", "embedding_metadata", "embeddings"):
            db.execute(f"DELETE FROM main.{table}")
        for table in ("embeddings", "embedding_metadata", "embedding_metadata_array"):
            db.execute(f"INSERT INTO main.{table} SELECT * FROM b.{table}")
        db.execute(
            "UPDATE main.max_seq_id SET seq_id = (SELECT seq_id FROM b.max_seq_id WHERE segment_id = ?) "
            "WHERE segment_id = ?",
            (segment, segment),
        )
        db.commit()
    finally:
        db.close()


def test_log_writes_the_metadata_segment_had_not_applied_are_replayed(tmp_path: Path) -> None:
    expected = _writes_after_a_snapshot(tmp_path)
    database = tmp_path / "chroma.sqlite3"
    _roll_metadata_segment_back(database, tmp_path / "before.sqlite3")
    rolled_back = sqlite3.connect(database)
    assert rolled_back.execute("SELECT COUNT(*) FROM embeddings WHERE embedding_id = 'n1'").fetchone() == (0,)
    rolled_back.close()

    found = chroma_files.read(database, "docs")

    assert found is not None
    assert found.malformed == []
    assert {i: (found.documents[i], found.metadatas[i]) for i in found.metadatas} == expected
    assert "ghost" not in found.metadatas
    assert found.metadatas["a4"] == {"i": 4, "s": "old", "b": True}  # Chroma ignored the add of an existing id


def test_an_ignored_add_of_an_existing_id_does_not_replace_its_log_vector(tmp_path: Path) -> None:
    first, second = np.full((1, DIM), 1.0, np.float32), np.full((1, DIM), 2.0, np.float32)
    client = chromadb.PersistentClient(path=str(tmp_path))
    collection = client.create_collection("docs", embedding_function=None, configuration=CONFIG)
    collection.add(ids=["x"], embeddings=first, documents=["one"], metadatas=[{"v": 1}])
    collection.add(ids=["x"], embeddings=second, documents=["two"], metadatas=[{"v": 2}])
    held = collection.get(ids=["x"], include=["embeddings", "documents"])
    client.close()
    assert held["documents"] == ["one"]
    assert held["embeddings"] is not None
    assert np.array_equal(np.asarray(held["embeddings"][0], np.float32), first[0])  # Chroma kept the first add

    found = chroma_files.read(tmp_path / "chroma.sqlite3", "docs")

    assert found is not None
    assert found.documents["x"] == "one"
    assert np.array_equal(found.log_vectors["x"], first[0])
