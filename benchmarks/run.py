"""Run the speed benchmark: our store and its anchors, on the same data, in one run.

    python -m benchmarks.run --n 10000 100000 [--repeats 3] [--out benchmarks/results]
    python -m benchmarks.run --million            # adds N = 1,000,000 for our store (and the FAISS floor)

For each N: generate the dataset (seeded); start one worker process per system and let each
ingest it into a new store and persist it, one system at a time; then run the query passes
interleaved (pass r of every system before pass r + 1, the order rotating), so a change in
the machine's load shifts every system alike; then open each persisted store in
``--repeats`` fresh processes (cold start), interleaved the same way. Figures are medians over
the passes; ratios are ours / anchor, measured in this run. Prints the table and writes
``<out>/latest.json`` and ``<out>/latest.png``. Generated data and stores live in a temporary
folder (``--workdir`` to choose one), never in the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.anchors import SYSTEMS
from benchmarks.data import DIM, make_dataset

ROOT = Path(__file__).resolve().parent.parent
MILLION = 1_000_000
MILLION_SYSTEMS = ("mira", "faiss-flat")  # the Chroma anchors would need ~15 min each to ingest


def chroma_max_batch() -> int:
    """Chroma's largest legal write (5,461 locally): every system ingests in batches of it."""
    import chromadb

    with tempfile.TemporaryDirectory() as folder:
        return int(chromadb.PersistentClient(path=folder).get_max_batch_size())


def cold_start(system: str, data: Path, store: Path, index: str | None = None) -> dict[str, Any]:
    """Open a persisted store in a fresh process and answer one query (``benchmarks.measure cold``)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, "-m", "benchmarks.measure", "cold", "--system", system]
    command += ["--data", str(data), "--store", str(store), "--out", str(out)]
    if index is not None and system.startswith("mira"):
        command += ["--index", index]
    try:
        subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())  # type: ignore[no-any-return]
    finally:
        out.unlink(missing_ok=True)


class Worker:
    """A ``benchmarks.measure serve`` process for one system, driven one JSON line at a time."""

    def __init__(self, system: str, data: Path, store: Path, extra: Sequence[str]) -> None:
        self.system = system
        command = [sys.executable, "-m", "benchmarks.measure", "serve", "--system", system]
        command += ["--data", str(data), "--store", str(store), *extra]
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, op: str, **fields: object) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:
            msg = "the worker's stdin and stdout must be pipes"
            raise RuntimeError(msg)
        stdin.write(json.dumps({"op": op, **fields}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            msg = f"the {self.system} worker exited with code {self.process.wait()} during {op!r}"
            raise RuntimeError(msg)
        return json.loads(line)  # type: ignore[no-any-return]

    def wait(self) -> None:
        self.process.wait(timeout=120)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def run_n(n: int, systems: Sequence[str], args: argparse.Namespace, workdir: Path, batch: int) -> dict[str, Any]:
    log = lambda msg: print(f"[N={n:,}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    data = make_dataset(n, queries=args.queries, seed=args.seed)
    data_dir = workdir / f"data-{n}"
    data.save(data_dir)
    generate_s = time.perf_counter() - start
    log(f"data generated in {generate_s:.1f} s; selectivity {data.selectivity}")
    del data
    result: dict[str, Any] = {
        "dataset": {
            "n": n,
            "dim": DIM,
            "queries": args.queries,
            "seed": args.seed,
            "batch": batch,
            "selectivity": json.loads((data_dir / "meta.json").read_text())["selectivity"],
        },
        "systems": {},
    }
    stores = {system: workdir / f"{system}-{n}" for system in systems}
    workers: dict[str, Worker] = {}
    try:
        # Ingest one system at a time (the others idle), each into its own new store.
        for system in systems:
            extra = ["--batch", str(batch)]
            if system == "mira" and args.index:
                extra += ["--index", args.index]
            workers[system] = Worker(system, data_dir, stores[system], extra)
            result["systems"][system] = workers[system].call("ingest")
            index = result["systems"][system].get("index") or {}
            chosen = ", ".join(f"{k} {v}" for k, v in index.items())
            log(
                f"{system}: ingested at {result['systems'][system]['ingest_per_s']:,.0f} records/s"
                + (f"; index: {chosen}" if chosen else "")
            )
        # Query passes interleaved: pass r of every system and figure before pass r + 1.
        figures = {system: worker.call("figures")["figures"] for system, worker in workers.items()}
        every = list(dict.fromkeys(f for names in figures.values() for f in names))
        passes: dict[tuple[str, str], list[dict[str, float]]] = {}
        for r in range(args.repeats):
            order = systems[r % len(systems) :] + systems[: r % len(systems)]
            for figure in every:
                for system in order:
                    if figure in figures[system]:
                        passes.setdefault((system, figure), []).append(workers[system].call("pass", figure=figure))
        for (system, figure), done in passes.items():
            out = result["systems"][system]
            out[f"{figure}_p50_ms"] = statistics.median(p["p50_ms"] for p in done)
            out[f"{figure}_p95_ms"] = statistics.median(p["p95_ms"] for p in done)
            if "recall" in done[0]:
                out[f"{figure}_recall"] = done[0]["recall"]  # the answers do not change between passes
        for system, worker in workers.items():
            result["systems"][system].update(worker.call("finish"))
            worker.wait()
        log("query passes done: " + ", ".join(f"{s} {result['systems'][s]['query_p50_ms']:.2f} ms" for s in systems))
    finally:
        for worker in workers.values():
            worker.kill()
    # Cold starts, interleaved the same way: a fresh process per system per repeat.
    colds: dict[str, list[dict[str, Any]]] = {system: [] for system in systems}
    for r in range(args.repeats):
        for system in systems[r % len(systems) :] + systems[: r % len(systems)]:
            colds[system].append(cold_start(system, data_dir, stores[system], args.index))
    for system in systems:
        measured = result["systems"][system]
        measured.update({f"cold_{k}" if k != "cold_s" else k: v for k, v in median_of(colds[system]).items()})
        # Memory per record (interpreter and imports included in the cold figure: it matters at 1M).
        measured["peak_rss_delta_bytes_per_record"] = measured["peak_rss_delta_mb"] * 2**20 / n
        measured["cold_rss_bytes_per_record"] = measured["cold_rss_mb"] * 2**20 / n
    if "mira" in systems:  # once: it rebuilds every mirror from Chroma (tens of seconds at 100k)
        result["systems"]["mira"]["rebuild_cold_s"] = cold_start("mira-rebuild", data_dir, stores["mira"], args.index)[
            "cold_s"
        ]
    log("cold starts: " + ", ".join(f"{s} {result['systems'][s]['cold_s']:.2f} s" for s in systems))
    for store in stores.values():
        shutil.rmtree(store, ignore_errors=True)
    result["targets"] = report.targets(result["systems"])
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import psutil

        info["memory_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["load_avg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except ImportError:
        pass
    with contextlib.suppress(OSError, StopIteration):
        info["cpu"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    import chromadb
    import faiss

    info["versions"] = {"chromadb": chromadb.__version__, "faiss": faiss.__version__}
    return info


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000, 100_000], help="collection sizes")
    parser.add_argument("--million", action="store_true", help="also N = 1,000,000 (ours and the FAISS floor only)")
    parser.add_argument(
        "--index",
        choices=["auto", "hnsw", "ivf", "flat"],
        default=None,
        help="our FAISS index kind (default: the store's own, auto)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="query passes and cold starts per system")
    parser.add_argument("--queries", type=int, default=200, help="queries per pass")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=list(SYSTEMS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    if "mira" not in args.systems:
        parser.error("--systems must include mira (every ratio is ours / anchor)")

    began = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mira-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {
            "n": args.n,
            "million": args.million,
            "repeats": args.repeats,
            "queries": args.queries,
            "seed": args.seed,
            "index": args.index,
        },
        "runs": {},
    }
    try:
        batch = chroma_max_batch()
        sizes = [(n, args.systems) for n in args.n]
        if args.million:
            sizes.append((MILLION, [s for s in args.systems if s in MILLION_SYSTEMS]))
        for n, systems in sizes:
            run["runs"][str(n)] = run_n(n, systems, args, workdir, batch)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    run["elapsed_s"] = round(time.perf_counter() - began, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(run, indent=1))
    report.plot(run, args.out / "latest.png")
    print(report.markdown(run))
    print(f"elapsed {run['elapsed_s']:.0f} s; wrote {args.out / 'latest.json'} and {args.out / 'latest.png'}")
    return run


if __name__ == "__main__":
    main()
