"""Dates and times as metadata: how a ``datetime`` / ``date`` is stored in Chroma and read back.

Chroma holds numbers, strings and booleans only, and compares only numbers. So a metadata value
``{"when": <datetime>}`` is written as two keys:

- ``when``: its POSIX timestamp in seconds (a float), so Chroma's own ``where`` filters, other
  Chroma clients and ``RecencyBoost`` can use it as a number;
- ``_mira_time.when``: its exact ISO-8601 form (microseconds and UTC offset kept), from which
  reads return the value as it was given, and filters compare it exactly (in microseconds).

Rules: an aware ``datetime`` is stored with its offset; a naive one is read as UTC (and comes
back naive); a ``date`` is midnight UTC of that day (and comes back a ``date``). A number written
into ``when`` by another client makes the ISO form stale: it is then ignored and the number read.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

logger = logging.getLogger(__name__)

TIME_PREFIX = "_mira_time."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
#: How far (seconds) the number may be from the ISO form before the ISO form counts as stale.
_STALE_S = 1e-3

Moment = datetime | date


def is_time(key: str) -> bool:
    """Whether a metadata key holds the exact form of a date or time."""
    return key.startswith(TIME_PREFIX)


def is_moment(value: object) -> bool:
    """Whether a value is a ``datetime`` or a ``date``."""
    return isinstance(value, (datetime, date))


def micros(value: Moment) -> int:
    """Exact microseconds since the epoch (naive: UTC; a date: midnight UTC)."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICRO


def seconds(value: Moment) -> float:
    """The POSIX timestamp stored in the field itself (correctly rounded from the microseconds)."""
    return micros(value) / 1_000_000


def encode(value: Moment) -> str:
    """The exact ISO-8601 text kept in the reserved key."""
    return value.isoformat()


def parse_time(text: object) -> Moment | None:
    """The ``date`` (``YYYY-MM-DD``) or ``datetime`` an ISO-8601 string describes, or ``None``.

    Example:
        >>> parse_time("2026-01-02"), parse_time("2026-01-02T03:04:05+00:00").hour, parse_time("soon")
        (datetime.date(2026, 1, 2), 3, None)
    """
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return None


def decode(text: object, number: object) -> Moment | None:
    """The value an ISO text describes, or ``None`` when it is malformed or stale against ``number``."""
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    value = parse_time(text)
    if value is None or not math.isclose(seconds(value), float(number), rel_tol=0.0, abs_tol=_STALE_S):
        return None
    return value


def field_value(metadata: Mapping[str, object], field: str) -> object:
    """A field's value as filters compare it: a date or time when one is kept for it, else as stored."""
    number = metadata.get(field)
    text = metadata.get(TIME_PREFIX + field)
    if text is None:
        return number
    value = decode(text, number)
    return number if value is None else value


def restore(metadata: dict[str, object], times: dict[str, object]) -> None:
    """Put the dates and times described by ``times`` (field -> ISO text) back into ``metadata``."""
    for field, text in times.items():
        if field not in metadata:
            continue
        value = decode(text, metadata[field])
        if value is None:
            logger.warning("the time kept for field %r (%r) is malformed or stale; its number is returned", field, text)
        else:
            metadata[field] = value
