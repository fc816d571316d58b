"""Random add/upsert/update/delete/reopen/rebuild sequences keep Chroma and every mirror in agreement."""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from mira_vectorstores import FaissConfig, HashingEmbedder, HybridStore, StoreConfig
from mira_vectorstores.engine.reserved import RESERVED_PREFIX

IDS = st.sampled_from([f"r{i}" for i in range(12)])
WORDS = ["apple", "banana", "cherry", "delta", "echo", "fox", "golf", "hotel"]
TEXTS = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
METAS = st.fixed_dictionaries(
    {"n": st.integers(0, 3)}, optional={"tag": st.sampled_from(["x", "y"]), "flag": st.booleans()}
)


class StoreMachine(RuleBasedStateMachine):
    #: Default mirrors: a flat (exact) FAISS mirror at this size.
    CONFIG: StoreConfig | None = None

    def __init__(self) -> None:
        super().__init__()
        self.path = tempfile.mkdtemp(prefix="mira-prop-")
        self.store = self._open()
        self.model: dict[str, tuple[str, dict]] = {}

    @rule(ids=st.lists(IDS, min_size=1, max_size=4, unique=True), data=st.data())
    def upsert(self, ids: list[str], data: st.DataObject) -> None:
        texts = [data.draw(TEXTS) for _ in ids]
        metas = [data.draw(METAS) for _ in ids]
        self.store.upsert(texts, ids=ids, metadatas=metas)
        for i, t, m in zip(ids, texts, metas, strict=True):
            self.model[i] = (t, dict(m))

    @rule(ids=st.lists(IDS, min_size=1, max_size=3, unique=True), data=st.data())
    def add_new(self, ids: list[str], data: st.DataObject) -> None:
        fresh = [i for i in ids if i not in self.model]
        if not fresh:
            return
        texts = [data.draw(TEXTS) for _ in fresh]
        self.store.add(texts, ids=fresh)
        for i, t in zip(fresh, texts, strict=True):
            self.model[i] = (t, {})

    @rule(record_id=IDS, n=st.none() | st.integers(0, 3), text=st.none() | TEXTS)
    def update(self, record_id: str, n: int | None, text: str | None) -> None:
        if record_id not in self.model:
            return
        self.store.update([record_id], texts=None if text is None else [text], metadatas=[{"n": n}])
        old_text, meta = self.model[record_id]
        meta = dict(meta)
        if n is None:
            meta.pop("n", None)
        else:
            meta["n"] = n
        self.model[record_id] = (old_text if text is None else text, meta)

    @rule(ids=st.lists(IDS, min_size=1, max_size=3))
    def delete_ids(self, ids: list[str]) -> None:
        assert self.store.delete(ids) == len({i for i in ids if i in self.model})
        for i in ids:
            self.model.pop(i, None)

    @rule(n=st.integers(0, 3))
    def delete_where(self, n: int) -> None:
        gone = [i for i, (_, m) in self.model.items() if m.get("n") == n]
        assert self.store.delete(where={"n": n}) == len(gone)
        for i in gone:
            del self.model[i]

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = self._open()

    def _open(self) -> HybridStore:
        return HybridStore.persistent(self.path, "prop", embedder=HashingEmbedder(16), config=self.CONFIG)

    @rule()
    def rebuild(self) -> None:
        self.store.refresh(full=True)

    @invariant()
    def everything_agrees(self) -> None:
        mirrors = self.store._replica.mirrors
        chroma = self.store._replica.storage.collection.get(include=["documents", "metadatas", "embeddings"])
        chroma_records = {
            i: (d, {k: v for k, v in m.items() if not k.startswith(RESERVED_PREFIX)})
            for i, d, m in zip(chroma["ids"], chroma["documents"], chroma["metadatas"], strict=True)
        }
        assert chroma_records == self.model
        got = {r.id: (r.document, r.metadata) for r in self.store.get()}
        assert got == self.model
        if mirrors is None:
            assert not self.model
            return
        records = mirrors.records
        live_rows = np.flatnonzero(records.alive)
        assert sorted(records.ids[r] for r in live_rows) == sorted(self.model)
        # FAISS holds exactly Chroma's vectors for the live rows
        chroma_vectors = dict(zip(chroma["ids"], np.asarray(chroma["embeddings"], dtype=np.float32), strict=True))
        for row in live_rows:
            assert np.array_equal(mirrors.dense.vectors[row], chroma_vectors[records.ids[row]])
        if self.model:
            query = np.ones(16, dtype=np.float32) / 4.0
            dense_ids = {h.id for h in self.store.search(vector=query, k=len(self.model), mode="dense")}
            assert dense_ids == set(self.model)
        # BM25 finds every record holding a word, and nothing else
        for word in ("apple", "hotel"):
            holding = {i for i, (t, _) in self.model.items() if word in t.split()}
            found = {h.id for h in self.store.search(word, k=20, mode="lexical")}
            assert found == holding

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.path, ignore_errors=True)


class HnswStoreMachine(StoreMachine):
    """The same with an HNSW mirror from 4 live records: flat/HNSW switches, a mapped index
    after each reopen, and its read into memory on the next write."""

    CONFIG = StoreConfig(faiss=FaissConfig(hnsw_threshold=4))


SETTINGS = settings(
    max_examples=60, stateful_step_count=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
StoreMachine.TestCase.settings = SETTINGS
HnswStoreMachine.TestCase.settings = SETTINGS
TestIndexConsistency = StoreMachine.TestCase
TestIndexConsistencyHnsw = HnswStoreMachine.TestCase
