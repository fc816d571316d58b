"""Crash safety of an embedded store: writers killed mid-write (SIGKILL, SIGTERM), then opened
again in this process, which must never die: every acknowledged write is there, no deleted
record is, and searches agree with brute force over what Chroma holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import numpy as np
import pytest
from processes import Acknowledged

from mira_vectorstores import HybridStore

pytestmark = pytest.mark.integration
NAME = "crashes"
DIM = 32
UNIVERSE = 4_000  # record ids r0..r3999: calls overwrite and delete each other's records

# A writer: upserts 300 records a call (new and overwritten), deletes 20 every third call and
# updates the metadata of 20 every fourth, logging each call before ("B ...") and after ("A")
# it returns, fsync'd, so the test knows what was acknowledged.
WRITER = r"""
import hashlib, os, sys
import numpy as np
from mira_vectorstores import HybridStore

def vector(record_id, version):
    seed = int.from_bytes(hashlib.sha256(f"{record_id}|{version}".encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)

path, seed, DIM, UNIVERSE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if sys.argv[5] == "exit":  # an app that ends on SIGTERM by exiting: stores close at exit
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
store = HybridStore.persistent(path, "crashes", embedder=None)
log = open(os.path.join(path, "acks.log"), "a")
def note(line):
    log.write(line + "\n"); log.flush(); os.fsync(log.fileno())
rng = np.random.default_rng(seed)
print("READY", flush=True)
i = 0
while True:
    version = f"{seed}.{i}"
    ids = [f"r{k}" for k in dict.fromkeys(rng.integers(0, UNIVERSE, 300).tolist())]
    note("B U " + version + " " + " ".join(ids))
    store.upsert(
        [f"text {x} {version}" for x in ids], ids=ids,
        metadatas=[{"v": version} for _ in ids], vectors=np.stack([vector(x, version) for x in ids]),
    )
    note("A")
    doomed = [f"r{k}" for k in rng.integers(0, UNIVERSE, 20).tolist()] if i % 3 == 2 else []
    if doomed:
        note("B D " + " ".join(doomed)); store.delete(doomed); note("A")
    if i % 4 == 3:
        tagged = [x for x in ids if x not in doomed][:20]
        note("B M " + version + " " + " ".join(tagged))
        store.update(tagged, metadatas=[{"tag": version}] * len(tagged))
        note("A")
    i += 1
"""


def vector(record_id: str, version: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(f"{record_id}|{version}".encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def check_store(path: Path, model: Acknowledged) -> None:
    """Every record is as acknowledged (or as a write in flight at a kill left it); vectors
    exact; dense searches equal brute force over Chroma's own vectors.
    """
    store = HybridStore.persistent(path, NAME, embedder=None)
    try:
        records = {r.id: r for r in store.get(include_embeddings=True)}
        assert store.count() == len(records)
        for record_id in {f"r{k}" for k in range(UNIVERSE)}:
            allowed = model.allowed.get(record_id, {None})
            got = records.get(record_id)
            seen = None if got is None else (str(got.metadata["v"]), got.metadata.get("tag"))
            assert seen in allowed, f"{record_id}: store has {seen}, acknowledged {allowed}"
            if seen is not None:
                assert got is not None
                assert got.embedding is not None
                np.testing.assert_allclose(got.embedding, vector(record_id, seen[0]), atol=1e-5)
        with chromadb.PersistentClient(path=str(path)) as client:  # closed: no stale engine next time
            held = client.get_collection(NAME).get(include=["embeddings"])
        assert sorted(held["ids"]) == sorted(records)
        matrix = np.asarray(held["embeddings"], dtype=np.float32)
        rng = np.random.default_rng(len(records))
        for _ in range(5):
            query = rng.standard_normal(DIM).astype(np.float32)
            query /= np.linalg.norm(query)
            brute = [held["ids"][i] for i in np.argsort(-(matrix @ query), kind="stable")[:10]]
            assert [h.id for h in store.search(vector=query, k=10, mode="dense")] == brute
    finally:
        store.close()


def run_trials(
    tmp_path: Path, trials: list[tuple[signal.Signals, str]], caplog: pytest.LogCaptureFixture
) -> dict[str, int]:
    path = tmp_path / "store"
    path.mkdir()
    (path / "acks.log").touch()
    randomly = random.Random(15)
    counts = {"kills": 0, "repaired": 0, "probed": 0}
    for seed, (how, handler) in enumerate(trials):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(seed), str(DIM), str(UNIVERSE), handler],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "READY"
        time.sleep(randomly.uniform(0.3, 2.5))
        writer.send_signal(how)
        writer.wait(timeout=60)
        counts["kills"] += 1
        model = Acknowledged()
        model.read(path / "acks.log")
        with caplog.at_level(logging.INFO, logger="mira_vectorstores"):
            caplog.clear()
            check_store(path, model)
        repairs = [r.getMessage() for r in caplog.records if "repaired store" in r.getMessage()]
        for message in repairs:
            print(f"trial {seed} ({how.name}, handler {handler}): {message}")  # noqa: T201
        counts["repaired"] += len(repairs)
        counts["probed"] += sum("was not closed" in r.getMessage() for r in caplog.records)
    return counts


def test_writers_killed_mid_write_lose_nothing_acknowledged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trials = int(os.environ.get("MIRA_CRASH_TRIALS", "24"))
    plan = [(signal.SIGKILL, "none")] * (trials - trials // 6) + [(signal.SIGTERM, "none")] * (trials // 6)
    counts = run_trials(tmp_path, [*plan, *[(signal.SIGTERM, "exit")] * 4], caplog)
    # Every kill left the store unclosed: each reopen probed Chroma (and repaired it if needed);
    # an app exiting on SIGTERM closed its store (or, stopped mid-write, left it to be probed).
    assert counts["probed"] + counts["repaired"] >= len(plan)
    print(f"crash trials: {counts}")  # noqa: T201 - the figures of the closing note
