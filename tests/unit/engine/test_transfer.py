"""Export / import, backup / restore, doctor, stats and collections through the public API."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import chromadb
import numpy as np
import pyarrow.parquet as pq
import pytest

from mira_vectorstores import (
    ConfigError,
    EmbeddingMismatchError,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    StorageError,
)

QUERIES = ["cats at night", "quiet birds", "raw bytes blob", "numbers"]


def _fill(store: HybridStore) -> None:
    store.add(
        ["cats purr loudly", "dogs bark at night", "birds sing quietly", "fish swim in numbers"],
        ids=["a", "b", "c", "d"],
        metadatas=[
            {"when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "n": 1},
            {"day": date(2020, 1, 1), "tags": ["x", "y"]},
            {"pet": True, "score": 0.5},
            None,
        ],
    )
    store.put_object(b"\x00\x01raw\xff", id="o1", description="raw bytes blob")
    store.put_object({"k": [1, 2]}, id="o2")
    store.put_object(np.arange(6, dtype=np.int16).reshape(2, 3), id="o3", description="numbers array")


def _results(store: HybridStore) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in store.search(q, k=5)] for q in QUERIES]  # exact scores


def _same_records(a: HybridStore, b: HybridStore) -> None:
    ids = sorted(r.id for r in a.get())
    assert sorted(r.id for r in b.get()) == ids
    for x, y in zip(a.get(ids), b.get(ids), strict=True):
        assert (x.id, x.document, x.metadata, x.object) == (y.id, y.document, y.metadata, y.object)
    assert b.get_object_bytes("o1")[0] == b"\x00\x01raw\xff"
    assert b.get_object("o2") == {"k": [1, 2]}
    assert np.array_equal(b.get_object("o3"), np.arange(6, dtype=np.int16).reshape(2, 3))


@pytest.fixture
def source(tmp_path: Path) -> HybridStore:
    store = HybridStore("src", path=tmp_path / "src", embedder=HashingEmbedder(64))
    _fill(store)
    yield store
    store.close()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_export_then_import_gives_identical_records_and_search_results(
    source: HybridStore, tmp_path: Path, suffix: str
) -> None:
    file = tmp_path / f"out{suffix}"
    report = source.export(file)
    assert (report.records, report.objects, report.format) == (7, 3, suffix[1:])
    with HybridStore.in_memory(embedder=HashingEmbedder(64)) as copy:
        assert copy.import_(file).records == 7
        _same_records(source, copy)
        assert _results(copy) == _results(source)
        got = np.stack([r.embedding for r in copy.get(sorted(r.id for r in copy.get()), include_embeddings=True)])
        want = np.stack([r.embedding for r in source.get(sorted(r.id for r in source.get()), include_embeddings=True)])
        assert np.array_equal(got, want)  # every vector bit-exact


def test_export_with_a_filter_and_import_into_a_server_style_client(source: HybridStore, tmp_path: Path) -> None:
    file = tmp_path / "pets.parquet"
    assert source.export(file, where={"pet": True}).records == 1
    client = chromadb.EphemeralClient()
    with HybridStore("dest", client=client, embedder=HashingEmbedder(64)) as copy:
        copy.import_(file)
        assert [r.id for r in copy.get()] == ["c"]


def test_a_bad_row_anywhere_refuses_the_whole_import(source: HybridStore, tmp_path: Path) -> None:
    file = tmp_path / "out.jsonl"
    source.export(file)
    lines = file.read_text().splitlines()
    row = json.loads(lines[5])  # record 5 (line 0 is the header)
    row["metadata"]["nested"] = {"a": 1}  # Chroma metadata holds no objects
    lines[5] = json.dumps(row)
    file.write_text("\n".join(lines) + "\n")
    with HybridStore.in_memory(embedder=HashingEmbedder(64)) as copy:
        with pytest.raises(InvalidInputError, match="record 5"):
            copy.import_(file, batch_size=2)
        assert copy.count() == 0


def test_tampered_object_bytes_are_refused(source: HybridStore, tmp_path: Path) -> None:
    file = tmp_path / "out.jsonl"
    source.export(file)
    text = file.read_text()
    good = base64.b64encode(b"\x00\x01raw\xff").decode()
    file.write_text(text.replace(good, base64.b64encode(b"\x00\x01RAW\xff").decode()))
    with HybridStore.in_memory(embedder=HashingEmbedder(64)) as copy:
        with pytest.raises(InvalidInputError, match="sha256"):
            copy.import_(file)
        assert copy.count() == 0


def test_files_that_are_not_exports_are_refused(tmp_path: Path) -> None:
    with HybridStore.in_memory(embedder=HashingEmbedder(64)) as store:
        (tmp_path / "x.jsonl").write_text('{"id": "a"}\n')
        with pytest.raises(InvalidInputError, match="not a mira_vectorstores export"):
            store.import_(tmp_path / "x.jsonl")
        with pytest.raises(InvalidInputError, match="no export file"):
            store.import_(tmp_path / "missing.parquet")
        with pytest.raises(ConfigError, match=r"\.parquet or \.jsonl"):
            store.export(tmp_path / "x.csv")


def test_another_embedders_file_needs_reembed(source: HybridStore, tmp_path: Path) -> None:
    file = tmp_path / "out.parquet"
    source.export(file)
    with HybridStore.in_memory(embedder=HashingEmbedder(32)) as other:
        with pytest.raises(EmbeddingMismatchError, match="reembed=True"):
            other.import_(file)
        assert other.count() == 0
        other.import_(file, reembed=True)
        assert other.count() == 7
        assert other.get_object("o2") == {"k": [1, 2]}
        assert other.search("cats purr", k=1)[0].id == "a"


def test_backup_and_restore_open_to_identical_search_results(source: HybridStore, tmp_path: Path) -> None:
    report = source.backup(tmp_path / "bk")
    assert (report.records, report.objects) == (7, 3)
    with HybridStore.restore(tmp_path / "bk", path=tmp_path / "restored", embedder=HashingEmbedder(64)) as copy:
        assert copy.name == "src"
        _same_records(source, copy)
        assert _results(copy) == _results(source)
    with pytest.raises(ConfigError, match="not empty"):
        source.backup(tmp_path / "bk")


def test_restore_refuses_damaged_backups_wrong_embedders_and_existing_stores(
    source: HybridStore, tmp_path: Path
) -> None:
    source.backup(tmp_path / "bk")
    target = tmp_path / "restored"
    with pytest.raises(EmbeddingMismatchError, match="hashing-64"):
        HybridStore.restore(tmp_path / "bk", path=target, embedder=HashingEmbedder(32))
    assert not (target / "chroma.sqlite3").exists()  # refused before anything was made
    HybridStore.restore(tmp_path / "bk", path=target, embedder=HashingEmbedder(64)).close()
    with pytest.raises(ConfigError, match="overwrite=True"):
        HybridStore.restore(tmp_path / "bk", path=target, embedder=HashingEmbedder(64))
    HybridStore.restore(tmp_path / "bk", path=target, embedder=HashingEmbedder(64), overwrite=True).close()
    data = tmp_path / "bk" / "records.parquet"
    data.write_bytes(data.read_bytes()[:-100] + bytes(100))
    with pytest.raises(InvalidInputError, match="damaged"):
        HybridStore.restore(tmp_path / "bk", path=tmp_path / "other", embedder=HashingEmbedder(64))
    with pytest.raises(InvalidInputError, match="not a backup folder"):
        HybridStore.restore(tmp_path, path=tmp_path / "other", embedder=HashingEmbedder(64))


def test_a_backup_taken_while_writes_go_on_is_the_store_as_of_one_moment(tmp_path: Path) -> None:
    store = HybridStore("live", path=tmp_path / "live", embedder=HashingEmbedder(32))
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:  # batches of 10 records, each batch one write
        n = 0
        while not stop.is_set():
            store.add([f"text {n} {i}" for i in range(10)], ids=[f"w{n}-{i}" for i in range(10)])
            written.append(n)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            stop.wait(0.01)
        store.backup(tmp_path / "bk")
    finally:
        stop.set()
        thread.join()
    ids = pq.read_table(tmp_path / "bk" / "records.parquet", columns=["id"]).column("id").to_pylist()
    batches = {i.split("-")[0] for i in ids}
    assert len(ids) == 10 * len(batches)  # whole writes only
    assert len(batches) >= 5
    assert len(written) > len(batches) or store.count() == len(ids)
    store.close()


def test_doctor_finds_and_repairs_what_changed_behind_the_store(tmp_path: Path) -> None:
    client = chromadb.EphemeralClient()
    with HybridStore("doc", client=client, embedder=HashingEmbedder(32)) as store:
        _fill(store)
        report = store.doctor()
        assert report.ok
        assert report.records == 7
        assert report.objects.objects == 3
        collection = client.get_collection("doc")
        collection.delete(ids=["a"])  # behind the store's back
        collection.upsert(ids=["z"], documents=["zebra"], embeddings=[[0.5] * 32])
        report = store.doctor()
        assert not report.ok
        assert (report.unknown_to_chroma, report.missing_from_mirrors) == (["a"], ["z"])
        fixed = store.doctor(repair=True)
        assert fixed.ok
        assert fixed.repaired
        assert (fixed.unknown_to_chroma, fixed.missing_from_mirrors) == (["a"], ["z"])  # what was found
        assert store.doctor().ok
        assert sorted(r.id for r in store.get()) == ["b", "c", "d", "o1", "o2", "o3", "z"]


def test_doctor_reports_damaged_payloads(source: HybridStore, tmp_path: Path) -> None:
    payloads = [p for p in (tmp_path / "src").rglob("*") if p.is_file() and p.stat().st_size == 6]
    assert payloads, "the 6-byte payload of o1 is a file"
    payloads[0].write_bytes(b"XXXXXX")
    report = source.doctor()
    assert report.objects.corrupted == ["o1"]
    assert not report.ok


def test_stats_name_the_index_embedder_and_disk_use(source: HybridStore) -> None:
    stats = source.stats()
    assert (stats.name, stats.collection, stats.mode, stats.records) == ("src", "src", "embedded", 7)
    assert (stats.dimension, stats.embedder, stats.index["kind"]) == (64, "hashing-64", "flat")
    assert stats.disk_bytes
    assert stats.disk_bytes > 0
    assert stats.as_dict()["health"]["records"] == 7


def test_collections_are_listed_and_dropped(tmp_path: Path) -> None:
    path = tmp_path / "many"
    for name in ("one", "two"):
        with HybridStore(name, path=path, embedder=HashingEmbedder(16)) as store:
            store.put_object(b"x", id="o", description="thing")
    listed = HybridStore.collections(path=path)
    assert [(c.name, c.records, c.embedder) for c in listed] == [("one", 1, "hashing-16"), ("two", 1, "hashing-16")]
    HybridStore.drop_collection("one", path=path)
    assert [c.name for c in HybridStore.collections(path=path)] == ["two"]
    with pytest.raises(StorageError, match="does not exist"):
        HybridStore.drop_collection("one", path=path)
    assert HybridStore.collections(path=tmp_path / "nowhere") == []
    assert not (tmp_path / "nowhere").exists()  # listing makes no folder


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_vectors_and_dense_scores_survive_a_round_trip_bit_exact(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 48)).astype(np.float32)
    ids = [f"v{i}" for i in range(500)]
    with HybridStore.in_memory(embedder=None) as store, HybridStore.in_memory(embedder=None) as copy:
        store.add(vectors=vectors, ids=ids)
        store.export(tmp_path / f"v{suffix}")
        copy.import_(tmp_path / f"v{suffix}")
        got = np.stack([r.embedding for r in copy.get(ids, include_embeddings=True)])
        assert np.array_equal(got, np.stack([r.embedding for r in store.get(ids, include_embeddings=True)]))
        for query in rng.normal(size=(20, 48)):
            want = [(h.id, h.score) for h in store.search(vector=query, k=10)]
            assert [(h.id, h.score) for h in copy.search(vector=query, k=10)] == want
