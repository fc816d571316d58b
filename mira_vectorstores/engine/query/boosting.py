"""Declarative boost rules: small typed objects that raise or lower scores from metadata.

Rules are data (serialisable to JSON), applied after fusion and before the top-k cut. The
factors of all rules that apply are multiplied; a factor above 1 always raises a score
(``apply_boost`` scales its height above the lowest score of its scale: -1 for cosine and
min-max / DBSF fusion; 0 for the default absolute fusion, TM2C2, RRF and BM25, where 0 means
no evidence, so there a factor scales the score itself).

Example:
    >>> rules = [FieldBoost("breakthrough", True, factor=1.5),
    ...          ThresholdBoost("spark_intensity", "gt", 0.8, factor=1.3)]
    >>> boost_factor(rules, {"breakthrough": True, "spark_intensity": 0.9})
    1.9500000000000002
    >>> boosts_from_json(boosts_to_json(rules)) == rules
    True
"""

from __future__ import annotations

import json
import math
import operator
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Protocol

from mira_vectorstores.engine import times
from mira_vectorstores.engine.errors import ConfigError

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class BoostRule(Protocol):
    """A rule: the factor it gives a record's score (1.0 when it does not apply)."""

    def multiplier(self, metadata: Mapping[str, object], now: float) -> float:
        """The multiplier for a record with this metadata, at time ``now`` (epoch seconds)."""
        ...

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with a ``type`` tag."""
        ...


def _check_factor(factor: float, rule: str) -> None:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        msg = f"{rule}.factor must be a finite number > 0, got {factor!r}"
        raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class FieldBoost:
    """Multiply by ``factor`` when ``metadata[field] == equals`` (a flag or a category)."""

    field: str
    equals: str | int | float | bool
    factor: float

    def __post_init__(self) -> None:
        _check_factor(self.factor, "FieldBoost")

    def multiplier(self, metadata: Mapping[str, object], now: float) -> float:
        """``factor`` when the field equals ``equals``, else 1."""
        value = metadata.get(self.field)
        same_kind = isinstance(value, bool) == isinstance(self.equals, bool)
        return self.factor if same_kind and value == self.equals else 1.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"type": "field", **_fields(self)}


@dataclass(frozen=True, slots=True)
class ThresholdBoost:
    """Multiply by ``factor`` when ``metadata[field] <op> value`` (op: gt, gte, lt, lte)."""

    field: str
    op: str
    value: float
    factor: float

    def __post_init__(self) -> None:
        _check_factor(self.factor, "ThresholdBoost")
        if self.op not in _OPS:
            msg = f"ThresholdBoost.op must be one of {', '.join(_OPS)}, got {self.op!r}"
            raise ConfigError(msg)
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            msg = f"ThresholdBoost.value must be a finite number, got {value!r}"
            raise ConfigError(msg)

    def multiplier(self, metadata: Mapping[str, object], now: float) -> float:
        """``factor`` when the numeric field passes the threshold, else 1."""
        value = metadata.get(self.field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return 1.0
        return self.factor if _OPS[self.op](value, self.value) else 1.0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"type": "threshold", **_fields(self)}


@dataclass(frozen=True, slots=True)
class RecencyBoost:
    """Decay by age: ``0.5 ** (age / half_life)`` on a timestamp field.

    The field holds a ``datetime`` / ``date``, epoch seconds or an ISO-8601 string; records
    without it, or dated in the future, keep their score. ``weight`` blends the decay in: the factor is
    ``(1 - weight) + weight * decay``, so ``weight=0.5`` never more than halves a score's height
    above its scale's floor (``apply_boost``): the score itself for hybrid (absolute, TM2C2, RRF)
    and BM25 scores, whose floor is 0; a cosine or a min-max / DBSF fused score is measured from
    -1, so there a halved height can fall below 0 (0.5 becomes -0.25).
    """

    field: str
    half_life_days: float = 30.0
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not self.half_life_days > 0:
            msg = f"RecencyBoost.half_life_days must be > 0, got {self.half_life_days!r}"
            raise ConfigError(msg)
        if not 0.0 <= self.weight <= 1.0:
            msg = f"RecencyBoost.weight must be in [0, 1], got {self.weight!r}"
            raise ConfigError(msg)

    def multiplier(self, metadata: Mapping[str, object], now: float) -> float:
        """The decay factor of this record's age."""
        stamp = _epoch_seconds(metadata.get(self.field))
        if stamp is None or stamp >= now:
            return 1.0
        decay = float(0.5 ** ((now - stamp) / (self.half_life_days * 86_400.0)))
        return (1.0 - self.weight) + self.weight * decay

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"type": "recency", **_fields(self)}


BoostLike = BoostRule | Mapping[str, object]
_RULE_TYPES: dict[str, type] = {"field": FieldBoost, "threshold": ThresholdBoost, "recency": RecencyBoost}


def boost_from_dict(data: Mapping[str, object]) -> BoostRule:
    """Build a rule from its ``to_dict`` form.

    Raises:
        ConfigError: for an unknown ``type`` or missing / unknown fields.
    """
    fields = dict(data)
    kind = fields.pop("type", None)
    rule_type = _RULE_TYPES.get(str(kind))
    if rule_type is None:
        msg = f"boost rule type must be one of {', '.join(_RULE_TYPES)}, got {kind!r}"
        raise ConfigError(msg)
    try:
        return rule_type(**fields)  # type: ignore[no-any-return]
    except TypeError as exc:
        msg = f"bad fields for a {kind!r} boost rule: {exc}"
        raise ConfigError(msg) from None


def parse_boosts(rules: Sequence[BoostLike] | None) -> tuple[BoostRule, ...]:
    """Accept a list of rule objects or their dict forms; validate them.

    Raises:
        ConfigError: for a single rule or dict where a list is expected (wrap it in a list), or
            an item that is not a rule.
    """
    if rules is None:
        return ()
    if isinstance(rules, (Mapping, *_RULE_TYPES.values())):
        kind = "dict" if isinstance(rules, Mapping) else type(rules).__name__
        msg = f"boosts must be a list of rules, got a single {kind}; wrap it in a list: boosts=[rule]"
        raise ConfigError(msg)
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Iterable):
        msg = (
            "boosts must be a list of rules (FieldBoost, ThresholdBoost, RecencyBoost or their dicts), "
            f"got {type(rules).__name__}"
        )
        raise ConfigError(msg)
    parsed: list[BoostRule] = []
    for rule in rules:
        if isinstance(rule, Mapping):
            parsed.append(boost_from_dict(rule))
        elif isinstance(rule, tuple(_RULE_TYPES.values())):
            parsed.append(rule)
        else:
            msg = f"a boost rule must be FieldBoost, ThresholdBoost, RecencyBoost or a dict, got {type(rule).__name__}"
            raise ConfigError(msg)
    return tuple(parsed)


def boosts_to_json(rules: Sequence[BoostRule]) -> str:
    """Serialise rules to a JSON list."""
    return json.dumps([rule.to_dict() for rule in rules])


def boosts_from_json(text: str) -> list[BoostRule]:
    """Parse rules written by ``boosts_to_json``."""
    return list(parse_boosts(json.loads(text)))


def boost_factor(rules: Sequence[BoostRule], metadata: Mapping[str, object], now: float | None = None) -> float:
    """The product of every rule's factor for one record."""
    moment = time.time() if now is None else now
    result = 1.0
    for rule in rules:
        result *= rule.multiplier(metadata, moment)
    return result


def apply_boost(score: float, factor: float, *, floor: float = 0.0) -> float:
    """Boost a score on a scale whose lowest value is ``floor``: its height above the floor is
    multiplied, so a factor above 1 always raises it (cosine, min-max and DBSF fusion:
    ``floor=-1``; BM25, RRF, TM2C2 and absolute fusion: 0).

    Example:
        >>> apply_boost(0.5, 2.0), apply_boost(0.0, 2.0, floor=-1.0)
        (1.0, 1.0)
    """
    return floor + (score - floor) * factor


def _fields(rule: object) -> dict[str, object]:
    return asdict(rule)  # type: ignore[call-overload,no-any-return]


def _epoch_seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)  # a stored date or time is its timestamp (``times.py``)
    if times.is_moment(value):
        return times.seconds(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return None
