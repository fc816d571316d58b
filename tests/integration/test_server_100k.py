"""100,000 records on a Chroma server: another process sees a new record within the bound, and a
restarted process loads its mirror cache and catches up by the change instead of reading everything.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from processes import Child, ChromaServer

from mira_vectorstores import HybridStore

pytestmark = pytest.mark.integration

N = 100_000
DIM = 16  # small vectors: the server's ingest, not the dimension, is what this test is about
BOUND = 5.0  # seconds; the store promises ~1 s (0.5 s interval + one catch-up), CI machines are slower

# Opens the store from a warm mirror cache with full reads forbidden, then reports when the id it
# is sent shows up in its mirrors (the background catch-up, no refresh() calls).
READER = r"""
import json, sys, time
from mira_vectorstores import HybridStore
from mira_vectorstores.engine.mirrors import catch_up

def forbidden(*args, **kwargs):
    raise AssertionError("the restart read every record instead of loading its cache")

catch_up.rebuild = forbidden
catch_up.reconcile = forbidden
port, name, cache = int(sys.argv[1]), sys.argv[2], sys.argv[3]
began = time.perf_counter()
store = HybridStore.connect("127.0.0.1", port, name, embedder=None, mirror_dir=cache)
print(json.dumps({"count": store.count(), "open_s": time.perf_counter() - began}), flush=True)
wanted = sys.stdin.readline().strip()
deadline = time.time() + 60
while time.time() < deadline and not store.get([wanted]):
    time.sleep(0.005)
print(json.dumps({"seen_at": time.time() if store.get([wanted]) else None}), flush=True)
store.close()
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    root = tmp_path_factory.mktemp("server-100k")
    server = ChromaServer(root)
    server.start()
    cache = root / "writer-cache"
    vectors = np.random.default_rng(0).standard_normal((N, DIM)).astype(np.float32)
    writer = HybridStore.connect("127.0.0.1", server.port, "big", embedder=None, mirror_dir=cache)
    for start in range(0, N, 5_000):
        ids = [f"r{i}" for i in range(start, start + 5_000)]
        writer.add(
            [f"record {i}" for i in range(start, start + 5_000)], ids=ids, vectors=vectors[start : start + 5_000]
        )
    writer.close()
    yield server.port, cache
    server.stop()


def test_a_new_record_reaches_a_restarted_process_within_the_bound(loaded: tuple[int, Path], tmp_path: Path) -> None:
    port, cache = loaded
    reader_cache = tmp_path / "reader-cache"
    shutil.copytree(cache, reader_cache)  # the reader restarts from a cache saved before the new write
    reader = Child(READER, str(port), "big", str(reader_cache), cwd=tmp_path)
    try:
        opened = json.loads(reader.line(timeout=120))
        assert opened["count"] == N
        shutil.copytree(cache, tmp_path / "writer")
        writer = HybridStore.connect("127.0.0.1", port, "big", embedder=None, mirror_dir=tmp_path / "writer")
        writer.add(["one more record"], ids=["late"], vectors=np.ones((1, DIM), dtype=np.float32))
        acknowledged = time.time()
        reader.send("late")
        seen = json.loads(reader.line(timeout=120))["seen_at"]
        writer.close()
        assert seen is not None, "the reader never saw the new record"
        assert seen - acknowledged <= BOUND, f"seen {seen - acknowledged:.2f} s after the write returned"
    finally:
        reader.close()
