"""The measuring child processes: one long-lived worker per system, one fresh process per cold start.

``run.py`` starts them. A process per system keeps each system's peak RSS its own and its
cold starts honest; long-lived workers let ``run.py`` interleave the query passes of all
systems, so a change in machine load (other jobs share the machine) hits every system
alike instead of whichever happened to be measured at that moment.

    python -m benchmarks.measure serve --system mira --data DIR --store DIR --batch 5461
        reads one JSON command per line on stdin, answers one JSON line each on stdout:
        {"op": "ingest"} -> ingest_s, persist_s, ...   (ingest every record, then persist)
        {"op": "pass", "figure": "filtered_1%"}       -> p50_ms, p95_ms, recall (one pass)
        {"op": "finish"}                               -> peak_rss_mb, peak_rss_delta_mb
    python -m benchmarks.measure cold --system mira --data DIR --store DIR --out FILE
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import anchors
from benchmarks.data import Dataset, K, recall_at_k

WARMUP = 5  # untimed queries before a figure's first pass


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux's ``VmHWM``, not ``ru_maxrss``: the latter survives ``exec`` and so starts at the
    RSS the parent had when it forked this process.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def figures_of(
    system: anchors.System, data: Dataset
) -> dict[str, tuple[Callable[..., list[str]], list[tuple[Any, ...]], str | None]]:
    """Every timed figure of a system: name -> (call, argument tuples, ground-truth key or None)."""
    vectors = list(data.queries)
    out: dict[str, tuple[Callable[..., list[str]], list[tuple[Any, ...]], str | None]] = {
        "query": (system.query, [(v, K) for v in vectors], "all"),
    }
    for name, where in data.filters.items():
        out[f"filtered_{name}"] = (system.filtered_query, [(v, K, where) for v in vectors], name)
    if system.hybrid:
        for name, where in [("none", None), *data.filters.items()]:
            calls = [(t, v, K, where) for t, v in zip(data.query_texts, vectors, strict=True)]
            out[f"hybrid_{name}"] = (system.hybrid_query, calls, None)
    return out


def one_pass(call: Callable[..., list[str]], calls: Sequence[tuple[Any, ...]]) -> tuple[list[float], list[list[str]]]:
    """Time every call once; returns the latencies (s) and the answers."""
    took, answers = [], []
    for args in calls:
        start = time.perf_counter()
        answers.append(call(*args))
        took.append(time.perf_counter() - start)
    return took, answers


def serve(args: argparse.Namespace) -> None:
    """Answer ``run.py``'s commands for one system (see the module docstring)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    data = Dataset.load(args.data)
    gc.collect()
    rss_loaded = peak_rss_mb()
    system = anchors.create(args.system, args.store, data, index=args.index)
    figures = figures_of(system, data)
    warmed: set[str] = set()
    for line in sys.stdin:
        command = json.loads(line)
        reply: dict[str, Any]
        if command["op"] == "ingest":
            start = time.perf_counter()
            system.ingest(data, args.batch)
            ingest_s = time.perf_counter() - start
            start = time.perf_counter()
            system.persist()
            persist_s = time.perf_counter() - start
            reply = {
                "ingest_s": ingest_s,
                "ingest_per_s": data.n / ingest_s,
                "persist_s": persist_s,
                "ingest_persist_per_s": data.n / (ingest_s + persist_s),
                "index": system.describe(),
            }
        elif command["op"] == "figures":
            reply = {"figures": list(figures)}
        elif command["op"] == "pass":
            call, calls, truth = figures[command["figure"]]
            if command["figure"] not in warmed:
                for item in calls[:WARMUP]:
                    call(*item)
                warmed.add(command["figure"])
            took, answers = one_pass(call, calls)
            reply = {"p50_ms": float(np.percentile(took, 50)) * 1000, "p95_ms": float(np.percentile(took, 95)) * 1000}
            if truth is not None:
                reply["recall"] = recall_at_k(answers, data.truth[truth], data.ids)
        elif command["op"] == "finish":
            reply = {"peak_rss_mb": peak_rss_mb(), "peak_rss_delta_mb": peak_rss_mb() - rss_loaded}
            system.close()
            protocol.write(json.dumps(reply) + "\n")
            break
        else:
            msg = f"unknown command {command!r}"
            raise ValueError(msg)
        protocol.write(json.dumps(reply) + "\n")
    protocol.flush()
    os._exit(0)  # teardown is not measured; exit handlers have nothing left to save


def cold(args: argparse.Namespace) -> dict[str, Any]:
    """In this fresh process: import the system, open its persisted store, answer one query."""
    query = np.load(args.data / "queries.npy", mmap_mode="r")
    first, second = np.array(query[0]), np.array(query[1])
    cls = anchors.SYSTEMS.get(args.system) or anchors.COLD_ONLY[args.system]
    start = time.perf_counter()
    for module in cls.IMPORTS:
        importlib.import_module(module)
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    system = cls.open_cold(args.store, len(first), index=args.index)
    open_s = time.perf_counter() - start
    start = time.perf_counter()
    hits = system.query(first, K)
    first_query_s = time.perf_counter() - start
    start = time.perf_counter()
    system.query(second, K)
    second_query_s = time.perf_counter() - start
    if len(hits) != K:
        msg = f"{args.system}: the first query after a cold open returned {len(hits)} hits, expected {K}"
        raise RuntimeError(msg)
    if args.system != "mira-rebuild":
        # Closed as an application closes it (not timed): a store left open by a process that
        # ends without closing it is opened next time as after a crash (a probe of Chroma in a
        # child process, ~3 s), which would make every cold start after the first one a crash
        # recovery. The rebuild probe is not closed: that would save its rebuilt mirrors.
        system.close()
    return {
        "import_s": import_s,
        "open_s": open_s,
        "first_query_s": first_query_s,
        "cold_s": open_s + first_query_s,
        "second_query_ms": second_query_s * 1000,
        "rss_mb": peak_rss_mb(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.measure")
    parser.add_argument("phase", choices=["serve", "cold"])
    parser.add_argument("--system", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="cold: where to write the figures")
    parser.add_argument("--batch", type=int, default=5_461)
    parser.add_argument("--index", default=None, help="our FAISS index kind (auto, flat, hnsw, ivf)")
    args = parser.parse_args(argv)
    if args.phase == "serve":
        serve(args)
    args.out.write_text(json.dumps(cold(args)))
    # Skip interpreter teardown: exit handlers would save the rebuilt mirrors of a
    # ``mira-rebuild`` probe into its throw-away folder, and teardown is not being measured.
    os._exit(0)


if __name__ == "__main__":
    main()
