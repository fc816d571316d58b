"""A 100 MB payload round-trips byte-exact through an embedded store, and is removed with its record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mira_vectorstores import HashingEmbedder, HybridStore

pytestmark = pytest.mark.integration


def test_100_mb_object_round_trip(tmp_path: Path) -> None:
    payload = os.urandom(100 * 1024 * 1024)
    store = HybridStore.persistent(tmp_path, "blobs", embedder=HashingEmbedder(16))
    oid = store.put_object(payload, description="a 100 MB recording", metadata={"kind": "audio"})
    store.close()

    reopened = HybridStore.persistent(tmp_path, "blobs", embedder=HashingEmbedder(16))
    data, info = reopened.get_object_bytes(oid)
    assert data == payload
    assert info.size == len(payload)
    assert reopened.search("recording", k=1, where={"kind": "audio"})[0].id == oid
    payload_files = list((tmp_path / "mira" / "blobs" / "objects").rglob(info.sha256))
    assert len(payload_files) == 1
    reopened.delete([oid])
    assert not payload_files[0].exists()
    reopened.close()
