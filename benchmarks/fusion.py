"""Hybrid fusion variants on BEIR SciFact, train and test splits, and what a score threshold keeps.

    python -m benchmarks.fusion [--splits train test] [--quick] [--out benchmarks/results/fusion.json]

One store per BM25 setting (the same all-MiniLM-L6-v2 vectors, cached in ``benchmarks/results/raw/``);
fusion, alpha and candidate depth are search-time options. Settings are chosen on the train split
(809 queries) and reported on test (300). For the default, the script also finds the score
threshold that keeps 90 % of the relevant hits of the train queries' top 100, and reports what it
keeps in each quarter of the queries (grouped by how good their best hit is), for the default and
for min-max fusion, so one can see whether a threshold means the same from query to query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mira_vectorstores import CachedEmbedder, HybridStore, MiniLMEmbedder, QueryCacheConfig, StoreConfig
from mira_vectorstores.beir import Doc, find_scifact, load_corpus, load_qrels, load_queries, ndcg_at_k, recall_at_k
from mira_vectorstores.engine.config import LexicalConfig
from mira_vectorstores.engine.query import pipeline
from mira_vectorstores.engine.types import SearchHit

RESULTS = Path(__file__).parent / "results"
DEFAULT_BACKGROUND = pipeline.BACKGROUND_PERCENTILE
RAW = RESULTS / "raw"


@dataclass(frozen=True)
class Variant:
    """One row of the table: a BM25 setting (one store each) and search options."""

    name: str
    options: dict[str, object] = field(default_factory=dict)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    #: The background percentile of absolute fusion (``pipeline.BACKGROUND_PERCENTILE``), when not the default.
    background: float | None = None


def variants(quick: bool) -> list[Variant]:
    """The rows: each fusion at several alphas, candidate depths, BM25 parameters."""
    absolute = {"mode": "hybrid", "fusion": "absolute", "alpha": 0.45}
    rows = [
        Variant("dense", {"mode": "dense"}),
        Variant("bm25", {"mode": "lexical"}),
        Variant("rrf", {"mode": "hybrid", "fusion": "rrf"}),
        Variant("weighted (min-max) a=0.5", {"mode": "hybrid", "fusion": "weighted", "alpha": 0.5}),
    ]
    rows += [Variant(f"tm2c2 a={a}", {"mode": "hybrid", "fusion": "tm2c2", "alpha": a}) for a in (0.5, 0.7, 0.8)]
    alphas = (0.4, 0.45, 0.5) if quick else (0.3, 0.4, 0.45, 0.5, 0.6)
    rows += [Variant(f"absolute a={a}", {**absolute, "alpha": a}) for a in alphas]
    rows += [
        Variant(f"absolute bg{p:g} a={a}", {**absolute, "alpha": a}, background=p)
        for p, a in ((50.0, 0.35), (90.0, 0.35), (95.0, 0.35))
    ]
    if not quick:
        rows += [Variant(f"absolute a=0.45 fetch_k={d}", {**absolute, "fetch_k": d}) for d in (100, 400)]
        rows += [
            Variant(f"absolute a=0.45 k1={k1} b={b}", absolute, LexicalConfig(k1=k1, b=b))
            for k1, b in ((0.9, 0.6), (1.2, 0.75))
        ]
    return rows


#: The rows whose train top-100 feed the threshold study.
STUDIED = ("absolute a=0.45", "weighted (min-max) a=0.5", "tm2c2 a=0.8")


def build(docs: Sequence[Doc], vectors: np.ndarray, embedder: CachedEmbedder, lexical: LexicalConfig) -> HybridStore:
    """An in-memory store of the corpus with the given BM25 setting."""
    # No query cache: rows differing only in the background percentile would share answers.
    config = StoreConfig(lexical=lexical, query_cache=QueryCacheConfig(size=0))
    store = HybridStore.in_memory(embedder=embedder, config=config)
    store.add([d.text for d in docs], ids=[d.id for d in docs], vectors=vectors)
    return store


def evaluate(
    store: HybridStore, options: dict[str, object], queries: dict[str, str], qrels: dict[str, dict[str, int]]
) -> tuple[dict[str, float], dict[str, list[SearchHit]]]:
    """Mean nDCG@10 (of a k=10 search, as users run it) and recall@100 (of a k=100 search)."""
    ndcg, recall, top100 = [], [], {}
    for qid, text in queries.items():
        ndcg.append(ndcg_at_k([h.id for h in store.search(text, k=10, **options)], qrels[qid], 10))  # type: ignore[arg-type]
        top100[qid] = store.search(text, k=100, **options)  # type: ignore[arg-type]
        recall.append(recall_at_k([h.id for h in top100[qid]], qrels[qid], 100))
    return {"ndcg@10": round(float(np.mean(ndcg)), 4), "recall@100": round(float(np.mean(recall)), 4)}, top100


def threshold_study(
    top100: dict[str, list[SearchHit]], qrels: dict[str, dict[str, int]], keep: float = 0.9
) -> dict[str, object]:
    """The threshold keeping ``keep`` of the relevant hits found in the top 100, what share of
    the non-relevant hits it drops, and what it keeps in each quarter of the queries ranked by
    their best hit's score (a threshold that means the same everywhere keeps similar shares)."""
    relevant = [h.score for q, hits in top100.items() for h in hits if qrels[q].get(h.id, 0) > 0]
    other = [h.score for q, hits in top100.items() for h in hits if qrels[q].get(h.id, 0) <= 0]
    threshold = float(np.quantile(relevant, 1.0 - keep))
    ranked = sorted((q for q in top100 if top100[q]), key=lambda q: top100[q][0].score)
    quarters = []
    for part in np.array_split(np.array(ranked), 4):
        scores_rel = [h.score for q in part for h in top100[q] if qrels[q].get(h.id, 0) > 0]
        scores_other = [h.score for q in part for h in top100[q] if qrels[q].get(h.id, 0) <= 0]
        quarters.append(
            {
                "queries": len(part),
                "best_hit_median": round(float(np.median([top100[q][0].score for q in part])), 3),
                "relevant_kept": round(float(np.mean(np.array(scores_rel) >= threshold)), 3) if scores_rel else None,
                "non_relevant_dropped": round(float(np.mean(np.array(scores_other) < threshold)), 3),
                "queries_with_no_hit_kept": round(float(np.mean([top100[q][0].score < threshold for q in part])), 3),
            }
        )
    return {
        "keep": keep,
        "threshold": round(threshold, 4),
        "non_relevant_dropped": round(float(np.mean(np.array(other) < threshold)), 3),
        "by_best_hit_quarter": quarters,
    }


def markdown(report: dict[str, object]) -> str:
    """The JSON report as tables."""
    lines = [f"# Fusion variants on SciFact ({report['date']})", "", f"{report['machine']}; {report['embedder']}.", ""]
    splits = list(report["splits"])  # type: ignore[call-overload]
    head = " | ".join(f"{s} nDCG@10 | {s} recall@100" for s in splits)
    lines += [f"| variant | {head} |", "|---|" + "---:|" * (2 * len(splits))]
    for name in report["results"]:  # type: ignore[attr-defined]
        cells = " | ".join(
            f"{report['results'][name][s]['ndcg@10']:.4f} | {report['results'][name][s]['recall@100']:.4f}"  # type: ignore[index]
            for s in splits
            if s in report["results"][name]  # type: ignore[index]
        )
        lines.append(f"| {name} | {cells} |")
    for name, study in report.get("thresholds", {}).items():  # type: ignore[attr-defined]
        lines += ["", f"## Threshold keeping 90 % of relevant top-100 hits on train: {name}", ""]
        lines.append(f"threshold {study['threshold']}, drops {study['non_relevant_dropped']:.1%} of non-relevant hits")
        lines += [
            "",
            "| quarter (by best hit) | queries | best hit median | relevant kept | non-relevant dropped"
            " | queries left empty |",
        ]
        lines.append("|---|---:|---:|---:|---:|---:|")
        for i, q in enumerate(study["by_best_hit_quarter"], start=1):
            lines.append(
                f"| {i} | {q['queries']} | {q['best_hit_median']} | {q['relevant_kept']} | {q['non_relevant_dropped']} "
                f"| {q['queries_with_no_hit_kept']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every variant on the chosen splits and write the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["train", "test"], choices=["train", "test"])
    parser.add_argument("--quick", action="store_true", help="fewer alphas, no depth or BM25 rows")
    parser.add_argument("--only", nargs="*", help="only the variants of these names")
    parser.add_argument("--out", default=str(RESULTS / "fusion.json"))
    args = parser.parse_args(argv)
    scifact = find_scifact(Path(__file__).parent)
    if scifact is None:
        sys.exit("SciFact not found: set MIRA_SCIFACT or put it at ../shared/data/scifact")
    docs = load_corpus(scifact / "corpus.jsonl")
    all_queries = load_queries(scifact / "queries.jsonl")
    splits = {s: load_qrels(scifact / "qrels" / f"{s}.tsv") for s in args.splits}
    embedder = CachedEmbedder(MiniLMEmbedder(), path=RAW / "minilm-cache.sqlite")
    vectors = embedder.embed_documents([d.text for d in docs])
    rows = [v for v in variants(args.quick) if not args.only or v.name in args.only]
    stores: dict[LexicalConfig, HybridStore] = {}
    results: dict[str, dict[str, dict[str, float]]] = {}
    thresholds: dict[str, object] = {}
    for row in rows:
        if row.lexical not in stores:
            stores[row.lexical] = build(docs, vectors, embedder, row.lexical)
        results[row.name] = {}
        pipeline.BACKGROUND_PERCENTILE = DEFAULT_BACKGROUND if row.background is None else row.background
        for split, qrels in splits.items():
            queries = {q: all_queries[q] for q in sorted(qrels, key=int)}
            started = time.perf_counter()
            results[row.name][split], top100 = evaluate(stores[row.lexical], row.options, queries, qrels)
            took = time.perf_counter() - started
            print(f"{row.name:36} {split:5} {results[row.name][split]}  ({took:.0f} s)", flush=True)
            if split == "train" and row.name in STUDIED:
                thresholds[row.name] = threshold_study(top100, qrels)
    for store in stores.values():
        store.close()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "dataset": f"BEIR SciFact, {len(docs)} documents; splits {', '.join(args.splits)}",
        "embedder": f"{embedder.name}, the default MiniLMEmbedder (cached vectors)",
        "splits": args.splits,
        "results": results,
        "thresholds": thresholds,
    }
    Path(args.out).write_text(json.dumps(report, indent=1))
    Path(args.out).with_suffix(".md").write_text(markdown(report))
    print(f"wrote {args.out} and its .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
