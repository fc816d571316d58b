"""Tests of ``engine/query/fusion.py``: RRF, weighted / DBSF fusion, normalisation and MMR."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from mira_vectorstores.engine.query.fusion import (
    maximal_marginal_relevance,
    normalise_dbsf,
    normalise_min_max,
    reciprocal_rank_fusion,
    weighted_fusion,
)
from mira_vectorstores.engine.types import FusionMethod


# ----------------------------------------------------------------------------- RRF
def test_rrf_formula_values() -> None:
    dense = {"a": 0.9, "b": 0.8, "c": 0.1}
    lexical = {"c": 7.0, "a": 3.0}
    fused = reciprocal_rank_fusion([dense, lexical], k=60)
    assert fused == pytest.approx({"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61})
    assert list(fused) == ["a", "c", "b"]


def test_rrf_ranks_by_score_not_by_insertion_order() -> None:
    fused = reciprocal_rank_fusion([{"low": 0.1, "high": 0.9}], k=1)
    assert fused == pytest.approx({"high": 1 / 2, "low": 1 / 3})
    assert list(fused) == ["high", "low"]


def test_rrf_k_changes_the_values() -> None:
    fused = reciprocal_rank_fusion([{"a": 2.0, "b": 1.0}], k=10)
    assert fused == pytest.approx({"a": 1 / 11, "b": 1 / 12})


def test_rrf_weights() -> None:
    fused = reciprocal_rank_fusion([{"a": 1.0, "b": 0.5}, {"b": 1.0, "a": 0.5}], k=60, weights=[0.2, 0.8])
    assert fused == pytest.approx({"a": 0.2 / 61 + 0.8 / 62, "b": 0.2 / 62 + 0.8 / 61})
    assert list(fused) == ["b", "a"]


def test_rrf_ties_keep_first_seen_order() -> None:
    fused = reciprocal_rank_fusion([{"a": 1.0, "b": 0.5}, {"b": 1.0, "a": 0.5}])
    assert fused["a"] == fused["b"]
    assert list(fused) == ["a", "b"]
    swapped = reciprocal_rank_fusion([{"b": 1.0, "a": 0.5}, {"a": 1.0, "b": 0.5}])
    assert list(swapped) == ["b", "a"]


def test_rrf_equal_scores_share_a_rank() -> None:
    # competition ranking: 1 + the number of strictly better keys
    fused = reciprocal_rank_fusion([{"a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0}], k=60)
    assert fused == pytest.approx({"a": 1 / 61, "b": 1 / 62, "c": 1 / 62, "d": 1 / 64})


def test_rrf_equal_scores_do_not_depend_on_insertion_order() -> None:
    forward = reciprocal_rank_fusion([{"x": 1.0, "y": 1.0, "z": 1.0}, {"z": 2.0, "y": 1.0}])
    backward = reciprocal_rank_fusion([{"z": 1.0, "y": 1.0, "x": 1.0}, {"z": 2.0, "y": 1.0}])
    assert forward == pytest.approx({"x": 1 / 61, "y": 1 / 61 + 1 / 62, "z": 2 / 61})
    assert backward == pytest.approx(forward)


def test_rrf_does_not_mutate_its_inputs() -> None:
    rankings = [{"a": 0.9, "b": 0.8}, {"b": 3.0, "c": 1.0}]
    weights = [1.0, 2.0]
    before = copy.deepcopy(rankings)
    reciprocal_rank_fusion(rankings, weights=weights)
    assert rankings == before
    assert [list(r) for r in rankings] == [list(r) for r in before]
    assert weights == [1.0, 2.0]


def test_rrf_empty_inputs() -> None:
    assert reciprocal_rank_fusion([]) == {}
    assert reciprocal_rank_fusion([{}, {}]) == {}


def test_rrf_wrong_number_of_weights_raises() -> None:
    with pytest.raises(ValueError, match="got 1 weights for 2 rankings"):
        reciprocal_rank_fusion([{"a": 1.0}, {"a": 1.0}], weights=[1.0])


# ----------------------------------------------------------------------------- weighted / DBSF
def test_weighted_fusion_min_max_known_values() -> None:
    dense = {"a": 1.0, "b": 3.0, "c": 5.0}  # -> 0, 0.5, 1
    lexical = {"a": 10.0, "d": 0.0}  # -> 1, 0
    fused = weighted_fusion([dense, lexical], weights=[1.0, 2.0])
    assert fused == pytest.approx({"a": 2.0, "b": 0.5, "c": 1.0, "d": 0.0})
    assert list(fused) == ["a", "c", "b", "d"]


def test_weighted_fusion_missing_keys_add_zero() -> None:
    fused = weighted_fusion([{"a": 0.0, "b": 1.0}, {"c": 0.0, "b": 2.0}], weights=[0.5, 0.5])
    # b is top of both (0.5 + 0.5); a and c are bottom of one and absent from the other
    assert fused == pytest.approx({"b": 1.0, "a": 0.0, "c": 0.0})


def test_weighted_fusion_default_weights_are_one() -> None:
    fused = weighted_fusion([{"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 1.0, "c": 0.5}])
    assert fused == pytest.approx({"a": 1.0, "b": 1.0, "c": 0.5})


def test_weighted_fusion_dbsf_known_values() -> None:
    std = math.sqrt(2 / 3)  # population std of 1, 2, 3
    fused = weighted_fusion([{"a": 1.0, "b": 2.0, "c": 3.0}, {"b": 5.0}], method=FusionMethod.DBSF)
    low = 2 - 3 * std
    assert fused == pytest.approx({"a": (1 - low) / (6 * std), "b": 0.5 + 1.0, "c": (3 - low) / (6 * std)})
    assert list(fused) == ["b", "c", "a"]


def test_weighted_fusion_does_not_mutate_its_inputs() -> None:
    rankings = [{"a": 1.0, "b": 3.0}, {"a": 10.0}]
    before = copy.deepcopy(rankings)
    weighted_fusion(rankings, method=FusionMethod.DBSF)
    weighted_fusion(rankings)
    assert rankings == before


def test_weighted_fusion_wrong_number_of_weights_raises() -> None:
    with pytest.raises(ValueError, match="one weight per ranking"):
        weighted_fusion([{"a": 1.0}], weights=[0.5, 0.5])


def test_normalise_min_max_scales_to_unit_interval() -> None:
    assert normalise_min_max({"a": -2.0, "b": 0.0, "c": 6.0}) == pytest.approx({"a": 0.0, "b": 0.25, "c": 1.0})


def test_normalise_min_max_all_equal_is_one_when_positive() -> None:
    assert normalise_min_max({"a": 3.0, "b": 3.0}) == {"a": 1.0, "b": 1.0}
    # No candidate has evidence (issue 14): the side adds nothing instead of 1 to everyone.
    assert normalise_min_max({"only": -7.0}) == {"only": 0.0}
    assert normalise_min_max({"a": 0.0, "b": 0.0}) == {"a": 0.0, "b": 0.0}


def test_normalise_min_max_empty() -> None:
    assert normalise_min_max({}) == {}


def test_normalise_dbsf_known_values() -> None:
    scores = {"a": 0.0, "b": 2.0, "c": 4.0, "d": 6.0}  # mean 3, std sqrt(5)
    std = math.sqrt(5)
    expected = {key: (s - (3 - 3 * std)) / (6 * std) for key, s in scores.items()}
    assert normalise_dbsf(scores) == pytest.approx(expected)
    assert normalise_dbsf(scores)["a"] + normalise_dbsf(scores)["d"] == pytest.approx(1.0)  # symmetric about the mean


def test_normalise_dbsf_clips_beyond_three_std() -> None:
    # ten zeros and one 1: the 1 sits sqrt(10) > 3 std above the mean, so it is clipped to 1
    scores = {f"z{i}": 0.0 for i in range(10)} | {"high": 1.0}
    normalised = normalise_dbsf(scores)
    assert normalised["high"] == 1.0
    assert 0.0 < normalised["z0"] < 0.5
    assert all(0.0 <= v <= 1.0 for v in normalised.values())


def test_normalise_dbsf_all_equal_is_one() -> None:
    assert normalise_dbsf({"a": 2.0, "b": 2.0}) == {"a": 1.0, "b": 1.0}


def test_normalise_dbsf_empty() -> None:
    assert normalise_dbsf({}) == {}


# ----------------------------------------------------------------------------- MMR
def _unit(*rows: list[float]) -> np.ndarray:
    array = np.asarray(rows, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


QUERY = _unit([1.0, 0.0, 0.0])[0]
# 0: the query itself; 1: a near-duplicate of 0; 2: less relevant, but pointing elsewhere
CANDIDATES = _unit([1.0, 0.0, 0.0], [0.99, 0.14, 0.0], [0.6, 0.0, 0.8])


def test_mmr_lambda_one_is_relevance_order() -> None:
    assert maximal_marginal_relevance(QUERY, CANDIDATES, k=3, lambda_mult=1.0) == [0, 1, 2]


def test_mmr_small_lambda_picks_diverse_second_item() -> None:
    assert maximal_marginal_relevance(QUERY, CANDIDATES, k=2, lambda_mult=0.3) == [0, 2]
    assert maximal_marginal_relevance(QUERY, CANDIDATES, k=3, lambda_mult=0.3) == [0, 2, 1]


def test_mmr_first_pick_is_most_relevant_even_out_of_order() -> None:
    shuffled = CANDIDATES[[2, 1, 0]]
    assert maximal_marginal_relevance(QUERY, shuffled, k=1, lambda_mult=0.0) == [2]


def test_mmr_k_larger_than_candidates_returns_each_once() -> None:
    picked = maximal_marginal_relevance(QUERY, CANDIDATES, k=10, lambda_mult=0.5)
    assert sorted(picked) == [0, 1, 2]


def test_mmr_nothing_to_pick() -> None:
    assert maximal_marginal_relevance(QUERY, CANDIDATES, k=0) == []
    assert maximal_marginal_relevance(QUERY, np.zeros((0, 3), dtype=np.float32), k=4) == []


def test_mmr_does_not_mutate_its_inputs() -> None:
    query, candidates = QUERY.copy(), CANDIDATES.copy()
    maximal_marginal_relevance(query, candidates, k=3, lambda_mult=0.3)
    np.testing.assert_array_equal(query, QUERY)
    np.testing.assert_array_equal(candidates, CANDIDATES)
