"""A real Chroma server (``chroma run``): client mode, objects on the server, two clients."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores import HashingEmbedder, HybridStore, StoreUnavailableError

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start within 60 s")
    yield port
    proc.terminate()
    proc.wait(timeout=30)


def test_store_on_a_server_writes_searches_and_keeps_objects(server: int) -> None:
    store = HybridStore.connect("127.0.0.1", server, "shared", embedder=HashingEmbedder(32))
    store.add(["servers share collections", "lexical search on words"], ids=["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
    assert [h.id for h in store.search("share collections", k=1)] == ["a"]
    assert [h.id for h in store.search("words", k=2, where={"n": 2})] == ["b"]
    payload = np.random.default_rng(0).bytes(9_000_000)  # several chunks on the server
    oid = store.put_object(payload, description="a large binary")
    assert store.get_object(oid) == payload

    other = HybridStore.connect("127.0.0.1", server, "shared", embedder=HashingEmbedder(32))
    assert other.count() == 3
    assert other.get_object(oid) == payload
    other.upsert(["a third record from the other client"], ids=["c"])
    store.refresh()
    assert store.get(["c"])[0].document == "a third record from the other client"
    store.delete([oid])
    other.refresh()
    assert other.count() == 3 - 1 + 1
    assert other.get([oid]) == []
    other.close()
    store.close()


def test_unreachable_server_is_a_clear_error() -> None:
    port = _free_port()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        HybridStore.connect("127.0.0.1", port, "nothing", embedder=HashingEmbedder(8))
