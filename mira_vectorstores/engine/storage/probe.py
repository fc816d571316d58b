"""Can Chroma read a collection? Asked in a child process, so a crash of Chroma's is not ours.

After an unclean shutdown, Chroma may fail on a damaged collection with an error, or die
with a segmentation fault while loading its HNSW files (``benchmarks/results/chroma_crash.md``).
``check`` runs this file as a script in a fresh interpreter (it imports only chromadb and
numpy): the child opens the folder, counts the collection, reads every record's vector and
runs one vector query, which makes Chroma load and replay everything; reading every vector
(in pages) finds a segment that lost some ids. The parent learns
``Probe.ok`` or why not, and is never at risk.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Seconds the child may take: a large collection's log replay takes a while.
TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class Probe:
    """What the child saw."""

    ok: bool
    detail: str  # the record count, or the first line of Chroma's error, or the signal


def check(path: Path, names: list[str], timeout: float = TIMEOUT_S) -> Probe:
    """Whether Chroma in a fresh process reads every collection of ``names`` that exists in ``path``."""
    command = [sys.executable, "-I", str(Path(__file__).resolve()), str(path), *names]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Probe(ok=False, detail=f"Chroma took over {timeout:g} s to read the collection")
    if done.returncode < 0:
        return Probe(ok=False, detail=f"Chroma crashed the reading process (signal {-done.returncode})")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Probe(ok=False, detail=f"the probe failed (exit {done.returncode}): {tail[:300]}")
    return Probe(ok=bool(result.get("ok")), detail=str(result.get("detail", ""))[:500])


def _main(path: str, names: list[str]) -> None:  # pragma: no cover - runs in the child
    import chromadb
    import numpy as np

    try:
        client = chromadb.PersistentClient(path=path)
        existing = {c.name for c in client.list_collections()}
        counts = []
        for name in names:
            if name not in existing:
                continue
            collection = client.get_collection(name, embedding_function=None)
            counts.append(f"{name}: {collection.count()}")
            offset, query = 0, None
            while True:  # every vector: a damaged segment can fail on some ids only
                page = collection.get(include=["embeddings"], limit=5_000, offset=offset)
                if not page["ids"]:
                    break
                offset += len(page["ids"])
                query = np.asarray(page["embeddings"], dtype=np.float32)[:1]
            if query is not None:
                collection.query(query_embeddings=query, n_results=1, include=[])
        print(json.dumps({"ok": True, "detail": ", ".join(counts) or "no collection"}))  # noqa: T201
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0]
        print(json.dumps({"ok": False, "detail": f"{type(exc).__name__}: {first_line}"}))  # noqa: T201


if __name__ == "__main__":  # pragma: no cover
    _main(sys.argv[1], sys.argv[2:])
