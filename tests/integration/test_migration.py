"""migrate_embeddings: the switch, writes made meanwhile, and a migration killed twice that resumes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from processes import Child, ChromaServer

from mira_vectorstores import ConfigError, EmbeddingMismatchError, HashingEmbedder, HybridStore, StorageError

TEXTS = [f"note {i} about {'cats' if i % 3 else 'dogs'} and topic {i % 7}" for i in range(600)]


class MeddlingEmbedder(HashingEmbedder):
    """The new embedder; on its second call it writes to the source store, as a user would mid-migration."""

    def __init__(self, source: HybridStore) -> None:
        super().__init__(32)
        self.name = "meddling-32"
        self.source = source
        self.calls = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if self.calls == 2:
            self.source.upsert(["a changed text about zebras"], ids=["n0"])
            self.source.delete(["n1"])
            self.source.add(["a new note about owls"], ids=["late"])
        return super().embed_documents(texts)


def _build(path: Path, n: int = 60) -> None:
    with HybridStore("notes", path=path, embedder=HashingEmbedder(64)) as store:
        store.add(TEXTS[:n], ids=[f"n{i}" for i in range(n)], metadatas=[{"i": i} for i in range(n)])
        store.put_object({"config": True}, id="obj")


def test_a_migration_switches_atomically_and_keeps_writes_made_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _build(path)
    store = HybridStore("notes", path=path, embedder=HashingEmbedder(64))
    new = MeddlingEmbedder(store)
    report = store.migrate_embeddings(new, batch_size=16)
    assert report.switched
    assert report.source == "notes"
    assert report.target == store.collection != "notes"
    assert store.embedder is new
    assert store.count() == 61
    assert store.get(["n0"])[0].document == "a changed text about zebras"
    assert store.get(["n1"]) == []
    assert store.get(["late"])[0].document == "a new note about owls"
    assert store.get_object("obj") == {"config": True}
    assert store.search("zebras", k=1)[0].id == "n0"
    store.close()
    # Every later open of the name reads the new collection; the old one is kept, as it was.
    with pytest.raises(EmbeddingMismatchError, match="meddling-32"):
        HybridStore("notes", path=path, embedder=HashingEmbedder(64))
    with _open_new(path) as reopened:
        assert reopened.collection == report.target
        assert reopened.count() == 61
    with HybridStore("notes", path=path, embedder=HashingEmbedder(64), follow_alias=False) as old:
        assert old.count() == 61
        assert old.get(["late"]) != []
    listed = {c.name: c for c in HybridStore.collections(path=path)}
    assert listed["notes"].replaced_by == report.target
    assert listed[report.target].alias == "notes"
    with pytest.raises(ConfigError, match="drop the store"):
        HybridStore.drop_collection(report.target, path=path)
    HybridStore.drop_collection("notes", path=path)
    assert [c.name for c in HybridStore.collections(path=path)] == [report.target]


def _open_new(path: Path) -> HybridStore:
    embedder = HashingEmbedder(32)
    embedder.name = "meddling-32"
    return HybridStore("notes", path=path, embedder=embedder)


def test_migrations_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    with HybridStore.in_memory(embedder=HashingEmbedder(16)) as store:
        store.add(["text"], ids=["a"])
        with pytest.raises(ConfigError, match="already uses"):
            store.migrate_embeddings(HashingEmbedder(16))
        with pytest.raises(ConfigError, match="must be an Embedder"):
            store.migrate_embeddings("minilm")  # type: ignore[arg-type]
    with HybridStore.in_memory(embedder=None) as store:
        store.add(vectors=[[1.0, 0.0]], ids=["v"])
        with pytest.raises(ConfigError, match="without text"):
            store.migrate_embeddings(HashingEmbedder(2))


CHILD = textwrap.dedent(
    """
    import sys, time
    from mira_vectorstores import HashingEmbedder, HybridStore

    class Slow(HashingEmbedder):
        def __init__(self):
            super().__init__(32)
            self.name = "slow-hashing-32"
        def embed_documents(self, texts):
            print("batch", flush=True)
            time.sleep(0.05)
            return super().embed_documents(texts)

    store = HybridStore("notes", path=sys.argv[1], embedder=HashingEmbedder(64))
    report = store.migrate_embeddings(Slow(), batch_size=20)
    print("done", report.embedded, report.reused, flush=True)
    store.close()
    """
)


def _run_child(path: Path, *, kill_after: int | None) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    batches, last = 0, ""
    for line in child.stdout:
        last = line.strip()
        batches += last == "batch"
        if kill_after is not None and batches >= kill_after:
            child.kill()
            break
    child.wait(timeout=60)
    return last


def _copied(path: Path) -> int:
    embedder = HashingEmbedder(32)
    embedder.name = "slow-hashing-32"
    target = [c.name for c in HybridStore.collections(path=path) if c.name != "notes"]
    if not target:
        return 0
    with HybridStore(target[0], path=path, embedder=embedder, follow_alias=False) as store:
        return store.count()


@pytest.mark.integration
def test_a_migration_killed_twice_resumes_and_completes(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _build(path, n=600)
    _run_child(path, kill_after=5)
    first = _copied(path)
    assert 0 < first < 601
    _run_child(path, kill_after=5)
    second = _copied(path)
    assert first < second < 601
    with HybridStore("notes", path=path, embedder=HashingEmbedder(64)) as still_old:
        assert still_old.collection == "notes"
        assert still_old.count() == 601
    last = _run_child(path, kill_after=None)
    done, embedded, reused = last.split()
    assert done == "done"
    assert int(reused) == second
    assert int(embedded) < 601
    embedder = HashingEmbedder(32)
    embedder.name = "slow-hashing-32"
    with HybridStore("notes", path=path, embedder=embedder) as migrated:
        assert migrated.collection != "notes"
        assert migrated.count() == 601
        assert migrated.get_object("obj") == {"config": True}
        fresh = HybridStore.in_memory(embedder=HashingEmbedder(32))
        fresh.add(TEXTS, ids=[f"n{i}" for i in range(600)])
        ids = [f"n{i}" for i in range(600)]
        got = np.stack([r.embedding for r in migrated.get(ids, include_embeddings=True)])
        want = np.stack([r.embedding for r in fresh.get(ids, include_embeddings=True)])
        assert np.array_equal(got, want)  # every vector made by the new embedder, none left over
        for query in ("cats and topic 3", "dogs topic 5"):
            got_scores = [round(h.score, 5) for h in migrated.search(query, k=5, mode="dense")]
            assert got_scores == [round(h.score, 5) for h in fresh.search(query, k=5, mode="dense")]
        fresh.close()


WRITER = textwrap.dedent(
    """
    import sys, time
    from mira_vectorstores import HashingEmbedder, HybridStore, StorageError

    store = HybridStore.connect("127.0.0.1", int(sys.argv[1]), "shared", embedder=HashingEmbedder(64))
    print("ready", flush=True)
    n = 0
    while True:
        try:
            store.add([f"written by another process {n}"], ids=[f"w{n}"])
        except StorageError as exc:
            print("refused", "migrated" in str(exc), flush=True)
            break
        print("ack", f"w{n}", flush=True)
        n += 1
        time.sleep(0.02)
    store.close()
    """
)


@pytest.mark.integration
def test_on_a_server_no_write_of_another_process_is_hidden_by_a_migration(tmp_path: Path) -> None:
    server = ChromaServer(tmp_path)
    server.start()
    writer = None
    try:
        store = HybridStore.connect("127.0.0.1", server.port, "shared", embedder=HashingEmbedder(64))
        store.add(TEXTS[:200], ids=[f"n{i}" for i in range(200)])
        writer = Child(WRITER, str(server.port), cwd=tmp_path)
        assert writer.line() == "ready"
        acked: list[str] = []
        while len(acked) < 20:
            acked.append(writer.line().split()[1])
        new = HashingEmbedder(32)
        report = store.migrate_embeddings(new, batch_size=50)
        while (line := writer.line(timeout=30)).startswith("ack"):
            acked.append(line.split()[1])
        assert line == "refused True"  # the other process learnt of the switch and stopped writing
        store.refresh()
        present = {r.id for r in store.get(acked)}
        assert sorted(set(acked) - present) == []  # every acknowledged write reached the new collection
        assert store.collection == report.target
        assert store.count() == 200 + len(acked)
        store.close()
    finally:
        if writer is not None:
            writer.close()
        server.stop()


def test_a_damaged_alias_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store"
    _build(path, n=5)
    aliases = path / "mira" / "aliases.json"
    for damage in (
        "{not json",
        '{"notes": {"collection": 5}}',
        '{"notes": {"collection": "../x", "previous": "notes", "embedder": "e"}}',
    ):
        aliases.write_text(damage)
        with pytest.raises(StorageError, match="alias"):
            HybridStore("notes", path=path, embedder=HashingEmbedder(64))
    aliases.unlink()
    with HybridStore("notes", path=path, embedder=HashingEmbedder(64)) as store:
        assert store.count() == 6
