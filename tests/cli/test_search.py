"""mira-vs search, get and delete on one ingested store; shared options before or after the command."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Cli

from mira_vectorstores import HashingEmbedder, HybridStore

BOOST = json.dumps([{"type": "field", "field": "breakthrough", "equals": True, "factor": 3.0}])
PARTS = {"id", "score", "document", "metadata", "dense", "lexical", "fused", "boost", "distance", "object"}


def test_search_prints_a_ranked_table_with_score_parts(cli: Cli, sample_store: str) -> None:
    run = cli.run("--name", sample_store, "search", "hybrid retrieval fuses dense and lexical", "-k", "3").ok()
    header, *rows = run.out.splitlines()
    assert header.split() == ["#", "id", "score", "dense", "bm25", "boost", "text"]
    assert len(rows) == 3
    assert rows[0].split()[:2] == ["1", "s03"]
    assert "Hybrid retrieval fuses dense similarity" in rows[0]


def test_search_json_with_filters_boosts_fusion_and_modes(cli: Cli, sample_store: str) -> None:
    query = ("search", "vectors search records", "--name", sample_store, "--json", "-k", "20")
    where = ("--where", '{"year": {"$gte": 2023}}', "--where-document", '{"$contains": "a"}')
    filtered = json.loads(cli.run(*query, *where, "--fusion", "rrf", "--alpha", "0.7").ok().out)
    assert filtered
    assert set(filtered[0]) == PARTS
    assert all(hit["metadata"]["year"] >= 2023 and "a" in hit["document"] for hit in filtered)
    assert filtered == sorted(filtered, key=lambda hit: -hit["score"])
    assert all(hit["fused"] is not None for hit in filtered)
    boosted = json.loads(cli.run(*query, "--mode", "lexical", "--boost", BOOST).ok().out)
    assert {hit["boost"] for hit in boosted} == {1.0, 3.0}
    assert all(hit["dense"] is None and hit["lexical"] is not None for hit in boosted)
    assert all(hit["boost"] == 3.0 for hit in boosted if hit["metadata"]["breakthrough"])


def test_get_by_id_and_by_filter(cli: Cli, sample_store: str) -> None:
    by_id = cli.run("get", "s01", "nope", "s02", "--name", sample_store, "--json")
    records = json.loads(by_id.out)
    assert [r["id"] for r in records] == ["s01", "s02"]
    assert records[0]["document"].startswith("FAISS answers")
    assert records[0]["metadata"]["topic"] == "search"
    assert by_id.failed(1) == "error: 1 of 3 ids not found: nope"
    by_filter = cli.run("get", "--where", '{"topic": "search"}', "--limit", "2", "--name", sample_store).ok()
    header, *rows = by_filter.out.splitlines()
    assert header.split() == ["id", "text", "metadata"]
    assert len(rows) == 2
    assert '"topic": "search"' in rows[0]


def test_shared_options_after_the_command_win(cli: Cli, sample_store: str, workdir: Path) -> None:
    after = cli.run("--path", "elsewhere", "--name", sample_store, "get", "s01", "--path", "other", "--name", "absent")
    line = after.failed(1)
    assert "store 'absent' does not exist in the folder other;" in line
    assert "`mira-vs --path other ingest FILE --name absent`" in line
    assert not (workdir / "other").exists()  # a read creates nothing


def test_delete_asks_first_and_n_deletes_nothing(cli: Cli, sample_store: str, workdir: Path) -> None:
    refused = cli.run("delete", "s02", "s04", "--name", sample_store, stdin="n\n")
    assert "Delete 2 records from 'notes'? [y/N]" in refused.err
    assert refused.code == 1
    assert refused.err_lines[-1] == "error: nothing deleted: not confirmed (answer y, or pass --yes)"
    forced = cli.run("delete", "s00", "s01", "s12", "--where", '{"topic": "storage"}', "--yes", "--name", sample_store)
    assert forced.ok().out == "deleted 2 records from 'notes'; 18 left\n"  # ids and a filter: the ids that match
    with HybridStore(sample_store, path=workdir / "mira_data", embedder=HashingEmbedder()) as store:
        left = {r.id for r in store.get()}
    assert {"s02", "s04", "s01"} <= left  # refused, or not matching the filter
    assert not {"s00", "s12"} & left
