"""Seeded benchmark data: clustered unit vectors, metadata, short texts and exact ground truth.

Vectors are not uniform noise, which no embedding model produces. They come from a two-level
mixture: ``TOPICS`` topic centres (uneven sizes, Dirichlet weights), each with
``SUBTOPICS`` sub-centres, and every record is its sub-centre plus noise that lives mostly in
a low-dimensional subspace of that sub-centre (text embeddings have a low intrinsic
dimension) plus a little isotropic noise. Nearest neighbours then sit at cosines of about
0.7-0.9, as with a sentence-embedding model, and are neither trivially separated nor a
uniform cloud (where every point is about as far as every other).

Each record has ``{"category": "cat-0".."cat-9", "year": 2000..2024, "rare": bool}``;
category follows the topic (60 %) so filters correlate with the vectors as they do in real
collections; ``rare`` is true for about 1 % of records, independently. Texts are 6-12 (``words``)
pseudo-words drawn mostly from the topic's vocabulary, so BM25 has real signal.

Queries are fresh draws from the same mixture (none is in the collection). The ground truth
is the exact top 10 by inner product (cosine, as every vector is unit length), over all
records and over the records each filter allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

DIM = 384
K = 10
TOPICS = 64
SUBTOPICS = 8
SUBSPACE = 24  # dimensions of the noise subspace of each sub-centre
NOISE = 0.75  # norm of a record's offset from its sub-centre within that subspace
ISO_NOISE = 0.2  # norm of the isotropic part
CATEGORIES = 10
RARE_RATE = 0.01
VOCABULARY = 4_000
TOPIC_WORDS = 40
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "tes",
    "lun",
    "dar",
    "vo",
    "sel",
    "pri",
    "nak",
    "tor",
    "ami",
    "quen",
    "bel",
    "fos",
    "gri",
    "hal",
    "jun",
    "ker",
    "lom",
    "mar",
    "nev",
    "ost",
    "pal",
    "rud",
    "sim",
    "tav",
    "ul",
    "ver",
    "wex",
    "yor",
    "zan",
    "brel",
    "cor",
    "dov",
    "eph",
    "fyn",
    "gal",
    "hom",
]
Filters = dict[str, dict[str, object]]


@dataclass(slots=True)
class Dataset:
    """One benchmark collection, its queries and their exact answers.

    Attributes:
        vectors: (n, DIM) float32 unit vectors.
        ids: one per record.
        texts: one short text per record (unique, so a text identifies its vector).
        metadatas: one metadata dict per record.
        queries: (q, DIM) float32 unit query vectors.
        query_texts: one text per query (for the BM25 side of hybrid search).
        filters: name ("10%", "1%") -> a Chroma ``where`` filter.
        selectivity: name -> fraction of records the filter allows.
        truth: "all" or a filter name -> (q, K) row indices of the exact top K, best first.
    """

    vectors: NDArray[np.float32]
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, object]]
    queries: NDArray[np.float32]
    query_texts: list[str]
    filters: Filters
    selectivity: dict[str, float]
    truth: dict[str, NDArray[np.int64]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Records in the collection."""
        return len(self.ids)

    def text_vectors(self) -> dict[str, NDArray[np.float32]]:
        """Every record and query text -> its vector (what a pass-through embedder returns)."""
        table = dict(zip(self.texts, self.vectors, strict=True))
        table.update(zip(self.query_texts, self.queries, strict=True))
        return table

    # -- files (kept outside git: a temp dir or benchmarks/results/raw/) -------------------
    def save(self, folder: Path) -> None:
        """Write the dataset to ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "vectors.npy", self.vectors)
        np.save(folder / "queries.npy", self.queries)
        np.savez(folder / "truth.npz", **{name.replace("%", "pct"): rows for name, rows in self.truth.items()})
        records = {"ids": self.ids, "texts": self.texts, "metadatas": self.metadatas, "query_texts": self.query_texts}
        (folder / "records.json").write_text(json.dumps(records))
        (folder / "meta.json").write_text(json.dumps({"filters": self.filters, "selectivity": self.selectivity}))

    @classmethod
    def load(cls, folder: Path) -> Dataset:
        """Read a dataset written by ``save``."""
        records = json.loads((folder / "records.json").read_text())
        meta = json.loads((folder / "meta.json").read_text())
        with np.load(folder / "truth.npz") as saved:
            truth = {name.replace("pct", "%"): saved[name] for name in saved.files}
        return cls(
            vectors=np.load(folder / "vectors.npy"),
            ids=records["ids"],
            texts=records["texts"],
            metadatas=records["metadatas"],
            queries=np.load(folder / "queries.npy"),
            query_texts=records["query_texts"],
            filters=meta["filters"],
            selectivity=meta["selectivity"],
            truth=truth,
        )


def _unit(x: NDArray[np.float64]) -> NDArray[np.float64]:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@dataclass(slots=True)
class _Mixture:
    topic_weights: NDArray[np.float64]
    centres: NDArray[np.float64]  # (TOPICS * SUBTOPICS, DIM) sub-centres
    bases: NDArray[np.float32]  # (TOPICS * SUBTOPICS, SUBSPACE, DIM) noise subspaces
    words: list[str]
    topic_words: NDArray[np.int64]  # (TOPICS, TOPIC_WORDS) indices into words

    @classmethod
    def make(cls, rng: np.random.Generator) -> _Mixture:
        topics = _unit(rng.standard_normal((TOPICS, DIM)))
        subs = _unit(np.repeat(topics, SUBTOPICS, axis=0) + 0.9 * _unit(rng.standard_normal((TOPICS * SUBTOPICS, DIM))))
        bases = rng.standard_normal((TOPICS * SUBTOPICS, SUBSPACE, DIM)).astype(np.float32) / np.sqrt(DIM)
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < VOCABULARY:
            word = "".join(rng.choice(SYLLABLES, size=rng.integers(2, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        topic_words = rng.choice(VOCABULARY, size=(TOPICS, TOPIC_WORDS), replace=True)
        return cls(rng.dirichlet(np.full(TOPICS, 2.0)), subs, bases, words, topic_words)

    def draw(self, rng: np.random.Generator, n: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """``n`` unit vectors and their topics."""
        topic = rng.choice(TOPICS, size=n, p=self.topic_weights)
        sub = topic * SUBTOPICS + rng.integers(0, SUBTOPICS, size=n)
        out = np.empty((n, DIM), dtype=np.float32)
        order = np.argsort(sub, kind="stable")
        bounds = np.searchsorted(sub[order], np.arange(len(self.centres) + 1))
        for s in range(len(self.centres)):  # one sub-centre at a time: bounded memory at 1,000,000
            rows = order[bounds[s] : bounds[s + 1]]
            if len(rows) == 0:
                continue
            z = rng.standard_normal((len(rows), SUBSPACE)).astype(np.float32) * (NOISE / np.sqrt(SUBSPACE))
            iso = rng.standard_normal((len(rows), DIM)).astype(np.float32) * (ISO_NOISE / np.sqrt(DIM))
            out[rows] = _unit(self.centres[s] + z @ self.bases[s] + iso)
        return out, topic

    def texts(self, rng: np.random.Generator, topics: NDArray[np.int64], lengths: NDArray[np.int64]) -> list[str]:
        """Pseudo-words: 60 % from the topic's own words (Zipf weights), the rest from the
        whole vocabulary with Zipf-Mandelbrot weights ``1 / (rank + 50) ** 1.1``: word
        frequencies once stop words are removed, so no content word is in most documents."""
        total = int(lengths.sum())
        own = rng.random(total) < 0.6
        ranks = np.minimum(rng.zipf(1.3, size=total), TOPIC_WORDS) - 1
        weights = 1.0 / (np.arange(VOCABULARY) + 50.0) ** 1.1
        general = rng.choice(VOCABULARY, size=total, p=weights / weights.sum())
        picks = np.where(own, self.topic_words[np.repeat(topics, lengths), ranks], general)
        words = np.asarray(self.words, dtype=object)[picks]
        ends = np.cumsum(lengths)
        return [" ".join(words[end - m : end]) for end, m in zip(ends.tolist(), lengths.tolist(), strict=True)]


def make_dataset(n: int, *, queries: int = 200, seed: int = 7, words: tuple[int, int] = (6, 12)) -> Dataset:
    """Generate a dataset of ``n`` records and ``queries`` queries with exact ground truth.

    The same ``(n, queries, seed, words)`` always gives the same data; ``words`` is the range of
    a record text's pseudo-words (inclusive).
    """
    rng = np.random.default_rng(seed)
    mixture = _Mixture.make(rng)
    vectors, topics = mixture.draw(rng, n)
    own_category = rng.random(n) < 0.6
    category = np.where(own_category, topics % CATEGORIES, rng.integers(0, CATEGORIES, size=n))
    years = rng.integers(2000, 2025, size=n)
    rare = rng.random(n) < RARE_RATE
    lengths = rng.integers(words[0], words[1] + 1, size=n)
    ids = [f"r{i:07d}" for i in range(n)]
    texts = [f"{text} (#{i})" for i, text in enumerate(mixture.texts(rng, topics, lengths))]
    metadatas: list[dict[str, object]] = [
        {"category": f"cat-{c}", "year": int(y), "rare": bool(r)} for c, y, r in zip(category, years, rare, strict=True)
    ]
    query_vectors, query_topics = mixture.draw(rng, queries)
    query_texts = [f"{text} (?{j})" for j, text in enumerate(mixture.texts(rng, query_topics, np.full(queries, 3)))]

    # The "10%" filter is the category whose share is nearest 10 %; "1%" is the rare flag.
    shares = np.bincount(category, minlength=CATEGORIES) / n
    ten = int(np.argmin(np.abs(shares - 0.10)))
    masks = {"10%": category == ten, "1%": rare}
    filters: Filters = {"10%": {"category": f"cat-{ten}"}, "1%": {"rare": True}}
    dataset = Dataset(
        vectors=vectors,
        ids=ids,
        texts=texts,
        metadatas=metadatas,
        queries=query_vectors,
        query_texts=query_texts,
        filters=filters,
        selectivity={name: round(float(mask.mean()), 5) for name, mask in masks.items()},
    )
    dataset.truth["all"] = exact_top_k(vectors, query_vectors, K)
    for name, mask in masks.items():
        rows = np.flatnonzero(mask)
        dataset.truth[name] = rows[exact_top_k(vectors[rows], query_vectors, K)]
    return dataset


def exact_top_k(vectors: NDArray[np.float32], queries: NDArray[np.float32], k: int) -> NDArray[np.int64]:
    """Exact top ``k`` rows of ``vectors`` by inner product for each query, best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        sims = queries[start : start + 64] @ vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
        out[start : start + 64] = np.take_along_axis(top, order, axis=1)
    return out


def recall_at_k(found: list[list[str]], truth: NDArray[np.int64], ids: list[str]) -> float:
    """Mean fraction of the exact top k found, over queries."""
    scores = []
    for got, rows in zip(found, truth, strict=True):
        wanted = {ids[r] for r in rows}
        scores.append(len(wanted.intersection(got[: len(rows)])) / len(rows))
    return float(np.mean(scores))
