"""What the whole-store operations cost: export / import, backup / restore, embedding migration.

    python -m benchmarks.operations            # 100,000 records, 1,000 SciFact texts, 3 rounds
    python -m benchmarks.operations --quick    # 1,000 records, 10 texts, 1 round: < 60 s (the smoke test)

Each operation runs in a fresh child process (this module with ``--child``) that opens what it
needs, resets its peak RSS (``VmHWM``, through ``/proc/self/clear_refs``), makes the one call and
reports its wall and CPU time (all threads; less moved than wall time by other jobs on the machine),
the RSS just before it, the peak during it (absolute and the increase) and the peak increase of
anonymous memory, sampled every 20 ms (index pages read through a memory map count in RSS too, but
belong to the page cache).

1. Export to Parquet and JSONL, and import of each file into a new store, at N records (``data.py``'s
   384-d clustered unit vectors, 24-36-word texts, 3 metadata keys). Anchor: building the source
   store (embedded, ``embedder=None``, ``upsert`` with vectors, 1,000 per call as an import writes).
   The exports run again on a store of N / 5 records: an export holds one batch, so its own memory
   should stay flat while the opened store's RSS (the memory anchor) grows with N.
2. Backup of the N-record store, restore into a new store.
3. Migration of the restored store from ``HashingEmbedder(384)`` to ``HashingEmbedder(256)`` (the
   migration's own cost), and of SciFact abstracts from ``HashingEmbedder(384)`` to MiniLM (anchor:
   ``MiniLMEmbedder().embed_documents`` on the same texts; the model is loaded first in both).

Figures are medians over ``--repeats`` rounds of every operation; ratios are per-record times over
the anchor's, from the same run. Writes ``benchmarks/results/operations.json`` (``--quick``:
``operations-quick.json``); stores and files live in a temporary folder.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.data import Dataset, make_dataset
from benchmarks.run import ROOT, machine, median_of

NAME = "ops-bench"
BATCH = 1_000  # records per write and per export batch: export's and import's default
WORDS = (24, 36)  # ~30 words per text
MB = 1024  # /proc/self/status reports kB


# -- the child: one operation, measured ----------------------------------------------------------
def status() -> dict[str, int]:
    """This process's ``VmRSS``, ``VmHWM``, ``RssAnon``, ``RssFile`` in kB."""
    lines = Path("/proc/self/status").read_text().splitlines()
    pairs = (line.split(":", 1) for line in lines)
    return {k: int(v.split()[0]) for k, v in pairs if k.startswith(("VmRSS", "VmHWM", "Rss"))}


@contextmanager
def meter(figures: dict[str, float]) -> Iterator[None]:
    """Time the block (wall and CPU); fill ``figures`` with its RSS just before it and its peaks."""
    gc.collect()
    before = status()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)
    anon, stop = [before["RssAnon"]], threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            anon[0] = max(anon[0], status()["RssAnon"])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started, cpu = time.perf_counter(), time.process_time()
    yield
    figures["seconds"], figures["cpu_s"] = time.perf_counter() - started, time.process_time() - cpu
    stop.set()
    sampler.join()
    after = status()
    figures.update(rss_before_mb=before["VmRSS"] / MB, peak_rss_mb=after["VmHWM"] / MB)
    figures["peak_increase_mb"] = (after["VmHWM"] - before["VmRSS"]) / MB
    figures["anon_peak_increase_mb"] = (max(anon[0], after["RssAnon"]) - before["RssAnon"]) / MB


def embedder_of(name: str) -> Any:
    from mira_vectorstores import HashingEmbedder, MiniLMEmbedder

    if name == "none":
        return None
    if name == "minilm":
        embedder = MiniLMEmbedder()
        embedder.embed_documents(["load the model before the clock starts"])
        return embedder
    return HashingEmbedder(int(name.removeprefix("hashing-")))


def texts_of(source: str) -> tuple[list[str], list[str], list[dict[str, Any]], Any]:
    """ids, texts, metadatas and vectors (``None`` for SciFact) of ``data:DIR`` or ``scifact:LIMIT``."""
    kind, _, arg = source.partition(":")
    if kind == "data":
        data = Dataset.load(Path(arg))
        return data.ids, data.texts, data.metadatas, data.vectors
    from mira_vectorstores.beir import find_scifact, load_corpus

    folder = find_scifact(ROOT)
    if folder is None:
        sys.exit("SciFact not found: set MIRA_SCIFACT to the folder holding corpus.jsonl")
    docs = load_corpus(folder / "corpus.jsonl", limit=int(arg))
    return [d.id for d in docs], [d.text for d in docs], [{"source": "scifact", **d.metadata} for d in docs], None


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one operation (``spec["op"]``) in this fresh process and measure it."""
    from mira_vectorstores import HybridStore

    base = status()["VmRSS"]
    figures: dict[str, float] = {}
    op = spec["op"]
    if op == "embed":
        _, texts, _, _ = texts_of(spec["texts"])
        embedder = embedder_of(spec["embedder"])
        with meter(figures):
            embedder.embed_documents(texts)
        records = len(texts)
    elif op == "build":
        ids, texts, metas, vectors = texts_of(spec["texts"])
        store = HybridStore(NAME, path=spec["store"], embedder=embedder_of(spec["embedder"]))
        with meter(figures):
            for at in range(0, len(ids), BATCH):
                chunk = slice(at, at + BATCH)
                vecs = None if vectors is None else vectors[chunk]
                store.upsert(texts[chunk], ids=ids[chunk], metadatas=metas[chunk], vectors=vecs)
        records = store.count()
        store.close()
    elif op in ("restore", "open"):  # open: the first one after a build or a restore
        with meter(figures):
            if op == "restore":
                store = HybridStore.restore(spec["file"], path=spec["store"], embedder=None)
            else:
                store = HybridStore(NAME, path=spec["store"], embedder=None)
        records = store.count()
        store.close()
    else:  # export, import, backup, migrate: on an opened store
        began = time.perf_counter()
        store = HybridStore(NAME, path=spec["store"], embedder=embedder_of(spec.get("embedder", "none")))
        opened = {"open_s": time.perf_counter() - began, "opened_store_mb": (status()["VmRSS"] - base) / MB}
        target = embedder_of(spec.get("to", "none"))  # a migration's new embedder, loaded before the clock
        with meter(figures):
            if op == "export":
                records = store.export(spec["file"], batch_size=BATCH).records
            elif op == "import":
                records = store.import_(spec["file"], batch_size=BATCH).records
            elif op == "backup":
                records = store.backup(spec["file"]).records
            else:
                records = store.migrate_embeddings(target).embedded
        store.close()
        figures.update(opened)
    return {**figures, "records": records, "records_per_s": records / figures["seconds"]}


# -- the parent: rounds of children, medians, the table ----------------------------------------------
def run_child(name: str, op: str, **spec: Any) -> dict[str, Any]:
    """Operation ``op`` in a fresh process; its figures, plus the size of the file it wrote."""
    command = [sys.executable, "-m", "benchmarks.operations", "--child", json.dumps({"op": op, **spec}, default=str)]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - began
    if op in ("export", "backup"):  # a file, or a backup's folder
        written = Path(spec["file"])
        figures["file_mb"] = (
            sum(f.stat().st_size for f in (written.iterdir() if written.is_dir() else [written])) / MB**2
        )
    rate, took = figures["records_per_s"], figures["process_s"]
    print(f"{name}: {rate:,.0f} records/s (process {took:.1f} s)", file=sys.stderr, flush=True)
    return figures


def one_round(first: bool, work: Path, sizes: dict[str, Path], texts: int) -> dict[str, dict[str, Any]]:
    """Every operation once, each in its own process; returns figure name -> figures."""
    out: dict[str, dict[str, Any]] = {}

    def run(name: str, op: str, **spec: Any) -> None:
        out[name] = run_child(name, op, **spec)

    for suffix, data in sizes.items():
        source = work / f"source{suffix}"  # the first round's builds are the stores the others read
        run(f"build{suffix}", "build", texts=f"data:{data}", store=source if first else work / "b", embedder="none")
        if first:  # a new vectors-only store's first open compares every record with Chroma (see README)
            run(f"first_open{suffix}", "open", store=source)
        shutil.rmtree(work / "b", ignore_errors=True)
        for kind in ("parquet", "jsonl"):
            run(f"export_{kind}{suffix}", "export", store=source, file=work / f"export{suffix}.{kind}")
    for kind in ("parquet", "jsonl"):
        run(f"import_{kind}", "import", store=work / "imported", file=work / f"export.{kind}")
        shutil.rmtree(work / "imported")
    run("backup", "backup", store=work / "source", file=work / "backup")
    run("restore", "restore", store=work / "restored", file=work / "backup")
    run("first_open_restored", "open", store=work / "restored")
    run("embed_hashing", "embed", texts=f"data:{sizes['']}", embedder="hashing-256")
    run("migrate_hashing", "migrate", store=work / "restored", embedder="hashing-384", to="hashing-256")
    run("embed_minilm", "embed", texts=f"scifact:{texts}", embedder="minilm")
    run("build_scifact", "build", texts=f"scifact:{texts}", store=work / "scifact", embedder="hashing-384")
    run("migrate_minilm", "migrate", store=work / "scifact", embedder="hashing-384", to="minilm")
    for used in ("backup", "restored", "scifact", "export-small.parquet", "export-small.jsonl"):
        shutil.rmtree(work / used) if (work / used).is_dir() else (work / used).unlink(missing_ok=True)
    return out


# figure, label, anchor (the ratio is this figure's time / the anchor's time)
ROWS = [
    ("build", "build: `upsert` with vectors (anchor)", None),
    ("export_parquet", "export to Parquet", "build"),
    ("export_jsonl", "export to JSONL", "build"),
    ("import_parquet", "import from Parquet (new store)", "build"),
    ("import_jsonl", "import from JSONL (new store)", "build"),
    ("backup", "backup", "build"),
    ("restore", "restore (new store)", "build"),
    ("first_open", "first open after the build", None),
    ("first_open_restored", "first open after the restore", None),
    ("build-small", "build: `upsert` with vectors (anchor)", None),
    ("export_parquet-small", "export to Parquet", "build-small"),
    ("export_jsonl-small", "export to JSONL", "build-small"),
    ("first_open-small", "first open after the build", None),
    ("embed_hashing", "`HashingEmbedder(256).embed_documents` alone", None),
    ("migrate_hashing", "migrate HashingEmbedder 384 → 256", "build"),
    ("embed_minilm", "`MiniLMEmbedder().embed_documents` alone (anchor)", None),
    ("migrate_minilm", "migrate HashingEmbedder 384 → MiniLM (SciFact)", "embed_minilm"),
]


def markdown(figures: dict[str, dict[str, float]]) -> str:
    """The table of every operation, then the memory of the exports at both sizes."""

    def cell(value: float | None, digits: int = 0) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    def per_record(key: str, clock: str) -> float:
        return figures[key][clock] / figures[key]["records"]

    def ratio(key: str, anchor: str | None, clock: str) -> str:
        return "" if anchor is None else f"{per_record(key, clock) / per_record(anchor, clock):.2f}x"

    lines = [
        "| operation | records | s | records/s | time / anchor | CPU time / anchor | file, MB | peak RSS, MB "
        "| peak increase, MB | anon. peak increase, MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label, anchor in ROWS:
        f = figures[key]
        cells = [cell(f["records"]), cell(f["seconds"], 2), cell(f["records_per_s"])]
        cells += [ratio(key, anchor, "seconds"), ratio(key, anchor, "cpu_s"), cell(f.get("file_mb"), 1)]
        cells += [cell(f["peak_rss_mb"]), cell(f["peak_increase_mb"], 1)]
        lines.append(f"| {label} | " + " | ".join([*cells, cell(f["anon_peak_increase_mb"], 1)]) + " |")
    small, big = figures["export_parquet-small"]["records"], figures["export_parquet"]["records"]
    lines += ["", f"| memory, MB | {small:,.0f} records | {big:,.0f} records | ratio |", "| --- | ---: | ---: | ---: |"]
    memory = [("opened store's RSS (anchor)", "export_parquet", "opened_store_mb")]
    for kind in ("Parquet", "JSONL"):
        memory += [(f"export to {kind}: peak increase", f"export_{kind.lower()}", "peak_increase_mb")]
        memory += [(f"export to {kind}: anon. peak increase", f"export_{kind.lower()}", "anon_peak_increase_mb")]
    for label, key, field in memory:
        a, b = figures[f"{key}-small"][field], figures[key][field]
        lines.append(f"| {label} | {a:,.1f} | {b:,.1f} | {b / a if a > 0 else float('nan'):.2f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="N (default 100,000; the small store has N / 5)")
    parser.add_argument("--texts", type=int, default=1_000, help="SciFact abstracts migrated to MiniLM")
    parser.add_argument("--repeats", type=int, default=3, help="rounds (--quick: 1); figures are their medians")
    parser.add_argument("--quick", action="store_true", help="1,000 records, 10 texts, 1 round")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="JSON (default results/operations[-quick].json)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.quick:
        args.records, args.texts, args.repeats = 1_000, 10, 1
    out = args.out or ROOT / "benchmarks" / "results" / f"operations{'-quick' if args.quick else ''}.json"
    began = time.perf_counter()
    run: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine()}
    run["args"] = {"records": args.records, "texts": args.texts, "repeats": args.repeats, "seed": args.seed}
    work = Path(tempfile.mkdtemp(prefix="mira-ops-bench-"))
    try:
        sizes = {"": work / "data", "-small": work / "data-small"}
        for n, folder in zip((args.records, args.records // 5), sizes.values(), strict=True):
            make_dataset(n, queries=0, seed=args.seed, words=WORDS).save(folder)
        rounds = []
        for r in range(args.repeats):
            rounds.append(one_round(r == 0, work, sizes, args.texts))
            print(f"round {r + 1}/{args.repeats} done after {time.perf_counter() - began:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run["figures"] = {key: median_of([r[key] for r in rounds if key in r]) for key in rounds[0]}  # first opens: once
    run["rounds"] = rounds
    run["elapsed_s"] = round(time.perf_counter() - began, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(run, indent=1))
    print(markdown(run["figures"]))
    print(f"elapsed {run['elapsed_s']:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
