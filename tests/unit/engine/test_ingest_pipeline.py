"""The write path of a write that spans several Chroma chunks: what it guarantees when a chunk
fails, how chunks are stamped and journalled (``Replica._commit_chunks``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import unit_vectors

from mira_vectorstores import HybridStore
from mira_vectorstores.engine import replica as replica_module
from mira_vectorstores.engine.errors import StorageError
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.reserved import STAMP
from mira_vectorstores.engine.storage import journal
from mira_vectorstores.engine.storage.chroma import ChromaStorage

CHUNK = 25  # records per Chroma write in these tests
N = 4 * CHUNK
IDS = [f"r{i:03d}" for i in range(N)]


@pytest.fixture
def store() -> Iterator[HybridStore]:
    opened = HybridStore.in_memory(embedder=None)
    opened._replica.storage.max_batch = CHUNK  # a write of ``N`` is four Chroma writes
    yield opened
    opened.close()


def _write(store: HybridStore) -> None:
    store.add(ids=IDS, vectors=unit_vectors(N, 16), metadatas=[{"i": i} for i in range(N)])


def _mirrored(store: HybridStore) -> set[str]:
    mirrors = store._replica.mirrors
    assert mirrors is not None
    return set(mirrors.records.row_of)


def test_a_failed_later_chunk_leaves_earlier_chunks_mirrored_and_itself_not(
    store: HybridStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    upsert, apply, sync = ChromaStorage.upsert, Mirrors.apply_upsert, replica_module.Replica.sync_after_failure

    def write(self: ChromaStorage, ids: list[str], *args: object) -> None:
        if ids[0] == IDS[2 * CHUNK]:  # the third chunk fails
            events.append("write 3 fails")
            raise StorageError("chroma refused the write")
        upsert(self, ids, *args)  # type: ignore[arg-type]

    def mirror(self: Mirrors, ids: list[str], *args: object) -> None:
        chunk = IDS.index(ids[0]) // CHUNK + 1
        apply(self, ids, *args)  # type: ignore[arg-type]
        events.append(f"mirrored {chunk}")

    def after_failure(self: replica_module.Replica, ids: list[str]) -> None:
        events.append("sync after failure")
        sync(self, ids)

    monkeypatch.setattr(ChromaStorage, "upsert", write)
    monkeypatch.setattr(Mirrors, "apply_upsert", mirror)
    monkeypatch.setattr(replica_module.Replica, "sync_after_failure", after_failure)
    with pytest.raises(StorageError, match="refused"):
        _write(store)
    # The first two chunks reached the mirrors; the failed one and the one after it did not.
    assert events == ["mirrored 1", "mirrored 2", "write 3 fails", "sync after failure"]
    assert _mirrored(store) == set(IDS[: 2 * CHUNK])
    assert store.count() == store._replica.storage.count() == 2 * CHUNK
    assert {r.id for r in store.get(where={"i": {"$gte": 0}})} == set(IDS[: 2 * CHUNK])
    # The store keeps working: repeating the write completes it.
    monkeypatch.undo()
    store.upsert(ids=IDS, vectors=unit_vectors(N, 16), metadatas=[{"i": i} for i in range(N)])
    assert _mirrored(store) == set(IDS)


def test_chunks_are_stamped_in_order_and_the_high_water_mark_is_the_last(store: HybridStore) -> None:
    _write(store)
    records = store._replica.mirrors.records  # type: ignore[union-attr]
    held = store._replica.storage.metadatas_of(IDS)
    stamps = {i: records.metas[records.row_of[i]][STAMP] for i in IDS}
    assert stamps == {i: held[i][STAMP] for i in IDS}  # the mirrors hold the stamps Chroma holds
    per_chunk = [{stamps[i] for i in IDS[c * CHUNK : (c + 1) * CHUNK]} for c in range(4)]
    assert all(len(s) == 1 for s in per_chunk)  # one stamp per chunk
    ordered = [s.pop() for s in per_chunk]
    assert ordered == sorted(ordered)
    assert len(set(ordered)) == 4
    assert store._replica.high_water == ordered[-1]


def test_every_chunk_is_journalled_once_before_chroma_sees_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = HybridStore("pipe", path=tmp_path, embedder=None)
    replica = opened._replica
    replica.storage.max_batch = CHUNK
    assert replica.journal is not None
    journalled_before_write: list[bool] = []
    upsert = ChromaStorage.upsert

    def write(self: ChromaStorage, ids: list[str], *args: object) -> None:
        entries = list(journal.read(replica.journal.path.parent))  # type: ignore[union-attr]
        journalled_before_write.append(bool(entries) and entries[-1].ids == list(ids))
        upsert(self, ids, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(ChromaStorage, "upsert", write)
    _write(opened)
    entries = list(journal.read(replica.journal.path.parent))
    assert journalled_before_write == [True] * 4
    assert [e.ids for e in entries] == [IDS[c * CHUNK : (c + 1) * CHUNK] for c in range(4)]
    opened.close()
