"""Memory of our store against langchain-chroma: peak RSS while ingesting and serving, and the opened store.

    python -m benchmarks.memory                       # N = 100,000: mira, langchain-chroma, chroma-ours
    python -m benchmarks.memory --n 1000000 --systems mira

For each system a child process does what the speed benchmark's worker does
(``benchmarks/measure.py serve``): load the data, create the store through the system's adapter
(``benchmarks/anchors.py``), ingest in batches of Chroma's largest write, persist, then one pass
of every query figure. Before each step the child resets its peak RSS (Linux ``clear_refs`` 5), so
each step gets its own peak; the run's peak is the largest of them, and the headline figure is
that peak minus the RSS after loading the data, per record (``peak_rss_delta_bytes_per_record``
in ``benchmarks/run.py``). A second fresh child opens the persisted store and answers one query:
its RSS increase over the imports is the *opened store*.

``chroma-ours`` is plain ``chromadb`` with our collection settings (``ip``, ``max_neighbors`` 4,
``ef_construction`` 16) fed numpy vectors: Chroma's own share of our store's memory.
``mira-fixed-ef`` (on request) is our store without the HNSW recall calibration.
For ``mira`` the child also reports the size of each in-process mirror (records, FAISS, BM25)
after the query passes. Results: ``benchmarks/results/memory.json`` and ``memory.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import anchors
from benchmarks.data import Dataset, make_dataset
from benchmarks.measure import figures_of, one_pass

ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("mira", "langchain-chroma", "chroma-ours", "mira-fixed-ef")
MIB = 2**20


def status() -> dict[str, int]:
    """VmHWM, VmRSS and RssAnon of this process, in bytes."""
    wanted = {"VmHWM", "VmRSS", "RssAnon"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in wanted:
            out[key] = int(value.split()[0]) * 1024
    return out


def reset_peak() -> None:
    """Make VmHWM start again from the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


class ChromaOurs(anchors.RawChroma):
    """Plain chromadb with our store's collection settings (see the module docstring)."""

    name = "chroma-ours"

    def __init__(self, folder: Path) -> None:
        import chromadb

        from mira_vectorstores.engine.config import ChromaConfig

        config = ChromaConfig()
        self.client = chromadb.PersistentClient(path=str(folder))
        hnsw = {
            "space": "ip",
            "max_neighbors": config.hnsw_max_neighbors,
            "ef_construction": config.hnsw_ef_construction,
        }
        self.collection = self.client.create_collection(
            anchors.COLLECTION,
            embedding_function=None,
            configuration={"hnsw": hnsw},  # type: ignore[arg-type]
        )

    @classmethod
    def open_cold(cls, folder: Path, dimensions: int, *, index: str | None = None) -> anchors.System:
        return anchors.RawChroma(folder, create=False)


class MiraFixedEf(anchors.Mira):
    """Our store without the recall calibration (``FaissConfig(target_recall=None)``): its share of the peak."""

    name = "mira-fixed-ef"

    def __init__(
        self, folder: Path, table: dict[str, anchors.Vec] | None = None, dimensions: int = 384, index: str | None = None
    ) -> None:
        from mira_vectorstores import FaissConfig, StoreConfig
        from mira_vectorstores.langchain import MiraVectorStore

        config = StoreConfig(faiss=FaissConfig(target_recall=None))
        embeddings = anchors._passthrough(table, dimensions)
        self.store = MiraVectorStore(embeddings, path=folder, name=anchors.COLLECTION, config=config)


_EXTRA: dict[str, type[anchors.System]] = {ChromaOurs.name: ChromaOurs, MiraFixedEf.name: MiraFixedEf}


def _deep_size(obj: object, seen: set[int]) -> int:
    """Bytes of an object graph of builtins and numpy arrays (each object counted once)."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return sys.getsizeof(obj) + (obj.nbytes if obj.base is None else 0)
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(_deep_size(v, seen) for v in obj)
    elif hasattr(obj, "__dict__"):
        size += _deep_size(vars(obj), seen)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, s), seen) for s in obj.__slots__ if hasattr(obj, s))
    return size


def components(system: anchors.System) -> dict[str, int]:
    """Bytes held by each of our in-process mirrors (after the query passes)."""
    import faiss

    mirrors = system.store.engine._replica.mirrors  # type: ignore[attr-defined]
    out = {"records": _deep_size(mirrors.records, set())}
    dense = mirrors.dense
    index = faiss.downcast_index(dense._index) if dense._index is not None else None
    if isinstance(index, faiss.IndexHNSWFlat):
        graph: Any = index.hnsw  # faiss's stubs lack the HNSW vectors
        out["faiss_vectors"] = index.ntotal * index.d * 4
        out["faiss_graph"] = sum(
            v.size() * s
            for v, s in ((graph.neighbors, 4), (graph.offsets, 8), (graph.levels, 4), (graph.assign_probas, 8))
        )
    else:
        out["faiss_vectors"] = int(dense._vectors.nbytes)
    bm25 = mirrors.lexical._bm25
    out["bm25"] = 0 if bm25 is None else _deep_size(vars(bm25), set())
    return out


def _step(name: str, steps: dict[str, dict[str, int]], action: Callable[[], object]) -> float:
    gc.collect()
    reset_peak()
    start = time.perf_counter()
    action()
    took = time.perf_counter() - start
    now = status()
    steps[name] = {"peak": now["VmHWM"], "end": now["VmRSS"], "end_anon": now["RssAnon"]}
    return took


def child_serve(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest, persist and query in this process; per-step peaks (see the module docstring)."""
    data = Dataset.load(args.data)
    gc.collect()
    loaded = status()["VmHWM"]
    steps: dict[str, dict[str, int]] = {}
    holder: dict[str, anchors.System] = {}

    def create() -> None:
        if args.system == ChromaOurs.name:
            holder["s"] = ChromaOurs(args.store)
        elif args.system == MiraFixedEf.name:
            holder["s"] = MiraFixedEf(args.store, data.text_vectors(), data.vectors.shape[1])
        else:
            holder["s"] = anchors.create(args.system, args.store, data)

    _step("create", steps, create)
    system = holder["s"]
    took = {"ingest_s": _step("ingest", steps, lambda: system.ingest(data, args.batch))}
    took["persist_s"] = _step("persist", steps, system.persist)
    figures = figures_of(system, data)
    latency: dict[str, float] = {}

    def queries() -> None:
        for name, (call, calls, _) in figures.items():
            times, _answers = one_pass(call, calls)
            latency[f"{name}_p50_ms"] = float(np.median(times)) * 1000

    took["queries_s"] = _step("queries", steps, queries)
    peak = max(s["peak"] for s in steps.values())
    result: dict[str, Any] = {
        "n": data.n,
        "rss_after_data": loaded,
        "peak": peak,
        "peak_delta_bytes_per_record": (peak - loaded) / data.n,
        "steps": {
            name: {**s, "peak_delta_bytes_per_record": (s["peak"] - loaded) / data.n} for name, s in steps.items()
        },
        **took,
        **latency,
    }
    if args.system.startswith("mira"):
        result["components_bytes_per_record"] = {k: v / data.n for k, v in components(system).items()}
    return result


def child_open(args: argparse.Namespace) -> dict[str, Any]:
    """Open the persisted store in this fresh process, answer one query; RSS over the imports."""
    import importlib

    query = np.load(args.data / "queries.npy")[0]
    n = len(json.loads((args.data / "records.json").read_text())["ids"])
    cls = _EXTRA.get(args.system) or anchors.SYSTEMS[args.system]
    for module in cls.IMPORTS:
        importlib.import_module(module)
    gc.collect()
    before = status()
    reset_peak()
    start = time.perf_counter()
    system = cls.open_cold(args.store, len(query))
    system.query(query, 10)
    took = time.perf_counter() - start
    after = status()
    return {
        "open_s": took,
        "opened_bytes_per_record": (after["VmRSS"] - before["VmRSS"]) / n,
        "opened_anon_bytes_per_record": (after["RssAnon"] - before["RssAnon"]) / n,
        "open_peak_bytes_per_record": (after["VmHWM"] - before["VmRSS"]) / n,
    }


def _child(phase: str, system: str, data: Path, store: Path, batch: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, "-m", "benchmarks.memory", phase, "--system", system]
    command += ["--data", str(data), "--store", str(store), "--batch", str(batch), "--out", str(out)]
    try:
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())  # type: ignore[no-any-return]
    finally:
        out.unlink(missing_ok=True)


def markdown(run: dict[str, Any]) -> str:
    """The results as Markdown tables (ratios against langchain-chroma of the same run)."""
    lines = [f"# Memory ({run['date']}, `python -m benchmarks.memory {' '.join(run['argv'])}`)", ""]
    for n, systems in run["runs"].items():
        anchor = systems.get("langchain-chroma")
        lines += [f"## N = {int(n):,}", "", "| system | peak RSS over data, B/record | x langchain-chroma |"]
        lines[-1] += " ingest | persist | queries | opened store, B/record | x langchain-chroma |"
        lines.append("| --- |" + " ---: |" * 7)
        for name, r in systems.items():
            steps = r["steps"]
            ratio = f"{r['peak_delta_bytes_per_record'] / anchor['peak_delta_bytes_per_record']:.2f}x" if anchor else ""
            opened = r["opened_bytes_per_record"]
            oratio = f"{opened / anchor['opened_bytes_per_record']:.2f}x" if anchor else ""
            cells = [f"{steps[s]['peak_delta_bytes_per_record']:,.0f}" for s in ("ingest", "persist", "queries")]
            lines.append(
                f"| {name} | {r['peak_delta_bytes_per_record']:,.0f} | {ratio} | {' | '.join(cells)} |"
                f" {opened:,.0f} | {oratio} |"
            )
        parts = systems.get("mira", {}).get("components_bytes_per_record")
        if parts:
            lines += ["", "Our mirrors after the query passes, bytes/record: "]
            lines[-1] += ", ".join(f"{k} {v:,.0f}" for k, v in parts.items())
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("phase", nargs="?", default="run", choices=["run", "serve", "open"])
    parser.add_argument("--n", type=int, nargs="+", default=[100_000])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS[:3]), choices=SYSTEMS)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--system", help="child phases: the system")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--store", type=Path)
    parser.add_argument("--batch", type=int, default=5_461)
    parser.add_argument("--out", type=Path, help="child phases: the JSON file to write")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.phase != "run":
        result = child_serve(args) if args.phase == "serve" else child_open(args)
        args.out.write_text(json.dumps(result))
        return
    from benchmarks.run import chroma_max_batch

    batch = chroma_max_batch()
    run: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "argv": list(argv or sys.argv[1:])}
    run["runs"] = {}
    with tempfile.TemporaryDirectory(prefix="mira-memory-") as scratch:
        work = Path(scratch)
        for n in args.n:
            data_dir = work / f"data-{n}"
            make_dataset(n, queries=args.queries, seed=args.seed).save(data_dir)
            gc.collect()
            out: dict[str, Any] = {}
            for system in args.systems:
                store = work / f"{system}-{n}"
                out[system] = _child("serve", system, data_dir, store, batch)
                out[system].update(_child("open", system, data_dir, store, batch))
                shutil.rmtree(store, ignore_errors=True)
                print(f"[N={n:,}] {system}: {json.dumps(out[system])}", file=sys.stderr, flush=True)
            run["runs"][str(n)] = out
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "memory.json").write_text(json.dumps(run, indent=1))
    (args.results / "memory.md").write_text(markdown(run))
    sys.stdout.write(markdown(run) + "\n")


if __name__ == "__main__":
    main()
