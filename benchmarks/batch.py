"""Batch queries against a loop, and the query-result cache: hit against miss.

    python -m benchmarks.batch [--n 100000] [--queries 200] [--rounds 3] [--out benchmarks/results]

One store in this process, built from ``data.py``'s 384-d records with their precomputed vectors,
the default embedder (all-MiniLM-L6-v2) for query texts, ``StoreConfig.query_cache`` off for the
batch figures. Each round times, interleaved:

- by vector, dense and hybrid: ``search_batch(texts, vectors=..., k=10)`` against a loop of
  ``search(text, vector=..., k=10)`` (the dense side of the batch is one FAISS call);
- by text (embedding included), hybrid: ``search_batch(texts)`` (one embedding call) against
  a loop of ``search(text)``;
- the cache (on, its defaults): the second ``search(text)`` of the same request against the
  first one (embedding and search).

Figures are per query, medians over the rounds; ratios are batch / loop and hit / miss in the
same run. Writes ``<out>/batch.json`` and ``<out>/batch.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.data import make_dataset
from mira_vectorstores import HybridStore, MiniLMEmbedder, QueryCacheConfig, StoreConfig


def per_query_ms(call: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000 / count


def build(n: int, cache: QueryCacheConfig, folder: Path, name: str) -> HybridStore:
    data = make_dataset(n, queries=1)
    store = HybridStore(name, path=folder, embedder=MiniLMEmbedder(), config=StoreConfig(query_cache=cache))
    step = 5_000
    for start in range(0, n, step):
        rows = slice(start, start + step)
        store.add(data.texts[rows], ids=data.ids[rows], metadatas=data.metadatas[rows], vectors=data.vectors[rows])
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    data = make_dataset(5_000, queries=args.queries, seed=11)  # fresh query vectors and texts
    texts, vectors = data.query_texts, list(data.queries)
    with tempfile.TemporaryDirectory() as folder:
        store = build(args.n, QueryCacheConfig(size=0), Path(folder), "batch")
        store.search(texts[0], k=10)  # load the model, build BM25
        samples: dict[str, list[float]] = {}

        def record(name: str, value: float) -> None:
            samples.setdefault(name, []).append(value)

        q = len(texts)

        def loop(mode: str) -> object:
            return [store.search(t, vector=v, k=10, mode=mode) for t, v in zip(texts, vectors, strict=True)]

        for _ in range(args.rounds):
            for mode in ("dense", "hybrid"):
                record(f"{mode} by vector: loop", per_query_ms(partial(loop, mode), q))
                batch = partial(store.search_batch, texts, vectors=vectors, k=10, mode=mode)
                record(f"{mode} by vector: batch", per_query_ms(batch, q))
            record("hybrid by text: loop", per_query_ms(lambda: [store.search(t, k=10) for t in texts], q))
            record("hybrid by text: batch", per_query_ms(partial(store.search_batch, texts, k=10), q))
        store.close()
        cached = build(args.n, QueryCacheConfig(), Path(folder), "cached")
        cached.search("warm up the model", k=10)
        for _ in range(args.rounds):
            miss, hit = [], []
            for text in texts:
                miss.append(per_query_ms(partial(cached.search, text, k=10), 1))
                hit.append(per_query_ms(partial(cached.search, text, k=10), 1))
            cached._cache.clear()
            record("cache miss (embed + search)", statistics.median(miss))
            record("cache hit", statistics.median(hit))
        cached.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {
        "dense by vector: batch / loop": medians["dense by vector: batch"] / medians["dense by vector: loop"],
        "hybrid by vector: batch / loop": medians["hybrid by vector: batch"] / medians["hybrid by vector: loop"],
        "hybrid by text: batch / loop": medians["hybrid by text: batch"] / medians["hybrid by text: loop"],
        "cache hit / miss": medians["cache hit"] / medians["cache miss (embed + search)"],
    }
    result: dict[str, Any] = {
        "n": args.n,
        "queries": q,
        "rounds": args.rounds,
        "embedder": MiniLMEmbedder().name,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "ms_per_query": {k: round(v, 3) for k, v in medians.items()},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "samples": samples,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "batch.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Batch and cache, N = {args.n:,}, {q} queries, medians of {args.rounds} rounds",
        "",
        "| figure | ms per query |",
        "| --- | ---: |",
        *[f"| {k} | {v:.3f} |" for k, v in medians.items()],
        "",
        "| ratio | value |",
        "| --- | ---: |",
        *[f"| {k} | {v:.3f}x |" for k, v in ratios.items()],
    ]
    (args.out / "batch.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
