"""What crash safety costs an embedded store: the journal per write, a checkpoint, a probe, a repair.

    python -m benchmarks.crash                  # N = 50,000 384-d records: ~10 min on 2 cores
    python -m benchmarks.crash --n 5000 --repeats 1   # a smoke run

1. **Journal per write**: ingest N records with precomputed unit vectors, ``--batch`` per call, with
   the journal (the default) and without it (the replica's journal switched off: what the store
   cost before), interleaved, ``--repeats`` each; median records/s and the ratio. Checkpoints are
   off here (``checkpoint_interval=None``) so both runs do the same work; the journal's bytes per
   record are read before the final save.
2. **Checkpoint**: one ``flush()`` after the ingest (what ``checkpoint_interval`` costs each time).
3. **Probe**: ``storage.probe.check`` on the ingested folder (what opening after an unclean
   shutdown adds).
4. **Repair**: a child process ingests N records and ends without closing the store (``os._exit``:
   no checkpoint, no save, as if killed); Chroma's HNSW segment files are then deleted, so every
   vector must come from the journal or Chroma's log. Timed: ``HybridStore.repair(path, name)``
   and opening the store afterwards (its mirrors are rebuilt from the repaired collection).

The crash trials themselves are in the test suite: ``MIRA_CRASH_TRIALS=200 python -m pytest -s
tests/integration/test_crash_safety.py`` runs 200 instead of 24. Results go to
``benchmarks/results/crash.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mira_vectorstores import HybridStore, StoreConfig
from mira_vectorstores.engine.storage import probe

NAME = "crash-bench"
# Ingests, then ends as a killed process would: no checkpoint, no close, no atexit save.
KILLED_WRITER = r"""
import os, sys
import numpy as np
from mira_vectorstores import HybridStore, StoreConfig
path, vectors, batch = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3])
store = HybridStore.persistent(path, "crash-bench", embedder=None, config=StoreConfig(checkpoint_interval=None))
for start in range(0, len(vectors), batch):
    ids = [f"r{i}" for i in range(start, min(start + batch, len(vectors)))]
    store.add([f"text {i}" for i in ids], ids=ids, vectors=vectors[start : start + batch])
os._exit(0)
"""


def ingest(path: Path, vectors: np.ndarray, batch: int, *, journal: bool) -> tuple[float, int]:
    """Records/s of one ingest, and the journal's bytes before the final save."""
    store = HybridStore.persistent(path, NAME, embedder=None, config=StoreConfig(checkpoint_interval=None))
    replica = store._replica
    if not journal and replica.journal is not None:
        replica.journal.close()
        replica.journal = None
    began = time.perf_counter()
    for start in range(0, len(vectors), batch):
        ids = [f"r{i}" for i in range(start, min(start + batch, len(vectors)))]
        store.add([f"text {i}" for i in ids], ids=ids, vectors=vectors[start : start + batch])
    rate = len(vectors) / (time.perf_counter() - began)
    size = replica.journal.size() if replica.journal is not None else 0
    store.close()
    return rate, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.n, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scratch = Path(tempfile.mkdtemp(prefix="mira-crash-bench-"))
    rates: dict[str, list[float]] = {"journal": [], "no journal": []}
    journal_bytes = 0
    try:
        for repeat in range(args.repeats):
            for label in ("journal", "no journal"):
                path = scratch / f"{label.replace(' ', '-')}-{repeat}"
                rate, size = ingest(path, vectors, args.batch, journal=label == "journal")
                rates[label].append(rate)
                journal_bytes = max(journal_bytes, size)
                print(f"{label}: {rate:,.0f} records/s", flush=True)
                if repeat < args.repeats - 1 or label == "no journal":
                    shutil.rmtree(path)
        path = scratch / f"journal-{args.repeats - 1}"
        store = HybridStore.persistent(path, NAME, embedder=None)
        store.upsert(["one more"], ids=["r0"], vectors=vectors[:1])
        began = time.perf_counter()
        store.flush()
        checkpoint = time.perf_counter() - began
        store.close()
        began = time.perf_counter()
        probed = probe.check(path, [NAME])
        probe_s = time.perf_counter() - began
        killed = scratch / "killed"
        np.save(scratch / "vectors.npy", vectors)
        subprocess.run(
            [sys.executable, "-c", KILLED_WRITER, str(killed), str(scratch / "vectors.npy"), str(args.batch)],
            check=True,
        )
        for segment in killed.iterdir():  # lost HNSW files: every vector from another source
            if segment.is_dir() and (segment / "header.bin").exists():
                shutil.rmtree(segment)
        path = killed
        began = time.perf_counter()
        report = HybridStore.repair(path, NAME)
        repair_s = time.perf_counter() - began
        began = time.perf_counter()
        reopened = HybridStore.persistent(path, NAME, embedder=None)
        reopen_s = time.perf_counter() - began
        count = reopened.count()
        reopened.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with_journal, without = statistics.median(rates["journal"]), statistics.median(rates["no journal"])
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {platform.python_version()}",
        "args": {k: str(v) for k, v in vars(args).items()},
        "ingest_records_per_s": {"journal": rates["journal"], "no journal": rates["no journal"]},
        "journal_ratio": with_journal / without,
        "journal_bytes_per_record": journal_bytes / args.n,
        "checkpoint_s": checkpoint,
        "probe_s": probe_s,
        "probe": probed.detail,
        "repair_s": repair_s,
        "repair_sources": report.sources,
        "repair_unrecovered": len(report.unrecovered),
        "reopen_after_repair_s": reopen_s,
        "records_after_repair": count,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "crash.json").write_text(json.dumps(result, indent=1))
    lines = [
        "# Crash safety: what it costs",
        "",
        f"`python -m benchmarks.crash --n {args.n} --dim {args.dim} --batch {args.batch} --repeats {args.repeats}`, "
        f"{result['date']}, {result['machine']}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| ingest with journal / without (median records/s) | {with_journal:,.0f} / {without:,.0f} = "
        f"{with_journal / without:.2f}x |",
        f"| journal bytes per record ({args.dim}-d) | {journal_bytes / args.n:,.0f} |",
        f"| checkpoint (flush) at {args.n:,} records | {checkpoint:.2f} s |",
        f"| probe of Chroma in a child process | {probe_s:.2f} s ({probed.detail}) |",
        f"| repair of {args.n:,} records (writer killed, HNSW files lost) | {repair_s:.1f} s; "
        f"sources {report.sources}; unrecovered {len(report.unrecovered)} |",
        f"| open after repair (mirrors rebuilt) | {reopen_s:.1f} s, {count:,} records |",
    ]
    (args.out / "crash.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
