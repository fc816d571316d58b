"""``mira-vs eval``: retrieval quality on a BEIR data set (nDCG@10, recall@100, MRR@10 per mode)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from mira_vectorstores.beir import load_qrels, load_queries, mrr_at_k, ndcg_at_k, recall_at_k
from mira_vectorstores.cli.app import Settings, cli, examples, open_store, shared_options
from mira_vectorstores.cli.output import emit_json, emit_table, note, progress_bar
from mira_vectorstores.cli.params import json_option, progress_option, show_progress
from mira_vectorstores.cli.records import Chunker, write_documents
from mira_vectorstores.cli.sources import Columns, SourceFile, read
from mira_vectorstores.engine import HybridStore

MODES = ("dense", "lexical", "hybrid")
DEPTH = 100  # hits per query: recall@100 needs them all


def _modes(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    modes = [mode.strip() for mode in value.split(",") if mode.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        msg = f"takes a comma-separated list of {', '.join(MODES)}; got {value!r}"
        raise click.BadParameter(msg, ctx, param)
    return modes


@cli.command(
    "eval",
    epilog=examples(
        "mira-vs eval ../shared/data/scifact",
        "mira-vs eval scifact --modes hybrid --limit-queries 50 --json",
        "mira-vs eval scifact --name my-scifact --split dev",
    ),
)
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="The qrels file: qrels/<split>.tsv.")
@click.option("--modes", default=",".join(MODES), show_default=True, callback=_modes, help="Modes to score.")
@click.option("--limit-queries", type=click.IntRange(min=1), help="Score only the first N queries.")
@json_option
@progress_option
@shared_options
@click.pass_obj
def evaluate(
    settings: Settings,
    folder: Path,
    split: str,
    modes: list[str],
    limit_queries: int | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Score search on a BEIR data set (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).

    The corpus goes into the store beir-<folder name> (or --name), created when missing; its
    documents are upserted whole (no chunking: the qrels name document ids), so a second run
    writes nothing and only searches. Reports nDCG@10, recall@100 and MRR@10 per mode.
    """
    corpus, queries_file, qrels_file = (
        folder / "corpus.jsonl",
        folder / "queries.jsonl",
        folder / "qrels" / f"{split}.tsv",
    )
    for needed in (corpus, queries_file, qrels_file):
        if not needed.is_file():
            msg = f"{needed} is missing: a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv"
            raise click.BadParameter(msg, param_hint="FOLDER")
    qrels = load_qrels(qrels_file)
    texts = load_queries(queries_file)
    queries = [(qid, texts[qid]) for qid in qrels if qid in texts][:limit_queries]
    name = settings.name if "name" in settings.given else _store_name(folder)
    shown = show_progress(progress)
    with open_store(settings, create=True, name=name) as store:
        with progress_bar(total=None, unit="doc", desc="corpus", show=shown) as bar:
            docs = read(SourceFile(corpus, corpus.name), Columns())
            written = write_documents(store, docs, chunker=Chunker(0), on_batch=bar.update)
        note(f"store {name!r}: {store.count()} records ({written.written} written, {written.unchanged} unchanged)")
        scores = {mode: _score(store, mode, queries, qrels, shown) for mode in modes}
    if as_json:
        emit_json({"store": name, "split": split, "queries": len(queries), "modes": scores})
        return
    click.echo(f"{len(queries)} queries of {folder.resolve().name} ({split}), store {name!r}")
    rows = [
        (mode, f"{s['ndcg@10']:.4f}", f"{s['recall@100']:.4f}", f"{s['mrr@10']:.4f}", f"{s['seconds']:.1f}")
        for mode, s in scores.items()
    ]
    emit_table(["mode", "nDCG@10", "recall@100", "MRR@10", "seconds"], rows, right={1, 2, 3, 4})


def _store_name(folder: Path) -> str:
    """``beir-<folder name>``, in the characters a store name may hold."""
    return "beir-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", folder.resolve().name).strip("-._") or "corpus")


def _score(
    store: HybridStore,
    mode: str,
    queries: Sequence[tuple[str, str]],
    qrels: Mapping[str, Mapping[str, int]],
    progress: bool,
) -> dict[str, float]:
    started = time.perf_counter()
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    with progress_bar(total=len(queries), unit="query", desc=mode, show=progress) as bar:
        for qid, text in queries:
            ranked = [hit.id for hit in store.search(text, k=DEPTH, mode=mode)]
            relevant = qrels[qid]
            totals["ndcg@10"] += ndcg_at_k(ranked, relevant, 10)
            totals["recall@100"] += recall_at_k(ranked, relevant, 100)
            totals["mrr@10"] += mrr_at_k(ranked, relevant, 10)
            bar.update(1)
    n = max(len(queries), 1)
    return {**{metric: total / n for metric, total in totals.items()}, "seconds": time.perf_counter() - started}
