"""Congruence: one corpus and one request give the same ranked ids through the engine, the
LlamaIndex adapter (store and retriever) and the LangChain adapter.

Each adapter is checked twice: wrapping the very engine store the engine leg searches, and on a
store of its own filled through the adapter's own write path (LlamaIndex nodes, LangChain texts).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores import FieldBoost, FusionMethod, HashingEmbedder, HybridStore, ThresholdBoost
from mira_vectorstores.llama_index import MiraRetriever, MiraVectorStore

try:  # the LangChain leg runs when its adapter (and langchain-core) is installed
    from mira_vectorstores.langchain import MiraVectorStore as LangChainStore
except ImportError:  # pragma: no cover - depends on the installed extras
    LangChainStore = None

DATA = Path("/work/shared/data/scifact")
N_DOCS = 300
N_QUERIES = 12
DIMENSION = 256
KINDS = ("review", "trial", "cohort")


def load_corpus() -> tuple[list[str], list[str], list[dict[str, Any]], list[str]]:
    if (DATA / "corpus.jsonl").exists():
        with (DATA / "corpus.jsonl").open() as f:
            rows = [json.loads(line) for _, line in zip(range(N_DOCS), f, strict=False)]
        with (DATA / "queries.jsonl").open() as f:
            queries = [json.loads(line)["text"] for _, line in zip(range(N_QUERIES), f, strict=False)]
        ids = [f"doc-{row['_id']}" for row in rows]
        texts = [f"{row['title']} {row['text']}" for row in rows]
    else:  # a synthetic corpus keeps the contract runnable without the data set
        rng = np.random.default_rng(3)
        words = [f"w{i}" for i in range(400)]
        texts = [" ".join(rng.choice(words, size=40)) for _ in range(N_DOCS)]
        ids = [f"doc-{i}" for i in range(N_DOCS)]
        queries = [" ".join(rng.choice(words, size=6)) for _ in range(N_QUERIES)]
    metadatas = [
        {
            "year": 2000 + i % 20,
            "kind": KINDS[i % 3],
            "tags": ["even" if i % 2 == 0 else "odd", "fives" if i % 5 == 0 else "other"],
            "score": round((i * 37 % 100) / 100, 2),
        }
        for i in range(len(ids))
    ]
    return ids, texts, metadatas, queries


IDS, TEXTS, METADATAS, QUERIES = load_corpus()
EMBEDDER = HashingEmbedder(DIMENSION)


@dataclass(frozen=True)
class Request:
    """One search, expressed for every leg."""

    mode: str  # dense, lexical, hybrid or mmr
    k: int = 10
    where: dict[str, Any] | None = None  # the engine's (and LangChain's) filter
    filters: MetadataFilters | None = None  # the same filter for LlamaIndex
    fusion: FusionMethod | None = None
    alpha: float | None = None
    boosts: tuple[Any, ...] = field(default=())
    mmr_lambda: float | None = None
    fetch_k: int | None = None


def F(key: str, value: Any, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


RECENT_TRIALS = (
    {"$and": [{"year": {"$gte": 2010}}, {"kind": {"$eq": "trial"}}]},
    MetadataFilters(filters=[F("year", 2010, FilterOperator.GTE), F("kind", "trial")]),
)
EVEN_OR_REVIEW_NOT_FIVES = (
    {
        "$and": [
            {"$or": [{"tags": {"$contains": "even"}}, {"kind": {"$eq": "review"}}]},
            {"$not": {"tags": {"$contains": "fives"}}},
        ]
    },
    MetadataFilters(
        filters=[
            MetadataFilters(filters=[F("tags", "even", FilterOperator.CONTAINS), F("kind", "review")], condition="or"),
            MetadataFilters(filters=[F("tags", "fives", FilterOperator.CONTAINS)], condition=FilterCondition.NOT),
        ]
    ),
)
BOOSTS = (FieldBoost("kind", "review", factor=1.5), ThresholdBoost("score", "gt", 0.8, factor=1.3))

REQUESTS = {
    "dense": Request("dense"),
    "dense-k3": Request("dense", k=3),
    "dense-filtered": Request("dense", where=RECENT_TRIALS[0], filters=RECENT_TRIALS[1]),
    "dense-boosted": Request("dense", boosts=BOOSTS),
    "lexical": Request("lexical"),
    "lexical-filtered": Request("lexical", where=EVEN_OR_REVIEW_NOT_FIVES[0], filters=EVEN_OR_REVIEW_NOT_FIVES[1]),
    "hybrid-default": Request("hybrid"),
    "hybrid-rrf-alpha": Request("hybrid", alpha=0.8, fusion=FusionMethod.RRF),
    "hybrid-weighted": Request("hybrid", fusion=FusionMethod.WEIGHTED, alpha=0.3),
    "hybrid-dbsf-filtered-boosted": Request(
        "hybrid", fusion=FusionMethod.DBSF, where=RECENT_TRIALS[0], filters=RECENT_TRIALS[1], boosts=BOOSTS
    ),
    "mmr": Request("mmr", k=5, mmr_lambda=0.5, fetch_k=50),
    "mmr-filtered": Request("mmr", k=5, mmr_lambda=0.2, fetch_k=40, where=RECENT_TRIALS[0], filters=RECENT_TRIALS[1]),
}
LI_MODES = {
    "dense": VectorStoreQueryMode.DEFAULT,
    "lexical": VectorStoreQueryMode.TEXT_SEARCH,
    "hybrid": VectorStoreQueryMode.HYBRID,
    "mmr": VectorStoreQueryMode.MMR,
}


# -- the legs --------------------------------------------------------------------------------
def engine_ids(engine: HybridStore, r: Request, text: str) -> list[str]:
    hits = engine.search(
        None if r.mode in ("dense", "mmr") else text,
        vector=None if r.mode == "lexical" else EMBEDDER.embed_query(text),
        k=r.k,
        where=r.where,
        mode="dense" if r.mode == "mmr" else r.mode,
        fusion=r.fusion,
        alpha=r.alpha,
        boosts=list(r.boosts),
        fetch_k=r.fetch_k,
        mmr_lambda=r.mmr_lambda,
    )
    return [h.id for h in hits]


def li_query(r: Request, text: str) -> VectorStoreQuery:
    return VectorStoreQuery(
        query_str=text,
        query_embedding=None if r.mode == "lexical" else EMBEDDER.embed_query(text).tolist(),
        similarity_top_k=r.k,
        mode=LI_MODES[r.mode],
        alpha=r.alpha,
        filters=r.filters,
        mmr_threshold=r.mmr_lambda,
    )


def li_store_ids(store: MiraVectorStore, r: Request, text: str) -> list[str]:
    result = store.query(li_query(r, text), fusion=r.fusion, boosts=list(r.boosts), fetch_k=r.fetch_k)
    return list(result.ids or [])


def li_retriever_ids(store: MiraVectorStore, r: Request, text: str) -> list[str]:
    retriever = MiraRetriever(
        store,
        similarity_top_k=r.k,
        mode=LI_MODES[r.mode],
        fusion=r.fusion,
        alpha=r.alpha,
        boosts=list(r.boosts),
        filters=r.filters,
        mmr_threshold=r.mmr_lambda,
        fetch_k=r.fetch_k,
    )
    vector = None if r.mode == "lexical" else EMBEDDER.embed_query(text).tolist()
    return [h.node.node_id for h in retriever.retrieve(QueryBundle(query_str=text, embedding=vector))]


def lc_ids(store: Any, r: Request, text: str) -> list[str]:
    options: dict[str, Any] = {"filter": r.where, "boosts": list(r.boosts), "fetch_k": r.fetch_k}
    vector = EMBEDDER.embed_query(text).tolist()
    if r.mode == "dense":
        docs = store.similarity_search_by_vector(vector, k=r.k, **options)
    elif r.mode == "lexical":
        docs = store.keyword_search(text, k=r.k, **options)
    elif r.mode == "hybrid":
        docs = store.hybrid_search(text, k=r.k, fusion=r.fusion, alpha=r.alpha, **options)
    else:
        options.pop("fetch_k")
        docs = store.max_marginal_relevance_search_by_vector(
            vector, k=r.k, fetch_k=r.fetch_k, lambda_mult=r.mmr_lambda, **options
        )
    return [doc.id for doc in docs]


# -- the stores ------------------------------------------------------------------------------
@dataclass
class Stores:
    engine: HybridStore
    li_own: MiraVectorStore
    lc_own: Any | None


@pytest.fixture(scope="module")
def stores() -> Iterator[Stores]:
    engine = HybridStore.in_memory(embedder=EMBEDDER)
    engine.add(TEXTS, ids=IDS, metadatas=METADATAS)
    li_own = MiraVectorStore(HybridStore.in_memory(embedder=EMBEDDER))
    vectors = EMBEDDER.embed_documents(TEXTS)
    li_own.add(
        [
            TextNode(id_=i, text=t, metadata=dict(m), embedding=v.tolist())
            for i, t, m, v in zip(IDS, TEXTS, METADATAS, vectors, strict=True)
        ]
    )
    lc_own = None
    if LangChainStore is not None:
        lc_own = LangChainStore.from_engine(HybridStore.in_memory(embedder=EMBEDDER))
        lc_own.add_texts(TEXTS, [dict(m) for m in METADATAS], ids=IDS)
    yield Stores(engine, li_own, lc_own)
    for store in (engine, li_own.client, None if lc_own is None else lc_own.engine):
        if store is not None:
            store.close()


@pytest.mark.parametrize("name", list(REQUESTS))
def test_same_ranked_ids_through_engine_and_llama_index(stores: Stores, name: str) -> None:
    request = REQUESTS[name]
    shared = MiraVectorStore(stores.engine)
    non_empty = 0
    for text in QUERIES:
        expected = engine_ids(stores.engine, request, text)
        non_empty += bool(expected)
        assert li_store_ids(shared, request, text) == expected, text
        assert li_retriever_ids(shared, request, text) == expected, text
        assert li_store_ids(stores.li_own, request, text) == expected, text
        assert engine_ids(stores.li_own.client, request, text) == expected, text
    assert non_empty >= N_QUERIES // 2  # the requests really rank something


@pytest.mark.skipif(LangChainStore is None, reason="mira_vectorstores.langchain is not importable")
@pytest.mark.parametrize("name", list(REQUESTS))
def test_same_ranked_ids_through_langchain(stores: Stores, name: str) -> None:
    request = REQUESTS[name]
    shared = LangChainStore.from_engine(stores.engine)
    for text in QUERIES:
        expected = engine_ids(stores.engine, request, text)
        assert lc_ids(shared, request, text) == expected, text
        assert lc_ids(stores.lc_own, request, text) == expected, text
        assert li_store_ids(MiraVectorStore(stores.engine), request, text) == expected, text


def test_filters_say_the_same_thing_in_both_grammars(stores: Stores) -> None:
    from mira_vectorstores.llama_index._filters import to_where

    for where, filters in (RECENT_TRIALS, EVEN_OR_REVIEW_NOT_FIVES):
        engine = sorted(r.id for r in stores.engine.get(where=where))
        via_llama_index = sorted(r.id for r in stores.engine.get(where=to_where(filters)))
        assert engine == via_llama_index
        assert 0 < len(engine) < N_DOCS
