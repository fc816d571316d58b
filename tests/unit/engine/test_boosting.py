"""Tests of ``engine/query/boosting.py``: the three rule types, their product, JSON and validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mira_vectorstores.engine.errors import ConfigError
from mira_vectorstores.engine.query.boosting import (
    FieldBoost,
    RecencyBoost,
    ThresholdBoost,
    apply_boost,
    boost_factor,
    boost_from_dict,
    boosts_from_json,
    boosts_to_json,
    parse_boosts,
)

DAY = 86_400.0
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp()


# ----------------------------------------------------------------------------- FieldBoost
def test_field_boost_applies_when_equal() -> None:
    rule = FieldBoost("kind", "paper", factor=2.0)
    assert rule.multiplier({"kind": "paper"}, NOW) == 2.0
    assert rule.multiplier({"kind": "blog"}, NOW) == 1.0
    assert rule.multiplier({}, NOW) == 1.0


def test_field_boost_bool_true_is_not_one() -> None:
    flag = FieldBoost("breakthrough", True, factor=1.5)
    assert flag.multiplier({"breakthrough": True}, NOW) == 1.5
    assert flag.multiplier({"breakthrough": 1}, NOW) == 1.0
    assert flag.multiplier({"breakthrough": 1.0}, NOW) == 1.0
    one = FieldBoost("level", 1, factor=1.5)
    assert one.multiplier({"level": True}, NOW) == 1.0
    assert one.multiplier({"level": 1}, NOW) == 1.5


def test_field_boost_numbers_compare_by_value() -> None:
    assert FieldBoost("level", 2, factor=3.0).multiplier({"level": 2.0}, NOW) == 3.0


def test_field_boost_factor_below_one_lowers() -> None:
    assert FieldBoost("draft", True, factor=0.5).multiplier({"draft": True}, NOW) == 0.5


# ----------------------------------------------------------------------------- ThresholdBoost
@pytest.mark.parametrize(
    ("op", "value", "hits"),
    [
        ("gt", 0.8, {0.9}),
        ("gte", 0.8, {0.8, 0.9}),
        ("lt", 0.8, {0.7}),
        ("lte", 0.8, {0.7, 0.8}),
    ],
)
def test_threshold_boost_ops(op: str, value: float, hits: set[float]) -> None:
    rule = ThresholdBoost("spark_intensity", op, value, factor=1.3)
    for score in (0.7, 0.8, 0.9):
        expected = 1.3 if score in hits else 1.0
        assert rule.multiplier({"spark_intensity": score}, NOW) == expected, (op, score)


def test_threshold_boost_ignores_non_numbers() -> None:
    rule = ThresholdBoost("x", "gte", 0, factor=2.0)
    assert rule.multiplier({"x": 5}, NOW) == 2.0
    assert rule.multiplier({"x": True}, NOW) == 1.0
    assert rule.multiplier({"x": "5"}, NOW) == 1.0
    assert rule.multiplier({"x": [5]}, NOW) == 1.0
    assert rule.multiplier({}, NOW) == 1.0


# ----------------------------------------------------------------------------- RecencyBoost
def test_recency_boost_age_of_one_half_life_gives_half() -> None:
    rule = RecencyBoost("created", half_life_days=30.0)
    assert rule.multiplier({"created": NOW - 30 * DAY}, NOW) == pytest.approx(0.5)
    assert rule.multiplier({"created": NOW - 60 * DAY}, NOW) == pytest.approx(0.25)
    assert rule.multiplier({"created": NOW - 15 * DAY}, NOW) == pytest.approx(2**-0.5)


def test_recency_boost_reads_epoch_ints_and_floats() -> None:
    rule = RecencyBoost("created", half_life_days=10.0)
    assert rule.multiplier({"created": int(NOW - 10 * DAY)}, NOW) == pytest.approx(0.5)
    assert rule.multiplier({"created": float(NOW - 10 * DAY)}, NOW) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "stamp",
    [
        "2025-05-22T12:00:00+00:00",
        "2025-05-22T12:00:00Z",
        "2025-05-22T12:00:00",  # naive: read as UTC
        "2025-05-22T14:00:00+02:00",
    ],
)
def test_recency_boost_reads_iso_strings(stamp: str) -> None:
    rule = RecencyBoost("created", half_life_days=10.0)
    assert rule.multiplier({"created": stamp}, NOW) == pytest.approx(0.5)


def test_recency_boost_reads_iso_date() -> None:
    moment = datetime.fromtimestamp(NOW, tz=UTC) - timedelta(days=10, hours=12)
    rule = RecencyBoost("created", half_life_days=10.5)
    assert rule.multiplier({"created": moment.date().isoformat()}, NOW) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"created": NOW + DAY},  # future
        {"created": NOW},  # age 0
        {"created": "2099-01-01T00:00:00Z"},
        {"created": "yesterday"},  # unreadable
        {"created": True},  # a bool is not a time
        {"created": [NOW - DAY]},
    ],
)
def test_recency_boost_keeps_score_without_a_usable_past_timestamp(metadata: dict[str, object]) -> None:
    assert RecencyBoost("created", half_life_days=1.0).multiplier(metadata, NOW) == 1.0


def test_recency_boost_weight_blends_the_decay() -> None:
    old = {"created": NOW - 30 * DAY}
    assert RecencyBoost("created", 30.0, weight=0.5).multiplier(old, NOW) == pytest.approx(0.75)
    assert RecencyBoost("created", 30.0, weight=0.0).multiplier(old, NOW) == 1.0
    very_old = {"created": NOW - 3000 * DAY}
    assert RecencyBoost("created", 30.0, weight=0.5).multiplier(very_old, NOW) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- combining
def test_boost_factor_mira_guides_example() -> None:
    rules = [FieldBoost("breakthrough", True, factor=1.5), ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3)]
    assert boost_factor(rules, {"breakthrough": True, "spark_intensity": 0.9}) == pytest.approx(1.95)
    assert boost_factor(rules, {"breakthrough": True, "spark_intensity": 0.8}) == pytest.approx(1.5)
    assert boost_factor(rules, {"breakthrough": False, "spark_intensity": 0.9}) == pytest.approx(1.3)
    assert boost_factor(rules, {}) == 1.0


def test_boost_factor_multiplies_recency_too() -> None:
    rules = [FieldBoost("kind", "paper", factor=2.0), RecencyBoost("created", half_life_days=30.0)]
    assert boost_factor(rules, {"kind": "paper", "created": NOW - 30 * DAY}, now=NOW) == pytest.approx(1.0)


def test_boost_factor_no_rules_is_one() -> None:
    assert boost_factor([], {"anything": 1}) == 1.0


def test_boost_factor_defaults_now_to_the_clock() -> None:
    rule = RecencyBoost("created", half_life_days=1.0)
    a_day_ago = datetime.now(UTC).timestamp() - DAY
    assert boost_factor([rule], {"created": a_day_ago}) == pytest.approx(0.5, rel=1e-3)


def test_apply_boost_scales_height_above_zero() -> None:
    assert apply_boost(0.5, 2.0) == 1.0
    assert apply_boost(0.5, 0.5) == 0.25
    assert apply_boost(3.0, 1.0) == 3.0


@pytest.mark.parametrize("score", [-0.9, -0.5, -0.01, 0.0, 0.3])
def test_apply_boost_raises_negative_cosine_scores(score: float) -> None:
    assert apply_boost(score, 1.5, floor=-1.0) > score
    assert apply_boost(score, 0.5, floor=-1.0) < score
    assert apply_boost(score, 1.0, floor=-1.0) == pytest.approx(score)


def test_apply_boost_keeps_the_floor() -> None:
    assert apply_boost(-1.0, 5.0, floor=-1.0) == -1.0
    assert apply_boost(0.0, 2.0, floor=-1.0) == 1.0


# ----------------------------------------------------------------------------- JSON and parsing
RULES = [
    FieldBoost("breakthrough", True, factor=1.5),
    FieldBoost("kind", "paper", factor=0.5),
    FieldBoost("level", 2, factor=1.1),
    ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3),
    ThresholdBoost("year", "lte", 2020, factor=0.9),
    RecencyBoost("created", half_life_days=7.0, weight=0.25),
    RecencyBoost("updated"),
]


def test_boosts_json_round_trip() -> None:
    assert boosts_from_json(boosts_to_json(RULES)) == RULES


def test_boosts_to_json_is_tagged_data() -> None:
    data = json.loads(boosts_to_json(RULES[:1] + RULES[3:4] + RULES[5:6]))
    assert data == [
        {"type": "field", "field": "breakthrough", "equals": True, "factor": 1.5},
        {"type": "threshold", "field": "spark_intensity", "op": "gt", "value": 0.8, "factor": 1.3},
        {"type": "recency", "field": "created", "half_life_days": 7.0, "weight": 0.25},
    ]


def test_boost_json_round_trip_keeps_bool_apart_from_int() -> None:
    back = boosts_from_json(boosts_to_json([FieldBoost("flag", True, factor=2.0)]))
    assert back[0].multiplier({"flag": 1}, NOW) == 1.0
    assert back[0].multiplier({"flag": True}, NOW) == 2.0


def test_parse_boosts_accepts_dicts_and_rules() -> None:
    parsed = parse_boosts(
        [
            {"type": "field", "field": "breakthrough", "equals": True, "factor": 1.5},
            ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3),
            {"type": "recency", "field": "created"},
        ]
    )
    assert parsed == (
        FieldBoost("breakthrough", True, factor=1.5),
        ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3),
        RecencyBoost("created", half_life_days=30.0, weight=1.0),
    )


def test_parse_boosts_none_is_empty() -> None:
    assert parse_boosts(None) == ()
    assert parse_boosts([]) == ()


@pytest.mark.parametrize("factor", [0, -1.5, float("nan"), float("inf"), True, "2"])
def test_bad_factor_raises(factor: object) -> None:
    with pytest.raises(ConfigError, match="factor must be a finite number > 0"):
        FieldBoost("x", 1, factor=factor)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="factor must be a finite number > 0"):
        ThresholdBoost("x", "gt", 1, factor=factor)  # type: ignore[arg-type]


@pytest.mark.parametrize("op", ["$gt", ">", "GT", "eq", ""])
def test_threshold_bad_op_raises_listing_valid_ones(op: str) -> None:
    with pytest.raises(ConfigError, match="must be one of gt, gte, lt, lte"):
        ThresholdBoost("x", op, 1.0, factor=2.0)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"half_life_days": 0}, "half_life_days must be > 0"),
        ({"half_life_days": -3}, "half_life_days must be > 0"),
        ({"half_life_days": float("nan")}, "half_life_days must be > 0"),
        ({"weight": 1.5}, r"weight must be in \[0, 1\]"),
        ({"weight": -0.1}, r"weight must be in \[0, 1\]"),
        ({"weight": float("nan")}, r"weight must be in \[0, 1\]"),
    ],
)
def test_recency_bad_values_raise(kwargs: dict[str, float], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        RecencyBoost("created", **kwargs)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"type": "magic", "field": "x"}, "type must be one of field, threshold, recency, got 'magic'"),
        ({"field": "x", "equals": 1, "factor": 2.0}, "type must be one of .* got None"),
        ({"type": "field", "field": "x", "factor": 2.0}, "bad fields for a 'field' boost rule"),
        ({"type": "threshold", "field": "x", "op": "gt", "factor": 2.0}, "bad fields for a 'threshold' boost rule"),
        ({"type": "recency"}, "bad fields for a 'recency' boost rule"),
        ({"type": "field", "field": "x", "equals": 1, "factor": 2.0, "extra": 1}, "bad fields for a 'field'"),
        ({"type": "field", "field": "x", "equals": 1, "factor": -2.0}, "factor must be a finite number > 0"),
        ({"type": "threshold", "field": "x", "op": "between", "value": 1, "factor": 2.0}, "op must be one of"),
    ],
)
def test_boost_from_dict_invalid_rules_raise(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        boost_from_dict(data)
    with pytest.raises(ConfigError, match=problem):
        parse_boosts([data])


@pytest.mark.parametrize("rules", ["field", b"x", {"type": "field", "field": "x", "equals": 1, "factor": 2.0}])
def test_parse_boosts_refuses_a_non_list(rules: object) -> None:
    with pytest.raises(ConfigError, match="boosts must be a list of rules"):
        parse_boosts(rules)  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", [42, "field", ("field", "x")])
def test_parse_boosts_refuses_other_objects(rule: object) -> None:
    with pytest.raises(ConfigError, match="a boost rule must be FieldBoost, ThresholdBoost, RecencyBoost or a dict"):
        parse_boosts([rule])  # type: ignore[list-item]


def test_boost_from_dict_does_not_mutate_its_input() -> None:
    data = {"type": "field", "field": "x", "equals": 1, "factor": 2.0}
    boost_from_dict(data)
    assert data == {"type": "field", "field": "x", "equals": 1, "factor": 2.0}


def test_threshold_non_number_value_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        ThresholdBoost("spark_intensity", "gt", "0.8", factor=1.3)  # type: ignore[arg-type]
