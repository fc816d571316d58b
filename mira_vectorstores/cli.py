"""``mira-vs``: the command line (demo, ingest, search, stats)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from mira_vectorstores.beir import Doc, find_scifact, load_corpus, load_sample
from mira_vectorstores.engine import (
    CachedEmbedder,
    FieldBoost,
    HybridStore,
    MiniLMEmbedder,
    SearchHit,
    ServerConfig,
)

DEMO_QUERIES = [
    "vitamin D deficiency and risk of disease",
    "microRNA regulation of cancer cell growth",
    "0-dimensional biomaterials lack inductive properties",
]


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _open(args: argparse.Namespace, name: str) -> HybridStore:
    """The embedded store under ``--path``, or the one on ``--host`` (a Chroma server)."""
    cache = Path(args.path) / "mira" / "embedding-cache.sqlite"
    embedder = CachedEmbedder(MiniLMEmbedder(), path=cache)
    if args.host is None:
        return HybridStore.persistent(args.path, name, embedder=embedder)
    headers = dict(_header(h) for h in args.header)
    server = ServerConfig(ssl=args.ssl, headers=headers, tenant=args.tenant, database=args.database)
    return HybridStore.connect(args.host, args.port, name, embedder=embedder, server=server)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        msg = f"--header takes NAME=VALUE, got {text!r}"
        raise SystemExit(msg)
    return name.strip(), value


def _ingest(store: HybridStore, docs: Sequence[Doc], batch: int = 256) -> None:
    fresh = [d for d in docs if not store.get([d.id])]
    for start in tqdm(range(0, len(fresh), batch), desc="embedding + indexing", unit="batch", disable=not fresh):
        chunk = fresh[start : start + batch]
        store.upsert([d.text for d in chunk], ids=[d.id for d in chunk], metadatas=[d.metadata or None for d in chunk])


def _show(hits: Sequence[SearchHit]) -> None:
    for rank, hit in enumerate(hits, start=1):
        parts = hit.scores
        dense = "-" if parts.dense is None else f"{parts.dense:.3f}"
        lexical = "-" if parts.lexical is None else f"{parts.lexical:.2f}"
        text = (hit.document or "")[:90].replace("\n", " ")
        _out(f"  {rank}. [{hit.id}] score={hit.score:.4f} (dense {dense}, bm25 {lexical}, boost {parts.boost:.2f})")
        _out(f"     {text}")


def demo(args: argparse.Namespace) -> int:
    """Build (or reopen) a hybrid store and print hybrid results with their score parts."""
    scifact = find_scifact(Path(__file__).parent)
    if scifact is not None and not args.sample:
        docs = load_corpus(scifact / "corpus.jsonl", limit=args.limit or None)
        name, source = "scifact-demo", f"SciFact ({len(docs)} abstracts from {scifact})"
    else:
        docs, name, source = load_sample(), "sample-demo", "the bundled sample corpus"
    started = time.perf_counter()
    with _open(args, name) as store:
        _out(f"Store {name!r} under {args.path}: {store.count()} records before ingest; source: {source}")
        _ingest(store, docs)
        _out(f"{store.count()} records ready in {time.perf_counter() - started:.1f} s\n")
        queries = (
            DEMO_QUERIES if scifact and not args.sample else ["how does hybrid retrieval work", "cold start speed"]
        )
        for query in queries:
            _out(f"hybrid search: {query!r}")
            _show(store.search(query, k=3))
        if not scifact or args.sample:
            rules = [FieldBoost("breakthrough", True, factor=1.5)]
            _out("\nthe same query with breakthrough x1.5 and only 2020 or later:")
            _show(store.search(queries[0], k=3, boosts=rules, where={"year": {"$gte": 2020}}))
    return 0


def search(args: argparse.Namespace) -> int:
    """Search an existing store."""
    where = json.loads(args.where) if args.where else None
    with _open(args, args.name) as store:
        _show(store.search(args.query, k=args.k, mode=args.mode, where=where))
    return 0


def ingest(args: argparse.Namespace) -> int:
    """Add a BEIR-style corpus.jsonl to a store."""
    docs = load_corpus(Path(args.corpus), limit=args.limit or None)
    with _open(args, args.name) as store:
        _ingest(store, docs)
        _out(f"{store.count()} records in {args.name!r}")
    return 0


def stats(args: argparse.Namespace) -> int:
    """Print what a store holds and how it is doing (``HybridStore.health``)."""
    with _open(args, args.name) as store:
        health = dataclasses.asdict(store.health())
        _out(json.dumps({"name": store.name, "records": store.count(), "dimension": store.dimension, **health}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mira-vs``."""
    parser = argparse.ArgumentParser(prog="mira-vs", description=__doc__)
    parser.add_argument("--path", default="./mira_data", help="folder of the embedded store")
    parser.add_argument("--host", help="a Chroma server (`chroma run`) instead of the embedded store")
    parser.add_argument("--port", type=int, default=8000, help="the server's port")
    parser.add_argument("--ssl", action="store_true", help="HTTPS to the server")
    parser.add_argument(
        "--header", action="append", default=[], help="NAME=VALUE sent with every request (token auth); repeatable"
    )
    parser.add_argument("--tenant", default="default_tenant", help="the server's tenant")
    parser.add_argument("--database", default="default_database", help="the server's database")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="build a hybrid store from SciFact (or the bundled sample) and search it")
    p.add_argument("--limit", type=int, default=400, help="SciFact abstracts to ingest (0: all 5,183)")
    p.add_argument("--sample", action="store_true", help="use the bundled sample corpus")
    p.set_defaults(run=demo)
    p = sub.add_parser("ingest", help="add a BEIR corpus.jsonl")
    p.add_argument("corpus")
    p.add_argument("--name", default="mira")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(run=ingest)
    p = sub.add_parser("search", help="search a store")
    p.add_argument("query")
    p.add_argument("--name", default="mira")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--mode", default="auto", choices=["auto", "dense", "lexical", "hybrid"])
    p.add_argument("--where", help='a JSON metadata filter, e.g. \'{"year": {"$gte": 2020}}\'')
    p.set_defaults(run=search)
    p = sub.add_parser("stats", help="count records")
    p.add_argument("--name", default="mira")
    p.set_defaults(run=stats)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
