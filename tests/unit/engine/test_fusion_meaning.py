"""What a hybrid score means: absolute fusion (the default), its maths, thresholds and boosts."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
from fakes import unit_vectors

from mira_vectorstores import FieldBoost, HashingEmbedder, HybridStore, RecencyBoost
from mira_vectorstores.engine.config import FusionConfig, LexicalConfig
from mira_vectorstores.engine.mirrors.lexical import LexicalIndex
from mira_vectorstores.engine.query.boosting import apply_boost
from mira_vectorstores.engine.query.fusion import (
    absolute_fusion,
    normalise_bm25,
    normalise_min_max,
    normalise_theoretical_min,
    weighted_fusion,
)
from mira_vectorstores.engine.types import FusionMethod

WORDS = [f"w{i:04d}" for i in range(3000)]


def test_default_fusion_is_absolute() -> None:
    assert FusionConfig().method is FusionMethod.ABSOLUTE


# -------------------------------------------------------------- the normalisation maths
def test_absolute_fusion_formula() -> None:
    fused = absolute_fusion({"a": 0.6, "b": -0.4, "c": 0.2}, {"b": 6.0, "c": 3.0}, alpha=0.3, query_weight=12.0)
    assert fused == pytest.approx({"a": 0.3 * 0.6, "b": 0.7 * 0.5, "c": 0.3 * 0.2 + 0.7 * 0.25})
    assert list(fused) == ["b", "c", "a"]


def test_absolute_fusion_zero_means_no_evidence() -> None:
    # A negative cosine is no evidence (not less than none); no query word indexed: lexical adds 0.
    fused = absolute_fusion({"a": -0.9, "b": 0.0}, {"a": 4.0}, alpha=0.5, query_weight=0.0)
    assert fused == {"a": 0.0, "b": 0.0}


def test_absolute_fusion_does_not_depend_on_the_other_candidates() -> None:
    alone = absolute_fusion({"a": 0.5}, {"a": 2.0}, alpha=0.5, query_weight=8.0)
    crowded = absolute_fusion({"a": 0.5, "b": 0.9, "c": 0.1}, {"a": 2.0, "b": 7.5}, alpha=0.5, query_weight=8.0)
    assert alone["a"] == crowded["a"] == pytest.approx(0.25 + 0.125)


def test_normalise_bm25_clips_to_unit_interval() -> None:
    assert normalise_bm25({"a": 2.0, "b": 0.0, "c": 9.0}, 4.0) == {"a": 0.5, "b": 0.0, "c": 1.0}
    assert normalise_bm25({"a": 2.0}, 0.0) == {"a": 0.0}


def test_theoretical_min_keeps_the_weakest_above_zero() -> None:
    assert normalise_theoretical_min({"a": 0.5, "b": -0.25}, -1.0) == pytest.approx({"a": 1.0, "b": 0.5})
    assert normalise_theoretical_min({"a": 0.0}, 0.0) == {"a": 0.0}  # no evidence at all
    assert normalise_theoretical_min({}, -1.0) == {}


def test_tm2c2_fusion_uses_the_minimums() -> None:
    fused = weighted_fusion(
        [{"a": 0.5, "b": 0.0}, {"b": 4.0, "a": 2.0}], weights=[0.5, 0.5], method=FusionMethod.TM2C2, minimums=[-1.0, 0]
    )
    assert fused == pytest.approx({"a": 0.5 + 0.25, "b": 0.5 / 1.5 + 0.5})


def test_min_max_all_zero_side_adds_nothing() -> None:
    # It used to give every candidate 1.0 when they all tied at 0 (no candidate had evidence).
    assert normalise_min_max({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}
    assert normalise_min_max({"a": 2.0, "b": 2.0}) == {"a": 1.0, "b": 1.0}


def test_query_weight_bounds_every_bm25_score() -> None:
    rng = np.random.default_rng(3)
    docs = [" ".join(rng.choice(WORDS[:200], size=int(rng.integers(3, 40)))) for _ in range(300)]
    index = LexicalIndex(LexicalConfig(stemmer=None, stopwords=None))
    index.rebuild(docs, np.ones(len(docs), dtype=bool))
    for query in ("w0001 w0002", "w0003 w0003 w0150", "w0007 w0199 w0100 w0042"):
        scores = index.scores(query, len(docs))
        weight = index.query_weight(query)
        assert 0.3 * weight < scores.max() < weight  # a bound, and not a loose one
        with_unknown = index.query_weight(query + " nothere")
        assert with_unknown > weight  # an unknown word lowers every share
        assert np.array_equal(index.scores(query + " nothere", len(docs)), scores)
    assert index.query_weight("nothere") == pytest.approx(math.log(1 + 300.5 / 0.5))  # asked for, held by none
    assert index.query_weight("") == 0.0


def test_query_weight_is_the_idf_sum() -> None:
    index = LexicalIndex(LexicalConfig(stemmer=None, stopwords=None))
    index.rebuild(["alpha beta", "alpha gamma", "delta epsilon"], np.ones(3, dtype=bool))

    def idf(df: int) -> float:  # bm25s' Lucene IDF over 3 documents
        return math.log(1 + (3 - df + 0.5) / (df + 0.5))

    assert index.query_weight("alpha gamma") == pytest.approx(idf(2) + idf(1))
    assert index.query_weight("alpha alpha") == pytest.approx(2 * idf(2))  # repeats count, as in scores
    assert index.query_weight("alpha zeta") == pytest.approx(idf(2) + idf(0))  # a word no document holds


# -------------------------------------------------------------- the unique-term case
@pytest.fixture(scope="module")
def noise_store() -> Iterator[HybridStore]:
    """20,000 records of random words and random 384-d vectors (the default embedder's size);
    one holds the word ``zebracorn``."""
    n = 20_000
    rng = np.random.default_rng(11)
    texts = [" ".join(rng.choice(WORDS, size=12)) for _ in range(n)]
    texts[12_345] += " zebracorn"
    store = HybridStore.in_memory(embedder=None)
    store.add(texts, ids=[f"r{i}" for i in range(n)], vectors=unit_vectors(n, 384, seed=5))
    yield store
    store.close()


@pytest.mark.parametrize("seed", [99, 100, 101, 102, 103])
@pytest.mark.parametrize("noise", [0, 1, 2, 3])
def test_record_holding_a_unique_term_ranks_first(noise_store: HybridStore, noise: int, seed: int) -> None:
    # The dense side is noise (a random query vector), so the rare word is the only real signal;
    # the other query words are common ones (each in ~80 records). Raw cosine fusion failed
    # here (ranks 2-20 with 1-2 such words): the best of 20,000 noise cosines (~0.23)
    # outweighed the rare word; measured from the background cosine it does not.
    query = " ".join(["zebracorn", *WORDS[100 : 100 + noise]])
    vector = unit_vectors(1, 384, seed=seed)[0]
    hits = noise_store.search(query, vector=vector, k=5, mode="hybrid")
    assert hits[0].id == "r12345"
    assert hits[0].scores.lexical is not None
    assert hits[0].scores.lexical > 0


def test_min_max_fusion_misses_the_unique_term_record(noise_store: HybridStore) -> None:
    # Why the default changed (issue 14): min-max (the old default, alpha 0.5) puts the record at
    # the dense minimum, tied with the best noise record (both 0.5), and the tie goes the other way.
    vector = unit_vectors(1, 384, seed=101)[0]
    old = noise_store.search("zebracorn", vector=vector, k=2, mode="hybrid", fusion="weighted", alpha=0.5)
    new = noise_store.search("zebracorn", vector=vector, k=2, mode="hybrid")
    assert [str(h.id) for h in old].index("r12345") == 1
    assert old[0].score == pytest.approx(old[1].score)
    assert new[0].id == "r12345"
    assert new[0].score > 2 * new[1].score


# -------------------------------------------------------------- score_threshold meaning
DOCS = [
    "solar panels convert sunlight into electricity for homes",
    "wind turbines generate electricity from moving air",
    "the recipe needs flour butter sugar and two eggs",
    "bake the bread in a hot oven for forty minutes",
    "the football match ended in a draw after extra time",
    "the goalkeeper saved a penalty in the final minute",
]


@pytest.fixture
def small_store() -> Iterator[HybridStore]:
    store = HybridStore.in_memory(embedder=HashingEmbedder(256))
    metadatas = [{"i": i, **({"ts": "2001-09-09"} if i % 2 == 0 else {})} for i in range(len(DOCS))]
    store.add(DOCS, ids=[f"d{i}" for i in range(len(DOCS))], metadatas=metadatas)
    yield store
    store.close()


def test_threshold_does_not_depend_on_the_best_hit_of_the_query(small_store: HybridStore) -> None:
    strong = "solar panels convert sunlight into electricity"
    weak = "quantum chromodynamics of gluons and a single oven"  # one word of one document
    kept = small_store.search(strong, k=3, mode="hybrid", score_threshold=0.3)
    assert [h.id for h in kept][:1] == ["d0"]
    assert small_store.search(weak, k=3, mode="hybrid", score_threshold=0.3) == []
    # min-max fusion rescales each query: its weak best hit scores about 1 and passes any threshold.
    old = small_store.search(weak, k=3, mode="hybrid", fusion="weighted", score_threshold=0.3)
    assert old
    assert old[0].score == pytest.approx(1.0, abs=0.05)


def test_score_is_the_same_whatever_else_matches(small_store: HybridStore) -> None:
    # The same record for the same query keeps its score when other records come and go.
    query = "wind turbines generate electricity"
    before = small_store.search(query, k=1, mode="hybrid")[0]
    small_store.add(["electricity electricity electricity prices rise"], ids=["x"])
    after = {str(h.id): h.score for h in small_store.search(query, k=7, mode="hybrid")}
    # Only BM25's IDF moves (one more document holds 'electricity'): a small change, not a rescale.
    assert after["d1"] == pytest.approx(before.score, abs=0.02)


# -------------------------------------------------------------- boosts on the new scale
def test_boost_scales_the_absolute_score_itself(small_store: HybridStore) -> None:
    query = "bake bread in the oven"
    plain = {str(h.id): h.score for h in small_store.search(query, k=6, mode="hybrid")}
    rule = FieldBoost("i", 3, factor=1.5)
    boosted = {str(h.id): h for h in small_store.search(query, k=6, mode="hybrid", boosts=[rule])}
    assert boosted["d3"].score == pytest.approx(1.5 * plain["d3"])  # floor 0: x1.5 is x1.5
    assert boosted["d3"].scores.fused == pytest.approx(plain["d3"])


def test_a_boost_cannot_lift_weak_evidence_above_strong() -> None:
    # On the old floor of -1, x1.5 lifted a fused 0.41 above a fused 1.0: (0.41 + 1) * 1.5 - 1 = 1.115.
    assert apply_boost(0.41, 1.5, floor=0.0) < 1.0


def test_recency_weight_half_at_most_halves_an_absolute_score(small_store: HybridStore) -> None:
    # Even records are dated 2001 (decay ~0 at a one-day half-life), odd ones are undated.
    query = "football match goalkeeper"
    plain = {str(h.id): h.score for h in small_store.search(query, k=6, mode="hybrid")}
    rule = RecencyBoost("ts", half_life_days=1.0, weight=0.5)
    aged = {str(h.id): h.score for h in small_store.search(query, k=6, mode="hybrid", boosts=[rule])}
    assert set(aged) == set(plain)
    for key, score in aged.items():
        halved = int(key[1:]) % 2 == 0
        assert score == pytest.approx(plain[key] * 0.5 if halved else plain[key], rel=1e-6)
        assert score >= 0.0
