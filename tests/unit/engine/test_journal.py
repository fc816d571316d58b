"""Tests of ``engine/storage/journal.py``: durable appends read back exactly, in order; truncation;
a writer killed right after an append; malformed rows are refused by seq.
"""

from __future__ import annotations

import signal
import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import orjson
import pytest
from processes import Child

from mira_vectorstores.engine.storage import journal
from mira_vectorstores.engine.storage.journal import Journal, JournalError

DIM = 16


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    # Values a float round trip through text or float64 would alter or normalise.
    vectors[0, :4] = [np.float32(-0.0), np.finfo(np.float32).tiny / 2, np.finfo(np.float32).max, 1 / 3]
    return vectors


def _bits(vectors: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors, dtype=np.float32).view(np.uint32)


def _insert_row(folder: Path, seq: int, op: object, body: object, vectors: object) -> None:
    """Write one row straight into the journal's table, as a damaged or crafted file would hold it."""
    db = sqlite3.connect(folder / journal.FILE)
    try:
        db.execute("INSERT INTO entries (seq, op, body, vectors) VALUES (?, ?, ?, ?)", (seq, op, body, vectors))
        db.commit()
    finally:
        db.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A journal folder whose database (with its table) exists and has no entries."""
    created = Journal(tmp_path / "journal")
    created.close()
    return tmp_path / "journal"


def test_appends_read_back_in_order_with_exact_contents(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    vectors = _vectors(3)
    metadatas = [
        {"s": "x", "i": 7, "f": 0.1, "b": True, "l": [1, "a"], "_mira_stamp": 11},
        {"s": "é ✓", "i": -(2**53), "f": 1e-300, "b": False},
        {},
    ]
    seqs = [
        j.append(
            "upsert", stamp=11, ids=["a", "b", "c"], documents=["doc a", None, ""], metadatas=metadatas, vectors=vectors
        ),
        j.append("update", stamp=12, ids=["b"], metadatas=[{"s": "y", "i": None}]),
        j.append("delete", stamp=13, ids=["a", "c"]),
    ]
    j.close()

    entries = list(journal.read(tmp_path))

    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    assert [e.seq for e in entries] == seqs
    assert [e.op for e in entries] == ["upsert", "update", "delete"]
    assert [e.stamp for e in entries] == [11, 12, 13]
    assert [e.ids for e in entries] == [["a", "b", "c"], ["b"], ["a", "c"]]
    assert entries[0].documents == ["doc a", None, ""]
    assert entries[0].metadatas == metadatas
    assert entries[1].documents == []
    assert entries[1].metadatas == [{"s": "y", "i": None}]
    assert entries[2].documents == entries[2].metadatas == []
    upsert = entries[0].vectors
    assert upsert is not None
    assert upsert.dtype == np.float32
    assert upsert.shape == (3, DIM)
    assert np.array_equal(_bits(upsert), _bits(vectors))  # bit-exact, -0.0 and subnormals included
    assert entries[1].vectors is None
    assert entries[2].vectors is None


def test_vectors_of_another_dtype_are_stored_as_float32(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    wide = np.random.default_rng(3).standard_normal((2, DIM))  # float64, as a caller may pass
    j.append("upsert", stamp=1, ids=["a", "b"], documents=[None, None], metadatas=[{}, {}], vectors=wide)
    j.close()
    (entry,) = journal.read(tmp_path)
    assert entry.vectors is not None
    assert np.array_equal(_bits(entry.vectors), _bits(wide.astype(np.float32)))


def test_read_sees_entries_of_a_journal_that_is_still_open(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    try:
        j.append("delete", stamp=1, ids=["a"])
        assert [e.ids for e in journal.read(tmp_path)] == [["a"]]  # in the WAL, not yet checkpointed
    finally:
        j.close()


def test_last_seq_is_zero_when_empty_and_then_the_newest_seq(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    try:
        assert j.last_seq() == 0
        first = j.append("delete", stamp=1, ids=["a"])
        second = j.append("delete", stamp=2, ids=["b"])
        assert second > first
        assert j.last_seq() == second
    finally:
        j.close()


def test_truncate_drops_exactly_the_entries_through_the_given_seq(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    try:
        seqs = [j.append("delete", stamp=n, ids=[f"r{n}"]) for n in range(5)]
        j.truncate(seqs[2])
        assert [e.seq for e in journal.read(tmp_path)] == seqs[3:]
        assert [e.ids for e in journal.read(tmp_path)] == [["r3"], ["r4"]]
        assert j.last_seq() == seqs[4]
        later = j.append("delete", stamp=9, ids=["r9"])
        assert later > seqs[4]  # entries left behind keep the numbering going
        j.truncate(0)  # nothing is at or below 0
        assert [e.seq for e in journal.read(tmp_path)] == [*seqs[3:], later]
        j.truncate(later)
        assert list(journal.read(tmp_path)) == []
        assert j.last_seq() == 0
    finally:
        j.close()


def test_size_counts_the_database_and_its_log_and_truncate_gives_the_log_back(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j")
    try:

        def on_disk() -> int:
            return sum(p.stat().st_size for p in (tmp_path / "j").iterdir())

        empty = j.size()
        assert empty == on_disk() > 0
        payload = _vectors(200)
        for stamp in range(5):
            ids = [f"{stamp}-{i}" for i in range(200)]
            j.append("upsert", stamp=stamp, ids=ids, documents=[None] * 200, metadatas=[{}] * 200, vectors=payload)
        full = j.size()
        assert full == on_disk()
        assert full - empty >= 5 * payload.nbytes
        j.truncate(j.last_seq())
        after_first = j.size()
        assert after_first == on_disk()
        assert after_first < full
        assert (tmp_path / "j" / (journal.FILE + "-wal")).stat().st_size == 0
        for stamp in range(5):  # the same amount again reuses the freed space
            ids = [f"{stamp}-{i}" for i in range(200)]
            j.append("upsert", stamp=stamp, ids=ids, documents=[None] * 200, metadatas=[{}] * 200, vectors=payload)
        j.truncate(j.last_seq())
        assert j.size() <= after_first
    finally:
        j.close()


def test_a_missing_journal_reads_as_nothing(tmp_path: Path) -> None:
    assert list(journal.read(tmp_path / "never-created")) == []
    assert list(journal.read(tmp_path)) == []  # the folder exists, the file does not
    assert not (tmp_path / journal.FILE).exists()  # reading does not create it


def test_an_empty_journal_reads_as_nothing(folder: Path) -> None:
    assert (folder / journal.FILE).exists()
    assert list(journal.read(folder)) == []


def test_a_reopened_journal_keeps_its_entries_and_numbering(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    seq = first.append("delete", stamp=1, ids=["a"])
    first.close()
    second = Journal(tmp_path)
    try:
        assert second.last_seq() == seq
        assert second.append("delete", stamp=2, ids=["b"]) > seq
        assert [e.ids for e in journal.read(tmp_path)] == [["a"], ["b"]]
    finally:
        second.close()


def test_an_entry_is_kept_when_its_writer_is_killed_right_after_the_append_returned(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        import numpy as np
        from mira_vectorstores.engine.storage.journal import Journal

        j = Journal(Path(sys.argv[1]))
        vectors = np.arange(2 * 16, dtype=np.float32).reshape(2, 16) / 7
        seq = j.append("upsert", stamp=42, ids=["a", "b"], documents=["doc", None],
                       metadatas=[{"k": 1}, {"k": 2.5}], vectors=vectors)
        print(seq, flush=True)
        time.sleep(120)
        """
    )
    folder = tmp_path / "journal"
    child = Child(code, str(folder), cwd=tmp_path)
    try:
        seq = int(child.line(timeout=60))
        child.proc.send_signal(signal.SIGKILL)
        child.proc.wait(timeout=30)
    finally:
        child.close()
    assert child.proc.returncode == -signal.SIGKILL
    assert (folder / (journal.FILE + "-wal")).stat().st_size > 0  # never checkpointed: the entry is in the WAL

    (entry,) = journal.read(folder)

    assert (entry.seq, entry.op, entry.stamp, entry.ids) == (seq, "upsert", 42, ["a", "b"])
    assert entry.documents == ["doc", None]
    assert entry.metadatas == [{"k": 1}, {"k": 2.5}]
    assert entry.vectors is not None
    expected = np.arange(2 * 16, dtype=np.float32).reshape(2, 16) / 7
    assert np.array_equal(_bits(entry.vectors), _bits(expected))


def _body(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "stamp": 5,
        "ids": ["a", "b"],
        "documents": ["x", None],
        "metadatas": [{}, {"k": 1}],
        "dim": DIM,
    }
    body.update(overrides)
    return orjson.dumps(body)


GOOD_VECTORS = np.ones((2, DIM), dtype="<f4").tobytes()
NAN_VECTORS = np.full((2, DIM), np.nan, dtype="<f4").tobytes()
INF_VECTORS = np.concatenate([np.ones(2 * DIM - 1), [np.inf]]).astype("<f4").tobytes()


@pytest.mark.parametrize(
    ("op", "body", "vectors", "why"),
    [
        pytest.param("rename", _body(), GOOD_VECTORS, "unknown op 'rename'", id="unknown-op"),
        pytest.param("upsert", b"{not json", GOOD_VECTORS, "malformed", id="body-not-json"),
        pytest.param("upsert", b"\xff\xfe", GOOD_VECTORS, "malformed", id="body-not-utf8"),
        pytest.param("upsert", orjson.dumps([1, 2]), GOOD_VECTORS, "stamp or ids", id="body-not-an-object"),
        pytest.param("upsert", _body(ids=["a", 2]), GOOD_VECTORS, "stamp or ids", id="id-not-a-string"),
        pytest.param("delete", _body(ids="ab"), None, "stamp or ids", id="ids-not-a-list"),
        pytest.param("delete", _body(stamp="5"), None, "stamp or ids", id="stamp-not-an-int"),
        pytest.param("delete", _body(stamp=True), None, "stamp or ids", id="stamp-a-bool"),
        pytest.param("upsert", _body(documents=["x", 3]), GOOD_VECTORS, "documents", id="document-not-a-string"),
        pytest.param("upsert", _body(metadatas=[{}, []]), GOOD_VECTORS, "metadatas", id="metadata-not-an-object"),
        pytest.param("upsert", _body(), None, f"not 2 x {DIM} float32", id="upsert-without-vectors"),
        pytest.param("upsert", _body(dim=None), GOOD_VECTORS, "not 2 x None", id="upsert-without-dimension"),
        pytest.param("upsert", _body(documents=["x"]), GOOD_VECTORS, "a metadata per id", id="upsert-documents-short"),
        pytest.param("upsert", _body(ids=[], documents=[], metadatas=[]), b"", "a metadata per id", id="upsert-no-ids"),
        pytest.param("upsert", _body(), GOOD_VECTORS[:-4], f"not 2 x {DIM} float32", id="vector-bytes-uneven"),
        pytest.param("upsert", _body(dim=DIM + 1), GOOD_VECTORS, f"not 2 x {DIM + 1}", id="vector-bytes-other-dim"),
        pytest.param("upsert", _body(), NAN_VECTORS, "not finite", id="nan-vector"),
        pytest.param("upsert", _body(), INF_VECTORS, "not finite", id="inf-vector"),
        pytest.param("update", _body(metadatas=[{}]), None, "a metadata per id", id="update-metadatas-short"),
    ],
)
def test_a_malformed_entry_raises_journal_error_naming_its_seq(
    folder: Path, op: object, body: bytes, vectors: bytes | None, why: str
) -> None:
    _insert_row(folder, 1, "delete", _body(), None)  # a good entry first: it is read, then the bad one fails
    _insert_row(folder, 77, op, body, vectors)
    entries = journal.read(folder)
    assert next(entries).seq == 1
    with pytest.raises(JournalError, match=r"journal entry 77 is malformed") as raised:
        next(entries)
    assert why in str(raised.value)


@pytest.mark.parametrize(
    ("op", "body", "vectors"),
    [
        pytest.param("upsert", _body(), GOOD_VECTORS[:-1], id="upsert-bytes-not-a-multiple-of-4"),
        pytest.param("upsert", _body(), "not a blob", id="upsert-vectors-stored-as-text"),
        pytest.param("update", _body(), GOOD_VECTORS[:-4], id="update-with-uneven-vector-blob"),
        pytest.param("delete", _body(ids=[]), GOOD_VECTORS, id="delete-of-no-ids-with-a-vector-blob"),
    ],
)
def test_a_malformed_vector_blob_raises_journal_error(folder: Path, op: str, body: bytes, vectors: object) -> None:
    _insert_row(folder, 31, op, body, vectors)
    with pytest.raises(JournalError, match=r"journal entry 31 is malformed"):
        list(journal.read(folder))


def test_a_file_that_is_not_a_database_raises_journal_error(tmp_path: Path) -> None:
    (tmp_path / journal.FILE).write_bytes(b"not a database, just bytes " * 200)
    with pytest.raises(JournalError, match=r"cannot be read"):
        list(journal.read(tmp_path))
