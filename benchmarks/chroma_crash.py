"""Crash benchmark: how chromadb's embedded mode (and its server) is damaged when a process dies.

    python benchmarks/chroma_crash.py                        # the full run (~45 min on 2 cores)
    python benchmarks/chroma_crash.py --kills 3 --settings default,server_app --no-costs   # smoke
    python benchmarks/chroma_crash.py --report-only          # re-render the .md from the .json

Standalone (only chromadb and numpy); every folder lives under a scratch folder in /tmp.

Kill loop, per setting (``--kills`` kills, delays drawn from ``random.Random(--seed)``):

- A writer subprocess opens one collection (``PersistentClient``, or ``HttpClient`` for the server
  settings) and loops: upsert ``write`` random 64-d float32 records (new ids, a short document and
  one metadata field each), and after every third upsert delete one record (the first id of the
  previous batch). After each call returned it appends one line to an acknowledgement file
  (append mode, flush + fsync per line): ``U run batch size`` or ``D id``.
- The writer is killed (SIGKILL; SIGTERM for the ``sigterm*`` settings; the *server* for
  ``server_kill``) at a moment drawn uniformly from 3-7 s after it was spawned.
- A fresh checker subprocess then opens the collection and runs ``count()``, a paged
  ``get(include=["embeddings","documents","metadatas"])`` and one ``query()``. Outcome: ok,
  error (exception type + first line of the message), signal (negative return code, e.g. -11 =
  segfault) or timeout (``--check-timeout``, 60 s). It also compares the ids with the
  acknowledgement file: acknowledged ids missing, acknowledged-deleted ids present, embeddings
  different from the ones written (regenerated from the seed), count() != number of ids got,
  query hits that are not live ids.
- Right after each kill (before the checker, which may rewrite them) the files are examined read-only
  (``forensics``; not for ``server_app``, whose live server owns them): flags such as
  ``link_lists_short`` (header.bin counts more elements than link_lists.bin holds),
  ``data_level0_short``, ``hnsw_files_ahead_of_pickle``, ``pickle_unreadable``.
- A collection is *damaged* when the check is not ok or any completeness figure is non-zero. A
  damaged collection is checked once more by another fresh process (is it permanent?), its
  on-disk state is examined (``forensics``: max_seq_id rows, the write log, header.bin,
  index_metadata.pickle, file sizes), the first ``--keep-damaged`` folders per setting are kept,
  and the loop goes on in a fresh folder.

Costs without kills (``--cost-n`` records, 500 per call unless the setting says otherwise, same
delete pattern): ingest rate (median of ``--cost-reps`` fresh folders), open time of a fresh process
(``PersistentClient`` + ``get_collection`` + first ``count()``, median of 3 opens, plus process
wall time), write-log size right after the ingest (rows of ``embeddings_queue``, bytes of
``chroma.sqlite3``) and after the opens.

Output: ``--out``/chroma_crash.json (raw) and chroma_crash.md (tables + mechanism).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

DIM = 64
COLLECTION = "crash_test"
HERE = Path(__file__).resolve()

# name -> (collection configuration or None, records per upsert, mode, how the kill is done)
#   mode: "embedded" (PersistentClient) | "server" (HttpClient on a `chroma run` server)
#   kill: "SIGKILL" | "SIGTERM" | "SIGTERM_HANDLER" (the writer turns SIGTERM into SystemExit,
#         which Python runs between two calls) | "SERVER" (SIGKILL the server, not the writer)
SMALL = {"space": "ip", "max_neighbors": 4, "ef_construction": 16}
SETTINGS: dict[str, dict[str, Any]] = {
    "default": dict(config=None, write=500, mode="embedded", kill="SIGKILL"),
    "small_hnsw": dict(config={"hnsw": dict(SMALL)}, write=500, mode="embedded", kill="SIGKILL"),
    "sync_100": dict(config={"hnsw": {"sync_threshold": 100}}, write=500, mode="embedded", kill="SIGKILL"),
    "sync_100000": dict(config={"hnsw": {"sync_threshold": 100000}}, write=500, mode="embedded", kill="SIGKILL"),
    "small_sync_100000": dict(
        config={"hnsw": dict(SMALL, sync_threshold=100000)}, write=500, mode="embedded", kill="SIGKILL"
    ),
    "write_50": dict(config=None, write=50, mode="embedded", kill="SIGKILL"),
    "write_5000": dict(config=None, write=5000, mode="embedded", kill="SIGKILL"),
    "sigterm": dict(config=None, write=500, mode="embedded", kill="SIGTERM"),
    "sigterm_handler": dict(config=None, write=500, mode="embedded", kill="SIGTERM_HANDLER"),
    "server_kill": dict(config=None, write=500, mode="server", kill="SERVER"),
    "server_app": dict(config=None, write=500, mode="server", kill="SIGKILL"),
}
DEFAULT_SETTINGS = list(SETTINGS)
# settings whose kill count is --short-kills (the brief allows 10-20 there)
SHORT = {"write_50", "write_5000", "sigterm", "sigterm_handler"}
COST_SETTINGS = ["default", "small_hnsw", "sync_100", "sync_100000", "small_sync_100000", "write_50", "write_5000"]


# --------------------------------------------------------------------------- shared helpers


def vectors(seed: int, run: int, batch: int, size: int):
    import numpy as np

    return np.random.default_rng([seed, run, batch]).random((size, DIM), dtype=np.float32)


def make_client(args: argparse.Namespace):
    import chromadb

    if args.http:
        host, port = args.http.rsplit(":", 1)
        return chromadb.HttpClient(host=host, port=int(port))
    return chromadb.PersistentClient(path=args.path)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


# --------------------------------------------------------------------------- writer (subprocess)


def writer_main(args: argparse.Namespace) -> int:
    if args.term_handler:

        def _exit(signum, frame):
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, _exit)
    config = json.loads(args.config) if args.config else None
    client = make_client(args)
    col = client.get_or_create_collection(COLLECTION, configuration=config, embedding_function=None)
    ack = open(args.ack, "a", encoding="utf-8")  # noqa: SIM115 - open for the writer's whole life

    def acknowledge(line: str) -> None:
        ack.write(line + "\n")
        ack.flush()
        os.fsync(ack.fileno())

    print("ready", flush=True)
    t0 = time.perf_counter()
    written = 0
    batch = 0
    while args.limit <= 0 or written < args.limit:
        ids = [f"r{args.run}-{batch * args.write + j}" for j in range(args.write)]
        col.upsert(
            ids=ids,
            embeddings=vectors(args.seed, args.run, batch, args.write),
            documents=[f"doc {i}" for i in ids],
            metadatas=[{"run": args.run, "batch": batch}] * args.write,
        )
        acknowledge(f"U {args.run} {batch} {args.write}")
        written += args.write
        if batch % 3 == 2:
            victim = f"r{args.run}-{(batch - 1) * args.write}"
            acknowledge(f"d {victim}")  # intent: until "D" follows, either state is acceptable
            col.delete(ids=[victim])
            acknowledge(f"D {victim}")
        batch += 1
    elapsed = time.perf_counter() - t0
    print(json.dumps({"records": written, "seconds": elapsed, "rate": written / elapsed}), flush=True)
    return 0


# --------------------------------------------------------------------------- checker (subprocess)


def read_ack(path: str) -> tuple[dict[str, tuple[int, int, int]], set[str], list[tuple[int, int, int]]]:
    """Acknowledged live ids -> (run, batch, row), acknowledged-deleted ids, batches.

    An id whose delete was sent ("d") but not acknowledged ("D") is in neither set."""
    live: dict[str, tuple[int, int, int]] = {}
    deleted: set[str] = set()
    batches: list[tuple[int, int, int]] = []
    if not os.path.exists(path):
        return live, deleted, batches
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not line.endswith("\n"):
                continue  # a torn last line cannot happen with fsync-after-write, but be safe
            if parts[0] == "U":
                run, batch, size = int(parts[1]), int(parts[2]), int(parts[3])
                batches.append((run, batch, size))
                for j in range(size):
                    i = f"r{run}-{batch * size + j}"
                    live[i] = (run, batch, j)
                    deleted.discard(i)
            elif parts[0] == "d":
                live.pop(parts[1], None)
            elif parts[0] == "D":
                live.pop(parts[1], None)
                deleted.add(parts[1])
    return live, deleted, batches


def check_main(args: argparse.Namespace) -> int:
    import numpy as np

    out: dict[str, Any] = {"status": "ok"}
    stage = "open"
    t0 = time.perf_counter()
    try:
        client = make_client(args)
        col = client.get_collection(COLLECTION)
        stage = "count"
        n = col.count()
        out["count"] = n
        out["count_seconds"] = time.perf_counter() - t0
        stage = "get"
        got: dict[str, Any] = {}
        docs_bad = 0
        offset = 0
        while True:
            page = col.get(include=["embeddings", "documents", "metadatas"], limit=args.page, offset=offset)
            ids = page["ids"]
            if not ids:
                break
            for k, i in enumerate(ids):
                got[i] = page["embeddings"][k]
                if page["documents"][k] != f"doc {i}" or not page["metadatas"][k]:
                    docs_bad += 1
            offset += len(ids)
            if len(ids) < args.page:
                break
        stage = "query"
        q = col.query(query_embeddings=vectors(args.seed, 10**6, 0, 1), n_results=10, include=["distances"])
        hits = q["ids"][0]
        stage = "compare"
        live, deleted, batches = read_ack(args.ack)
        missing = [i for i in live if i not in got]
        resurrected = [i for i in deleted if i in got]
        wrong = 0
        for run, batch, size in batches:
            want = None
            for j in range(size):
                i = f"r{run}-{batch * size + j}"
                if i in got and i in live:
                    if want is None:
                        want = vectors(args.seed, run, batch, size)
                    if not np.array_equal(np.asarray(got[i], dtype=np.float32), want[j]):
                        wrong += 1
        out.update(
            got=len(got),
            acked_live=len(live),
            acked_deleted=len(deleted),
            missing_acked=len(missing),
            missing_examples=missing[:5],
            resurrected_deleted=len(resurrected),
            wrong_embeddings=wrong,
            bad_documents=docs_bad,
            unacked_present=sum(1 for i in got if i not in live and i not in deleted),
            pending_deletes=sum(1 for line in Path(args.ack).read_text().splitlines() if line.startswith("d "))
            - len(deleted)
            if os.path.exists(args.ack)
            else 0,
            count_mismatch=int(n != len(got)),
            query_hits=len(hits),
            query_ghosts=sum(1 for h in hits if h not in got),
        )
    except BaseException as exc:
        out["status"] = "error"
        out["stage"] = stage
        out["error"] = first_line(exc)
        out["traceback_tail"] = traceback.format_exc().strip().splitlines()[-1][:300]
    out["seconds"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(out), flush=True)
    return 0 if out["status"] == "ok" else 3


# --------------------------------------------------------------------------- open timer (subprocess)


def open_main(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    client = make_client(args)
    col = client.get_collection(COLLECTION)
    n = col.count()
    print(json.dumps({"open_seconds": time.perf_counter() - t0, "count": n}), flush=True)
    return 0


# --------------------------------------------------------------------------- forensics (in-process, files only)

HEADER = struct.Struct("<iQQQQQQiIQQQdQ")  # hnswlib HEADER_FIELDS (chroma-core/hnswlib hnswalg.h)


def forensics(path: Path) -> dict[str, Any]:
    """What is on disk (read-only, no Chroma): the write log, max_seq_id rows, and per HNSW folder the
    header, the pickle, file sizes, a walk of link_lists.bin, and a list of inconsistencies (`flags`)."""
    info: dict[str, Any] = {}
    try:
        con = sqlite3.connect(f"file:{path / 'chroma.sqlite3'}?mode=ro", uri=True)
        segs = con.execute("select id, type, scope, collection from segments").fetchall()
        seq = dict(con.execute("select segment_id, seq_id from max_seq_id").fetchall())
        info["max_seq_id"] = {scope: seq.get(sid) for sid, _t, scope, _c in segs}
        info["log_rows"], info["log_min_seq"], info["log_max_seq"] = con.execute(
            "select count(*), min(seq_id), max(seq_id) from embeddings_queue"
        ).fetchone()
        info["metadata_rows"] = con.execute("select count(*) from embeddings").fetchone()[0]
        vec = [sid for sid, _t, scope, _c in segs if scope == "VECTOR"]
        hnsw_seq = seq.get(vec[0]) if vec else None
        # the log must still hold every record after the HNSW segment's max_seq_id
        info["log_covers_hnsw_replay"] = info["log_rows"] == 0 or info["log_min_seq"] <= int(hnsw_seq or 0) + 1
        log_ops = con.execute(
            "select seq_id, id, operation from embeddings_queue where seq_id > ? order by seq_id",
            (int(hnsw_seq or 0),),
        ).fetchall()
        con.close()
    except Exception as exc:
        info["sqlite_error"] = first_line(exc)
        info["flags"] = ["sqlite_unreadable"]
        return info
    flags: list[str] = []
    for sid in vec:
        folder = path / sid
        f: dict[str, Any] = {}
        info["hnsw"] = f
        if not folder.exists():
            f["files"] = None
            continue
        f["files"] = {p.name: p.stat().st_size for p in folder.iterdir()}
        f["allocated"] = {p.name: p.stat().st_blocks * 512 for p in folder.iterdir()}
        labels_live: dict[int, int] = {}
        labels_deleted: set[int] = set()
        cur = 0
        try:
            raw = (folder / "header.bin").read_bytes()
            (_ver, off0, max_el, cur, size_el, label_off, _od, maxlevel, enter, max_m, _m0, m, _mult, _efc) = (
                HEADER.unpack(raw[: HEADER.size])
            )
            f["header"] = dict(
                max_elements=max_el,
                cur_element_count=cur,
                size_data_per_element=size_el,
                maxlevel=maxlevel,
                enterpoint=enter,
                M=m,
            )
            data = (folder / "data_level0.bin").read_bytes()
            f["data_level0_short_of_cur"] = max(0, cur * size_el - len(data))
            if f["data_level0_short_of_cur"]:
                flags.append("data_level0_short")
            # link_lists.bin: per element i < cur, a uint32 size then size bytes; size is a multiple of
            # maxM*4+4 (one block per level above 0). Walked with seeks: the file may be huge and sparse.
            per_level = max_m * 4 + 4
            ll_size = (folder / "link_lists.bin").stat().st_size
            pos, walked, garbage = 0, 0, None
            with open(folder / "link_lists.bin", "rb") as fh:
                for i in range(cur):
                    fh.seek(pos)
                    b = fh.read(4)
                    if len(b) < 4:
                        break
                    (sz,) = struct.unpack("<I", b)
                    if sz % per_level or sz // per_level > max(maxlevel, 0) + 1:
                        garbage = {"element": i, "size": sz, "offset": pos}
                        break
                    if pos + 4 + sz > ll_size:
                        break
                    pos += 4 + sz
                    walked += 1
            f["link_lists_elements_readable"] = walked
            f["link_lists_end"] = pos
            if garbage:
                f["link_lists_garbage"] = garbage
                flags.append("link_lists_garbage_size")
            elif walked < cur:
                flags.append("link_lists_short")
            if ll_size > pos and walked == cur:
                f["link_lists_trailing_bytes"] = ll_size - pos
                flags.append("link_lists_trailing_bytes")
            for i in range(min(cur, len(data) // size_el)):
                base = i * size_el
                (label,) = struct.unpack_from("<Q", data, base + label_off)
                if data[base + off0 + 2] & 0x01:
                    labels_deleted.add(label)
                else:
                    labels_live[label] = i
            f["hnsw_live"], f["hnsw_deleted"] = len(labels_live), len(labels_deleted)
        except Exception as exc:
            f["hnsw_error"] = first_line(exc)
            flags.append("hnsw_files_unreadable")
        try:
            with open(folder / "index_metadata.pickle", "rb") as fh:
                idmap = pickle.load(fh)
            id_to_label = idmap.get("id_to_label", {})
            f["pickle"] = dict(
                total_elements_added=idmap.get("total_elements_added"),
                ids=len(id_to_label),
                max_seq_id=idmap.get("max_seq_id"),
            )
            plabels = set(id_to_label.values())
            f["labels_in_hnsw_not_in_pickle"] = len(set(labels_live) - plabels)
            f["pickle_labels_deleted_in_hnsw"] = len(plabels & labels_deleted)
            if f["labels_in_hnsw_not_in_pickle"] or f["pickle_labels_deleted_in_hnsw"]:
                flags.append("hnsw_files_ahead_of_pickle")
            # replay from max_seq_id: deletes of ids whose (pickle) label hnswlib already marked deleted
            f["replay_ops"] = len(log_ops)
            f["replay_deletes_of_already_deleted"] = sum(
                1 for _s, i, op in log_ops if op == 3 and i in id_to_label and id_to_label[i] in labels_deleted
            )
        except FileNotFoundError:
            f["pickle"] = "absent"
            if cur:
                flags.append("pickle_absent_with_elements")
        except Exception as exc:
            f["pickle"] = "unreadable: " + first_line(exc)
            flags.append("pickle_unreadable")
    if not info["log_covers_hnsw_replay"]:
        flags.append("log_purged_past_hnsw")
    info["flags"] = flags
    return info


def disk_summary(info: dict[str, Any]) -> dict[str, Any]:
    """The few forensics figures kept for every kill."""
    h = info.get("hnsw") or {}
    pk = h.get("pickle")
    return {
        "flags": info.get("flags", []),
        "cur_element_count": (h.get("header") or {}).get("cur_element_count"),
        "pickle_total": pk.get("total_elements_added") if isinstance(pk, dict) else pk,
        "link_lists_readable": h.get("link_lists_elements_readable"),
        "max_seq_id": info.get("max_seq_id"),
        "log_rows": info.get("log_rows"),
    }


# --------------------------------------------------------------------------- orchestration


class Server:
    """`chroma run --path DIR --host 127.0.0.1 --port P`, started and stopped by us."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log = path, log
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self, timeout: float = 60.0) -> float:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        chroma = str(Path(sys.executable).with_name("chroma"))
        t0 = time.perf_counter()
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the server process
        self.proc = subprocess.Popen(
            [chroma, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v2/heartbeat", timeout=2):
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer within timeout")

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()


def sub_cmd(kind: str, target: dict[str, str], *extra: str) -> list[str]:
    cmd = [sys.executable, str(HERE), kind]
    if "http" in target:
        cmd += ["--http", target["http"]]
    else:
        cmd += ["--path", target["path"]]
    return cmd + list(extra)


def run_check(target: dict[str, str], ack: Path, args: argparse.Namespace, server: Server | None) -> dict[str, Any]:
    cmd = sub_cmd("_check", target, "--ack", str(ack), "--seed", str(args.seed), "--page", str(args.page))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=args.check_timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        res = {"status": "timeout", "kind": f"timeout ({args.check_timeout:.0f} s)"}
        res["wall"] = time.perf_counter() - t0
        if server is not None and server.returncode() is not None:
            res["server_rc"] = server.returncode()
        return res
    res: dict[str, Any] = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
    res["wall"] = time.perf_counter() - t0
    res["rc"] = proc.returncode
    if proc.returncode < 0:
        res["status"] = "signal"
        res["kind"] = f"signal {signal.Signals(-proc.returncode).name} in checker"
        res["stderr_tail"] = err.strip().splitlines()[-3:]
    elif not res:
        res.update(status="error", kind="checker crashed: " + (err.strip().splitlines() or ["?"])[-1][:200])
    elif res["status"] == "error":
        res["kind"] = f"error at {res.get('stage')}: {res.get('error')}"
    if server is not None and server.returncode() is not None:
        # the server died while answering: that is the failure, whatever the client saw
        res["server_rc"] = server.returncode()
        res["status"] = "signal" if server.returncode() < 0 else "error"
        rc = server.returncode()
        res["kind"] = f"server died ({signal.Signals(-rc).name if rc < 0 else rc}) at {res.get('stage', '?')}"
    if res.get("status") == "ok":
        bad = {
            k: res[k]
            for k in (
                "missing_acked",
                "resurrected_deleted",
                "wrong_embeddings",
                "bad_documents",
                "count_mismatch",
                "query_ghosts",
            )
            if res.get(k)
        }
        if bad:
            res["status"] = "incomplete"
            res["kind"] = "readable but " + ", ".join(f"{k}={v}" for k, v in bad.items())
    else:
        res.setdefault("kind", res["status"])
    return res


def kill_loop(
    name: str, spec: dict[str, Any], kills: int, args: argparse.Namespace, work: Path, rng: random.Random
) -> dict[str, Any]:
    """`kills` kills of one setting; a fresh folder after every damaged collection."""
    print(
        f"\n== {name}: {kills} kills ({spec['kill']}, write {spec['write']}, {spec['mode']}, "
        f"config {json.dumps(spec['config'])})",
        flush=True,
    )
    root = work / name
    root.mkdir(parents=True, exist_ok=True)
    events: list[dict[str, Any]] = []
    damages: list[dict[str, Any]] = []
    kept = 0
    gen, since_fresh, run = 0, 0, 0
    server: Server | None = None
    t_setting = time.perf_counter()

    def fresh() -> tuple[Path, Path, dict[str, str]]:
        nonlocal server
        folder = root / f"c{gen}"
        folder.mkdir()
        if spec["mode"] == "server":
            if server is not None:
                server.kill(signal.SIGTERM)
            server = Server(folder, root / f"server-{gen}.log")
            server.start()
            return folder, folder.with_suffix(".ack"), {"http": server.addr}
        return folder, folder.with_suffix(".ack"), {"path": str(folder)}

    folder, ack, target = fresh()
    for k in range(1, kills + 1):
        run = k
        delay = rng.uniform(3.0, 7.0)
        cmd = sub_cmd(
            "_writer",
            target,
            "--ack",
            str(ack),
            "--run",
            str(run),
            "--seed",
            str(args.seed),
            "--write",
            str(spec["write"]),
        )
        if spec["config"] is not None:
            cmd += ["--config", json.dumps(spec["config"])]
        if spec["kill"] == "SIGTERM_HANDLER":
            cmd.append("--term-handler")
        errf = open(root / "writer.stderr", "a")  # noqa: SIM115 - handed to the writer process
        errf.write(f"--- kill {k} run {run}\n")
        errf.flush()
        wproc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errf, start_new_session=True)
        errf.close()
        t0 = time.perf_counter()
        ev: dict[str, Any] = {"kill": k, "folder": gen, "delay": round(delay, 3)}
        try:
            wproc.wait(timeout=delay)
            ev["writer_exited_early"] = wproc.returncode
        except subprocess.TimeoutExpired:
            pass
        if spec["kill"] == "SERVER":
            assert server is not None
            ev["server_rc"] = server.kill(signal.SIGKILL)
            if wproc.poll() is None:
                wproc.kill()
            wproc.wait()
            # the files as the dead server left them, before anything reopens them
            ev["disk"] = disk_summary(forensics(folder))
            try:
                ev["server_restart_s"] = round(server.start(), 3)
                target = {"http": server.addr}
            except RuntimeError as exc:
                ev["server_restart_error"] = str(exc)
        elif wproc.poll() is None:
            wproc.send_signal(signal.SIGTERM if spec["kill"].startswith("SIGTERM") else signal.SIGKILL)
            try:
                wproc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                wproc.kill()
                wproc.wait()
                ev["needed_sigkill"] = True
        ev["writer_rc"] = wproc.returncode
        ev["writer_alive_s"] = round(time.perf_counter() - t0, 3)
        if spec["mode"] == "embedded":
            # the files as the dead writer left them, before the checker reopens (and maybe rewrites) them
            ev["disk"] = disk_summary(forensics(folder))
        ev["acked_batches_this_run"] = (
            sum(1 for line in ack.read_text().splitlines() if line.startswith(f"U {run} ")) if ack.exists() else 0
        )
        since_fresh += 1
        if "server_restart_error" in ev:
            res = {"status": "error", "kind": "server restart failed: " + ev["server_restart_error"]}
        else:
            res = run_check(target, ack, args, server)
        ev["check"] = res
        events.append(ev)
        early = f", writer died first (rc {ev['writer_exited_early']})" if "writer_exited_early" in ev else ""
        flags = ",".join((ev.get("disk") or {}).get("flags", [])) or "-"
        line = (
            f"  kill {k:2d} (folder {gen}, {delay:.1f}s, writer rc {ev['writer_rc']}{early}, acked batches "
            f"{ev['acked_batches_this_run']}, disk flags {flags}): {res['status']}"
        )
        line += f" n={res.get('count')}" if res["status"] == "ok" else f" [{res.get('kind')}]"
        print(line + f" ({res.get('wall', 0):.1f}s)", flush=True)
        if res["status"] != "ok":
            dmg: dict[str, Any] = {
                "kill": k,
                "kills_since_fresh": since_fresh,
                "kind": res.get("kind"),
                "status": res["status"],
                "folder": gen,
            }
            if spec["mode"] == "server" and server is not None:
                # re-check through a freshly restarted server (permanent, or only this process?)
                server.kill(signal.SIGTERM)
                try:
                    server.start()
                    target = {"http": server.addr}
                    again = run_check(target, ack, args, server)
                except RuntimeError as exc:
                    again = {"status": "error", "kind": f"server restart failed: {exc}"}
                server.kill(signal.SIGTERM)
                server = None
            else:
                again = run_check(target, ack, args, None)
            dmg["recheck"] = {"status": again["status"], "kind": again.get("kind")}
            dmg["forensics"] = forensics(folder)
            damages.append(dmg)
            print(
                f"    recheck: {again['status']} {again.get('kind', '')}; forensics: "
                f"{json.dumps(dmg['forensics'].get('hnsw', {}), default=str)[:600]}",
                flush=True,
            )
            if kept < args.keep_damaged:
                dest = work / "damaged" / f"{name}-c{gen}"
                dest.parent.mkdir(exist_ok=True)
                # cp keeps sparse files sparse (a torn link_lists.bin can have a huge apparent size)
                subprocess.run(["cp", "-a", "--sparse=always", str(folder), str(dest)], check=False)
                if ack.exists():
                    shutil.copy(ack, dest.with_suffix(".ack"))
                dmg["kept_at"] = str(dest)
                kept += 1
            shutil.rmtree(folder, ignore_errors=True)
            gen += 1
            since_fresh = 0
            folder, ack, target = fresh()
    last_ok = next((e["check"] for e in reversed(events) if e["check"]["status"] == "ok"), None)
    if server is not None:
        server.kill(signal.SIGTERM)
    final_forensics = forensics(folder) if spec["mode"] == "embedded" else None
    shutil.rmtree(root, ignore_errors=True) if not args.keep_all else None
    return {
        "setting": name,
        "spec": spec,
        "kills": kills,
        "events": events,
        "damages": damages,
        "damaged": len(damages),
        "kills_until_damage": [d["kills_since_fresh"] for d in damages],
        "surviving_streak": since_fresh,
        "final_records": last_ok.get("count") if last_ok else None,
        "final_forensics": final_forensics,
        "seconds": round(time.perf_counter() - t_setting, 1),
    }


def cost(name: str, spec: dict[str, Any], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Ingest --cost-n records without kills, --cost-reps times; open time; log size."""
    print(f"\n== cost {name}", flush=True)
    reps: list[dict[str, Any]] = []
    for rep in range(args.cost_reps):
        folder = work / f"cost-{name}-{rep}"
        ack = folder.with_suffix(".ack")
        cmd = sub_cmd(
            "_writer",
            {"path": str(folder)},
            "--ack",
            str(ack),
            "--run",
            "1",
            "--seed",
            str(args.seed),
            "--write",
            str(spec["write"]),
            "--limit",
            str(args.cost_n),
        )
        if spec["config"] is not None:
            cmd += ["--config", json.dumps(spec["config"])]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        con = sqlite3.connect(f"file:{folder / 'chroma.sqlite3'}?mode=ro", uri=True)
        r["log_rows"] = con.execute("select count(*) from embeddings_queue").fetchone()[0]
        con.close()
        r["sqlite_bytes"] = (folder / "chroma.sqlite3").stat().st_size
        r["folder_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        if rep == args.cost_reps - 1:
            opens = []
            for _ in range(3):
                t0 = time.perf_counter()
                o = subprocess.run(sub_cmd("_open", {"path": str(folder)}), capture_output=True, text=True, check=True)
                d = json.loads(o.stdout.strip().splitlines()[-1])
                d["process_wall"] = time.perf_counter() - t0
                opens.append(d)
            r["opens"] = opens
            con = sqlite3.connect(f"file:{folder / 'chroma.sqlite3'}?mode=ro", uri=True)
            r["log_rows_after_opens"] = con.execute("select count(*) from embeddings_queue").fetchone()[0]
            con.close()
            r["forensics"] = forensics(folder)
        reps.append(r)
        print(
            f"  rep {rep}: {r['rate']:.0f} rec/s, log rows {r['log_rows']}, sqlite {r['sqlite_bytes'] / 1e6:.1f} MB",
            flush=True,
        )
        shutil.rmtree(folder, ignore_errors=True)
        ack.unlink(missing_ok=True)
    opens = reps[-1]["opens"]
    res = {
        "setting": name,
        "reps": reps,
        "ingest_rate": statistics.median(r["rate"] for r in reps),
        "open_s": statistics.median(o["open_seconds"] for o in opens),
        "open_first_s": opens[0]["open_seconds"],
        "open_process_wall_s": statistics.median(o["process_wall"] for o in opens),
        "log_rows": reps[-1]["log_rows"],
        "sqlite_bytes": reps[-1]["sqlite_bytes"],
        "log_rows_after_opens": reps[-1]["log_rows_after_opens"],
    }
    print(f"  median {res['ingest_rate']:.0f} rec/s, open {res['open_s']:.2f}s", flush=True)
    return res


def config_probe(work: Path) -> dict[str, Any]:
    """What Chroma stores for each configuration (is batch_size kept at all?)."""
    code = (
        "import chromadb, json, sys\n"
        "c = chromadb.PersistentClient(path=sys.argv[1])\n"
        "out = {}\n"
        "for n, cfg in json.loads(sys.argv[2]).items():\n"
        "    try:\n"
        "        col = c.create_collection(n, configuration=cfg, embedding_function=None)\n"
        "        out[n] = c.get_collection(n).configuration.get('hnsw')\n"
        "    except Exception as e:\n"
        "        out[n] = 'rejected: ' + str(e).splitlines()[0]\n"
        "print(json.dumps(out))\n"
    )
    cfgs = {
        "probe-default": None,
        "probe-batch-2": {"hnsw": {"batch_size": 2}},
        "probe-batch-50000": {"hnsw": {"batch_size": 50000}},
        "probe-sync-2": {"hnsw": {"sync_threshold": 2}},
        "probe-sync-1": {"hnsw": {"sync_threshold": 1}},
        "probe-resize-5": {"hnsw": {"resize_factor": 5.0}},
        "probe-threads-1": {"hnsw": {"num_threads": 1}},
    }
    folder = work / "probe"
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder), json.dumps(cfgs)], capture_output=True, text=True, check=True
    ).stdout
    shutil.rmtree(folder, ignore_errors=True)
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report

MECHANISM = """\
## Mechanism

Sources read (chroma-core/chroma at tag 1.5.9, and chroma-core/hnswlib at
6868102bde454dc761136e1994490133a6a026bb, the commit pinned by chroma's Cargo.lock):
`rust/log/src/sqlite_log.rs`, `rust/log/src/local_compaction_manager.rs`,
`rust/segment/src/local_hnsw.rs`, `rust/segment/src/local_segment_manager.rs`,
`rust/frontend/src/executor/local.rs`, `rust/index/src/hnsw.rs`,
`rust/types/src/hnsw_configuration.rs`; hnswlib `hnswlib/hnswalg.h`, `src/hnsw.rs`.

__MECHANISM_BODY__
"""

MECHANISM_BODY = """\
**Write path.** `SqliteLog::push_logs` (`rust/log/src/sqlite_log.rs`) commits each add/upsert/delete to
`embeddings_queue` in one SQLite transaction. Before the call returns, it asks the `LocalCompactionManager`
(`rust/log/src/local_compaction_manager.rs`) for a *backfill* and then a *purge*. The backfill:
- reads the log after min(metadata max_seq_id, HNSW max_seq_id);
- applies it to the metadata segment in one SQLite transaction (atomic);
- then applies it to the HNSW segment in memory (`LocalHnswSegmentWriter::apply_log_chunk`,
  `rust/segment/src/local_hnsw.rs`).

**HNSW persist: in place, non-atomic, three steps.** `apply_log_chunk` counts the records it applies. The
counter starts at 0 in every process. When it reaches `sync_threshold` (default 1000), `persist()` runs:
1. `index.save()` → hnswlib `persistDirty()` (`hnswlib/hnswalg.h`) writes into the existing files
   through ofstreams, in this order:
   - `header.bin` (the new `cur_element_count`, `max_elements`, entry point);
   - the dirty elements' blocks of `data_level0.bin`;
   - `length.bin`;
   - `link_lists.bin`. Here it walks all `cur_element_count` elements, seeking past clean ones and
     writing dirty ones, so this step costs O(N).

   There is no fsync (the code says "It would make sense to do a fsync here") and no temp file + rename.
2. `index_metadata.pickle` (id→label map, `total_elements_added`) is re-created with `File::create`,
   which truncates it, and then written.
3. Only then is the HNSW segment's `max_seq_id` row replaced.

A process that dies in step 1 or 2 leaves a torn segment. Both shapes appeared in this run:
- **10 of the 13 damaged collections:** header.bin already counts the new elements, but link_lists.bin
  (in 2 of them data_level0.bin too) ends exactly where the pickle's `total_elements_added` ends. In
  every one of these, `cur_element_count - total_elements_added` = the elements missing from
  link_lists.bin = the records of the interrupted persist: 1,000, or 500 for sync_100 (persist after
  every upsert), or 5,000 for write_5000.
- **2 of the 13:** the pickle was truncated (98,282 B and 876,340 B written) while the HNSW files were
  complete.

In all 13, `max_seq_id` still named the previous persist.

**Purge vs max_seq_id.** After every write, and before the first read of each process, `purge_logs` runs
`DELETE FROM embeddings_queue WHERE seq_id < min(metadata max_seq_id, HNSW max_seq_id)`. The HNSW
max_seq_id is written last, so the log always still holds what the last *complete* persist lacks. This
held in all 13 damaged folders (`log_covers_hnsw_replay`). In the 10 kept damaged folders, every
acknowledged live id was in the metadata segment (`embeddings` table) and no acknowledged-deleted id
was; this was an offline check with the `.ack` files. So no acknowledged write was lost from
chroma.sqlite3. But the log before max_seq_id is purged, so those vectors exist only in data_level0.bin,
and a torn HNSW segment cannot be rebuilt from the log.

**Why every reopen fails.** Each process runs the backfill before its first read
(`try_backfill_collection`, `rust/frontend/src/executor/local.rs`) and on every write. The backfill
loads the segment (`LocalHnswSegmentReader::from_segment` → hnswlib `loadPersistedIndex`), which
trusts header.bin's `cur_element_count`. `loadLinkLists` reads link_lists.bin without checking for end
of file, so the elements the torn persist never reached get undefined link-list sizes and contents.

The backfill then replays the log after max_seq_id. It numbers labels from the old pickle's
`total_elements_added + 1`, so it re-applies exactly those half-written elements (and, in 7 of the 10
cases, a delete whose mark was already persisted: `replay_deletes_of_already_deleted`). hnswlib throws.
Chroma discards its message (`Err(_e) => HnwsIndexAddError` / `HnswIndexDeleteError`) and returns
`CompactionManagerError::HnswApplyLogsError`: "Failed to apply logs to the hnsw segment writer".
Because the backfill is not marked done, every count/get/query/write in every later process repeats it
and fails; every recheck by a second fresh process failed the same way. A truncated pickle fails
earlier, in `serde_pickle::from_reader` ("Error deserializing pickle file: ... EOF while parsing").

**The segfault.** Once (default, kill 13) the replay did not throw, so the check passed on a torn
segment (data_level0_short, link_lists_short). The next writer then died by SIGSEGV before its kill
(rc -11). It left link_lists.bin with an apparent size of 4,065,301,494,432 B (581,632 B allocated;
the records of all `cur_element_count` elements parse consistently, then comes a write at a garbage
offset). Both checking processes that opened it afterwards segfaulted.

**Confirmation outside Chroma** (an auxiliary test, not in the script). The replay of the same log
records was run with chroma-hnswlib 0.7.6, an older build of the same fork, in a scratch venv. On the
7 kept folders of this run with a short link_lists.bin:
- 3 raised "The requested to delete element is already deleted";
- 1 segfaulted;
- 3 finished without error.

The same script on a healthy folder finished without error. So which exception Chroma's own hnswlib
build hits in the last 3 cases is not established: Chroma drops it.

**Which settings matter.** In Chroma 1.5.9 local mode, `local_hnsw.rs` uses `space`, `ef_construction`,
`ef_search`, `max_neighbors` and `sync_threshold`:
- `batch_size` is accepted but not stored (`skip_serializing` in `InternalHnswConfiguration`,
  `rust/types/src/hnsw_configuration.rs`; absent from the read-back configuration).
- `num_threads` and `resize_factor` are stored but unused: the index is resized to the next power of
  two and inserts go through rayon's pool.
- `sync_threshold: 1` was accepted despite `range(min = 2)`.

`sync_threshold` only sets how often step 1 runs and how much it writes. With 100,000, no persist
happened in the 20 kills of either sync_100000 setting: the final folders had no pickle, an empty
header.bin, no HNSW max_seq_id, and all 36,515 / 71,037 rows still in the log. So those zeros show the
torn window was never opened, not that it is safe. The first persist, at 100,000 records since the
last one, writes every element. Meanwhile nothing is purged, every write re-reads the whole log, and
every open replays it into HNSW. That gives 7.9 s to open 50,000 records with the default graph
(1.65 s with the small one), and sync_100000 writers that did not finish a single 500-record call in
their 3-7 s in 9 of the 20 kills (8 of the last 9).

**What avoided it here.** Only keeping the process that persists alive through the kill:
- `server_app` (the app is SIGKILLed, the server stays up): 0 of 20 damaged;
- `sigterm_handler` (SIGTERM becomes SystemExit, which CPython runs only after the current Chroma call
  has returned): 0 of 10 damaged, and the files were consistent after every one of its kills.

Killing the server itself (`server_kill`) damaged 2 of 20, the same way as embedded mode. Default
SIGTERM handling (`sigterm`: Python's default action, the process dies at once) damaged 1 of 10.
The sync_100000 zeros are explained above.
"""


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


# "sqlite_unreadable": the forensics' read-only open of chroma.sqlite3 failed right after the kill (the
# kill interrupted a SQLite transaction; the next read-write open recovers it). Not an HNSW
# inconsistency, and the HNSW files were not examined for that kill.
NOT_HNSW = {"sqlite_unreadable"}


def hnsw_flags(e: dict[str, Any]) -> list[str]:
    return [f for f in (e.get("disk") or {}).get("flags", []) if f not in NOT_HNSW]


def short_kind(kind: str | None) -> str:
    """A short label for a damage kind (the full messages are listed under the table)."""
    k = kind or "?"
    if "Failed to apply logs to the hnsw segment writer" in k:
        return "apply-logs error"
    if "Error deserializing pickle file" in k:
        return "pickle EOF error"
    if k.startswith("signal SIGSEGV"):
        return "SIGSEGV"
    if k.startswith("server died"):
        return "server died"
    return k[:80]


def render(data: dict[str, Any]) -> str:
    L: list[str] = []
    L.append("# Chroma crash benchmark (chromadb embedded mode and server)\n")
    L.append(f"Command: `{data['command']}`\n")
    m = data["machine"]
    L.append(
        f"Run {data['started']}, {data['wall_minutes']:.1f} min wall; chromadb {m['chromadb']}, "
        f"python {m['python']}, {m['cpus']} CPUs; seed {data['args']['seed']}; kill delays uniform 3-7 s "
        f"after the writer was spawned; checker timeout {data['args']['check_timeout']:.0f} s.\n"
    )
    L.append(
        "Damaged = the check by a fresh process after a kill was not ok (error / signal / timeout) or "
        "showed lost acknowledged records, resurrected deletes, wrong embeddings or count != ids. "
        'After a damage the loop continues in a fresh folder. "Kills until damage" counts kills '
        "since that folder was fresh.\n"
    )
    costs = {c["setting"]: c for c in data.get("costs", [])}
    base = costs.get("default")
    L.append("## Results\n")
    L.append(
        "| setting | kill | config | write/call | kills | damaged | kills until each damage | damage kinds "
        "| HNSW files inconsistent after the kill / kills examined (of which the check was ok) | lost acked "
        "| ingest rec/s (x default) | open s (x default) | log rows / sqlite MB after "
        f"{data['args']['cost_n']:,} |"
    )
    L.append("| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: |")
    for r in data["kill_loops"]:
        name = r["setting"]
        spec = r["spec"]
        kinds = Counter(short_kind(d["kind"]) for d in r["damages"])
        kinds_s = "; ".join(f"{v}x {k}" for k, v in kinds.most_common()) or "-"
        lost = sum(e["check"].get("missing_acked", 0) or 0 for e in r["events"])
        res = sum(e["check"].get("resurrected_deleted", 0) or 0 for e in r["events"])
        lost_s = f"{lost}" + (f" (+{res} deletes undone)" if res else "")
        c = costs.get(name)
        if c and base:
            ing = f"{fmt_rate(c['ingest_rate'])} ({c['ingest_rate'] / base['ingest_rate']:.2f}x)"
            opn = f"{c['open_s']:.2f} ({c['open_s'] / base['open_s']:.1f}x)"
            log = f"{c['log_rows']:,} / {c['sqlite_bytes'] / 1e6:.1f}"
        else:
            ing = opn = log = "-"
        cfg = json.dumps(spec["config"]["hnsw"]) if spec["config"] else "defaults"
        until = ", ".join(str(x) for x in r["kills_until_damage"]) or "-"
        with_disk = [e for e in r["events"] if "disk" in e and not set(e["disk"]["flags"]) & NOT_HNSW]
        torn = [e for e in with_disk if hnsw_flags(e)]
        torn_s = (
            f"{len(torn)} of {len(with_disk)} ({sum(1 for e in torn if e['check']['status'] == 'ok')})"
            if with_disk
            else "not examined (server alive)"
        )
        L.append(
            f"| {name} | {spec['kill']} | `{cfg}` | {spec['write']} | {r['kills']} | {r['damaged']} | {until} "
            f"| {kinds_s} | {torn_s} | {lost_s} | {ing} | {opn} | {log} |"
        )
    extra_costs = [c for n, c in costs.items() if n not in {r["setting"] for r in data["kill_loops"]}]
    for c in extra_costs:
        L.append(
            f"| {c['setting']} (cost only) | - | - | - | - | - | - | - | - | - | {fmt_rate(c['ingest_rate'])} "
            f"| {c['open_s']:.2f} | {c['log_rows']:,} / {c['sqlite_bytes'] / 1e6:.1f} |"
        )
    L.append("")
    kinds_full = Counter(d["kind"] for r in data["kill_loops"] for d in r["damages"])
    if kinds_full:
        L.append("Damage kinds (the message of the first failing call, `count()` in every case here):\n")
        for k, v in kinds_full.most_common():
            L.append(f"- {short_kind(k)}: {v}x `{k}`")
        L.append("")
    unexamined = [
        (r["setting"], e["kill"])
        for r in data["kill_loops"]
        for e in r["events"]
        if set(hnsw_flags(e)) != set((e.get("disk") or {}).get("flags", []))
    ]
    L.append(
        "Lost acked = acknowledged ids missing, in checks that could read the collection (an unreadable "
        "collection cannot be compared; see the mechanism for what its chroma.sqlite3 still holds). HNSW files "
        "are examined (read-only, no Chroma) right after each kill, before the checker reopens them; for "
        f"{len(unexamined)} kills ({', '.join(f'{s} #{k}' for s, k in unexamined) or '-'}) chroma.sqlite3 "
        "could not be opened read-only at that moment (error text not kept; most likely a hot rollback "
        "journal from a transaction the kill interrupted: a process that exits mid-transaction leaves "
        "`-journal`, a read-only open then fails with 'attempt to write a readonly database' and a read-write "
        "open rolls it back; the checker read those collections fine), so those kills are left out of the "
        "inconsistency column. Server settings: the writer is a `chromadb.HttpClient`; "
        "`server_kill` SIGKILLs the `chroma run` server (then the writer), restarts it and checks through "
        "it; `server_app` SIGKILLs the writer while the server stays up (files not examined: the live "
        "server owns them).\n"
    )
    if costs:
        L.append("### Costs without kills\n")
        L.append(
            f"{data['args']['cost_n']:,} records per ingest, deleting one every third call; median of "
            f"{data['args']['cost_reps']} fresh folders. Open = `PersistentClient` + `get_collection` + "
            "first `count()` in a fresh process (median of 3 opens of the last folder; the first open "
            "separately); process wall includes the Python import.\n"
        )
        L.append(
            "| setting | ingest rec/s (reps) | open s (first open) | process wall s | log rows after ingest "
            "| after the opens | chroma.sqlite3 MB | folder MB |"
        )
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for n, c in costs.items():
            reps = ", ".join(f"{r['rate']:.0f}" for r in c["reps"])
            L.append(
                f"| {n} | {fmt_rate(c['ingest_rate'])} ({reps}) | {c['open_s']:.2f} ({c['open_first_s']:.2f}) "
                f"| {c['open_process_wall_s']:.2f} | {c['log_rows']:,} | {c['log_rows_after_opens']:,} "
                f"| {c['sqlite_bytes'] / 1e6:.1f} | {c['reps'][-1]['folder_bytes'] / 1e6:.1f} |"
            )
        L.append("")
    if data.get("config_probe"):
        L.append("### Which HNSW keys the local (Rust) mode keeps\n")
        L.append("Configuration read back after `create_collection(configuration=...)`:\n")
        for k, v in data["config_probe"].items():
            L.append(f"- `{k}`: `{json.dumps(v)}`")
        L.append("")
    L.append("### Per-kill details\n")
    L.append(
        "Marks: `.` ok, `t` ok although the HNSW files were inconsistent right after the kill, `E` error, "
        "`S` signal, `T` timeout, `I` readable but incomplete.\n"
    )
    for r in data["kill_loops"]:
        seq = []
        for e in r["events"]:
            ch = e["check"]
            mark = {"ok": ".", "error": "E", "signal": "S", "timeout": "T", "incomplete": "I"}.get(ch["status"], "?")
            if mark == "." and hnsw_flags(e):
                mark = "t"
            seq.append(mark)
        early = [f"#{e['kill']} rc {e['writer_exited_early']}" for e in r["events"] if "writer_exited_early" in e]
        L.append(
            f"- **{r['setting']}** ({r['seconds'] / 60:.1f} min): `{''.join(seq)}`; records in the last "
            f"readable collection: {r['final_records']}; writers that died before their kill: "
            f"{', '.join(early) or 'none'}"
        )
        for e in r["events"]:
            if e["check"]["status"] == "ok" and hnsw_flags(e):
                dk = e["disk"]
                L.append(
                    f"  - kill {e['kill']}: check ok, but the files were inconsistent: {','.join(hnsw_flags(e))}; "
                    f"header cur_element_count {dk['cur_element_count']}, pickle total_elements_added "
                    f"{dk['pickle_total']}, link_lists.bin readable for {dk['link_lists_readable']} elements"
                )
        for d in r["damages"]:
            h = d["forensics"].get("hnsw", {}) or {}
            hdr = h.get("header", {})
            pk = h.get("pickle")
            pk_s = (
                f"pickle total_elements_added {pk.get('total_elements_added')}, ids {pk.get('ids')}"
                if isinstance(pk, dict)
                else f"pickle {pk}"
            )
            L.append(
                f"  - kill {d['kill']} ({d['kills_since_fresh']} since fresh): {d['kind']}; flags "
                f"{','.join(d['forensics'].get('flags', [])) or '-'}; recheck "
                f"{d['recheck']['status']}; max_seq_id {d['forensics'].get('max_seq_id')}, log rows "
                f"{d['forensics'].get('log_rows')} (seq {d['forensics'].get('log_min_seq')}.."
                f"{d['forensics'].get('log_max_seq')}); header cur_element_count {hdr.get('cur_element_count')}"
                f" / max_elements {hdr.get('max_elements')}; hnsw live/deleted {h.get('hnsw_live')}/"
                f"{h.get('hnsw_deleted')}; {pk_s}; labels in hnsw not in pickle "
                f"{h.get('labels_in_hnsw_not_in_pickle')}; replayed deletes of already-deleted labels "
                f"{h.get('replay_deletes_of_already_deleted')} of {h.get('replay_ops')} replayed ops; "
                f"link_lists.bin readable for {h.get('link_lists_elements_readable')} of "
                f"{hdr.get('cur_element_count')} elements, {(h.get('files') or {}).get('link_lists.bin')} B apparent / "
                f"{(h.get('allocated') or {}).get('link_lists.bin')} B allocated; data_level0.bin short by "
                f"{h.get('data_level0_short_of_cur')} B; log covers the replay: "
                f"{d['forensics'].get('log_covers_hnsw_replay')}"
            )
    L.append("")
    L.append(MECHANISM.replace("__MECHANISM_BODY__", data.get("mechanism", MECHANISM_BODY)))
    return "\n".join(L) + "\n"


# --------------------------------------------------------------------------- main


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=20, help="kills per setting (default 20)")
    p.add_argument("--short-kills", type=int, default=None, help=f"kills for {sorted(SHORT)} (default: --kills)")
    p.add_argument(
        "--settings", default=",".join(DEFAULT_SETTINGS), help=f"comma-separated subset of {DEFAULT_SETTINGS}"
    )
    p.add_argument("--cost-settings", default=",".join(COST_SETTINGS), help="settings whose costs are measured")
    p.add_argument("--no-costs", action="store_true")
    p.add_argument("--cost-n", type=int, default=50000)
    p.add_argument("--cost-reps", type=int, default=3)
    p.add_argument("--out", default=str(HERE.parent / "results"))
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--check-timeout", type=float, default=60.0)
    p.add_argument("--page", type=int, default=5000, help="get() page size in the checker")
    p.add_argument("--keep-damaged", type=int, default=2, help="damaged folders kept per setting (in the workdir)")
    p.add_argument("--keep-all", action="store_true", help="keep every folder of the kill loops")
    p.add_argument("--workdir", default=None, help="scratch folder (default: a new one in /tmp)")
    p.add_argument("--report-only", action="store_true", help="re-render the .md from the existing .json")
    return p.parse_args(argv)


def sub_parse(kind: str, argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"chroma_crash.py {kind}")
    p.add_argument("--path")
    p.add_argument("--http")
    p.add_argument("--ack", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run", type=int, default=1)
    p.add_argument("--write", type=int, default=500)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--config", default="")
    p.add_argument("--term-handler", action="store_true")
    p.add_argument("--page", type=int, default=5000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_writer", "_check", "_open"):
        sub = sub_parse(argv[0], argv[1:])
        return {"_writer": writer_main, "_check": check_main, "_open": open_main}[argv[0]](sub)
    args = parse(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = out / "chroma_crash.json", out / "chroma_crash.md"
    if args.report_only:
        data = json.loads(jpath.read_text())
        data["mechanism"] = MECHANISM_BODY
        jpath.write_text(json.dumps(data, indent=1, default=str))
        mpath.write_text(render(data))
        print(f"wrote {mpath}")
        return 0
    import chromadb

    names = [s for s in args.settings.split(",") if s]
    unknown = [s for s in names if s not in SETTINGS]
    if unknown:
        raise SystemExit(f"unknown settings {unknown}; known: {DEFAULT_SETTINGS}")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="chroma_crash_", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"workdir {work}", flush=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    data: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(HERE), *argv]),
        "args": vars(args),
        "started": started,
        "workdir": str(work),
        "machine": {"chromadb": chromadb.__version__, "python": sys.version.split()[0], "cpus": os.cpu_count()},
        "kill_loops": [],
        "costs": [],
    }

    def save() -> None:
        data["wall_minutes"] = (time.perf_counter() - t0) / 60
        data["mechanism"] = MECHANISM_BODY
        jpath.write_text(json.dumps(data, indent=1, default=str))
        mpath.write_text(render(data))

    data["config_probe"] = config_probe(work)
    data["failures"] = []
    for name in names:
        kills = args.short_kills if (name in SHORT and args.short_kills) else args.kills
        rng = random.Random(f"{args.seed}-{name}")  # the same delays whatever subset runs
        try:
            data["kill_loops"].append(kill_loop(name, SETTINGS[name], kills, args, work, rng))
        except Exception:  # keep the other settings
            data["failures"].append({"setting": name, "traceback": traceback.format_exc()})
            print(traceback.format_exc(), flush=True)
        save()
    if not args.no_costs:
        for name in [s for s in args.cost_settings.split(",") if s]:
            try:
                data["costs"].append(cost(name, SETTINGS[name], args, work))
            except Exception:
                data["failures"].append({"setting": f"cost {name}", "traceback": traceback.format_exc()})
                print(traceback.format_exc(), flush=True)
            save()
    save()
    print(f"\nwrote {jpath} and {mpath} ({data['wall_minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
