"""The everyday commands: demo, ingest, search, get, delete."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import click

from mira_vectorstores.beir import find_scifact, load_corpus, load_sample
from mira_vectorstores.cli.app import CliFailure, Settings, cli, confirm, examples, open_store, shared_options
from mira_vectorstores.cli.output import emit_hits, emit_records, note, plural, progress_bar
from mira_vectorstores.cli.params import (
    Boosts,
    Text,
    json_option,
    progress_option,
    show_progress,
    where_document_option,
    where_option,
    yes_option,
)
from mira_vectorstores.cli.records import Chunker, write_documents
from mira_vectorstores.cli.sources import SUFFIXES, Columns, count_all, discover, read_all
from mira_vectorstores.engine import BoostRule, FieldBoost

DEMO_QUERIES = [
    "vitamin D deficiency and risk of disease",
    "microRNA regulation of cancer cell growth",
    "0-dimensional biomaterials lack inductive properties",
]
SAMPLE_QUERIES = ["how does hybrid retrieval work", "cold start speed"]


@cli.command(epilog=examples("mira-vs demo", "mira-vs demo --sample", "mira-vs demo --limit 0"))
@click.option("--limit", type=click.IntRange(min=0), default=400, show_default=True, help="SciFact abstracts (0: all).")
@click.option("--sample", is_flag=True, help="Use the bundled sample corpus even when SciFact is there.")
@shared_options
@click.pass_obj
def demo(settings: Settings, limit: int, sample: bool) -> None:
    """Build (or reopen) a demo store and show hybrid searches with their score parts.

    The store holds the first SciFact abstracts ($MIRA_SCIFACT, or ../shared/data/scifact), or the
    bundled sample corpus when SciFact is absent or with --sample; a second run reopens it at once.
    """
    scifact = None if sample else find_scifact(Path(__file__).parent)
    if scifact is not None:
        docs = load_corpus(scifact / "corpus.jsonl", limit=limit or None)
        name, source, queries = "scifact-demo", f"SciFact ({len(docs)} abstracts from {scifact})", DEMO_QUERIES
    else:
        docs, name, source, queries = load_sample(), "sample-demo", "the bundled sample corpus", SAMPLE_QUERIES
    started = time.perf_counter()
    with open_store(settings, create=True, name=name) as store:
        click.echo(f"Store {name!r} under {settings.path}: {store.count()} records before ingest; source: {source}")
        with progress_bar(total=len(docs), unit="doc", desc="demo", show=show_progress(None)) as bar:
            write_documents(store, docs, chunker=Chunker(0), on_batch=bar.update)
        click.echo(f"{store.count()} records ready in {time.perf_counter() - started:.1f} s\n")
        for query in queries:
            click.echo(f"hybrid search: {query!r}")
            emit_hits(store.search(query, k=3), as_json=False)
        if scifact is None:
            rules: list[BoostRule] = [FieldBoost("breakthrough", True, factor=1.5)]
            click.echo("\nthe same query with breakthrough x1.5 and only 2020 or later:")
            emit_hits(store.search(queries[0], k=3, boosts=rules, where={"year": {"$gte": 2020}}), as_json=False)


@cli.command(
    epilog=examples(
        "mira-vs ingest notes/ --name notes",
        "mira-vs ingest corpus.jsonl --chunk-size 0",
        "mira-vs ingest papers.csv --text-column abstract --id-column doi",
    )
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--chunk-size", type=click.IntRange(min=0), default=1000, show_default=True, help="Characters (0: off).")
@click.option("--chunk-overlap", type=click.IntRange(min=0), default=100, show_default=True, help="Characters.")
@click.option("--text-column", default="text", show_default=True, help="CSV column holding the text.")
@click.option("--id-column", default="id", show_default=True, help="CSV column holding the id.")
@click.option("--limit", type=click.IntRange(min=1), help="Read at most N records.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, help="Records per write.")
@progress_option
@shared_options
@click.pass_obj
def ingest(
    settings: Settings,
    paths: Sequence[Path],
    chunk_size: int,
    chunk_overlap: int,
    text_column: str,
    id_column: str,
    limit: int | None,
    batch_size: int,
    progress: bool | None,
) -> None:
    """Add or update documents from files and folders (creates the store).

    Reads .txt and .md (one document per file, id = path under the folder), .jsonl and .json
    (objects with _id or id, text, content or page_content, a BEIR title, metadata), .csv (a text
    and an id column; other columns are metadata) and BEIR folders (their corpus.jsonl). Folders
    are read recursively; hidden and unknown files are skipped. Texts longer than --chunk-size
    are cut at paragraph and sentence bounds into records <id>#<n>. Re-ingesting updates changed
    documents only, and deletes the chunks a shorter document no longer has. Metadata Chroma
    cannot hold (nested objects, mixed lists) is converted, and counted in the summary.
    """
    if chunk_size and chunk_overlap >= chunk_size:
        msg = f"must be smaller than --chunk-size ({chunk_size}), got {chunk_overlap}"
        raise click.BadParameter(msg, param_hint="--chunk-overlap")
    chunker = Chunker(chunk_size, chunk_overlap)
    found = discover(paths)
    if not found.files:
        msg = f"no files to ingest in {', '.join(map(str, paths))} (read: {', '.join(SUFFIXES)})"
        raise CliFailure(msg)
    columns = Columns(text=text_column, id=id_column)
    started = time.perf_counter()
    total = count_all(found.files, limit=limit)
    with open_store(settings, create=True) as store:
        with progress_bar(total=total, unit="rec", desc="ingest", show=show_progress(progress)) as bar:
            docs = read_all(found.files, columns, limit=limit)
            report = write_documents(store, docs, chunker=chunker, batch_size=batch_size, on_batch=bar.update)
        records = store.count()
    skipped = ", ".join(f"{n} {suffix}" for suffix, n in sorted(found.skipped.items()))
    click.echo(
        f"read {plural(len(found.files), 'file')} ({plural(report.documents, 'record')})"
        f"{f', skipped {skipped}' if skipped else ''}; "
        f"{report.chunks} chunks: {report.written} written, {report.unchanged} unchanged, "
        f"{report.stale_deleted} stale chunks deleted; {settings.name!r} holds {plural(records, 'record')} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    if report.conversions.total:
        click.echo(report.conversions.describe())


@cli.command(
    epilog=examples(
        'mira-vs search "fast vector search"',
        'mira-vs search "fast vector search" -k 10 --mode lexical --json',
        'mira-vs search "cancer" --where \'{"year": {"$gte": 2020}}\'',
        'mira-vs search "cancer" --boost \'[{"type": "field", "field": "reviewed", "equals": true, "factor": 1.5}]\'',
    )
)
@click.argument("query", type=Text())
@click.option("-k", type=click.IntRange(min=1), default=5, show_default=True, help="Hits to return.")
@click.option("--mode", type=click.Choice(["auto", "dense", "lexical", "hybrid"]), default="auto", show_default=True)
@where_option
@where_document_option
@click.option("--boost", type=Boosts(), help="Boost rules for this search: a JSON list of rules (see example).")
@click.option("--fusion", type=click.Choice(["weighted", "rrf", "dbsf"]), help="Hybrid fusion.  [default: weighted]")
@click.option("--alpha", type=click.FloatRange(0, 1), help="Weight of the dense side in fusion.  [default: 0.5]")
@json_option
@shared_options
@click.pass_obj
def search(
    settings: Settings,
    query: str,
    k: int,
    mode: str,
    where: dict[str, object] | None,
    where_document: dict[str, object] | None,
    boost: list[BoostRule] | None,
    fusion: str | None,
    alpha: float | None,
    as_json: bool,
) -> None:
    """Search a store: hybrid (dense + BM25) by default; filters apply before ranking.

    The table shows each hit's final score and its parts: dense (cosine), bm25 and the boost
    factor; --json adds the fused score, the distance, the document and its metadata.
    """
    with open_store(settings) as store:
        hits = store.search(
            query, k=k, mode=mode, where=where, where_document=where_document, boosts=boost, fusion=fusion, alpha=alpha
        )
    emit_hits(hits, as_json=as_json)


@cli.command(
    epilog=examples(
        "mira-vs get a.md sub/b.md --name notes",
        'mira-vs get --where \'{"source": "papers.csv"}\' --limit 50 --json',
    )
)
@click.argument("ids", nargs=-1)
@where_option
@where_document_option
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most N records.  [default: all of the ids given, else 20]"
)
@json_option
@shared_options
@click.pass_obj
def get(
    settings: Settings,
    ids: Sequence[str],
    where: dict[str, object] | None,
    where_document: dict[str, object] | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Show records by id and/or filter (with neither: the first 20).

    Ids that do not exist (or that the filter leaves out) are reported, with exit code 1.
    """
    wanted = list(ids) or None
    shown = limit if limit is not None or wanted else 20
    with open_store(settings) as store:
        records = store.get(wanted, where=where, where_document=where_document, limit=shown)
    emit_records(records, as_json=as_json)
    if wanted is None and len(records) == shown and limit is None:
        note(f"(the first {shown} records; --limit N shows more)")
    missing = [i for i in dict.fromkeys(wanted or []) if i not in {r.id for r in records}]
    if missing and (limit is None or len(records) < limit):
        msg = f"{len(missing)} of {len(set(wanted or []))} ids not found: {', '.join(missing[:10])}"
        raise CliFailure(msg)


@cli.command(
    epilog=examples(
        "mira-vs delete old.md --name notes",
        'mira-vs delete --where \'{"year": {"$lt": 2000}}\' --yes',
    )
)
@click.argument("ids", nargs=-1)
@where_option
@where_document_option
@yes_option
@shared_options
@click.pass_obj
def delete(
    settings: Settings,
    ids: Sequence[str],
    where: dict[str, object] | None,
    where_document: dict[str, object] | None,
    yes: bool,
) -> None:
    """Delete records by id and/or filter (both: the ids that match), after a confirmation."""
    if not ids and where is None and where_document is None:
        msg = "give the ids to delete, --where or --where-document"
        raise click.UsageError(msg)
    wanted = list(ids) or None
    with open_store(settings) as store:
        matching = store.get(wanted, where=where, where_document=where_document)
        if not matching:
            click.echo(f"no record of {store.name!r} matches; nothing deleted")
            return
        if not yes:
            confirm(f"Delete {plural(len(matching), 'record')} from {store.name!r}?", refused="nothing deleted")
        deleted = store.delete(wanted, where=where, where_document=where_document)
        click.echo(f"deleted {plural(deleted, 'record')} from {store.name!r}; {store.count()} left")
