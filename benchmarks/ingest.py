"""Ingest with precomputed vectors: our store against langchain-chroma and plain chromadb.

    python -m benchmarks.ingest                          # 30,000 and 100,000 records, 3 rounds
    python -m benchmarks.ingest --sizes 30000 --rounds 5

Every system ingests ``data.py``'s records (384-d unit vectors, 6-12-word texts, 3 metadata keys)
exactly as the main benchmark does (``anchors.py``: ``add_texts`` with pass-through embeddings,
``add`` for chromadb, batches of Chroma's ``max_batch_size``) into a new folder. The systems run
one after the other within a round and in a rotated order from round to round, so that the load
of other jobs on the machine falls on all of them alike. Reported per system: the median wall
time and process CPU time (all threads) over the rounds, and the ratios to langchain-chroma's of
the same round, whose median is the figure to read (a ratio of two runs minutes apart on a shared
machine means little).

``--gil-rounds`` (default 3) first checks which calls release the GIL: a pure-Python counter
thread runs while the main thread sleeps, upserts one batch into a local Chroma collection (our
store's configuration), adds it to a FAISS HNSW index (our defaults) or runs a Python loop; the
counter's rate during each call, over its rate during the sleep, is ~0 for a call that holds the
GIL throughout, ~0.5 for Python code (the two threads take turns) and ~1 for one that releases it.

Writes ``benchmarks/results/ingest.json`` and ``ingest.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import anchors
from benchmarks.data import Dataset, make_dataset
from benchmarks.run import ROOT, chroma_max_batch, machine

ANCHOR = "langchain-chroma"


def make_system(name: str, folder: Path, data: Dataset) -> anchors.System:
    table = dict(zip(data.texts, data.vectors, strict=True))
    if name == "mira":
        return anchors.Mira(folder, table)
    if name == ANCHOR:
        return anchors.LangChainChroma(folder, table)
    return anchors.RawChroma(folder)


def one_run(name: str, data: Dataset, batch: int, workdir: Path) -> dict[str, float]:
    """Ingest ``data`` into a new store of system ``name``: wall and process CPU seconds."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
    system = make_system(name, folder, data)
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    system.ingest(data, batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    system.close()
    shutil.rmtree(folder, ignore_errors=True)
    return {"wall_s": wall, "cpu_s": cpu}


def run_size(n: int, args: argparse.Namespace, batch: int, workdir: Path, log: Callable[[str], None]) -> dict[str, Any]:
    data = make_dataset(n, queries=1, seed=args.seed)
    systems = ["mira", ANCHOR, "chromadb"]
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in systems}
    for r in range(args.rounds):
        order = systems[r % len(systems) :] + systems[: r % len(systems)]
        for name in order:
            runs[name].append(one_run(name, data, batch, workdir))
            last = runs[name][-1]
            log(f"[N={n:,}] round {r + 1}: {name} {last['wall_s']:.2f} s wall, {last['cpu_s']:.2f} s CPU")
    return summarise(n, runs)


def summarise(n: int, runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians per system, and the median over rounds of each round's ratio to langchain-chroma."""
    out: dict[str, Any] = {}
    for name, got in runs.items():
        ratios = [g["wall_s"] / a["wall_s"] for g, a in zip(got, runs[ANCHOR], strict=True)]
        cpu_ratios = [g["cpu_s"] / a["cpu_s"] for g, a in zip(got, runs[ANCHOR], strict=True)]
        out[name] = {
            "wall_s": statistics.median(g["wall_s"] for g in got),
            "cpu_s": statistics.median(g["cpu_s"] for g in got),
            "records_per_s": n / statistics.median(g["wall_s"] for g in got),
            "wall_ratio_to_anchor": statistics.median(ratios),
            "cpu_ratio_to_anchor": statistics.median(cpu_ratios),
            "rounds": got,
        }
    return out


class Counter:
    """A pure-Python thread counting while ``running`` is set: its progress shows who holds the GIL."""

    def __init__(self) -> None:
        self.count = 0
        self.running = threading.Event()
        self.done = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.done:
            self.running.wait()
            while self.running.is_set():
                self.count += 1

    def rate_during(self, call: Callable[[], object]) -> tuple[float, float]:
        """Counts per second while ``call`` runs in this thread, and its wall seconds."""
        self.running.set()
        time.sleep(0.05)
        before, start = self.count, time.perf_counter()
        call()
        wall = time.perf_counter() - start
        counted = self.count - before
        self.running.clear()
        time.sleep(0.05)
        return counted / wall, wall


def gil_check(rounds: int, batch: int, workdir: Path) -> dict[str, dict[str, float]]:
    """The counter's rate during each call over its rate during a sleep (medians over rounds)."""
    data, counter = make_dataset(batch, queries=1), Counter()
    found: dict[str, list[tuple[float, float]]] = {}
    for r in range(rounds):
        client, calls = _gil_calls(workdir / f"gil-{r}", data)
        for name, call in calls.items():
            found.setdefault(name, []).append(counter.rate_during(call))
        client.close()
    counter.done = True
    counter.running.set()
    idle = statistics.median(rate for rate, _ in found["sleep 1 s"])
    return {
        name: {
            "counter_rate_vs_sleep": statistics.median(rate for rate, _ in got) / idle,
            "wall_s": statistics.median(wall for _, wall in got),
        }
        for name, got in found.items()
    }


def _gil_calls(folder: Path, data: Dataset) -> tuple[Any, dict[str, Callable[[], object]]]:
    """A new Chroma collection configured as our store makes it, a FAISS HNSW index (M 32,
    efConstruction 80: our defaults when this was measured) and the calls to time on them.
    """
    import chromadb
    import faiss

    from mira_vectorstores.engine.config import ChromaConfig

    client, config = chromadb.PersistentClient(path=str(folder)), ChromaConfig()
    hnsw = {"space": "ip", "max_neighbors": config.hnsw_max_neighbors, "ef_construction": config.hnsw_ef_construction}
    collection = client.create_collection("gil", embedding_function=None, configuration={"hnsw": hnsw})  # type: ignore[arg-type]
    index = faiss.IndexHNSWFlat(data.vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    return client, {
        "sleep 1 s": lambda: time.sleep(1.0),
        "chromadb upsert": lambda: collection.upsert(
            ids=data.ids,
            embeddings=data.vectors,
            documents=data.texts,
            metadatas=data.metadatas,  # type: ignore[arg-type]
        ),
        "faiss HNSW add": lambda: index.add(data.vectors),
        "python loop": _python_loop,
    }


def _python_loop() -> int:
    """Bytecode for about a second: the interpreter hands the GIL over every switch interval."""
    total = 0
    for i in range(10_000_000):
        total += i
    return total


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Ingest with precomputed vectors",
        "",
        f"`{result['command']}`, {result['date']}, {result['machine'].get('cpus')} CPUs, load average at start "
        f"{result['machine'].get('load_avg_at_start')} (a machine shared with other jobs: read the ratios, "
        "which compare runs of the same round).",
        "",
        f"Batches of {result['batch']:,} records per call (Chroma's max batch), {result['rounds']} interleaved rounds, "
        "medians. Ratio: wall (or CPU) time over langchain-chroma's in the same round, median over rounds.",
        "",
        "| records | system | wall s | CPU s | records/s | wall / langchain-chroma | CPU / langchain-chroma |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n, systems in result["sizes"].items():
        for name, s in systems.items():
            lines.append(
                f"| {int(n):,} | {name} | {s['wall_s']:.2f} | {s['cpu_s']:.2f} | {s['records_per_s']:,.0f} | "
                f"{s['wall_ratio_to_anchor']:.2f}x | {s['cpu_ratio_to_anchor']:.2f}x |"
            )
    if "gil" in result:
        lines += [
            "",
            f"Who holds the GIL ({result['batch']:,} records per call; see the module docstring): a pure-Python "
            "counter thread's rate during each call, over its rate while the main thread sleeps.",
            "",
            "| call | counter rate / sleep | call wall s |",
            "|---|---:|---:|",
        ]
        lines += [f"| {k} | {v['counter_rate_vs_sleep']:.3f} | {v['wall_s']:.2f} |" for k, v in result["gil"].items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[30_000, 100_000])
    parser.add_argument("--gil-rounds", type=int, default=3, help="rounds of the GIL check (0: none)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    batch = chroma_max_batch()
    result: dict[str, Any] = {
        "command": "python -m benchmarks.ingest " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "batch": batch,
        "rounds": args.rounds,
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="mira-ingest-") as workdir:
        if args.gil_rounds:
            result["gil"] = gil_check(args.gil_rounds, batch, Path(workdir))
        for n in args.sizes:
            result["sizes"][str(n)] = run_size(n, args, batch, Path(workdir), log)
            save(result, args.out)  # a run stopped later keeps the sizes it finished
    print(markdown(result))


def save(result: dict[str, Any], out: Path) -> None:
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(result))


if __name__ == "__main__":
    main()
