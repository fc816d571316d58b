"""Raw objects whose metadata or payloads were changed outside the store: validation, verify, orphans."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import pytest

from mira_vectorstores import (
    CorruptedObjectError,
    HashingEmbedder,
    HybridStore,
    ObjectsReport,
    RecordNotFoundError,
)
from mira_vectorstores.engine import reserved
from mira_vectorstores.engine.storage.codecs import sha256
from mira_vectorstores.engine.storage.objects import ORPHAN_GRACE_SECONDS
from mira_vectorstores.engine.storage.payloads import ChromaPayloadStore, FilePayloadStore

OLD = time.time() - ORPHAN_GRACE_SECONDS - 60


def payload_folder(path: Path, name: str = "mira") -> Path:
    return path / "mira" / name / "objects"


def payload_file(path: Path, digest: str) -> Path:
    return payload_folder(path) / digest[:2] / digest


def tamper(store: HybridStore, record_id: str, **metadata: object) -> None:
    """Change a record's metadata as a plain Chroma client would, then let the store pull it in."""
    store._replica.storage.collection.update(ids=[record_id], metadatas=[metadata])
    store.refresh(full=True)


def chunks(store: HybridStore) -> chromadb.Collection:
    payloads = store.objects.payloads
    assert isinstance(payloads, ChromaPayloadStore)
    return payloads.collection


@pytest.fixture(params=["memory", "persistent"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HybridStore]:
    if request.param == "memory":
        store = HybridStore.in_memory(embedder=HashingEmbedder())
    else:
        store = HybridStore.persistent(tmp_path, embedder=HashingEmbedder())
    yield store
    store.close()


@pytest.fixture
def disk_store(tmp_path: Path) -> Iterator[HybridStore]:
    store = HybridStore.persistent(tmp_path, embedder=HashingEmbedder())
    yield store
    store.close()


@pytest.fixture
def memory_store() -> Iterator[HybridStore]:
    store = HybridStore.in_memory(embedder=HashingEmbedder())
    yield store
    store.close()


# ----------------------------------------------------------------------------- arbitrary file deletion
@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_a_digest_naming_a_file_outside_the_store_never_deletes_it(
    tmp_path: Path, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "store"
    store = HybridStore.persistent(path, embedder=HashingEmbedder())
    oid = store.put_object(b"payload", description="a greeting")
    folder = payload_folder(path)
    digest = os.path.relpath(victim, folder.parent) if form == "relative" else str(victim)
    assert os.path.normpath(folder / digest[:2] / digest) == str(victim)  # what the old join unlinked
    raw = chromadb.PersistentClient(path=str(path)).get_collection("mira")  # a plain client, not the store
    raw.update(ids=[oid], metadatas=[{reserved.SHA256: digest}])
    store.refresh(full=True)

    assert [hit.object for hit in store.search("greeting")] == [None]
    assert store.get([oid])[0].object is None
    with pytest.raises(CorruptedObjectError, match=rf"'{oid}'.*_mira_sha256.*delete the record or put_object"):
        store.get_object(oid)
    with caplog.at_level(logging.WARNING, logger="mira_vectorstores.engine.store"):
        assert store.delete([oid]) == 1
    assert oid in caplog.text
    assert victim.read_text() == "precious"
    assert payload_file(path, sha256(b"payload")).exists()  # left alone: an orphan for verify_objects
    assert store.get([oid]) == []
    store.close()
    assert victim.read_text() == "precious"


def test_replacing_a_malformed_object_leaves_payload_files_alone(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    store = HybridStore.persistent(tmp_path / "store", embedder=HashingEmbedder())
    oid = store.put_object(b"first", description="doc")
    tamper(store, oid, **{reserved.SHA256: str(victim)})
    store.put_object(b"second", id=oid, description="doc")
    assert store.get_object(oid) == b"second"
    assert victim.exists()
    store.close()


def test_payload_stores_refuse_digests_that_are_not_sha256(tmp_path: Path) -> None:
    files = FilePayloadStore(tmp_path / "objects")
    chroma = ChromaPayloadStore(chromadb.EphemeralClient().get_or_create_collection("refuse-digests"))
    for digest in ["../../etc/passwd", "/etc/passwd", "A" * 64, "a" * 63, "g" * 64]:
        for call in (files.get, files.delete, chroma.get, chroma.delete):
            with pytest.raises(CorruptedObjectError, match="refusing payload digest"):
                call(digest, 1)
        with pytest.raises(CorruptedObjectError, match="refusing payload digest"):
            files.put(digest, b"x")


def test_a_symlinked_subfolder_cannot_lead_out_of_the_payload_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    digest = sha256(b"x")
    (outside / digest).write_bytes(b"x")
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / digest[:2]).symlink_to(outside)
    with pytest.raises(CorruptedObjectError, match="outside"):
        FilePayloadStore(folder).delete(digest, 1)
    assert (outside / digest).exists()


# ----------------------------------------------------------------------------- malformed metadata
@pytest.mark.parametrize(
    ("key", "value"),
    [
        (reserved.SIZE, -1),
        (reserved.SIZE, "7"),
        (reserved.SIZE, True),
        (reserved.SIZE, 7.0),
        (reserved.CODEC, 3),
        (reserved.CONTENT_TYPE, False),
        (reserved.SHA256, "A" * 64),
        (reserved.SHA256, "a" * 63),
        (reserved.SHA256, 12),
    ],
)
def test_malformed_object_metadata_never_crashes_the_store(any_store: HybridStore, key: str, value: object) -> None:
    oid = any_store.put_object(b"payload", description="malformed thing")
    keep = any_store.put_object(b"payload", description="intact twin")  # shares the payload
    tamper(any_store, oid, **{key: value})

    assert {hit.id: hit.object for hit in any_store.search("malformed thing", k=2)}[oid] is None
    assert any_store.get([oid])[0].object is None
    with pytest.raises(CorruptedObjectError, match=rf"record '{oid}'.*{key}.*put_object it again"):
        any_store.get_object_bytes(oid)
    report = any_store.verify_objects()
    assert report.malformed == [oid]
    assert (report.objects, report.missing, report.corrupted) == (1, [], [])
    any_store.refresh(full=True)
    assert any_store.delete([oid]) == 1
    assert any_store.get_object(keep) == b"payload"


def test_a_record_with_only_some_object_keys_is_malformed(memory_store: HybridStore) -> None:
    memory_store.add(["plain text"], ids=["t"])
    tamper(memory_store, "t", **{reserved.CODEC: "bytes"})
    with pytest.raises(CorruptedObjectError, match="_mira_sha256 must be 64 lowercase hex characters, got None"):
        memory_store.get_object("t")
    assert memory_store.verify_objects().malformed == ["t"]
    assert memory_store.delete(["t"]) == 1


def test_a_huge_declared_size_reads_nothing_and_deletes_fine(memory_store: HybridStore) -> None:
    oid = memory_store.put_object(b"payload", description="big claim")
    tamper(memory_store, oid, **{reserved.SIZE: 2**62})
    with pytest.raises(CorruptedObjectError, match="missing"):
        memory_store.get_object(oid)
    assert memory_store.verify_objects().corrupted == [oid]
    memory_store.delete([oid])
    assert chunks(memory_store).count() == 0


# ----------------------------------------------------------------------------- messages
def test_get_object_of_a_plain_record_says_it_is_not_an_object(any_store: HybridStore) -> None:
    any_store.add(["just text"], ids=["t"])
    with pytest.raises(RecordNotFoundError, match=r"record .t. .* holds no object: .*add/upsert.*get\("):
        any_store.get_object("t")
    with pytest.raises(RecordNotFoundError, match="no object with id 'nope'"):
        any_store.get_object("nope")


def test_a_missing_payload_message_names_the_record_and_the_fix(disk_store: HybridStore, tmp_path: Path) -> None:
    oid = disk_store.put_object(b"gone soon", description="x")
    payload_file(tmp_path, sha256(b"gone soon")).unlink()
    with pytest.raises(CorruptedObjectError, match=rf"object '{oid}'.*missing.*put_object the object again"):
        disk_store.get_object(oid)


# ----------------------------------------------------------------------------- put verifies and rewrites
@pytest.mark.parametrize("damage", [b"PAYLOAD", b"payload, longer", b""])
def test_putting_the_same_bytes_again_rewrites_a_damaged_file(
    disk_store: HybridStore, tmp_path: Path, damage: bytes
) -> None:
    oid = disk_store.put_object(b"payload", description="x")
    file = payload_file(tmp_path, sha256(b"payload"))
    file.write_bytes(damage)
    with pytest.raises(CorruptedObjectError, match="put_object"):
        disk_store.get_object(oid)
    assert disk_store.verify_objects().corrupted == [oid]
    disk_store.put_object(b"payload", id=oid, description="x")
    assert disk_store.get_object(oid) == b"payload"
    assert [p.name for p in file.parent.iterdir()] == [file.name]  # no temp file left
    assert disk_store.verify_objects() == ObjectsReport(objects=1)


def test_put_of_an_intact_file_keeps_it_and_renews_its_age(tmp_path: Path) -> None:
    store = FilePayloadStore(tmp_path)
    digest = sha256(b"bytes")
    store.put(digest, b"bytes")
    path = tmp_path / digest[:2] / digest
    os.utime(path, (OLD, OLD))
    inode = path.stat().st_ino
    store.put(digest, b"bytes")
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > OLD + 60


# ----------------------------------------------------------------------------- verify_objects
def test_verify_reports_missing_and_corrupted_files(disk_store: HybridStore, tmp_path: Path) -> None:
    gone = disk_store.put_object(b"gone", description="a")
    bad = disk_store.put_object(b"bad", description="b")
    fine = disk_store.put_object(b"fine", description="c")
    twin = disk_store.put_object(b"bad", description="d")
    disk_store.add(["plain"], ids=["plain"])
    payload_file(tmp_path, sha256(b"gone")).unlink()
    payload_file(tmp_path, sha256(b"bad")).write_bytes(b"BAD")
    report = disk_store.verify_objects(repair=True)
    assert report == ObjectsReport(objects=4, missing=[gone], corrupted=[bad, twin])
    assert not report.ok
    assert disk_store.get_object(fine) == b"fine"
    assert report.as_dict()["missing"] == [gone]


def test_orphan_files_are_collected_only_with_repair_and_only_when_old(disk_store: HybridStore, tmp_path: Path) -> None:
    live = disk_store.put_object(b"live", description="kept")
    live_file = payload_file(tmp_path, sha256(b"live"))
    orphan = sha256(b"orphan")
    orphan_file = payload_file(tmp_path, orphan)
    orphan_file.parent.mkdir(parents=True, exist_ok=True)
    orphan_file.write_bytes(b"orphan")
    temp = live_file.parent / ".tmp-interrupted"
    temp.write_bytes(b"half a wri")
    foreign = payload_folder(tmp_path) / "README"
    foreign.write_text("not ours")
    temp_name = f"{live_file.parent.name}/{temp.name}"

    found = disk_store.verify_objects()
    assert sorted(found.orphaned) == sorted([orphan, temp_name])
    assert (found.removed, found.ok) == ([], False)
    assert disk_store.verify_objects(repair=True).removed == []  # too young: a put may be in flight
    assert orphan_file.exists()
    assert temp.exists()

    for file in (orphan_file, temp, live_file):
        os.utime(file, (OLD, OLD))
    report = disk_store.verify_objects(repair=True)
    assert sorted(report.removed) == sorted([orphan, temp_name])
    assert report.ok
    assert not orphan_file.exists()
    assert not temp.exists()
    assert foreign.exists()
    assert disk_store.get_object(live) == b"live"
    assert disk_store.verify_objects() == ObjectsReport(objects=1)


def test_a_payload_left_by_a_deleted_malformed_record_becomes_a_collectable_orphan(
    disk_store: HybridStore, tmp_path: Path
) -> None:
    oid = disk_store.put_object(b"payload", description="x")
    tamper(disk_store, oid, **{reserved.SIZE: -5})
    assert disk_store.verify_objects().orphaned == []  # the record still names it: kept
    disk_store.delete([oid])
    file = payload_file(tmp_path, sha256(b"payload"))
    os.utime(file, (OLD, OLD))
    assert disk_store.verify_objects(repair=True).removed == [sha256(b"payload")]
    assert not file.exists()


def test_verify_on_a_closed_or_empty_store(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, embedder=None)
    assert store.verify_objects(repair=True) == ObjectsReport()
    store.close()
    with pytest.raises(Exception, match="closed"):
        store.verify_objects()


# ----------------------------------------------------------------------------- the Chroma payload store
def test_base64_garbage_in_a_chunk_is_a_corrupted_object(memory_store: HybridStore) -> None:
    oid = memory_store.put_object(b"chunked payload", description="x")
    digest = sha256(b"chunked payload")
    chunks(memory_store).update(ids=[f"{digest}:0"], embeddings=[[0.0]], documents=["!!! not base64 !!!"])
    with pytest.raises(CorruptedObjectError, match=rf"object '{oid}'.*not base64.*put_object the object again"):
        memory_store.get_object(oid)
    assert memory_store.verify_objects().corrupted == [oid]
    memory_store.put_object(b"chunked payload", id=oid, description="x")  # the upsert rewrites the chunk
    assert memory_store.get_object(oid) == b"chunked payload"


def test_verify_reports_missing_chunks(memory_store: HybridStore) -> None:
    oid = memory_store.put_object(b"soon gone", description="x")
    chunks(memory_store).delete(ids=[f"{sha256(b'soon gone')}:0"])
    assert memory_store.verify_objects() == ObjectsReport(objects=1, missing=[oid])


def test_orphan_chunks_are_collected_only_with_repair_and_only_when_old(memory_store: HybridStore) -> None:
    live = memory_store.put_object(b"live", description="kept")
    orphan = sha256(b"orphan payload")
    memory_store.objects.payloads.put(orphan, b"orphan payload")  # a crash before its record was written
    collection = chunks(memory_store)
    collection.upsert(ids=["stray"], embeddings=[[0.0]], documents=["eA=="], metadatas=[{"note": "foreign"}])

    found = memory_store.verify_objects(repair=True)
    assert found.orphaned == sorted([orphan, "stray"])
    assert found.removed == ["stray"]  # no write time (an older version's chunk): old
    assert collection.get(ids=[f"{orphan}:0"])["ids"] == [f"{orphan}:0"]

    collection.update(ids=[f"{orphan}:0", f"{sha256(b'live')}:0"], metadatas=[{"written": OLD}] * 2)
    report = memory_store.verify_objects(repair=True)
    assert (report.orphaned, report.removed) == ([orphan], [orphan])
    assert collection.get(ids=[f"{orphan}:0"])["ids"] == []
    assert memory_store.get_object(live) == b"live"
    assert memory_store.verify_objects() == ObjectsReport(objects=1)


def test_chroma_payload_store_orphans_group_chunks_and_take_the_newest_write(tmp_path: Path) -> None:
    collection = chromadb.EphemeralClient().get_or_create_collection("orphan-groups")
    store = ChromaPayloadStore(collection, chunk_bytes=4)
    data = b"0123456789"
    store.put(sha256(data), data)
    collection.update(ids=[f"{sha256(data)}:0", f"{sha256(data)}:1"], metadatas=[{"written": OLD}] * 2)
    (orphan,) = store.orphans(set())
    assert (orphan.name, len(orphan.keys)) == (sha256(data), 3)
    assert orphan.written > OLD + 60  # chunk 2 is new: the payload may still be being written
    assert not store.discard(orphan, older_than=time.time() - ORPHAN_GRACE_SECONDS)
    assert list(store.orphans({sha256(data)})) == []
