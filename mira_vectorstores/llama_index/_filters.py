"""``MetadataFilters`` -> the engine's ``where`` dict: every operator and condition, nested.

Each LlamaIndex operator maps to an exact engine filter; one that cannot be honoured (a
``None`` value, a string compared with ``>``) raises ``FilterError`` instead of being dropped.

=========================  ==============================================================
LlamaIndex                 engine ``where``
=========================  ==============================================================
EQ / NE                    ``$eq`` / ``$ne`` (``$ne`` also matches nodes without the key; an
                           ISO-8601 string also matches the date or time it names)
GT / GTE / LT / LTE        ``$gt`` / ``$gte`` / ``$lt`` / ``$lte``: numbers, or ISO-8601 dates and times
IN / NIN                   ``$in`` / ``$nin`` (a list of values)
CONTAINS                   ``$contains``: the list field has the value as a member
ANY / ALL                  ``$or`` / ``$and`` of ``$contains``, one per value
TEXT_MATCH                 ``$text_match``: the string field contains the value
TEXT_MATCH_INSENSITIVE     ``$text_match_insensitive``: the same, ignoring case
IS_EMPTY                   the key is missing (``None`` and ``[]`` are never stored) or ``""``
AND / OR                   ``$and`` / ``$or`` of the filters
NOT                        ``$not`` of their ``$or``: no filter matches (LlamaIndex's meaning)
=========================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Callable

from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from mira_vectorstores.engine import MAX_FILTER_DEPTH, FilterError, parse_time

Where = dict[str, object]

_SIMPLE: dict[FilterOperator, str] = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.CONTAINS: "$contains",
    FilterOperator.TEXT_MATCH: "$text_match",
    FilterOperator.TEXT_MATCH_INSENSITIVE: "$text_match_insensitive",
}
_NUMERIC: dict[FilterOperator, str] = {
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
}
_LIST: dict[FilterOperator, str] = {FilterOperator.IN: "$in", FilterOperator.NIN: "$nin"}
_MEMBERS: dict[FilterOperator, str] = {FilterOperator.ANY: "$or", FilterOperator.ALL: "$and"}


def to_where(filters: MetadataFilters | None) -> Where | None:
    """Translate LlamaIndex filters into an engine ``where`` dict.

    Args:
        filters: the filters; ``None`` or an empty ``MetadataFilters`` means no filter (as in
            LlamaIndex's own stores).

    Returns:
        The ``where`` dict, or ``None`` when nothing is filtered.

    Raises:
        FilterError: for an operator, value or condition that cannot be honoured exactly,
            and for an empty nested group (whose meaning differs between AND, OR and NOT).
    """
    if filters is None or not filters.filters:
        return None
    return _group(filters, "filters")


def and_where(*parts: Where | None) -> Where | None:
    """The ``$and`` of the given ``where`` dicts, skipping ``None``."""
    kept = [p for p in parts if p]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else {"$and": kept}


def _group(filters: MetadataFilters, path: str, depth: int = 1) -> Where:
    if depth > MAX_FILTER_DEPTH:
        msg = f"invalid filter: MetadataFilters nest deeper than {MAX_FILTER_DEPTH} levels (MAX_FILTER_DEPTH); flatten"
        raise FilterError(msg)
    if not filters.filters:
        msg = f"invalid filter at {path}: an empty nested MetadataFilters group; remove it"
        raise FilterError(msg)
    condition = FilterCondition(filters.condition or FilterCondition.AND)
    children = [
        _group(item, f"{path}.filters[{i}]", depth + 1)
        if isinstance(item, MetadataFilters)
        else _one(item, f"{path}.filters[{i}]")
        for i, item in enumerate(filters.filters)
    ]
    if condition is FilterCondition.NOT:
        return {"$not": children[0] if len(children) == 1 else {"$or": children}}
    if len(children) == 1:
        return children[0]
    return {"$and" if condition is FilterCondition.AND else "$or": children}


def _one(item: MetadataFilter, path: str) -> Where:
    operator = FilterOperator(item.operator)
    key, value = item.key, item.value
    build = _BUILDERS.get(operator)
    if build is None:  # a FilterOperator added by a later llama-index release
        msg = f"invalid filter at {path}: operator {operator.value!r} is not supported by MiraVectorStore"
        raise FilterError(msg)
    return build(operator, key, value, f"{path} ({key!r} {operator.value})")


def _simple(operator: FilterOperator, key: str, value: object, path: str) -> Where:
    if value is None or isinstance(value, list):
        msg = f"invalid filter at {path}: expects one str, int or float value, got {value!r}"
        raise FilterError(msg)
    if operator in (FilterOperator.TEXT_MATCH, FilterOperator.TEXT_MATCH_INSENSITIVE) and not isinstance(value, str):
        msg = f"invalid filter at {path}: text matching expects a str, got {type(value).__name__}"
        raise FilterError(msg)
    moment = parse_time(value) if operator in (FilterOperator.EQ, FilterOperator.NE) else None
    if moment is not None:  # an ISO string: the same string, or the same date or time
        either = [{key: {_SIMPLE[operator]: value}}, {key: {_SIMPLE[operator]: moment}}]
        return {"$or": either} if operator is FilterOperator.EQ else {"$and": either}
    return {key: {_SIMPLE[operator]: value}}


def _numeric(operator: FilterOperator, key: str, value: object, path: str) -> Where:
    # ``MetadataFilter`` holds no datetime: an ISO-8601 string stands for one.
    moment = parse_time(value)
    if moment is not None:
        return {key: {_NUMERIC[operator]: moment}}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = (
            f"invalid filter at {path}: expects a number or an ISO-8601 date or time "
            f"('2026-01-02', '2026-01-02T03:04:05+00:00'), got {value!r}"
        )
        raise FilterError(msg)
    return {key: {_NUMERIC[operator]: value}}


def _values(value: object, path: str) -> list[object]:
    if not isinstance(value, list) or not value:
        msg = f"invalid filter at {path}: expects a non-empty list of values, got {value!r}"
        raise FilterError(msg)
    return list(value)


def _list(operator: FilterOperator, key: str, value: object, path: str) -> Where:
    return {key: {_LIST[operator]: _values(value, path)}}


def _members(operator: FilterOperator, key: str, value: object, path: str) -> Where:
    checks: list[Where] = [{key: {"$contains": v}} for v in _values(value, path)]
    return checks[0] if len(checks) == 1 else {_MEMBERS[operator]: checks}


def _is_empty(operator: FilterOperator, key: str, value: object, path: str) -> Where:
    # The engine never stores None or an empty list (the adapter drops them), so "empty"
    # is: the key is absent, or holds the empty string.
    return {"$or": [{key: {"$exists": False}}, {key: {"$eq": ""}}]}


_BUILDERS: dict[FilterOperator, Callable[[FilterOperator, str, object, str], Where]] = {
    **dict.fromkeys(_SIMPLE, _simple),
    **dict.fromkeys(_NUMERIC, _numeric),
    **dict.fromkeys(_LIST, _list),
    **dict.fromkeys(_MEMBERS, _members),
    FilterOperator.IS_EMPTY: _is_empty,
}
