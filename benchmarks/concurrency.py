"""Concurrency benchmark: several processes on one Chroma server, each with its own mirrors.

    python -m benchmarks.concurrency                 # the default run: ~15-20 min on 2 cores
    python -m benchmarks.concurrency --quick         # a smoke run at small sizes, < 60 s
    python -m benchmarks.concurrency --only catchup --catchup-n 10000 --changes 1 100

One ``chroma run`` server on 127.0.0.1 (a free port, data in a scratch folder) serves the whole
run. Every store is ``HybridStore.connect(..., embedder=None)`` with random unit vectors
(``--dim``, 384) written in batches of ``--batch`` (5,000), and every store has its own
``mirror_dir`` in the scratch folder (never the user cache). Each collection is ingested once by a
writer process, which saves its mirrors; every other store of that collection opens a copy of
that snapshot (a warm open that catches up by the change). Four figures:

1. **Staleness** (N = ``--n``): ``--writers`` processes each add one record every
   ``--write-every`` s for ``--duration`` s, noting the wall time each ``add`` returned (its
   acknowledgement); ``--readers`` processes poll their own mirror with ``get(ids)`` every
   ``--poll-every`` s, never calling ``refresh()`` (the background catch-up every
   ``--refresh-interval`` s, the store's default, does the work). Staleness of a write in a
   reader = the return time of the first ``get`` that showed it - the write's acknowledgement
   (an upper bound: at most one ``get`` late).
   After the writers stop, readers keep polling for ``--grace`` s; what they never saw is counted.
2. **Catch-up cost** (N = ``--catchup-n``): a writer process makes c changes (``--changes``:
   floor(c/2) upserts of existing ids, ceil(c/2) adds, plus floor(c/20) deletes), then the reader
   (this process, no background catch-up) times ``refresh()``: median of ``--repeats``, fresh
   changes each time; the anchor is ``refresh(full=True)`` (every record re-read; ``--full-repeats``
   times, once by default: ~1.5 min at 100,000). After each catch-up the reader's mirror is
   checked against what was written and against Chroma's count. c = 0 is the no-change floor.
3. **Search QPS** (N = ``--n``, this process): 1, 2, 4 threads (``--threads``) each run vector
   searches (k = 10) on one server store for ``--search-seconds`` s; rounds interleaved
   (``--search-rounds``), median QPS, and QPS / QPS of 1 thread from the same round.
4. **Restart to first answer** (N = ``--n``): a fresh process opens the store and answers one
   search, with a warm ``mirror_dir`` (a copy of mirrors saved after the writes) or an empty one
   (rebuild from Chroma), interleaved, median of ``--repeats``; timed from process start (the
   parent's wall time until the answer arrives) and inside the process (open + first search).

A server store's catch-up also re-reads writes stamped a little before the newest stamp it holds
that may have landed since its previous catch-up began (a slow request): 2 s back, and every 10 s
the whole 30 s window. Right after a bulk write that window covers the write's tail; it is measured
on its own ("idle catch-up after bulk ingest", search QPS "after bulk"; the first version of the
store re-read the whole tail on every catch-up: 0.9 s each at 100,000). Elsewhere the collection is
*settled* first: wait ``--settle`` s (the window + 1 s) after the last write of 1,000 records or
more, then write one marker record, so a figure measures its own changes rather than the tail of
an earlier bulk write. ``--quick`` does not wait (settle 0).

Timings are medians with ratios to anchors of the same run (the machine is shared and noisy).
Results go to ``--out`` (``benchmarks/results/concurrency.json``: date, machine, args, every
figure and any anomaly: a store exception, a write never seen, a count that disagrees with
Chroma). Anomalies are reported, never worked around; the exit code is 1 when there is one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import multiprocessing as mp
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from benchmarks.data import DIM, K
from benchmarks.measure import peak_rss_mb
from mira_vectorstores.engine.config import SERVER_REFRESH_INTERVAL

if TYPE_CHECKING:
    from mira_vectorstores import HybridStore

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
BATCH = 5_000
MANUAL = 3_600.0  # refresh_interval of stores whose catch-ups are timed: no background catch-up meanwhile
SETTLE_ABOVE = 1_000  # a write of at least this many records is a bulk write (see the docstring)
CTX = mp.get_context("spawn")  # each child is a fresh interpreter with its own store
QUICK = {
    "n": 3_000,
    "catchup_n": [1_000, 3_000],
    "changes": [1, 10, 200],
    "duration": 4.0,
    "grace": 3.0,
    "search_seconds": 1.0,
    "search_rounds": 1,
    "repeats": 2,
    "settle": 0.0,
}


# -- small helpers --------------------------------------------------------------------------------
def server_window_s() -> float:
    """The server catch-up window in seconds (the package's own constant when it can be read)."""
    try:
        from mira_vectorstores.engine.mirrors.catch_up import WINDOW
        from mira_vectorstores.engine.stamps import time_of_stamp

        return float(time_of_stamp(WINDOW))
    except ImportError:
        return 30.0


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> NDArray[np.float32]:
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def spread(seconds: Sequence[float]) -> dict[str, float | int]:
    """p50 / p99 / max (ms) of durations given in seconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {
        "n": len(ms),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "min_ms": float(ms.min()),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def connect(port: int, name: str, mirror_dir: Path, interval: float) -> HybridStore:
    from mira_vectorstores import HybridStore, StoreConfig

    config = StoreConfig(refresh_interval=interval)
    return HybridStore.connect(HOST, port, name, embedder=None, config=config, mirror_dir=mirror_dir)


def git_state() -> dict[str, Any]:
    """The commit measured and the package files changed since (the tree may be edited meanwhile)."""

    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "changed": git("status", "--short", "mira_vectorstores").splitlines()}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """``chroma run`` on 127.0.0.1 for the whole run (as tests/integration/test_server_mode.py starts it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ChromaServer:
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        command = [chroma, "run", "--path", str(self.folder / "data"), "--host", HOST, "--port", str(self.port)]
        with (self.folder / "server.log").open("w") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.3)
        self.proc.kill()
        raise RuntimeError(f"chroma did not start within 60 s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.folder / "server.log").read_text()[-2000:]

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Truth:
    """Chroma's own view (a plain client), to check what the mirrors show."""

    def __init__(self, port: int) -> None:
        import chromadb

        self.client = chromadb.HttpClient(host=HOST, port=port)

    def count(self, name: str) -> int:
        return int(self.client.get_collection(name).count())


# -- child processes --------------------------------------------------------------------------------
class ChildError(RuntimeError):
    """A child process raised (its traceback is the message) or died."""


def _guarded(target: Callable[..., None], inbox: Any, outbox: Any, *args: Any) -> None:
    """Run a child's body; an exception goes back to the parent as its traceback."""
    with contextlib.suppress(ImportError):  # bm25s's progress bars: a thread lock, not a semaphore
        import tqdm  # that os._exit would leave behind for the parent's resource tracker to warn about

        tqdm.tqdm.set_lock(threading.RLock())
    try:
        target(inbox, outbox, *args)
    except BaseException:
        outbox.put({"error": traceback.format_exc()})
    finally:
        outbox.close()
        outbox.join_thread()
        # Skip interpreter teardown: it would save this child's mirrors, which nobody reads again.
        os._exit(0)


class Peer:
    """A spawned child running ``target(inbox, outbox, *args)``: commands in, one reply per command out."""

    def __init__(self, label: str, target: Callable[..., None], *args: Any) -> None:
        self.label = label
        self.inbox: Any = CTX.Queue()
        self.outbox: Any = CTX.Queue()
        self.process = CTX.Process(target=_guarded, args=(target, self.inbox, self.outbox, *args), daemon=True)
        self.process.start()

    def send(self, **message: Any) -> None:
        self.inbox.put(message)

    def reply(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer: dict[str, Any] = self.outbox.get(timeout=1.0)
            except queue.Empty:
                if not self.process.is_alive():
                    raise ChildError(f"{self.label} exited with code {self.process.exitcode}") from None
                if time.monotonic() > deadline:
                    raise ChildError(f"{self.label} did not answer within {timeout:.0f} s") from None
                continue
            if "error" in answer:
                raise ChildError(f"{self.label} raised:\n{answer['error']}")
            return answer

    def call(self, timeout: float = 600.0, **message: Any) -> dict[str, Any]:
        self.send(**message)
        return self.reply(timeout)

    def stop(self) -> None:
        if self.process.is_alive():
            with contextlib.suppress(Exception):
                self.send(op="exit")
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=10)
        for channel in (self.inbox, self.outbox):
            channel.close()
            channel.join_thread()


def base_id(i: int) -> str:
    return f"r{i:07d}"


def writer_main(inbox: Any, outbox: Any, port: int, name: str, mirror_dir: str, dim: int, seed: int) -> None:
    """A writer's store (no background catch-up): ingest, change, mark, save, on command."""
    rng = np.random.default_rng(seed)
    store = connect(port, name, Path(mirror_dir), MANUAL)
    alive = np.empty(0, dtype=np.int64)  # indices of ingested records not deleted yet
    outbox.put({"count": store.count()})
    while True:
        command = inbox.get()
        op = command["op"]
        if op == "exit":
            return
        start = time.perf_counter()
        reply: dict[str, Any] = {}
        if op == "ingest":
            n, batch = command["n"], command["batch"]
            ends = []
            for first in range(0, n, batch):
                rows = range(first, min(n, first + batch))
                store.add(
                    [f"record {i}" for i in rows],
                    ids=[base_id(i) for i in rows],
                    metadatas=[{"i": i} for i in rows],
                    vectors=unit_vectors(rng, len(rows), dim),
                )
                ends.append((time.time(), len(rows)))
            alive = np.arange(n, dtype=np.int64)
            reply = {"batch_ends": ends}
        elif op == "changes":
            c, tag = command["c"], command["tag"]
            ups, adds, dels = c // 2, c - c // 2, c // 20
            picked = rng.choice(len(alive), size=ups + dels, replace=False)
            upserted = [base_id(int(i)) for i in alive[picked[:ups]]]
            deleted = [base_id(int(i)) for i in alive[picked[ups:]]]
            alive = np.delete(alive, picked[ups:])
            added = [f"{tag}-{i}" for i in range(adds)]
            for first in range(0, ups, BATCH):
                ids = upserted[first : first + BATCH]
                store.upsert(
                    [f"upserted {tag}"] * len(ids),
                    ids=ids,
                    metadatas=[{"tag": tag}] * len(ids),
                    vectors=unit_vectors(rng, len(ids), dim),
                )
            for first in range(0, adds, BATCH):
                ids = added[first : first + BATCH]
                store.add(
                    [f"added {tag}"] * len(ids),
                    ids=ids,
                    metadatas=[{"tag": tag}] * len(ids),
                    vectors=unit_vectors(rng, len(ids), dim),
                )
            removed = store.delete(deleted) if deleted else 0
            reply = {"upserted": upserted, "added": added, "deleted": deleted, "delete_returned": removed}
        elif op == "marker":
            marker = f"marker-{uuid.uuid4().hex[:8]}"
            store.add(["settle marker"], ids=[marker], metadatas=[{"marker": True}], vectors=unit_vectors(rng, 1, dim))
            reply = {"id": marker}
        elif op == "save":  # catch up with the other processes' writes, then save the mirrors
            store.refresh()
            store.flush()
        else:
            raise ValueError(f"unknown command {command!r}")
        reply["took_s"] = time.perf_counter() - start
        reply["count"] = store.count()
        outbox.put(reply)


def stale_id(writer: int, i: int) -> str:
    return f"s{writer}-{i:06d}"


def wait_until(wall: float) -> None:
    while (left := wall - time.time()) > 0:
        time.sleep(min(left, 0.5))


def stale_writer_main(
    inbox: Any, outbox: Any, port: int, name: str, mirror_dir: str, w: int, dim: int, seed: int, interval: float
) -> None:
    """Add one record every ``every`` s for ``duration`` s; note each add's send and acknowledgement."""
    rng = np.random.default_rng(seed)
    store = connect(port, name, Path(mirror_dir), interval)
    outbox.put({"count": store.count()})
    start = inbox.get()
    every, duration = start["every"], start["duration"]
    vectors = unit_vectors(rng, int(duration / every) + 10, dim)
    writes: list[tuple[int, float, float]] = []  # (seq, sent, acknowledged), wall clock
    errors: list[dict[str, Any]] = []
    wait_until(start["at"])
    stop, due, i = start["at"] + duration, start["at"], 0
    while time.time() < stop and i < len(vectors) and len(errors) < 20:
        sent = time.time()
        try:
            store.add(
                [f"write {i} of writer {w}"],
                ids=[stale_id(w, i)],
                metadatas=[{"writer": w, "seq": i, "sent_at": sent}],
                vectors=vectors[i : i + 1],
            )
        except Exception as exc:
            errors.append({"seq": i, "error": f"{type(exc).__name__}: {exc}"})
        else:
            writes.append((i, sent, time.time()))
        i += 1
        due = max(due + every, time.time())
        time.sleep(max(0.0, due - time.time()))
    outbox.put({"writes": writes, "errors": errors, "attempted": i, "count": store.count()})


def stale_reader_main(
    inbox: Any, outbox: Any, port: int, name: str, mirror_dir: str, writers: int, interval: float, lookahead: int
) -> None:
    """Poll this process's mirror (no refresh calls) for the writers' ids; note when each first shows."""
    store = connect(port, name, Path(mirror_dir), interval)
    outbox.put({"count": store.count()})
    start = inbox.get()
    every = start["poll_every"]
    seen: dict[str, float] = {}
    top = [-1] * writers  # highest sequence seen per writer
    missing: list[set[int]] = [set() for _ in range(writers)]  # below top, not seen yet
    final: list[int] | None = None
    deadline = math.inf
    get_s: list[float] = []
    slowest = (0.0, 0.0)  # (duration, seconds after the start) of the slowest get
    errors: list[str] = []
    wait_until(start["at"])
    due = time.time()
    while True:
        if final is None:
            with contextlib.suppress(queue.Empty):
                message = inbox.get_nowait()
                final, deadline = message["final"], time.time() + message["grace"]
        wanted: dict[str, tuple[int, int]] = {}
        for w in range(writers):
            upto = final[w] if final is not None else top[w] + 1 + lookahead
            for i in [*missing[w], *range(top[w] + 1, upto)]:
                wanted[stale_id(w, i)] = (w, i)
        before = time.time()
        try:
            got = store.get(list(wanted)) if wanted else []
        except Exception as exc:
            got = []
            if len(errors) < 20:
                errors.append(f"{type(exc).__name__}: {exc}")
        now = time.time()
        get_s.append(now - before)
        slowest = max(slowest, (now - before, before - start["at"]))
        for record in got:
            if record.id in wanted and record.id not in seen:
                seen[record.id] = now
                w, i = wanted[record.id]
                missing[w].discard(i)
                if i > top[w]:
                    missing[w].update(j for j in range(top[w] + 1, i) if stale_id(w, j) not in seen)
                    top[w] = i
        if final is not None:
            done = all(top[w] == final[w] - 1 and not missing[w] for w in range(writers))
            if done or now > deadline:
                break
        due = max(due + every, now)
        time.sleep(max(0.0, due - time.time()))
    health = dataclasses.asdict(store.health())
    get = {**spread(get_s), "slowest_at_s": slowest[1]}
    outbox.put({"seen": seen, "get": get, "errors": errors, "count": store.count(), "health": health})


# -- one collection on the server: its writer process and its saved mirrors -------------------------
class Collection:
    """A collection ingested once by a writer process; ``snapshot()`` copies its saved mirrors."""

    def __init__(self, name: str, n: int, port: int, workdir: Path, args: argparse.Namespace) -> None:
        self.name, self.n, self.port, self.workdir, self.args = name, n, port, workdir, args
        self.template = workdir / f"{name}-mirrors"  # the writer's own mirror_dir
        self.writer = Peer(f"writer of {name}", writer_main, port, name, str(self.template), args.dim, args.seed)
        self.writer.reply(300)
        self.last_bulk = -math.inf  # time.monotonic() at the end of the last write of SETTLE_ABOVE records or more
        self.copies = 0
        self.info: dict[str, Any] = {}

    def ingest(self) -> None:
        log(f"{self.name}: ingesting {self.n:,} records in batches of {self.args.batch:,}")
        done = self.writer.call(timeout=7_200, op="ingest", n=self.n, batch=self.args.batch)
        self.last_bulk = time.monotonic()
        ends = done["batch_ends"]
        window = server_window_s()
        in_window = sum(size for end, size in ends if end >= ends[-1][0] - window)
        saved = self.writer.call(op="save")
        self.info = {
            "n": self.n,
            "ingest_s": done["took_s"],
            "ingest_per_s": self.n / done["took_s"],
            "save_s": saved["took_s"],
            "count": saved["count"],
            "records_in_window_after_ingest": in_window,
        }
        log(f"{self.name}: ingested at {self.info['ingest_per_s']:,.0f} records/s; saved in {saved['took_s']:.1f} s")

    def snapshot(self) -> Path:
        """A fresh copy of the writer's last saved mirrors."""
        self.copies += 1
        target = self.workdir / f"{self.name}-copy-{self.copies}"
        shutil.copytree(self.template, target)
        return target

    def save(self) -> None:
        self.writer.call(op="save")

    def settle(self, *, marker: bool) -> float:
        """Wait until ``--settle`` s passed since the last bulk write; then maybe write a marker record."""
        waited = max(0.0, self.last_bulk + self.args.settle - time.monotonic())
        if waited > 0:
            log(f"{self.name}: settling {waited:.0f} s (the catch-up window after a bulk write)")
            time.sleep(waited)
        if marker:
            self.writer.call(op="marker")
        return waited

    def changes(self, c: int, tag: str) -> dict[str, Any]:
        done = self.writer.call(timeout=7_200, op="changes", c=c, tag=tag)
        if c + c // 20 >= SETTLE_ABOVE:
            self.last_bulk = time.monotonic()
        return done


# -- 1. staleness ------------------------------------------------------------------------------------
def staleness(big: Collection, truth: Truth, args: argparse.Namespace, anomalies: list[str]) -> dict[str, Any]:
    big.settle(marker=True)
    big.save()
    log(f"staleness: {args.writers} writers, {args.readers} readers, {args.duration:.0f} s")
    peers: list[Peer] = []
    try:
        for w in range(args.writers):
            target = (stale_writer_main, big.port, big.name, str(big.snapshot()), w, args.dim, args.seed + 100 + w)
            peers.append(Peer(f"staleness writer {w}", *target, args.refresh_interval))
        for r in range(args.readers):
            target = (stale_reader_main, big.port, big.name, str(big.snapshot()), args.writers, args.refresh_interval)
            peers.append(Peer(f"staleness reader {r}", *target, args.lookahead))
        opened = [peer.reply(600) for peer in peers]
        at = time.time() + 1.0
        for peer in peers[: args.writers]:
            peer.send(at=at, every=args.write_every, duration=args.duration)
        for peer in peers[args.writers :]:
            peer.send(at=at, poll_every=args.poll_every)
        wrote = [peer.reply(args.duration + 600) for peer in peers[: args.writers]]
        chroma_count = truth.count(big.name)
        for peer in peers[args.writers :]:
            peer.send(final=[w["attempted"] for w in wrote], grace=args.grace)
        read = [peer.reply(args.grace + 600) for peer in peers[args.writers :]]
    finally:
        for peer in peers:
            peer.stop()
    delays: list[float] = []
    per_reader = []
    never = 0
    for r, reader in enumerate(read):
        mine = []
        for w, writer in enumerate(wrote):
            for seq, _, ack in writer["writes"]:
                first = reader["seen"].get(stale_id(w, seq))
                if first is None:
                    never += 1
                else:
                    mine.append(first - ack)
        delays += mine
        per_reader.append({"staleness": spread(mine), "get": reader["get"], "count": reader["count"]})
        per_reader[-1]["health"] = reader["health"]
        if reader["errors"]:
            anomalies.append(f"staleness: reader {r}'s get() raised: {reader['errors'][:3]}")
        if reader["count"] != chroma_count:
            anomalies.append(
                f"staleness: reader {r} counts {reader['count']:,} records after the grace period; Chroma holds "
                f"{chroma_count:,}"
            )
    acked = sum(len(w["writes"]) for w in wrote)
    failed = [e for w in wrote for e in w["errors"]]
    if failed:
        anomalies.append(f"staleness: {len(failed)} writes raised, e.g. {failed[:3]}")
    if never:
        anomalies.append(
            f"staleness: {never} of {acked * len(read)} (reader, acknowledged write) pairs never seen within "
            f"{args.grace:.0f} s after the writers stopped"
        )
    writer_counts = [w["count"] for w in wrote]
    return {
        "n": big.n,
        "count_at_open": [o["count"] for o in opened],
        "chroma_count_after": chroma_count,
        "writes_acknowledged": acked,
        "writes_attempted": sum(w["attempted"] for w in wrote),
        "writes_failed": len(failed),
        "write_rate_per_s": acked / args.duration,
        "add_latency": spread([ack - sent for w in wrote for _, sent, ack in w["writes"]]),
        # A warm-opened store's first write unpacks its records (README: ~0.1-0.2 s at 100,000).
        "first_add_ms": [(w["writes"][0][2] - w["writes"][0][1]) * 1000 for w in wrote if w["writes"]],
        "add_latency_after_first": spread([ack - sent for w in wrote for _, sent, ack in w["writes"][1:]]),
        "writer_counts": writer_counts,
        "staleness": spread(delays),
        "seen_before_ack": sum(d < 0 for d in delays),
        "never_seen_pairs": never,
        "pairs": acked * len(read),
        "readers": per_reader,
    }


# -- 2. catch-up cost ------------------------------------------------------------------------------
def idle_after_bulk(coll: Collection, args: argparse.Namespace) -> dict[str, Any]:
    """``refresh()`` with nothing new, right after the bulk ingest: the cost of re-reading the window."""
    folder = coll.snapshot()
    reader = connect(coll.port, coll.name, folder, MANUAL)
    took = []
    try:
        for _ in range(args.repeats):
            start = time.perf_counter()
            reader.refresh()
            took.append(time.perf_counter() - start)
    finally:
        reader.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {"ms": [t * 1000 for t in took], "median_ms": median(took) * 1000}


def check_reader(reader: HybridStore, done: dict[str, Any], tag: str, truth: Truth, name: str) -> list[str]:
    """What the reader's mirror shows after a catch-up, against what the writer wrote and Chroma holds."""
    problems = []
    shown = {r.id: r for r in reader.get(done["upserted"])}
    stale = [i for i in done["upserted"] if i not in shown or shown[i].metadata.get("tag") != tag]
    if stale:
        problems.append(f"{len(stale)} of {len(done['upserted'])} upserts not shown, e.g. {stale[:3]}")
    added = {r.id for r in reader.get(done["added"])}
    if len(added) != len(done["added"]):
        lost = [i for i in done["added"] if i not in added]
        problems.append(f"{len(lost)} of {len(done['added'])} adds not shown, e.g. {lost[:3]}")
    still = [r.id for r in reader.get(done["deleted"])]
    if still:
        problems.append(f"{len(still)} of {len(done['deleted'])} deleted records still shown, e.g. {still[:3]}")
    count, chroma = reader.count(), truth.count(name)
    if count != chroma:
        problems.append(f"the reader counts {count:,} records, Chroma holds {chroma:,}")
    return problems


def catchup(coll: Collection, truth: Truth, args: argparse.Namespace, anomalies: list[str]) -> dict[str, Any]:
    from mira_vectorstores import StoreConfig

    threshold = StoreConfig().faiss.hnsw_threshold
    folder = coll.snapshot()
    start = time.perf_counter()
    reader = connect(coll.port, coll.name, folder, MANUAL)
    open_s = time.perf_counter() - start
    rows: list[dict[str, Any]] = []
    try:
        coll.settle(marker=True)
        reader.refresh()  # takes in whatever happened since the snapshot (untimed)
        idle = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            reader.refresh()
            idle.append(time.perf_counter() - start)
        rows.append({"c": 0, "deletes": 0, "ms": [t * 1000 for t in idle], "median_ms": median(idle) * 1000})
        for c in args.changes:
            took, behind, counts, write_s = [], [], [], []
            for r in range(args.repeats):
                coll.settle(marker=False)
                tag = f"c{c}r{r}x{uuid.uuid4().hex[:6]}"
                done = coll.changes(c, tag)
                write_s.append(done["took_s"])
                before = reader.count()
                start = time.perf_counter()
                reader.refresh()
                took.append(time.perf_counter() - start)
                counts.append((before, reader.count()))
                behind.append(reader.health().changes_behind)  # after a catch-up with no writer active: 0
                if behind[-1] != 0:
                    anomalies.append(
                        f"catch-up N={coll.n:,} c={c} repeat {r}: health() reports {behind[-1]} changes behind "
                        "right after refresh() with no writer active"
                    )
                for problem in check_reader(reader, done, tag, truth, coll.name):
                    anomalies.append(f"catch-up N={coll.n:,} c={c} repeat {r}: {problem}")
            log(f"catch-up N={coll.n:,} c={c:,}: {median(took) * 1000:,.0f} ms (median of {len(took)})")
            rows.append(
                {
                    "c": c,
                    "deletes": c // 20,
                    "ms": [t * 1000 for t in took],
                    "median_ms": median(took) * 1000,
                    "us_per_change": median(took) * 1e6 / (c + c // 20),
                    "changes_behind_after": behind,
                    "write_s": write_s,
                    "count_before_after": counts,
                    "index": " -> ".join(
                        dict.fromkeys("hnsw" if n >= threshold else "flat" for n in (counts[0][0], counts[-1][1]))
                    ),
                }
            )
        full = []
        for r in range(args.full_repeats):
            log(f"catch-up N={coll.n:,}: full re-read {r + 1} of {args.full_repeats}")
            start = time.perf_counter()
            reader.refresh(full=True)
            full.append(time.perf_counter() - start)
            if reader.count() != truth.count(coll.name):
                anomalies.append(
                    f"catch-up N={coll.n:,}: after refresh(full=True) the reader counts {reader.count():,}, "
                    f"Chroma holds {truth.count(coll.name):,}"
                )
        full_ms = median(full) * 1000
        for row in rows:
            row["full_ms"] = full_ms
            row["ratio"] = row["median_ms"] / full_ms
    finally:
        reader.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "n": coll.n,
        "reader_open_s": open_s,
        "full_ms": [t * 1000 for t in full],
        "rows": rows,
        "idle_after_bulk": coll.info.get("idle_after_bulk"),
        "records_in_window_after_ingest": coll.info.get("records_in_window_after_ingest"),
    }


# -- 3. search QPS ----------------------------------------------------------------------------------
def qps_round(store: HybridStore, threads: int, seconds: float, queries: NDArray[np.float32]) -> dict[str, Any]:
    """``threads`` threads searching one store for ``seconds`` s; total QPS and latencies."""
    barrier = threading.Barrier(threads + 1)
    took: list[list[float]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []
    short: list[int] = []
    stop = [math.inf]

    def work(t: int) -> None:
        mine, i = took[t], t * 997
        barrier.wait()
        try:
            while (now := time.perf_counter()) < stop[0]:
                hits = store.search(vector=queries[i % len(queries)], k=K)
                mine.append(time.perf_counter() - now)
                if len(hits) != K:
                    short.append(len(hits))
                i += 1
        except BaseException as exc:
            failures.append(exc)

    pool = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    start = time.perf_counter()
    stop[0] = start + seconds
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    done = sum(len(t) for t in took)
    return {
        "threads": threads,
        "qps": done / elapsed,
        "latency": spread([x for t in took for x in t]),
        "short_answers": len(short),
    }


def search_qps(
    store: HybridStore, args: argparse.Namespace, rounds: int, anomalies: list[str], state: str
) -> dict[str, Any]:
    queries = unit_vectors(np.random.default_rng(args.seed + 7), 1_000, args.dim)
    for q in queries[:20]:  # warm-up
        store.search(vector=q, k=K)
    by_threads: dict[int, list[dict[str, Any]]] = {t: [] for t in args.threads}
    for r in range(rounds):
        order = args.threads if r % 2 == 0 else args.threads[::-1]
        for threads in order:
            by_threads[threads].append(qps_round(store, threads, args.search_seconds, queries))
    one = args.threads[0]
    out = []
    for threads, passes in by_threads.items():
        short = sum(p["short_answers"] for p in passes)
        if short:
            anomalies.append(f"search ({state}, {threads} threads): {short} searches returned fewer than {K} hits")
        ratios = [p["qps"] / base["qps"] for p, base in zip(passes, by_threads[one], strict=True)]
        out.append(
            {
                "threads": threads,
                "qps": median([p["qps"] for p in passes]),
                "qps_passes": [p["qps"] for p in passes],
                f"ratio_to_{one}_thread": median(ratios),
                "p50_ms": median([p["latency"]["p50_ms"] for p in passes]),
                "p99_ms": median([p["latency"]["p99_ms"] for p in passes]),
                "max_ms": max(p["latency"]["max_ms"] for p in passes),
            }
        )
        log(f"search ({state}) {threads} threads: {out[-1]['qps']:,.0f} QPS")
    return {"state": state, "rounds": rounds, "rows": out}


def search_section(big: Collection, args: argparse.Namespace, anomalies: list[str], *, fresh: bool) -> dict[str, Any]:
    import faiss

    folder = big.snapshot()
    store = connect(big.port, big.name, folder, args.refresh_interval)
    result: dict[str, Any] = {"n": big.n, "faiss_omp_threads": faiss.omp_get_max_threads(), "states": []}
    try:
        if fresh:  # the collection's newest write is the bulk ingest: each background catch-up re-reads its tail
            result["states"].append(search_qps(store, args, 1, anomalies, "after bulk"))
        big.settle(marker=True)
        time.sleep(2 * args.refresh_interval + 0.5)  # the background catch-up takes the marker in
        result["states"].append(search_qps(store, args, args.search_rounds, anomalies, "settled"))
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)
    return result


# -- 4. restart to first answer ---------------------------------------------------------------------
def restart_child(argv: Sequence[str]) -> None:
    """In this fresh process: import, open the store (``--mirror-dir``), answer one search; one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concurrency restart-child")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--mirror-dir", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    import mira_vectorstores  # noqa: F401 - timed on its own

    import_s = time.perf_counter() - start
    start = time.perf_counter()
    store = connect(args.port, args.name, args.mirror_dir, args.interval)
    open_s = time.perf_counter() - start
    query = unit_vectors(np.random.default_rng(args.seed), 1, store.dimension or 0)[0]
    start = time.perf_counter()
    hits = store.search(vector=query, k=K)
    first_s = time.perf_counter() - start
    out = {"import_s": import_s, "open_s": open_s, "first_search_s": first_s, "hits": len(hits)}
    out.update(in_process_s=open_s + first_s, count=store.count(), rss_mb=peak_rss_mb())
    print(json.dumps(out), flush=True)
    os._exit(0)  # no teardown: it would save the mirrors into a folder nobody reads again


def restart_trial(coll: Collection, mirror_dir: Path, seed: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.concurrency", "restart-child", "--port", str(coll.port)]
    command += ["--name", coll.name, "--mirror-dir", str(mirror_dir), "--seed", str(seed)]
    err = coll.workdir / f"restart-{uuid.uuid4().hex[:8]}.err"
    with err.open("w") as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        wall = time.perf_counter() - start
        proc.wait(timeout=120)
    if not line:
        raise ChildError(f"restart child exited with {proc.returncode}: {err.read_text()[-3000:]}")
    result: dict[str, Any] = json.loads(line)
    result["wall_s"] = wall
    return result


def restart(big: Collection, truth: Truth, args: argparse.Namespace, anomalies: list[str]) -> dict[str, Any]:
    big.save()  # the writer catches up and saves its mirrors: the warm snapshot
    expected = truth.count(big.name)
    trials: dict[str, list[dict[str, Any]]] = {"warm": [], "empty": []}
    for r in range(args.repeats):
        for kind in ("warm", "empty") if r % 2 == 0 else ("empty", "warm"):
            folder = big.snapshot() if kind == "warm" else big.workdir / f"empty-{uuid.uuid4().hex[:8]}"
            folder.mkdir(exist_ok=True)
            log(f"restart {r + 1}/{args.repeats}: {kind} mirror_dir")
            trial = restart_trial(big, folder, args.seed + r)
            shutil.rmtree(folder, ignore_errors=True)
            trials[kind].append(trial)
            if trial["count"] != expected or trial["hits"] != K:
                anomalies.append(
                    f"restart ({kind} mirror_dir): counts {trial['count']:,} records (Chroma holds {expected:,}) "
                    f"and the first search returned {trial['hits']} hits (k = {K})"
                )
    out: dict[str, Any] = {"n": big.n, "chroma_count": expected, "trials": trials}
    for kind, done in trials.items():
        out[kind] = {key: median([t[key] for t in done]) for key in ("wall_s", "in_process_s", "open_s", "import_s")}
        out[kind]["first_search_ms"] = median([t["first_search_s"] for t in done]) * 1000
        out[kind]["rss_mb"] = median([t["rss_mb"] for t in done])
    out["ratio_wall_empty_to_warm"] = out["empty"]["wall_s"] / out["warm"]["wall_s"]
    out["ratio_in_process_empty_to_warm"] = out["empty"]["in_process_s"] / out["warm"]["in_process_s"]
    return out


# -- the summary ---------------------------------------------------------------------------------------
def summary(run: dict[str, Any]) -> str:
    lines: list[str] = []
    sections, args = run["sections"], run["args"]
    if "staleness" in sections:
        s = sections["staleness"]
        lat, add = s["staleness"], s["add_latency"]
        lines += [
            f"## Staleness: N = {s['n']:,}; {args['writers']} writers x 1 add per {args['write_every'] * 1000:.0f} ms "
            f"for {args['duration']:.0f} s; {args['readers']} readers polling get() every "
            f"{args['poll_every'] * 1000:.0f} ms; refresh_interval {args['refresh_interval']} s",
            "",
            f"writes acknowledged {s['writes_acknowledged']:,} of {s['writes_attempted']:,} "
            f"({s['write_rate_per_s']:.1f}/s); add latency p50 {add.get('p50_ms', 0):.1f} ms, "
            f"p99 {add.get('p99_ms', 0):.1f} ms, max {add.get('max_ms', 0):,.0f} ms"
            + (
                f"; each writer's first add {', '.join(f'{ms:,.0f}' for ms in s['first_add_ms'])} ms"
                if "first_add_ms" in s
                else ""
            ),
            "",
            "| staleness over (reader, write) pairs | p50 ms | p99 ms | max ms | p50 / refresh_interval |"
            " never seen | seen before ack |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        if lat["n"]:
            lines.append(
                f"| all {s['pairs']:,} pairs | {lat['p50_ms']:,.0f} | {lat['p99_ms']:,.0f} | {lat['max_ms']:,.0f} | "
                f"{lat['p50_ms'] / 1000 / args['refresh_interval']:.2f} | {s['never_seen_pairs']} | "
                f"{s['seen_before_ack']} |"
            )
        for r, reader in enumerate(s["readers"]):
            st, get = reader["staleness"], reader["get"]
            when = f" at +{get['slowest_at_s']:.1f} s" if "slowest_at_s" in get else ""
            if st["n"]:
                lines.append(
                    f"| reader {r} (its get(): p50 {get['p50_ms']:.2f} ms, p99 {get['p99_ms']:.1f} ms, max "
                    f"{get['max_ms']:,.0f} ms{when}) | {st['p50_ms']:,.0f} | {st['p99_ms']:,.0f} | {st['max_ms']:,.0f} "
                    "| | | |"
                )
        lines.append("")
    if "catchup" in sections:
        lines += [
            "## Catch-up: refresh() after c changes by another process vs refresh(full=True)",
            "",
            "c changes = floor(c/2) upserts + ceil(c/2) adds, plus floor(c/20) deletes; c = 0: nothing new "
            "(settled). Catch-up: median of "
            f"{args['repeats']}; full: median of {args['full_repeats']}.",
            "",
            "| N | c | +deletes | catch-up ms | min-max ms | µs per change | full ms | catch-up / full | index |"
            " records after |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        ]
        for result in sections["catchup"]:
            for row in result["rows"]:
                counts = row.get("count_before_after")
                per = f"{row['us_per_change']:,.0f}" if "us_per_change" in row else ""
                lines.append(
                    f"| {result['n']:,} | {row['c']:,} | {row['deletes']:,} | {row['median_ms']:,.1f} | "
                    f"{min(row['ms']):,.1f}-{max(row['ms']):,.1f} | {per} | {row['full_ms']:,.0f} | "
                    f"{row['ratio']:.4f} | {row.get('index', '')} | {'' if not counts else f'{counts[-1][1]:,}'} |"
                )
        by_n = {result["n"]: {row["c"]: row["median_ms"] for row in result["rows"]} for result in sections["catchup"]}
        if len(by_n) > 1:
            low, high = min(by_n), max(by_n)
            ratios = [f"c={c:,} {by_n[high][c] / by_n[low][c]:.1f}x" for c in by_n[low] if c in by_n[high]]
            lines += ["", f"catch-up at N={high:,} / at N={low:,}, same c (1.0x = flat in N): {', '.join(ratios)}"]
        lines += [
            "",
            "| N | idle refresh() right after the bulk ingest, ms | records in the window (≈) | vs settled idle |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for result in sections["catchup"]:
            idle = result.get("idle_after_bulk")
            if idle:
                settled = result["rows"][0]["median_ms"]
                lines.append(
                    f"| {result['n']:,} | {idle['median_ms']:,.0f} | {result['records_in_window_after_ingest']:,} | "
                    f"{idle['median_ms'] / settled:,.0f}x |"
                )
        lines.append("")
    if "search" in sections:
        s = sections["search"]
        lines += [
            f"## Search QPS: N = {s['n']:,}, vector k = {K}, one server store in this process, "
            f"{args['search_seconds']:.0f} s per pass (faiss OpenMP threads: {s['faiss_omp_threads']})",
            "",
            "| collection state | threads | QPS (median) | x 1 thread | p50 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for state in s["states"]:
            for row in state["rows"]:
                ratio = next(v for k, v in row.items() if k.startswith("ratio_to_"))
                lines.append(
                    f"| {state['state']} ({state['rounds']} rounds) | {row['threads']} | {row['qps']:,.0f} | "
                    f"{ratio:.2f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['max_ms']:,.0f} |"
                )
        if len(s["states"]) == 2:
            after, settled = (st["rows"][0]["qps"] for st in s["states"])
            lines.append(f"\n1 thread, after bulk / settled QPS: {after / settled:.2f}")
        lines.append("")
    if "restart" in sections:
        s = sections["restart"]
        lines += [
            f"## Restart to first answer: N = {s['chroma_count']:,} on the server, median of {args['repeats']}",
            "",
            "| mirror_dir | process start -> answer, s | open + 1st search in process, s | import s | open s |"
            " 1st search ms | peak RSS MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for kind in ("warm", "empty"):
            k = s[kind]
            lines.append(
                f"| {kind} | {k['wall_s']:.2f} | {k['in_process_s']:.2f} | {k['import_s']:.2f} | {k['open_s']:.2f} | "
                f"{k['first_search_ms']:.1f} | {k['rss_mb']:,.0f} |"
            )
        lines += [
            "",
            f"empty / warm: {s['ratio_wall_empty_to_warm']:.1f}x from process start, "
            f"{s['ratio_in_process_empty_to_warm']:.1f}x in process",
            "",
        ]
    if run["errors"]:
        lines += ["## Sections that raised", ""]
        lines += [f"- {name}: {error.strip().splitlines()[-1]}" for name, error in run["errors"].items()]
        lines.append("")
    lines += ["## Anomalies (possible store bugs)", ""]
    lines += [f"- {a}" for a in run["anomalies"]] or ["none"]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------------
def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of under a minute")
    parser.add_argument("--only", nargs="+", choices=["staleness", "catchup", "search", "restart"], default=None)
    parser.add_argument("--n", type=int, default=100_000, help="records for staleness, search and restart")
    parser.add_argument("--catchup-n", type=int, nargs="+", default=[10_000, 100_000], help="catch-up sizes")
    parser.add_argument("--changes", type=int, nargs="+", default=[1, 100, 10_000], help="c, changes per catch-up")
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--batch", type=int, default=BATCH, help="records per add() when ingesting")
    parser.add_argument("--repeats", type=int, default=3, help="catch-ups per c, and restarts per kind")
    parser.add_argument("--full-repeats", type=int, default=1, help="refresh(full=True) anchors per N")
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=20.0, help="staleness: seconds of writing")
    parser.add_argument("--write-every", type=float, default=0.05, help="staleness: seconds between adds")
    parser.add_argument("--poll-every", type=float, default=0.01, help="staleness: seconds between a reader's gets")
    parser.add_argument("--lookahead", type=int, default=256, help="staleness: ids per writer polled ahead")
    parser.add_argument("--grace", type=float, default=10.0, help="staleness: polling after the writers stop")
    parser.add_argument(
        "--refresh-interval", type=float, default=SERVER_REFRESH_INTERVAL, help="StoreConfig.refresh_interval"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--search-seconds", type=float, default=5.0)
    parser.add_argument("--search-rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=None, help="seconds after a bulk write (default: window+1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "concurrency.json")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    if args.settle is None:
        args.settle = server_window_s() + 1.0
    args.only = args.only or ["staleness", "catchup", "search", "restart"]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["restart-child"]:
        restart_child(argv[1:])
    args = parse(argv)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # the server and every client talk to 127.0.0.1 only
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from benchmarks.run import machine

    began = time.perf_counter()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mira-concurrency-"))
    workdir.mkdir(parents=True, exist_ok=True)
    run: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_state(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "server_window_s": server_window_s(),
        "sections": {},
        "collections": {},
        "anomalies": [],
        "errors": {},
    }
    anomalies: list[str] = run["anomalies"]
    collections: dict[int, Collection] = {}

    @contextlib.contextmanager
    def section(name: str) -> Iterator[None]:
        try:
            yield
        except Exception:
            run["errors"][name] = traceback.format_exc()
            log(f"{name} raised:\n{run['errors'][name]}")

    try:
        with ChromaServer(workdir) as server:
            truth = Truth(server.port)

            def collection(n: int) -> Collection:
                if n not in collections:
                    coll = Collection(f"bench-{n}", n, server.port, workdir, args)
                    collections[n] = coll
                    coll.ingest()
                    coll.info["idle_after_bulk"] = idle_after_bulk(coll, args)
                    run["collections"][coll.name] = coll.info
                return collections[n]

            try:
                if "search" in args.only:
                    with section("search"):
                        run["sections"]["search"] = search_section(collection(args.n), args, anomalies, fresh=True)
                if "staleness" in args.only:
                    with section("staleness"):
                        run["sections"]["staleness"] = staleness(collection(args.n), truth, args, anomalies)
                if "restart" in args.only:
                    with section("restart"):
                        run["sections"]["restart"] = restart(collection(args.n), truth, args, anomalies)
                if "catchup" in args.only:
                    run["sections"]["catchup"] = []
                    for n in sorted(args.catchup_n):
                        with section(f"catchup N={n}"):
                            run["sections"]["catchup"].append(catchup(collection(n), truth, args, anomalies))
            finally:
                for coll in collections.values():
                    coll.writer.stop()
                collections.clear()
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    run["elapsed_s"] = round(time.perf_counter() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run, indent=1))
    print(summary(run))
    print(f"\nelapsed {run['elapsed_s']:.0f} s; wrote {args.out}")
    return 1 if run["errors"] or run["anomalies"] else 0


if __name__ == "__main__":
    sys.exit(main())
