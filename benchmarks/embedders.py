"""all-MiniLM-L6-v2 backends: speed and quality of PyTorch (anchor), ONNX Runtime fp32 and int8.

    python -m benchmarks.embedders [--docs 512] [--rounds 3] [--queries 200] [--e2e-docs 1000]

Speed: documents/s on a fixed sample of SciFact abstracts (batch 64) and single-query embedding
time (median), each backend alone in a fresh process, rounds rotating the order, as ratios to
PyTorch measured in the same run. Quality: every
backend embeds all 5,183 abstracts and the 300 test queries once (cached in
``benchmarks/results/raw/embedders-<backend>-*.npy``); exact dense search gives nDCG@10 and
recall@100, and the cosine of each vector to PyTorch's. End to end: ``similarity_search(text)``
p50 of our LangChain store (default embedder) against langchain-chroma with HuggingFaceEmbeddings
of the same model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from mira_vectorstores.beir import Doc, find_scifact, load_corpus, load_qrels, load_queries, ndcg_at_k, recall_at_k
from mira_vectorstores.engine.embeddings import MiniLMEmbedder
from mira_vectorstores.engine.onnx_minilm import model_folder

RAW = Path(__file__).parent / "results" / "raw"
OUT = Path(__file__).parent / "results" / "embedders.json"
BACKENDS = ("torch", "onnx", "onnx-int8")
ANCHOR = "torch"


def import_torch_cache(cache: Path, texts: Sequence[str]) -> None:
    """Save PyTorch corpus vectors found in a ``CachedEmbedder`` SQLite file (from ``benchmarks.quality``
    run with the PyTorch backend) as this benchmark's cache, so the slowest full pass is not run twice.

    Checked first: its vectors of the test queries must equal the ones this benchmark's PyTorch pass made.
    """
    import sqlite3

    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
        rows = dict(db.execute("SELECT key, vector FROM embeddings").fetchall())
    keys = ["all-MiniLM-L6-v2:" + hashlib.sha256(t.encode()).hexdigest() for t in texts]
    missing = sum(k not in rows for k in keys)
    if missing:
        sys.exit(f"{cache} lacks {missing} of the {len(texts)} texts")
    np.save(RAW / "embedders-torch-corpus.npy", np.stack([np.frombuffer(rows[k], dtype=np.float32) for k in keys]))


def cached_vectors(backend: str, kind: str, texts: Sequence[str]) -> np.ndarray:
    """``texts`` embedded by ``backend``, computed once and kept in ``RAW``."""
    path = RAW / f"embedders-{backend}-{kind}.npy"
    if path.exists():
        vectors: np.ndarray = np.load(path)
        if vectors.shape == (len(texts), 384):
            return vectors
    started = time.perf_counter()
    vectors = MiniLMEmbedder(backend=backend).embed_documents(texts)
    print(f"{backend}: embedded {len(texts)} {kind} in {time.perf_counter() - started:.0f} s", flush=True)
    RAW.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def corpus_subset(docs: Sequence[Doc], qrels: dict[str, dict[str, int]], limit: int | None) -> list[int]:
    """Indexes of every doc judged for a test query plus seeded random others, ``limit`` in all (all docs: None).

    The full corpus takes PyTorch ~3 min on an idle 2-core machine but an hour under load; a
    subset keeps the backends' comparison on one corpus, with nDCG higher than on all 5,183 docs.
    """
    if limit is None or limit >= len(docs):
        return list(range(len(docs)))
    judged = {doc for rels in qrels.values() for doc in rels}
    keep = [i for i, d in enumerate(docs) if d.id in judged]
    others = [i for i, d in enumerate(docs) if d.id not in judged]
    extra = np.random.default_rng(14).choice(len(others), max(0, limit - len(keep)), replace=False)
    return sorted(keep + [others[i] for i in extra])


def corpus_vectors(backend: str, docs: Sequence[Doc], subset: list[int]) -> np.ndarray:
    """The subset's vectors: rows of a full-corpus cache when there is one, else embedded (and cached)."""
    full = RAW / f"embedders-{backend}-corpus.npy"
    if full.exists() and len(subset) < len(docs):
        vectors: np.ndarray = np.load(full)
        if vectors.shape == (len(docs), 384):
            return vectors[subset]
    kind = "corpus" if len(subset) == len(docs) else f"corpus-{len(subset)}"
    return cached_vectors(backend, kind, [docs[i].text for i in subset])


def quality(scifact: Path, backends: Sequence[str], limit: int | None = None) -> dict[str, dict[str, float]]:
    """nDCG@10 / recall@100 of exact dense search on SciFact test, and cosines to the anchor's vectors."""
    docs = load_corpus(scifact / "corpus.jsonl")
    qrels = load_qrels(scifact / "qrels" / "test.tsv")
    all_queries = load_queries(scifact / "queries.jsonl")
    qids = sorted(qrels, key=int)
    subset = corpus_subset(docs, qrels, limit)
    ids = np.array([docs[i].id for i in subset])
    out: dict[str, dict[str, float]] = {}
    anchor_docs = corpus_vectors(ANCHOR, docs, subset)
    for backend in backends:
        corpus = corpus_vectors(backend, docs, subset)
        queries = cached_vectors(backend, "queries", [all_queries[q] for q in qids])
        top = np.argsort(-(queries @ corpus.T), axis=1)[:, :100]
        ndcg = [ndcg_at_k(list(ids[row[:10]]), qrels[q], 10) for q, row in zip(qids, top, strict=True)]
        recall = [recall_at_k(list(ids[row]), qrels[q], 100) for q, row in zip(qids, top, strict=True)]
        cosines = np.einsum("ij,ij->i", corpus.astype(np.float64), anchor_docs.astype(np.float64))
        out[backend] = {
            "docs": len(subset),
            "ndcg@10": round(float(np.mean(ndcg)), 4),
            "recall@100": round(float(np.mean(recall)), 4),
            "min_cosine_to_torch": round(float(cosines.min()), 6),
            "p01_cosine_to_torch": round(float(np.quantile(cosines, 0.01)), 6),
            "mean_cosine_to_torch": round(float(cosines.mean()), 6),
        }
        print(backend, out[backend], flush=True)
    return out


def _alone(backend: str, docs: Sequence[str], queries: Sequence[str]) -> tuple[float, list[float]]:
    """Documents/s and single-query ms of one backend, in a process of its own."""
    embedder = MiniLMEmbedder(backend=backend)
    embedder.embed_documents(docs[:8])  # load (and export) before timing
    started = time.perf_counter()
    embedder.embed_documents(docs)
    rate = len(docs) / (time.perf_counter() - started)
    took = []
    for query in queries:
        started = time.perf_counter()
        embedder.embed_query(query)
        took.append((time.perf_counter() - started) * 1000)
    return rate, took


def speed(docs: Sequence[str], queries: Sequence[str], rounds: int) -> dict[str, dict[str, float]]:
    """Documents/s and single-query ms per backend. Each (round, backend) runs alone in a fresh
    process, one after another, the order rotating each round: ONNX Runtime's idle threads spin
    for a while after a call and slowed PyTorch's next call when both ran in one process.
    """
    rates: dict[str, list[float]] = {b: [] for b in BACKENDS}
    query_ms: dict[str, list[float]] = {b: [] for b in BACKENDS}
    per_round = max(1, len(queries) // rounds)
    spawn = multiprocessing.get_context("spawn")
    for r in range(rounds):
        order = BACKENDS[r % 3 :] + BACKENDS[: r % 3]
        for backend in order:
            with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
                rate, took = pool.submit(_alone, backend, docs, queries[r * per_round : (r + 1) * per_round]).result()
            rates[backend].append(rate)
            query_ms[backend] += took
        print(f"round {r + 1}: " + ", ".join(f"{b} {rates[b][-1]:.1f} docs/s" for b in order), flush=True)
    anchor_rate, anchor_ms = statistics.median(rates[ANCHOR]), statistics.median(query_ms[ANCHOR])
    return {
        b: {
            "docs_per_s": round(statistics.median(rates[b]), 2),
            "docs_per_s_ratio": round(statistics.median(rates[b]) / anchor_rate, 2),
            "query_ms_p50": round(statistics.median(query_ms[b]), 2),
            "query_ms_ratio": round(statistics.median(query_ms[b]) / anchor_ms, 2),
            "rounds": len(rates[b]),
            "queries": len(query_ms[b]),
        }
        for b in BACKENDS
    }


def end_to_end(texts: Sequence[str], vectors: np.ndarray, queries: Sequence[str]) -> dict[str, float]:
    """``similarity_search(query, k=4)`` p50 (ms): ours with its default embedder vs langchain-chroma."""
    from langchain_chroma import Chroma
    from langchain_community.embeddings import HuggingFaceEmbeddings

    from mira_vectorstores.langchain import MiraVectorStore

    ids = [f"d{i}" for i in range(len(texts))]
    ours = MiraVectorStore()
    ours.engine.add(list(texts), ids=ids, vectors=vectors)
    hf = HuggingFaceEmbeddings(model_name=str(model_folder()), encode_kwargs={"normalize_embeddings": True})
    with tempfile.TemporaryDirectory() as folder:
        chroma = Chroma(embedding_function=hf, persist_directory=folder, collection_metadata={"hnsw:space": "cosine"})
        for start in range(0, len(texts), 1000):
            chroma._collection.add(
                ids=ids[start : start + 1000],
                embeddings=vectors[start : start + 1000],
                documents=list(texts[start : start + 1000]),
            )
        systems: dict[str, Callable[[str], Any]] = {
            "mira MiraVectorStore (default embedder)": lambda q: ours.similarity_search(q, k=4),
            "langchain-chroma + HuggingFaceEmbeddings": lambda q: chroma.similarity_search(q, k=4),
        }
        for search in systems.values():
            search("warm up")
        took: dict[str, list[float]] = {name: [] for name in systems}
        for query in queries:
            for name, search in systems.items():
                started = time.perf_counter()
                search(query)
                took[name].append((time.perf_counter() - started) * 1000)
    ours.close()
    p50 = {name: round(statistics.median(ms), 2) for name, ms in took.items()}
    anchor = p50["langchain-chroma + HuggingFaceEmbeddings"]
    return {**{f"{n} p50_ms": v for n, v in p50.items()}, "ratio": round(p50[next(iter(p50))] / anchor, 2)}


def markdown(report: dict[str, Any]) -> str:
    """The tables of ``report`` as Markdown."""
    lines = [
        f"# Embedder backends ({report['date']}, {report['machine']})",
        "",
        f"Speed: {report.get('speed_setup', 'not measured')}. Quality: {report.get('quality_setup', 'not measured')}.",
        "",
        *([f"Note: {report['load_note']}.", ""] if "load_note" in report else []),
        "| backend | name | docs/s | x torch | query ms p50 | x torch | nDCG@10 | recall@100 | min cos | p01 cos |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in BACKENDS:
        s, q = report.get("speed", {}).get(backend, {}), report.get("quality", {}).get(backend, {})
        cells = [backend, MiniLMEmbedder(backend=backend).name]
        cells += [s.get(k, "-") for k in ("docs_per_s", "docs_per_s_ratio", "query_ms_p50", "query_ms_ratio")]
        cells += [q.get(k, "-") for k in ("ndcg@10", "recall@100", "min_cosine_to_torch", "p01_cosine_to_torch")]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    e2e = report.get("end_to_end")
    if e2e:
        lines += ["", f"End to end, `similarity_search(text, k=4)` ({report['e2e_setup']}):", ""]
        lines += [f"- {k}: {v}" for k, v in e2e.items()]
    return "\n".join(lines) + "\n"


def combine(paths: Sequence[Path]) -> dict[str, Any]:
    """One report from partial runs (``--parts``), later files winning; the setups come along."""
    report: dict[str, Any] = {}
    for path in paths:
        report.update(json.loads(path.read_text()))
    return report


def measure(args: argparse.Namespace, scifact: Path) -> dict[str, Any]:
    """The parts ``args.parts`` names, measured in this run."""
    docs = load_corpus(scifact / "corpus.jsonl")
    sample = [docs[i].text for i in sorted(np.random.default_rng(14).choice(len(docs), args.docs, replace=False))]
    all_queries = load_queries(scifact / "queries.jsonl")
    train = sorted(load_qrels(scifact / "qrels" / "train.tsv"), key=int)
    queries = [all_queries[q] for q in train[: args.queries]]
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    if "speed" in args.parts:
        report["speed_setup"] = (
            f"{args.docs} SciFact abstracts (seed 14), batch 64, {args.rounds} rounds; then "
            f"{len(queries)} SciFact train queries one at a time; each backend and round in a fresh process"
        )
        report["speed"] = speed(sample, queries, args.rounds)
    if "quality" in args.parts:
        report["quality_setup"] = (
            "exact dense search over "
            + (
                f"{args.quality_docs} SciFact abstracts (every judged one + seeded random others)"
                if args.quality_docs
                else "all 5,183 SciFact abstracts"
            )
            + ", 300 test queries"
        )
        report["quality"] = quality(scifact, BACKENDS, args.quality_docs)
    if "e2e" in args.parts:
        texts = [d.text for d in docs[: args.e2e_docs]]
        vectors = cached_vectors(ANCHOR, "corpus", [d.text for d in docs])[: args.e2e_docs]
        report["e2e_setup"] = f"{len(texts)} SciFact abstracts (precomputed vectors), {len(queries)} train queries"
        report["end_to_end"] = end_to_end(texts, vectors, queries)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and write ``embedders.json`` and ``embedders.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=512, help="abstracts per documents/s round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=200, help="single queries timed per backend")
    parser.add_argument("--e2e-docs", type=int, default=1000)
    parser.add_argument("--quality-docs", type=int, help="a corpus subset (judged docs + random) instead of all")
    parser.add_argument("--parts", default="speed,quality,e2e", help="comma-separated: speed, quality, e2e")
    parser.add_argument(
        "--combine", type=Path, nargs="+", help="merge these partial reports into --out, measure nothing"
    )
    parser.add_argument("--only-vectors", choices=BACKENDS, help="embed the corpus with one backend and stop")
    parser.add_argument("--torch-cache", type=Path, help="take PyTorch's corpus vectors from this CachedEmbedder file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    scifact = find_scifact(Path(__file__).parent)
    if scifact is None:
        sys.exit("SciFact not found: set MIRA_SCIFACT or put it at ../shared/data/scifact")
    if args.torch_cache:
        import_torch_cache(args.torch_cache, [d.text for d in load_corpus(scifact / "corpus.jsonl")])
    if args.only_vectors:  # lets the slow full-corpus passes run apart (one process per backend)
        qids = sorted(load_qrels(scifact / "qrels" / "test.tsv"), key=int)
        all_text = load_queries(scifact / "queries.jsonl")
        cached_vectors(args.only_vectors, "queries", [all_text[q] for q in qids])
        cached_vectors(args.only_vectors, "corpus", [d.text for d in load_corpus(scifact / "corpus.jsonl")])
        return 0
    args.parts = set(args.parts.split(","))
    report = combine(args.combine) if args.combine else measure(args, scifact)
    args.out.write_text(json.dumps(report, indent=1))
    args.out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
