"""Reading BEIR-style data sets (corpus.jsonl, queries.jsonl, qrels/test.tsv) and scoring runs."""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Doc:
    """One corpus entry."""

    id: str
    text: str
    metadata: dict[str, object] = field(default_factory=dict)


def find_scifact(start: Path | None = None) -> Path | None:
    """The SciFact folder: ``$MIRA_SCIFACT``, else ``../shared/data/scifact`` above ``start``."""
    env = os.environ.get("MIRA_SCIFACT")
    if env:
        return Path(env) if (Path(env) / "corpus.jsonl").exists() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "shared" / "data" / "scifact"
        if (candidate / "corpus.jsonl").exists():
            return candidate
        candidate = folder.parent / "shared" / "data" / "scifact"
        if (candidate / "corpus.jsonl").exists():
            return candidate
    return None


def load_corpus(path: Path, *, limit: int | None = None) -> list[Doc]:
    """Docs of a BEIR ``corpus.jsonl`` (title and text joined), first ``limit`` only."""
    docs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = join_title(row.get("title"), row["text"])
            meta: dict[str, object] = {
                k: v for k, v in (row.get("metadata") or {}).items() if isinstance(v, (str, int, float, bool))
            }
            docs.append(Doc(str(row["_id"]), text, meta))
            if limit is not None and len(docs) >= limit:
                break
    return docs


def join_title(title: object, text: str) -> str:
    """A BEIR document's text: ``"<title>. <text>"`` when it has a title, else ``text``.

    Args:
        title: the record's ``title`` (empty or ``None`` when it has none).
        text: the record's ``text``.

    Returns:
        The text to index.
    """
    return f"{title}. {text}".strip(". ") if title else text


def load_sample() -> list[Doc]:
    """The small corpus bundled with the package (used when SciFact is absent)."""
    text = resources.files("mira_vectorstores.data").joinpath("sample.jsonl").read_text(encoding="utf-8")
    return [Doc(r["_id"], r["text"], r["metadata"]) for r in map(json.loads, text.splitlines())]


def load_queries(path: Path) -> dict[str, str]:
    """Query id -> text."""
    with path.open(encoding="utf-8") as handle:
        return {str(r["_id"]): r["text"] for r in map(json.loads, handle)}


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Query id -> {doc id: relevance}."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    return qrels


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance (BEIR's definition)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    """Share of the relevant docs found in the top k."""
    wanted = {d for d, rel in relevant.items() if rel > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Reciprocal rank of the first relevant doc in the top k (0 when none is there).

    Example:
        >>> mrr_at_k(["a", "b", "c"], {"c": 1, "z": 2})
        0.3333333333333333
    """
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0
