"""mira-vs stats, collections (and drop), export / import, backup / restore, migrate and doctor."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import Cli

from mira_vectorstores import HashingEmbedder, HybridStore

RECENT = 7  # sample records from 2024 on


def documents(workdir: Path, name: str, embedder: HashingEmbedder | None = None) -> dict[str, str | None]:
    with HybridStore(name, path=workdir / "mira_data", embedder=embedder or HashingEmbedder(), create=False) as store:
        return {r.id: r.document for r in store.get()}


def test_stats_reports_records_embedder_index_and_health(cli: Cli, sample_store: str) -> None:
    stats = json.loads(cli.run("stats", "--name", sample_store, "--json").ok().out)
    assert (stats["name"], stats["records"], stats["dimension"]) == (sample_store, 20, 384)
    assert stats["embedder"] == "hashing-384"
    assert stats["health"]["mode"] == "embedded"
    assert stats["health"]["reachable"] is True
    assert "kind" in stats["index"]


def test_export_and_import_round_trip(cli: Cli, sample_store: str, workdir: Path) -> None:
    exported = cli.run("export", "notes.parquet", "--name", sample_store).ok()
    assert "records: 20" in exported.out.splitlines()
    recent = ("export", "recent.jsonl", "--where", '{"year": {"$gte": 2024}}', "--name", sample_store, "--json")
    assert json.loads(cli.run(*recent).ok().out)["records"] == RECENT
    assert len((workdir / "recent.jsonl").read_text().splitlines()) >= RECENT
    imported = cli.run("import", "notes.parquet", "--name", "imported", "--embedder", "hashing:64", "--reembed").ok()
    assert "records: 20" in imported.out.splitlines()
    assert documents(workdir, "imported", HashingEmbedder(64)) == documents(workdir, sample_store)


def test_backup_and_restore(cli: Cli, sample_store: str, workdir: Path) -> None:
    assert "records: 20" in cli.run("backup", "backups/notes", "--name", sample_store).ok().out.splitlines()
    assert json.loads(cli.run("restore", "backups/notes", "--name", "copy", "--json").ok().out) == {
        "name": "copy",
        "records": 20,
        "source": "backups/notes",
    }
    assert documents(workdir, "copy") == documents(workdir, sample_store)
    over = cli.run("restore", "backups/notes", "--overwrite").ok()  # as backed up: 'notes', which holds records
    assert over.out.splitlines()[:2] == ["name:    notes", "records: 20"]


def test_doctor_exits_1_while_problems_remain(cli: Cli, sample_store: str, workdir: Path) -> None:
    healthy = cli.run("doctor", "--name", sample_store).ok()
    assert "ok:                   True" in healthy.out.splitlines()
    with HybridStore("objs", path=workdir / "mira_data", embedder=HashingEmbedder()) as store:
        oid = store.put_object(b"\x00" * 4096, description="a payload whose file goes missing")
    payloads = [p for p in (workdir / "mira_data" / "mira" / "objs" / "objects").rglob("*") if p.is_file()]
    assert len(payloads) == 1  # <digest[:2]>/<digest>
    payloads[0].unlink()
    broken = cli.run("doctor", "--name", "objs", "--repair", "--json")
    assert json.loads(broken.out)["objects"]["missing"] == [oid]
    assert broken.failed(1) == "error: 'objs' has problems"


def test_migrate_then_collections_and_drop(cli: Cli, sample_store: str, workdir: Path) -> None:
    before = documents(workdir, sample_store)
    migrated = cli.run("migrate", "--to", "hashing:64", "--name", sample_store).ok()
    report = {key: value.strip() for key, value in (line.split(":", 1) for line in migrated.out.splitlines())}
    assert (report["source"], report["switched"], report["embedded"]) == (sample_store, "True", "20")
    assert "open 'notes' with --embedder hashing:64" in migrated.err
    assert documents(workdir, sample_store, HashingEmbedder(64)) == before

    listed = {c["name"]: c for c in json.loads(cli.run("collections", "--json").ok().out)}
    assert listed[report["target"]]["alias"] == sample_store
    assert listed[report["target"]]["embedder"] == "hashing-64"
    assert listed[sample_store]["records"] == 20
    dropped = cli.run("collections", "drop", sample_store, "--yes").ok()
    assert dropped.out == "dropped collection 'notes' (20 records)\n"
    assert documents(workdir, sample_store, HashingEmbedder(64)) == before  # the name opens the migrated collection
