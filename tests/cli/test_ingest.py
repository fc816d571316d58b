"""mira-vs ingest: every file type, chunking, re-ingest of changed files, metadata conversion, CSV options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Cli, Run

from mira_vectorstores import HashingEmbedder, HybridStore, Record

LONG = " ".join(f"Sentence number {i} talks about hybrid retrieval and vector stores." for i in range(40))


def records(workdir: Path, name: str) -> dict[str, Record]:
    with HybridStore(name, path=workdir / "mira_data", embedder=HashingEmbedder(), create=False) as store:
        return {r.id: r for r in store.get()}


@pytest.fixture(scope="module")
def corpus(workdir: Path) -> Path:
    docs = workdir / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / ".hidden").mkdir()
    (docs / "a.txt").write_text("FAISS answers nearest neighbour queries fast.", encoding="utf-8")
    (docs / "sub" / "b.md").write_text("# Notes\n\nBM25 ranks by term frequency.", encoding="utf-8")
    (docs / "long.txt").write_text(LONG, encoding="utf-8")
    (docs / ".hidden" / "secret.txt").write_text("never read", encoding="utf-8")
    (docs / ".dotfile.txt").write_text("never read", encoding="utf-8")
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4")
    (docs / "README").write_text("no suffix", encoding="utf-8")
    rows = [
        {"_id": "beir1", "title": "Hybrid", "text": "dense and lexical fused", "metadata": {"year": 2024}},
        {"id": 7, "content": "content field with nested metadata", "info": {"lang": "en", "pages": {"n": 3}}},
        {"page_content": "no id: a generated one", "tags": ["a", 1], "authors": [{"n": "x"}], "empty": []},
        {"text": "scalars stay", "year": 2020, "draft": False, "score": 0.5, "huge": 2**70, "nothing": None},
    ]
    (docs / "recs.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    (docs / "items.json").write_text(json.dumps([{"id": "js1", "text": "json list item", "kind": "x"}]))
    (docs / "table.csv").write_text(
        "id,text,year,price,topic,code\n"
        'c1,"chroma stores records, texts",2023,9.5,storage,007\n'
        "c2,faiss library,2019,,search,1\n",
        encoding="utf-8",
    )
    beir = workdir / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "beir text"}) + "\n")
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "a query, not a document"}) + "\n")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return docs


@pytest.fixture(scope="module")
def ingested(cli: Cli, corpus: Path) -> Run:
    return cli.run(
        "ingest", str(corpus), "beir", "--name", "docs", "--chunk-size", "300", "--chunk-overlap", "30", "--progress"
    )


def test_ingest_reads_every_file_type(ingested: Run, workdir: Path) -> None:
    ingested.ok()
    stored = records(workdir, "docs")
    long_ids = sorted((i for i in stored if i.startswith("long.txt#")), key=lambda i: int(i.split("#")[1]))
    assert set(stored) - set(long_ids) == {
        "a.txt", "sub/b.md", "beir1", "7", "recs.jsonl:3", "recs.jsonl:4", "js1", "c1", "c2", "d1"
    }  # fmt: skip
    assert stored["a.txt"].document == "FAISS answers nearest neighbour queries fast."
    assert stored["a.txt"].metadata["source"] == "a.txt"
    assert stored["sub/b.md"].metadata["source"] == "sub/b.md"
    assert stored["beir1"].document == "Hybrid. dense and lexical fused"
    assert stored["beir1"].metadata["year"] == 2024
    assert stored["d1"].document == "T. beir text"  # a BEIR folder: its corpus only, BEIR ids
    assert stored["js1"].metadata["kind"] == "x"
    assert stored["c1"].document == "chroma stores records, texts"
    c1, c2 = stored["c1"].metadata, stored["c2"].metadata
    assert (c1["year"], c1["price"], c1["topic"], c1["code"]) == (2023, 9.5, "storage", "007")
    assert "price" not in c2  # an empty cell is no value
    assert all("never read" not in (r.document or "") for r in stored.values())


def test_ingest_summary_counts_files_records_chunks_and_skips(ingested: Run) -> None:
    summary = ingested.out.splitlines()[0]
    assert summary.startswith("read 7 files (11 records), skipped 1 (no suffix), 1 .pdf;")
    assert "stale chunks deleted" in summary
    assert "'docs' holds" in summary


def test_long_texts_become_chunks_with_offsets(ingested: Run, workdir: Path) -> None:
    stored = records(workdir, "docs")
    chunks = sorted((r for r in stored.values() if r.id.startswith("long.txt#")), key=lambda r: r.metadata["chunk"])
    assert len(chunks) > 3
    for n, chunk in enumerate(chunks):
        meta = chunk.metadata
        assert chunk.id == f"long.txt#{n}"
        assert (meta["chunk"], meta["chunks"], meta["parent_id"]) == (n, len(chunks), "long.txt")
        assert len(chunk.document or "") <= 300
        assert LONG[meta["start"] : meta["start"] + len(chunk.document or "")] == chunk.document
    assert stored["a.txt"].metadata["chunks"] == 1  # short texts stay whole, under their own id


def test_metadata_chroma_cannot_hold_is_converted_and_counted(ingested: Run, workdir: Path) -> None:
    stored = records(workdir, "docs")
    nested = stored["7"].metadata
    assert (nested["info.lang"], nested["info.pages.n"]) == ("en", 3)
    generated = stored["recs.jsonl:3"].metadata
    assert json.loads(str(generated["tags"])) == ["a", 1]
    assert json.loads(str(generated["authors"])) == [{"n": "x"}]
    assert generated["empty"] == "[]"
    scalars = stored["recs.jsonl:4"].metadata
    assert (scalars["year"], scalars["draft"], scalars["score"]) == (2020, False, 0.5)
    assert scalars["huge"] == str(2**70)
    assert "nothing" not in scalars
    assert ingested.out.splitlines()[1] == (
        "converted 6 metadata values Chroma cannot hold (nested objects flattened to dotted keys: 2; "
        "lists or objects stored as JSON strings: 3; numbers Chroma cannot hold stored as strings: 1)"
    )


def test_progress_bar_counts_records_on_stderr(ingested: Run) -> None:
    assert "ingest:" in ingested.err
    assert "/11 [" in ingested.err
    assert "rec/s" in ingested.err


def test_reingest_updates_changed_texts_and_deletes_stale_chunks(cli: Cli, workdir: Path) -> None:
    folder = workdir / "edits"
    folder.mkdir()
    (folder / "long.txt").write_text(LONG, encoding="utf-8")
    (folder / "keep.txt").write_text("this one never changes", encoding="utf-8")
    args = ("ingest", str(folder), "--name", "edits", "--chunk-size", "200", "--chunk-overlap", "20")
    first = cli.run(*args).ok()
    before = records(workdir, "edits")
    n = before["long.txt#0"].metadata["chunks"]
    assert n > 3
    assert f"{n + 1} chunks: {n + 1} written, 0 unchanged" in first.out

    (folder / "long.txt").write_text("Now a short text.", encoding="utf-8")
    second = cli.run(*args).ok()
    after = records(workdir, "edits")
    assert set(after) == {"long.txt", "keep.txt"}
    assert after["long.txt"].document == "Now a short text."
    assert after["long.txt"].metadata["chunks"] == 1
    assert f"2 chunks: 1 written, 1 unchanged, {n} stale chunks deleted" in second.out


def test_csv_columns_and_limit(cli: Cli, workdir: Path) -> None:
    table = workdir / "papers.csv"
    table.write_text("doi,abstract,year\n10/1,first abstract,2001\n10/2,second abstract,2002\n10/3,third,2003\n")
    run = cli.run(
        "ingest", str(table), "--name", "papers", "--text-column", "abstract", "--id-column", "doi", "--limit", "2"
    )
    run.ok()
    stored = records(workdir, "papers")
    assert sorted(stored) == ["10/1", "10/2"]
    assert stored["10/2"].document == "second abstract"
    assert stored["10/2"].metadata["year"] == 2002
