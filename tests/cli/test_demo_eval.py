"""mira-vs demo (hashing, and once with the real default MiniLM) and mira-vs eval on a small BEIR folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Cli

from mira_vectorstores.beir import mrr_at_k


def test_demo_builds_the_sample_store_and_shows_score_parts(cli: Cli) -> None:
    out = cli.run("demo", "--sample").ok().out
    assert out.startswith("Store 'sample-demo' under ./mira_data: 0 records before ingest; source: the bundled sample")
    assert "20 records ready in" in out
    assert "hybrid search: 'how does hybrid retrieval work'" in out
    assert "the same query with breakthrough x1.5 and only 2020 or later:" in out
    assert out.count("#  id") == 3


@pytest.mark.integration  # the real model: ~8 s of the folder's run time
def test_demo_with_the_default_minilm(cli: Cli, workdir: Path) -> None:
    run = cli.run("demo", "--sample", "--path", "minilm", env={"MIRA_VS_EMBEDDER": "minilm"}).ok()
    first_hit = run.out.split("hybrid search: 'how does hybrid retrieval work'\n", 1)[1].splitlines()[1]
    assert first_hit.split()[:2] == ["1", "s03"]
    assert (workdir / "minilm" / "mira" / "embedding-cache.sqlite").is_file()


@pytest.fixture(scope="module")
def beir(workdir: Path) -> Path:
    folder = workdir / "tiny-beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = {
        "d1": ("Vitamin D", "Vitamin D deficiency raises the risk of disease."),
        "d2": ("", "MicroRNA regulates the growth of cancer cells."),
        "d3": ("Biomaterials", "Zero-dimensional biomaterials lack inductive properties."),
        "d4": ("Cooking", "Boil the pasta in salted water."),
    }
    lines = [json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in corpus.items()]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    queries = {"q1": "vitamin D deficiency disease", "q2": "microRNA cancer growth", "q3": "biomaterials inductive"}
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    return folder


def test_eval_ingests_the_corpus_once_and_scores_each_mode(cli: Cli, beir: Path) -> None:
    first = cli.run("eval", str(beir)).ok()
    assert first.out.splitlines()[0] == "3 queries of tiny-beir (test), store 'beir-tiny-beir'"
    header, *rows = first.out.splitlines()[1:]
    assert header.split() == ["mode", "nDCG@10", "recall@100", "MRR@10", "seconds"]
    assert [row.split()[0] for row in rows] == ["dense", "lexical", "hybrid"]
    assert "store 'beir-tiny-beir': 4 records (4 written, 0 unchanged)" in first.err
    second = cli.run("eval", str(beir), "--modes", "lexical,hybrid", "--limit-queries", "2", "--json").ok()
    report = json.loads(second.out)
    assert (report["store"], report["split"], report["queries"]) == ("beir-tiny-beir", "test", 2)
    assert set(report["modes"]) == {"lexical", "hybrid"}
    assert report["modes"]["lexical"]["ndcg@10"] == pytest.approx(1.0)
    assert report["modes"]["lexical"]["mrr@10"] == pytest.approx(1.0)
    assert "(0 written, 4 unchanged)" in second.err


def test_mrr_at_k() -> None:
    assert mrr_at_k(["a", "b", "c"], {"b": 1}) == 0.5
    assert mrr_at_k(["a", "b", "c"], {"c": 1, "a": 0}, k=2) == 0.0
    assert mrr_at_k([], {"a": 1}) == 0.0
