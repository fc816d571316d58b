"""Tests of ``engine/storage/probe.py``: Chroma reads a folder in a child process; a healthy
folder is ok with its counts, a damaged one is not ok with the reason, and the parent survives.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
from pathlib import Path

import chromadb
import numpy as np
import pytest

from mira_vectorstores.engine.storage import probe

DIM = 16
CONFIG = {"hnsw": {"space": "ip", "sync_threshold": 100, "batch_size": 100}}
TIMEOUT = 120.0  # generous: a child imports chromadb; only a hang would take this long


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed Chroma folder: ``docs`` (300 records, HNSW files persisted) and ``other`` (2)."""
    path = tmp_path_factory.mktemp("probe") / "chroma"
    client = chromadb.PersistentClient(path=str(path))
    docs = client.create_collection("docs", embedding_function=None, configuration=CONFIG)
    vectors = np.random.default_rng(3).standard_normal((300, DIM)).astype(np.float32)
    docs.add(ids=[f"rec-{i}" for i in range(300)], embeddings=vectors, documents=[f"doc {i}" for i in range(300)])
    other = client.create_collection("other", embedding_function=None)
    other.add(ids=["a", "b"], embeddings=np.ones((2, DIM), np.float32))
    client.close()
    return path


@pytest.fixture
def copy(healthy: Path, tmp_path: Path) -> Path:
    """A copy of the healthy folder this test may damage."""
    return shutil.copytree(healthy, tmp_path / "chroma")


def _segment_of(folder: Path, name: str) -> Path:
    """The HNSW segment folder of collection ``name``."""
    db = sqlite3.connect(folder / "chroma.sqlite3")
    try:
        (segment,) = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
            "WHERE c.name = ? AND s.scope = 'VECTOR'",
            (name,),
        ).fetchone()
    finally:
        db.close()
    return folder / segment


@pytest.mark.parametrize(
    ("names", "detail"),
    [(["docs"], "docs: 300"), (["nope", "docs", "other"], "docs: 300, other: 2")],
    ids=["one", "several-and-a-missing-one"],
)
def test_a_healthy_folder_is_ok_with_the_counts(healthy: Path, names: list[str], detail: str) -> None:
    assert probe.check(healthy, names, timeout=TIMEOUT) == probe.Probe(ok=True, detail=detail)


def test_a_missing_collection_is_ok_with_no_collection(healthy: Path) -> None:
    assert probe.check(healthy, ["nope"], timeout=TIMEOUT) == probe.Probe(ok=True, detail="no collection")


def test_a_garbage_database_is_not_ok_and_says_why(copy: Path) -> None:
    (copy / "chroma.sqlite3").write_bytes(np.random.default_rng(0).bytes(100_000))
    found = probe.check(copy, ["docs"], timeout=TIMEOUT)
    assert not found.ok
    assert "not a database" in found.detail
    assert re.match(r"^\w+: ", found.detail)  # the error's type, then its first line


@pytest.mark.parametrize("damage", ["random-same-size", "cut-to-4-bytes"])
def test_a_garbage_hnsw_data_file_is_not_ok_and_the_parent_survives(copy: Path, damage: str) -> None:
    data = _segment_of(copy, "docs") / "data_level0.bin"
    size = data.stat().st_size
    assert size > 0
    data.write_bytes(np.random.default_rng(1).bytes(size) if damage == "random-same-size" else b"junk")
    found = probe.check(copy, ["docs"], timeout=TIMEOUT)
    # Chroma 1.5.9 fails with an error here (it does not crash); either way the parent gets ok=False.
    assert not found.ok
    assert re.match(r"^\w+Error: \S", found.detail) or "crashed the reading process" in found.detail
    assert 0 < len(found.detail) <= 500


def test_a_child_over_the_timeout_is_not_ok(healthy: Path) -> None:
    found = probe.check(healthy, ["docs"], timeout=0.05)  # a fresh interpreter cannot import chromadb this fast
    assert not found.ok
    assert found.detail.startswith("Chroma took over")


# -- the parent's reading of the child, with a stand-in interpreter (a shell script) --------------------------
def _interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))


def test_the_child_runs_this_module_isolated_with_the_folder_and_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interpreter(tmp_path, monkeypatch, """printf '{"ok": true, "detail": "%s"}\\n' "$*" """)
    found = probe.check(tmp_path / "folder", ["docs", "other"], timeout=TIMEOUT)
    assert found.ok
    assert found.detail == f"-I {Path(probe.__file__).resolve()} {tmp_path / 'folder'} docs other"


def test_a_child_killed_by_a_signal_is_not_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _interpreter(tmp_path, monkeypatch, 'echo partial output\nkill -SEGV "$$"')
    assert probe.check(tmp_path, ["docs"], timeout=TIMEOUT) == probe.Probe(
        ok=False, detail="Chroma crashed the reading process (signal 11)"
    )


def test_a_child_without_a_result_line_is_not_ok_with_its_last_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _interpreter(tmp_path, monkeypatch, "echo noise\necho 'Traceback' >&2\necho 'RuntimeError: boom' >&2\nexit 3")
    assert probe.check(tmp_path, ["docs"], timeout=TIMEOUT) == probe.Probe(
        ok=False, detail="the probe failed (exit 3): RuntimeError: boom"
    )


def test_a_child_with_no_output_at_all_is_not_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _interpreter(tmp_path, monkeypatch, "exit 0")
    assert probe.check(tmp_path, ["docs"], timeout=TIMEOUT) == probe.Probe(
        ok=False, detail="the probe failed (exit 0): no output"
    )


def test_a_malformed_result_line_is_not_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _interpreter(tmp_path, monkeypatch, "echo '{\"ok\": true, '\necho 'ValueError: half a line' >&2")
    found = probe.check(tmp_path, ["docs"], timeout=TIMEOUT)
    assert not found.ok
    assert found.detail == "the probe failed (exit 0): ValueError: half a line"


def test_the_last_result_line_counts_and_its_detail_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = """echo '{"ok": false, "detail": "first"}'"""
    last = f"""echo '{{"ok": true, "detail": "{"x" * 800}"}}'"""
    _interpreter(tmp_path, monkeypatch, "\n".join([first, "echo 'log line'", last]))
    found = probe.check(tmp_path, ["docs"], timeout=TIMEOUT)
    assert found.ok
    assert found.detail == "x" * 500
