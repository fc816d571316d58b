"""Mirrors persist beside the data, load without reading Chroma, and reconcile or rebuild."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import chromadb
import pytest
from fakes import CountingEmbedder

from mira_vectorstores import EmbeddingMismatchError, FaissConfig, HashingEmbedder, HybridStore, StoreConfig
from mira_vectorstores.engine.mirrors import catch_up, snapshot

TEXTS = [f"note {i} about {'cats' if i % 3 == 0 else 'dogs'} and topic {i % 5}" for i in range(300)]


HNSW = StoreConfig(faiss=FaissConfig(index_kind="hnsw"))


def _build(path: Path, config: StoreConfig | None = None) -> HybridStore:
    store = HybridStore.persistent(path, "notes", embedder=HashingEmbedder(32), config=config)
    store.add(TEXTS, ids=[f"n{i}" for i in range(300)], metadatas=[{"i": i, "topic": i % 5} for i in range(300)])
    return store


def _answers(store: HybridStore) -> list[tuple[str, float]]:
    # 60 allowed records < the 100 candidates per side: no tie at the candidate cut.
    hits = store.search("cats topic 3", k=5, where={"topic": 3})
    return [(h.id, round(h.score, 6)) for h in hits]


def test_reopen_loads_mirrors_without_reading_chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _build(tmp_path)
    before = _answers(store)
    store.close()
    assert snapshot.read_manifest(tmp_path / "mira" / "notes") is not None

    def no_bulk_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("mirrors were rebuilt from Chroma instead of loaded")

    monkeypatch.setattr(catch_up, "rebuild", no_bulk_reads)
    monkeypatch.setattr(catch_up, "reconcile", no_bulk_reads)
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    assert reopened.count() == 300
    assert _answers(reopened) == before
    reopened.close()


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_crash_after_write_is_reconciled_on_open(tmp_path: Path) -> None:
    # Each step runs in its own process, as a crash and a restart would: Chroma's embedded
    # client does not support two processes on one folder at the same time.
    _run(
        f"""
        from mira_vectorstores import HashingEmbedder, HybridStore
        s = HybridStore.persistent({str(tmp_path)!r}, "notes", embedder=HashingEmbedder(32))
        metadatas = [{{"i": i, "topic": i % 5}} for i in range(300)]
        s.add({TEXTS!r}, ids=[f"n{{i}}" for i in range(300)], metadatas=metadatas)
        s.close()
        """
    )
    _run(
        f"""
        import os
        from mira_vectorstores import HashingEmbedder, HybridStore
        s = HybridStore.persistent({str(tmp_path)!r}, "notes", embedder=HashingEmbedder(32))
        s.add(["written just before the crash about zebras"], ids=["late"], metadatas=[{{"i": -1}}])
        s.delete(["n0", "n1"])
        s.update(["n2"], metadatas=[{{"topic": 99}}])
        os._exit(0)  # no close(), no atexit: the mirror files are stale
        """
    )
    out = _run(
        f"""
        import json
        from mira_vectorstores import HashingEmbedder, HybridStore
        s = HybridStore.persistent({str(tmp_path)!r}, "notes", embedder=HashingEmbedder(32))
        print(json.dumps({{
            "count": s.count(),
            "got": [r.id for r in s.get(["n0", "n1", "late"])],
            "topic": s.get(["n2"])[0].metadata["topic"],
            "zebra": s.search("zebras", k=1, mode="lexical")[0].id,
        }}))
        """
    )
    assert json.loads(out) == {"count": 299, "got": ["late"], "topic": 99, "zebra": "late"}


def test_second_writer_is_caught_by_refresh(tmp_path: Path) -> None:
    reader = _build(tmp_path)
    writer = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    writer.upsert(["a completely new note on giraffes"], ids=["g"])
    writer.delete(where={"topic": 4})
    assert reader.get(["g"]) == []
    reader.refresh()
    assert reader.count() == writer.count() == 241
    assert reader.search("giraffes", k=1, mode="lexical")[0].id == "g"
    assert reader.get(where={"topic": 4}) == []
    writer.close()
    reader.close()


def test_refresh_interval_catches_up_on_search(tmp_path: Path) -> None:
    reader = HybridStore.persistent(
        tmp_path, "notes", embedder=HashingEmbedder(32), config=StoreConfig(refresh_interval=0.0)
    )
    writer = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    writer.add(["okapis live in forests"], ids=["o"])
    assert reader.search("okapis", k=1, mode="lexical")[0].id == "o"
    writer.close()
    reader.close()


VICTIMS = [
    "vectors.npy",
    "index-hnsw.faiss",
    "records/ids.bin",
    "records/metas.bin",
    "records/offsets.npy",
    "lexical/rows.npy",
]


@pytest.mark.parametrize("victim_name", VICTIMS)
@pytest.mark.parametrize("damage", ["truncate", "garble", "delete"])
def test_corrupt_mirror_files_trigger_a_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, victim_name: str
) -> None:
    # A 300-record store is flat; an HNSW one writes index-hnsw.faiss instead of vectors.npy.
    hnsw = victim_name == "index-hnsw.faiss"
    config = HNSW if hnsw else None
    store = _build(tmp_path, config)
    before = _answers(store)
    store.close()
    folder = tmp_path / "mira" / "notes"
    manifest = snapshot.read_manifest(folder)
    assert manifest is not None
    assert victim_name in manifest.files
    victim = folder / manifest.snapshot / victim_name
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100])
    elif damage == "garble":
        data = bytearray(victim.read_bytes())
        data[-50:] = b"x" * 50  # same size, checksum catches it
        victim.write_bytes(bytes(data))
    else:
        victim.unlink()
    rebuilt = []
    real_rebuild = catch_up.rebuild
    monkeypatch.setattr(catch_up, "rebuild", lambda *a, **k: rebuilt.append(1) or real_rebuild(*a, **k))
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32), config=config)
    assert rebuilt == [1]
    assert reopened.count() == 300
    assert _answers(reopened) == before
    reopened.close()


def test_garbled_manifest_triggers_a_rebuild(tmp_path: Path) -> None:
    store = _build(tmp_path)
    before = _answers(store)
    store.close()
    (tmp_path / "mira" / "notes" / "manifest.json").write_text("{not json")
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    assert _answers(reopened) == before
    reopened.close()


def test_full_refresh_catches_plain_chroma_writes(tmp_path: Path) -> None:
    store = _build(tmp_path)
    raw = chromadb.PersistentClient(path=str(tmp_path)).get_collection("notes")
    vector = HashingEmbedder(32).embed_query("penguins on ice")
    raw.upsert(ids=["n5"], embeddings=[vector.tolist()], documents=["penguins on ice"], metadatas=[{"i": 5}])
    raw.delete(ids=["n6"])
    store.refresh(full=True)
    assert store.get(["n5"])[0].document == "penguins on ice"
    assert store.get(["n6"]) == []
    assert store.search("penguins", k=1, mode="lexical")[0].id == "n5"
    store.close()


def test_reopening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    _build(tmp_path).close()
    with pytest.raises(EmbeddingMismatchError, match=r"hashing-32.*hashing-16"):
        HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(16))
    renamed = CountingEmbedder(32)
    renamed.name = "another-model"
    with pytest.raises(EmbeddingMismatchError, match="another-model"):
        HybridStore.persistent(tmp_path, "notes", embedder=renamed)  # same dimension, other name


def test_reopen_does_not_reembed(tmp_path: Path) -> None:
    embedder = CountingEmbedder(16)
    store = HybridStore.persistent(tmp_path, "ccc", embedder=embedder)
    store.add(["one text", "two text"])
    store.close()
    fresh = CountingEmbedder(16)
    again = HybridStore.persistent(tmp_path, "ccc", embedder=fresh)
    assert again.count() == 2
    assert fresh.embedded == []
    again.close()


def test_a_reopened_store_with_mapped_mirrors_takes_writes_and_reopens_again(tmp_path: Path) -> None:
    _build(tmp_path, HNSW).close()
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32), config=HNSW)
    assert reopened._replica.mirrors.dense._mapped is not None  # the HNSW file is mapped, not read
    reopened.add(["giraffes in the savanna"], ids=["g"], metadatas=[{"i": 300, "topic": 3}])
    reopened.update(["n3"], metadatas=[{"topic": 4}])
    reopened.upsert(["n6 now speaks of giraffes"], ids=["n6"], metadatas=[{"i": 6, "topic": 1}])
    reopened.delete(["n9"])
    expected = _answers(reopened)
    giraffes = [h.id for h in reopened.search("giraffes", k=2, mode="lexical")]
    assert sorted(giraffes) == ["g", "n6"]
    assert reopened.count() == 300
    reopened.close()
    again = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32), config=HNSW)
    assert again.count() == 300
    assert _answers(again) == expected
    assert sorted(h.id for h in again.search("giraffes", k=2, mode="lexical")) == ["g", "n6"]
    assert again.get(["n3"])[0].metadata["topic"] == 4
    assert again.get(["n9"]) == []
    again.close()


def test_a_mapped_index_is_saved_again_after_deletes_alone(tmp_path: Path) -> None:
    _build(tmp_path, HNSW).close()
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32), config=HNSW)
    reopened.delete(["n3", "n8"])  # no new vector: the mapped index is written out as it is
    assert reopened._replica.mirrors.dense._mapped is not None
    expected = _answers(reopened)
    reopened.close()
    again = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32), config=HNSW)
    assert again.count() == 298
    assert _answers(again) == expected
    assert again.get(["n3", "n8", "n13"])[0].id == "n13"
    again.close()


def test_catching_up_reads_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = _build(tmp_path)
    writer = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    writer.upsert(["note 1 rewritten about zebras", "a new note about okapis"], ids=["n1", "new"])
    writer.delete(["n2"])
    fetched: list[str] = []
    storage = reader._replica.storage
    real_pages = storage.pages

    def counting_pages(**kwargs: object):  # type: ignore[no-untyped-def]
        ids = kwargs.get("ids")
        assert ids is not None, "catching up read the whole collection"
        if not kwargs.get("metadata_only"):
            fetched.extend(ids)  # type: ignore[arg-type]
        return real_pages(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(storage, "pages", counting_pages)
    reader.refresh()
    assert sorted(fetched) == ["n1", "new"]
    assert reader.get(["n2"]) == []
    assert reader.get(["n1"])[0].document == "note 1 rewritten about zebras"
    assert reader.count() == writer.count() == 300
    writer.close()
    reader.close()


def test_a_tombstone_does_not_remove_a_record_added_again(tmp_path: Path) -> None:
    reader = _build(tmp_path)
    writer = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    writer.delete(["n5"])
    writer.add(["note five is back"], ids=["n5"])
    reader.refresh()
    assert [r.document for r in reader.get(["n5"])] == ["note five is back"]
    writer.close()
    reader.close()


def test_a_clean_close_reopens_without_reading_chroma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _build(tmp_path).close()

    def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cleanly closed store read Chroma on open")

    monkeypatch.setattr(catch_up, "since", no_reads)
    monkeypatch.setattr(catch_up, "reconcile", no_reads)
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    assert reopened.count() == 300
    assert not snapshot.read_manifest(tmp_path / "mira" / "notes").clean  # open: a crash from now on is unclean
    reopened.close()
    assert snapshot.read_manifest(tmp_path / "mira" / "notes").clean


def test_a_clean_reopen_sees_records_another_library_added_or_deleted_meanwhile(tmp_path: Path) -> None:
    """langchain-chroma or ChromaVectorStore may write to the folder while no store of ours has it
    open: they take no lock and stamp nothing, so the clean reopen counts Chroma's records and
    reconciles when the count moved.
    """
    _build(tmp_path).close()
    raw_client = chromadb.PersistentClient(path=str(tmp_path))
    raw = raw_client.get_collection("notes")
    vector = HashingEmbedder(32).embed_query("penguins on ice")
    raw.add(ids=["foreign"], embeddings=[vector.tolist()], documents=["penguins on ice"], metadatas=[{"i": -1}])
    raw.delete(ids=["n6", "n7"])
    del raw, raw_client
    reopened = HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder(32))
    try:
        assert reopened.count() == 300 + 1 - 2
        assert reopened.search("penguins", k=1, mode="lexical")[0].id == "foreign"
        assert reopened.get(["n6", "n7"]) == []
    finally:
        reopened.close()
