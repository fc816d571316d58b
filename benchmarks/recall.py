"""Recall by target (issue 14, item 1): recall@10 and latency of the calibrated dense index.

Three distributions of 384-d unit vectors, each with fresh held-out queries (none is in the
collection) and exact ground truth by NumPy:

- ``benchmark``: the benchmark's own two-level topic mixture (``data.py``);
- ``tight-clusters``: many small, tight clusters (``TIGHT_CLUSTERS`` random centres, each
  record its centre plus isotropic noise of norm ~``TIGHT_SPREAD``), where HNSW's graph
  links clusters poorly and a fixed efSearch misses;
- ``mixed-scales``: clusters of very different spreads (``SCALE_SPREADS``, log-uniform) around
  centres of very different norms (``SCALE_NORMS``), with uneven sizes, normalised afterwards:
  dense cores next to diffuse clouds.

For each, our store (``HybridStore.in_memory``, default configuration, vectors added in
Chroma-sized batches, so the index is built at ``hnsw_threshold`` rows and recalibrated as it
grows) and langchain-chroma (the anchor, with pass-through embeddings) ingest the same data
in the same run; recall@10 and the p50 of one unfiltered query are measured on the held-out
queries. The index's chosen parameters come from ``HybridStore.stats()``; the time spent in
calibrations is compared with the dense mirror's write time (HNSW build and inserts).

``--million``: recall@10 at 1,000,000 records of the benchmark's distribution, ours only,
through ``FaissMirror`` (the store's dense mirror) built in one go.

Run: ``python -m benchmarks.recall`` (``--n 100000``, ``--million``, ``--only tight-clusters``).
Results go to ``benchmarks/results/recall.json`` and ``recall.md`` (merged by key, so the
1,000,000 run can be made separately).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from benchmarks.anchors import LangChainChroma
from benchmarks.data import DIM, Dataset, K, _Mixture, exact_top_k
from mira_vectorstores.engine.config import FaissConfig, StoreConfig
from mira_vectorstores.engine.mirrors import dense
from mira_vectorstores.engine.mirrors.dense import FaissMirror
from mira_vectorstores.engine.store import HybridStore

Vec = NDArray[np.float32]
RESULTS = Path(__file__).parent / "results"
BATCH = 5_000  # under Chroma's max batch size (5,461)
QUERIES = 200
TIGHT_CLUSTERS = 10_000
TIGHT_SPREAD = 0.25
SCALE_CLUSTERS = 300
SCALE_NORMS = (0.2, 5.0)
SCALE_SPREADS = (0.05, 2.0)
OLD_EF_SEARCH = 128  # the fixed efSearch before calibration (same M 32, efConstruction 80)
logger = logging.getLogger("benchmarks.recall")


def _unit(x: NDArray[Any]) -> Vec:
    unit: Vec = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return unit


def benchmark_data(n: int, queries: int, seed: int = 7) -> tuple[Vec, Vec]:
    """The benchmark's mixture (``data.make_dataset``'s vectors, without texts or metadata)."""
    rng = np.random.default_rng(seed)
    mixture = _Mixture.make(rng)
    vectors, _ = mixture.draw(rng, n)
    fresh, _ = mixture.draw(rng, queries)
    return vectors, fresh


def tight_clusters(n: int, queries: int, seed: int = 1) -> tuple[Vec, Vec]:
    """Many small tight clusters around random centres."""
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((TIGHT_CLUSTERS, DIM)))
    label = rng.integers(0, TIGHT_CLUSTERS, n + queries)
    noise = rng.standard_normal((n + queries, DIM)).astype(np.float32) * (TIGHT_SPREAD / np.sqrt(DIM))
    points = _unit(centres[label] + noise)
    return points[:n], points[n:]


def mixed_scales(n: int, queries: int, seed: int = 2) -> tuple[Vec, Vec]:
    """Clusters of very different spreads and centre norms, uneven sizes, then normalised."""
    rng = np.random.default_rng(seed)
    norms = np.exp(rng.uniform(np.log(SCALE_NORMS[0]), np.log(SCALE_NORMS[1]), SCALE_CLUSTERS))
    spreads = np.exp(rng.uniform(np.log(SCALE_SPREADS[0]), np.log(SCALE_SPREADS[1]), SCALE_CLUSTERS))
    centres = rng.standard_normal((SCALE_CLUSTERS, DIM)) * (norms[:, None] / np.sqrt(DIM))
    label = rng.choice(SCALE_CLUSTERS, n + queries, p=rng.dirichlet(np.full(SCALE_CLUSTERS, 0.5)))
    points = np.empty((n + queries, DIM), dtype=np.float32)
    for start in range(0, n + queries, 100_000):  # bounded float64 temporaries at 1,000,000
        part = label[start : start + 100_000]
        noise = rng.standard_normal((len(part), DIM)) * (spreads[part, None] / np.sqrt(DIM))
        points[start : start + 100_000] = _unit(centres[part] + noise)
    return points[:n], points[n:]


DISTRIBUTIONS: dict[str, Callable[[int, int], tuple[Vec, Vec]]] = {
    "benchmark": benchmark_data,
    "tight-clusters": tight_clusters,
    "mixed-scales": mixed_scales,
}


def recall(found: list[list[int]], truth: NDArray[np.int64]) -> float:
    """Mean fraction of the exact top ``K`` found."""
    return float(np.mean([len(set(f) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


@contextmanager
def timed_calls(owner: Any, name: str, spent: list[float]) -> Iterator[None]:
    """Add the seconds spent in ``owner.name`` to ``spent`` while the block runs."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    setattr(owner, name, wrapper)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _ms(times: list[float]) -> float:
    return round(float(np.median(times)) * 1e3, 3)


def run_ours(vectors: Vec, queries: Vec, truth: NDArray[np.int64]) -> dict[str, Any]:
    """Our store, default configuration: ingest, then one unfiltered dense query at a time."""
    store = HybridStore.in_memory(embedder=None, config=StoreConfig())
    ids = [f"r{i:07d}" for i in range(len(vectors))]
    calibrating: list[float] = []
    dense_writes: list[float] = []
    started = time.perf_counter()
    with timed_calls(dense, "calibrate", calibrating), timed_calls(FaissMirror, "append", dense_writes):
        for s in range(0, len(vectors), BATCH):
            store.add(ids=ids[s : s + BATCH], vectors=vectors[s : s + BATCH])
    ingest = time.perf_counter() - started
    row = {record_id: i for i, record_id in enumerate(ids)}
    for q in queries[:10]:  # warm-up on other vectors (answers are cached by request)
        store.search(vector=-q, k=K, mode="dense")
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = store.search(vector=q, k=K, mode="dense")
        times.append(time.perf_counter() - t0)
        found.append([row[h.id] for h in hits])
    index = dict(store.stats().index)
    old = _old_default_recall(store, queries, truth)
    store.close()
    return {
        "recall@10": round(recall(found, truth), 4),
        "p50_ms": _ms(times),
        "index": index,
        "recall@10_fixed_ef128": old,
        "ingest_s": round(ingest, 2),
        "dense_mirror_write_s": round(sum(dense_writes), 2),
        "calibration_s": round(sum(calibrating), 2),
        "calibrations": len(calibrating),
    }


def _old_default_recall(store: HybridStore, queries: Vec, truth: NDArray[np.int64]) -> float | None:
    """Recall of the same graph at the old fixed efSearch 128 (a baseline, not a setting)."""
    with store._frozen() as mirrors:
        index = None if mirrors is None else mirrors.dense._index
        if index is None:
            return None
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = OLD_EF_SEARCH
        _, labels = index.search(queries, K, params=params)
    return round(recall([list(map(int, lab)) for lab in labels], truth), 4)


def run_langchain_chroma(vectors: Vec, queries: Vec, truth: NDArray[np.int64]) -> dict[str, Any]:
    """The anchor: langchain-chroma, persistent, pass-through embeddings."""
    data = Dataset(
        vectors=vectors,
        ids=[f"r{i:07d}" for i in range(len(vectors))],
        texts=[f"t{i}" for i in range(len(vectors))],
        metadatas=[{"n": i} for i in range(len(vectors))],
        queries=queries,
        query_texts=[f"q{j}" for j in range(len(queries))],
        filters={},
        selectivity={},
    )
    with tempfile.TemporaryDirectory(prefix="recall-lc-") as folder:
        system = LangChainChroma(Path(folder), data.text_vectors(), DIM)
        started = time.perf_counter()
        system.ingest(data, BATCH)
        ingest = time.perf_counter() - started
        row = {record_id: i for i, record_id in enumerate(data.ids)}
        for q in queries[:10]:
            system.query(-q, K)
        found, times = [], []
        for q in queries:
            t0 = time.perf_counter()
            got = system.query(q, K)
            times.append(time.perf_counter() - t0)
            found.append([row[i] for i in got])
        system.close()
    return {"recall@10": round(recall(found, truth), 4), "p50_ms": _ms(times), "ingest_s": round(ingest, 2)}


def run_million(n: int) -> dict[str, Any]:
    """Ours only, the benchmark's distribution, one HNSW build through ``FaissMirror``."""
    vectors, queries = benchmark_data(n, QUERIES)
    truth = exact_top_k(vectors, queries, K)
    mirror = FaissMirror(DIM, FaissConfig())
    calibrating: list[float] = []
    started = time.perf_counter()
    with timed_calls(dense, "calibrate", calibrating):
        mirror.append(vectors, n)
    write = time.perf_counter() - started
    del vectors
    alive = np.ones(n, dtype=bool)
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        rows, _ = mirror.search(q, K, alive, everything_alive=True)
        times.append(time.perf_counter() - t0)
        found.append(rows.tolist())
    return {
        "recall@10": round(recall(found, truth), 4),
        "p50_ms": _ms(times),
        "index": mirror.describe(),
        "build_s": round(write - sum(calibrating), 1),
        "calibration_s": round(sum(calibrating), 1),
    }


def write_results(results: dict[str, Any]) -> None:
    """Merge into ``recall.json`` and rewrite ``recall.md``."""
    path = RESULTS / "recall.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=1))
    lines = [
        "# Recall by target (`python -m benchmarks.recall`)",
        "",
        "| data | n | ours recall@10 | ours p50 ms | langchain-chroma recall@10 | lc p50 ms | p50 ratio | "
        "efSearch | M | efC | exact scan | calibrated recall | fixed ef 128 recall | calibration s / dense write s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in merged.values():
        ours, lc = r["ours"], r.get("langchain-chroma", {})
        ix = ours["index"]
        ratio = f"{ours['p50_ms'] / lc['p50_ms']:.2f}x" if lc else "-"
        cost = (
            f"{ours['calibration_s']} / {ours['dense_mirror_write_s']}"
            if "dense_mirror_write_s" in ours
            else f"{ours['calibration_s']} / {ours['build_s']} (build)"
        )
        cells = [
            r["data"], f"{r['n']:,}", ours["recall@10"], ours["p50_ms"],
            lc.get("recall@10", "-"), lc.get("p50_ms", "-"), ratio,
            ix.get("ef_search"), ix.get("M"), ix.get("ef_construction"), ix.get("exact_scan"),
            round(ix.get("measured_recall", 0.0), 4), ours.get("recall@10_fixed_ef128", "-"), cost,
        ]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    (RESULTS / "recall.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--only", choices=sorted(DISTRIBUTIONS), action="append")
    parser.add_argument("--million", action="store_true", help="only the 1,000,000-record run (ours)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.million:
        n = 1_000_000
        write_results({f"benchmark-{n}": {"data": "benchmark", "n": n, "ours": run_million(n)}})
        return
    for name in args.only or list(DISTRIBUTIONS):
        vectors, queries = DISTRIBUTIONS[name](args.n, QUERIES)
        truth = exact_top_k(vectors, queries, K)
        result = {"data": name, "n": args.n, "ours": run_ours(vectors, queries, truth)}
        logger.info("%s ours: %s", name, result["ours"])
        result["langchain-chroma"] = run_langchain_chroma(vectors, queries, truth)
        logger.info("%s langchain-chroma: %s", name, result["langchain-chroma"])
        write_results({f"{name}-{args.n}": result})


if __name__ == "__main__":
    main()
