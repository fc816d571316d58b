"""Documents into records (``cli/records.py``), in-process: metadata conversion, chunks, batched writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mira_vectorstores import HashingEmbedder, HybridStore
from mira_vectorstores.beir import Doc
from mira_vectorstores.cli.records import Chunker, Conversions, chroma_metadata, write_documents


def test_metadata_is_converted_never_dropped() -> None:
    counts = Conversions()
    meta = {
        "ok": "x", "n": 3, "f": 0.5, "flag": True, "ints": [1, 2], "none": None,
        "nested": {"a": {"b": 1}, "c": [True]}, "mixed": [1, "a"], "bools_and_ints": [True, 1],
        "objects": [{"a": 1}], "empty_list": [], "empty_object": {}, "big": -(2**64), "nan": float("nan"),
    }  # fmt: skip
    assert chroma_metadata(meta, counts) == {
        "ok": "x", "n": 3, "f": 0.5, "flag": True, "ints": [1, 2],
        "nested.a.b": 1, "nested.c": [True], "mixed": '[1, "a"]', "bools_and_ints": "[true, 1]",
        "objects": '[{"a": 1}]', "empty_list": "[]", "empty_object": "{}", "big": str(-(2**64)), "nan": "nan",
    }  # fmt: skip
    assert (counts.flattened, counts.as_json, counts.as_text, counts.total) == (2, 5, 2, 9)


def test_short_texts_stay_whole_and_long_ones_are_cut_with_offsets() -> None:
    chunker = Chunker(100, 10)
    assert chunker.chunks(Doc("d", "short"), {"k": 1}) == [
        *Chunker(0).chunks(Doc("d", "short"), {"k": 1})  # size 0: never cut
    ]
    text = "Paragraph one is here.\n\n" + "A sentence about search. " * 20
    chunks = chunker.chunks(Doc("d", text), {"k": 1})
    assert [c.id for c in chunks] == [f"d#{n}" for n in range(len(chunks))]
    for n, chunk in enumerate(chunks):
        assert chunk.metadata == {
            "k": 1,
            "chunk": n,
            "chunks": len(chunks),
            "parent_id": "d",
            "start": chunk.metadata["start"],
        }
        start = int(str(chunk.metadata["start"]))
        assert text[start : start + len(chunk.text)] == chunk.text
        assert 0 < len(chunk.text) <= 100


@pytest.fixture
def store() -> Iterator[HybridStore]:
    with HybridStore.in_memory(embedder=HashingEmbedder(32)) as store:
        yield store


def test_rewrites_skip_unchanged_records_and_shrinking_deletes_stale_chunks(store: HybridStore) -> None:
    chunker = Chunker(60, 0)
    long = Doc("a", "First sentence of the doc. Second sentence of it. Third sentence here. Fourth one.")
    first = write_documents(store, [long, Doc("b", "short")], chunker=chunker, batch_size=2)
    assert first.chunks == first.written > 2
    again = write_documents(store, [long, Doc("b", "short")], chunker=chunker, batch_size=2)
    assert (again.written, again.unchanged, again.stale_deleted) == (0, first.chunks, 0)
    shrunk = write_documents(store, [Doc("a", "Now short."), Doc("b", "short")], chunker=chunker)
    assert shrunk.stale_deleted == first.chunks - 1
    assert sorted(r.id for r in store.get()) == ["a", "b"]
    grown = write_documents(store, [long], chunker=chunker)
    assert grown.stale_deleted == 1  # "a" itself, now "a#0", "a#1", ...
    assert "a" not in {r.id for r in store.get()}


def test_a_document_read_twice_keeps_its_last_version(store: HybridStore) -> None:
    seen: list[int] = []
    report = write_documents(store, [Doc("x", "old"), Doc("x", "new")], chunker=Chunker(0), on_batch=seen.append)
    assert [r.document for r in store.get(["x"])] == ["new"]
    assert (report.documents, seen) == (1, [2])
