"""The bundled all-MiniLM-L6-v2, offline, and hybrid search on a SciFact slice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores import HybridStore, MiniLMEmbedder
from mira_vectorstores.beir import find_scifact, load_corpus, load_qrels, load_queries, ndcg_at_k

pytestmark = pytest.mark.integration
SCIFACT = find_scifact(Path(__file__).parent)


def test_minilm_loads_offline_and_embeds_meaning() -> None:
    embedder = MiniLMEmbedder()
    vectors = embedder.embed_documents(["a small cat", "a young kitten", "the stock market fell"])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert np.allclose(embedder.embed_query("a small cat"), vectors[0], atol=1e-5)


@pytest.fixture(scope="module")
def scifact_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HybridStore, dict, dict]]:
    if SCIFACT is None:
        pytest.skip("SciFact not found beside the project (../shared/data/scifact)")
    qrels = load_qrels(SCIFACT / "qrels" / "test.tsv")
    queries = load_queries(SCIFACT / "queries.jsonl")
    chosen = sorted(qrels, key=int)[:40]
    wanted = {doc for q in chosen for doc in qrels[q]}
    corpus = load_corpus(SCIFACT / "corpus.jsonl")
    docs = [d for d in corpus if d.id in wanted] + [d for d in corpus if d.id not in wanted][: 300 - len(wanted)]
    store = HybridStore.persistent(tmp_path_factory.mktemp("scifact"), "scifact", embedder=MiniLMEmbedder())
    store.add([d.text for d in docs], ids=[d.id for d in docs])
    yield store, {q: queries[q] for q in chosen}, {q: qrels[q] for q in chosen}
    store.close()


def test_hybrid_on_a_scifact_slice(scifact_store: tuple[HybridStore, dict, dict]) -> None:
    store, queries, qrels = scifact_store
    scores: dict[str, list[float]] = {"dense": [], "lexical": [], "hybrid": []}
    for qid, text in queries.items():
        for mode in scores:
            ranked = [h.id for h in store.search(text, k=10, mode=mode)]
            scores[mode].append(ndcg_at_k(ranked, qrels[qid]))
    mean = {mode: float(np.mean(values)) for mode, values in scores.items()}
    # On 300 abstracts every method finds most answers; hybrid must not fall below either part
    # by more than noise, and must be good in absolute terms.
    assert mean["hybrid"] >= 0.75, mean
    assert mean["hybrid"] >= min(mean["dense"], mean["lexical"]), mean
    hit = store.search(queries[next(iter(queries))], k=3)[0]
    assert hit.scores.dense is not None
    assert hit.scores.lexical is not None


def test_reopened_store_answers_the_same_without_reembedding(scifact_store: tuple[HybridStore, dict, dict]) -> None:
    store, queries, _ = scifact_store
    text = next(iter(queries.values()))
    before = [(h.id, round(h.score, 6)) for h in store.search(text, k=5)]
    store.flush()
    path = store._replica.mirror_dir.parent.parent  # type: ignore[union-attr]
    again = HybridStore.persistent(path, "scifact", embedder=MiniLMEmbedder())
    assert again.count() == store.count()
    assert [(h.id, round(h.score, 6)) for h in again.search(text, k=5)] == before
