"""Levers on SciFact hybrid nDCG@10 beyond the fusion function: long abstracts as windows, title weight.

    python -m benchmarks.fusion_levers [--window 100 --stride 50] [--out benchmarks/results/fusion_levers.json]

all-MiniLM-L6-v2 reads at most 256 word pieces, and most SciFact abstracts are longer. This script
measures what the dense side and the default hybrid gain when each abstract is also embedded as
overlapping windows of ``--window`` words (stride ``--stride``, the title in front of each):

- dense **full**: the one vector of the store (title and text, truncated by the model);
- dense **maxp**: a document scores its best window (several vectors per record);
- dense **mean**: the normalised mean of its window vectors (one vector per record);

and, on the lexical side, the title repeated 0-2 more times in the BM25 text, at BM25 k1 1.5
(the default) and 1.2. Every hybrid row runs the store's own pieces outside a store (which holds
one vector per record): ``LexicalIndex``, ``background_cosine`` and ``absolute_fusion`` over
each side's top ``DEPTH`` candidates, as a search of k = 10 (nDCG@10) and of k = 100
(recall@100) takes them. Alpha is chosen per row on **train** (809 queries), and the row is
reported on test.

Vectors (the default int8 embedder) are cached in ``benchmarks/results/raw/`` (the windows take
~6 min to embed on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mira_vectorstores import MiniLMEmbedder
from mira_vectorstores.beir import find_scifact, join_title, load_qrels, load_queries, ndcg_at_k, recall_at_k
from mira_vectorstores.engine.config import LexicalConfig
from mira_vectorstores.engine.mirrors.lexical import LexicalIndex
from mira_vectorstores.engine.query.fusion import absolute_fusion, background_cosine
from mira_vectorstores.engine.query.pipeline import BACKGROUND_PERCENTILE, BACKGROUND_SAMPLE

RESULTS = Path(__file__).parent / "results"
RAW = RESULTS / "raw"
ALPHAS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
Scores = NDArray[np.float32]
#: Candidates per side of a hybrid search of k = 10 and of k = 100 (``SearchPlan.depth``).
DEPTH = {10: 200, 100: 1_000}


def windows(title: str, text: str, width: int, stride: int) -> list[str]:
    """Overlapping windows of ``width`` words of ``text``, every ``stride`` words, the title in front."""
    words, out = text.split(), []
    for start in range(0, max(1, len(words) - (width - stride)), stride):
        out.append((f"{title}. " if title else "") + " ".join(words[start : start + width]))
        if start + width >= len(words):
            break
    return out


def cached(path: Path, make: Callable[[], NDArray[np.float32]]) -> NDArray[np.float32]:
    """``make()``, saved to and read back from ``path``."""
    if not path.exists():
        RAW.mkdir(parents=True, exist_ok=True)
        np.save(path, make())
    return np.load(path)


def rank(scores: Scores, ids: Sequence[str], qrels: dict[str, int]) -> tuple[float, float]:
    """nDCG@10 and recall@100 of the documents ranked by ``scores``."""
    ranked = [ids[i] for i in np.argsort(-scores, kind="stable")[:100]]
    return ndcg_at_k(ranked, qrels, 10), recall_at_k(ranked, qrels, 100)


def fused(cosines: Scores, bm25: Scores, weight: float, alpha: float, background: float, depth: int) -> list[int]:
    """Documents best first, by the store's absolute fusion of each side's top ``depth``."""
    dense = np.argpartition(-cosines, depth)[:depth]
    lexical = np.argpartition(-bm25, depth)[:depth]
    return list(
        absolute_fusion(
            {int(i): float(cosines[i]) for i in dense},
            {int(i): float(bm25[i]) for i in lexical if bm25[i] > 0},
            alpha=alpha,
            query_weight=weight,
            background=background,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every lever on train and test and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--stride", type=int, default=50)
    parser.add_argument("--out", type=Path, default=RESULTS / "fusion_levers.json")
    args = parser.parse_args(argv)
    scifact = find_scifact(Path(__file__).parent)
    if scifact is None:
        sys.exit("SciFact not found: set MIRA_SCIFACT or put it at ../shared/data/scifact")
    with (scifact / "corpus.jsonl").open(encoding="utf-8") as handle:
        corpus = [json.loads(line) for line in handle]
    ids = [str(row["_id"]) for row in corpus]
    titles = [row.get("title") or "" for row in corpus]
    texts = [join_title(row.get("title"), row["text"]) for row in corpus]
    queries = load_queries(scifact / "queries.jsonl")
    splits = {s: load_qrels(scifact / "qrels" / f"{s}.tsv") for s in ("train", "test")}
    embedder = MiniLMEmbedder()
    tag = f"{embedder.name}-w{args.window}s{args.stride}"
    full = cached(RAW / f"levers-{embedder.name}-full.npy", lambda: embedder.embed_documents(texts))
    per_doc = [windows(t, row["text"], args.window, args.stride) for t, row in zip(titles, corpus, strict=True)]
    owner = np.repeat(np.arange(len(corpus)), [len(w) for w in per_doc])
    window_vectors = cached(
        RAW / f"levers-{tag}.npy", lambda: embedder.embed_documents([w for d in per_doc for w in d])
    )
    mean = np.zeros_like(full)
    np.add.at(mean, owner, window_vectors)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)

    qids = sorted({q for qrels in splits.values() for q in qrels}, key=int)
    query_vectors = embedder.embed_queries([queries[q] for q in qids])
    sample = np.linspace(0, len(corpus) - 1, BACKGROUND_SAMPLE).astype(np.int64)

    def maxp(cosines: Scores) -> Scores:
        best = np.full(len(corpus), -1.0, dtype=np.float32)
        np.maximum.at(best, owner, cosines)
        return best

    dense = {
        q: {"full": full @ v, "maxp": maxp(window_vectors @ v), "mean": mean @ v}
        for q, v in zip(qids, query_vectors, strict=True)
    }
    results: dict[str, dict[str, object]] = {}
    for name in ("full", "maxp", "mean"):
        results[f"dense {name}"] = {
            split: dict(
                zip(
                    ("ndcg@10", "recall@100"),
                    np.mean([rank(dense[q][name], ids, qrels[q]) for q in qrels], axis=0).round(4).tolist(),
                    strict=True,
                )
            )
            for split, qrels in splits.items()
        }
        print(f"dense {name}: {results[f'dense {name}']}", flush=True)
    for k1 in (1.5, 1.2):
        for repeats in (0, 1, 2):
            lexical = LexicalIndex(LexicalConfig(k1=k1))
            lexical.rebuild(
                [(f"{t} " * repeats) + x for t, x in zip(titles, texts, strict=True)], np.ones(len(texts), bool)
            )
            bm25 = {q: (lexical.scores(queries[q], len(texts)), lexical.query_weight(queries[q])) for q in qids}
            for name in ("full", "maxp", "mean"):
                row = f"hybrid {name}, title x{1 + repeats}, k1 {k1}"
                by_alpha = {}
                for alpha in ALPHAS:
                    by_alpha[alpha] = {}
                    for split, qrels in splits.items():
                        measured = []
                        for q in qrels:
                            cosines = dense[q][name]
                            background = background_cosine(cosines[sample], BACKGROUND_PERCENTILE)
                            top10, top100 = (fused(cosines, *bm25[q], alpha, background, DEPTH[k]) for k in (10, 100))
                            measured.append(
                                (
                                    ndcg_at_k([ids[i] for i in top10], qrels[q], 10),
                                    recall_at_k([ids[i] for i in top100[:100]], qrels[q], 100),
                                )
                            )
                        by_alpha[alpha][split] = np.mean(measured, axis=0).round(4).tolist()
                best = max(ALPHAS, key=lambda a: by_alpha[a]["train"][0])
                results[row] = {
                    "alpha (best on train)": best,
                    **{s: {"ndcg@10": by_alpha[best][s][0], "recall@100": by_alpha[best][s][1]} for s in splits},
                    "by_alpha": {str(a): v for a, v in by_alpha.items()},
                }
                print(f"{row}: alpha {best} {results[row]['train']} {results[row]['test']}", flush=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python -m benchmarks.fusion_levers " + " ".join(sys.argv[1:] if argv is None else argv),
        "embedder": embedder.name,
        "windows": {
            "width": args.window,
            "stride": args.stride,
            "count": len(window_vectors),
            "documents": len(corpus),
        },
        "results": results,
    }
    args.out.write_text(json.dumps(report, indent=1))
    lines = [
        f"# Fusion levers on SciFact ({report['date']}, `{report['command']}`)",
        "",
        f"{report['machine']}; {embedder.name}; {len(window_vectors)} windows of {args.window} words"
        f" for {len(corpus)} abstracts.",
        "",
    ]
    lines += [
        "| variant | alpha (train) | train nDCG@10 | train recall@100 | test nDCG@10 | test recall@100 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row, got in results.items():
        train, test = got["train"], got["test"]
        figures = [split[key] for split in (train, test) for key in ("ndcg@10", "recall@100")]  # type: ignore[index]
        cells = " | ".join(f"{figure:.4f}" for figure in figures)
        lines.append(f"| {row} | {got.get('alpha (best on train)', '')} | {cells} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out} and its .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
