"""Chroma ``where`` / ``where_document`` filters: parsed into a typed tree, evaluated column-wise.

The grammar is Chroma's: ``$eq $ne $gt $gte $lt $lte $in $nin $contains $not_contains`` on
metadata fields, combined with ``$and`` / ``$or``; and ``$contains $not_contains $regex
$not_regex`` on documents, combined the same way. Three extensions serve the adapters:
``{"$not": <filter>}``, ``{"field": {"$exists": bool}}``, ``$text_match`` /
``$text_match_insensitive`` (substring of a string field) and, for documents, ``$icontains``
(case-insensitive substring). A dict with several field keys is read as their ``$and``.

As in Chroma, ``$ne`` and ``$nin`` also match records that lack the field. Numbers compare
by value (``1 == 1.0``); booleans are never numbers; ``$contains`` on a metadata field tests
membership in a list value.

Evaluation is vectorised: each field is turned once into typed numpy columns (see
``Column``), so a filter over 100,000 records costs a few array operations, not a Python
loop over dicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import numpy as np
import re2
from numpy.typing import NDArray

from mira_vectorstores.engine import times
from mira_vectorstores.engine.errors import FilterError
from mira_vectorstores.engine.types import INT64_MAX, INT64_MIN

Mask = NDArray[np.bool_]
_SCALAR = (str, int, float, bool)
_COMPARE: dict[str, Callable[[np.ndarray, Any], Mask]] = {
    "$eq": np.equal,
    "$gt": np.greater,
    "$gte": np.greater_equal,
    "$lt": np.less,
    "$lte": np.less_equal,
}
_TEXT_OPS = ("$text_match", "$text_match_insensitive")
_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
_FIELD_OPS = ("$eq", "$ne", "$in", "$nin", "$contains", "$not_contains", "$exists", *_TEXT_OPS, *_RANGE_OPS)
_DOC_OPS = ("$contains", "$not_contains", "$icontains", "$regex", "$not_regex")
#: Floats this many units in the last place apart compare equal (Chroma's own rounding: ``_near``).
FLOAT_TOLERANCE_ULPS = 2
#: How deep ``$and`` / ``$or`` / ``$not`` may nest; deeper filters get a ``FilterError``.
MAX_FILTER_DEPTH = 64
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
#: What RE2's messages say about the constructs it refuses, and their names.
_UNSUPPORTED = (
    ("invalid escape sequence: \\1", "a backreference"),
    ("invalid perl operator: (?P", "a named backreference"),
    ("invalid escape sequence: \\", "a backreference or an unsupported escape"),
    ("invalid perl operator: (?=", "a lookahead"),
    ("invalid perl operator: (?!", "a negative lookahead"),
    ("invalid perl operator: (?<=", "a lookbehind"),
    ("invalid perl operator: (?<!", "a negative lookbehind"),
    ("invalid perl operator", "an unsupported group construct"),
)


# ----------------------------------------------------------------------------- columns
@dataclass(slots=True)
class Column:
    """One metadata field over all rows, split by value type (numpy arrays of length n).

    Numbers compare exactly: ints through their int64 column (floats round above 2**53), and
    dates and times through their microseconds; a date or time compares with a plain number as
    its POSIX timestamp in seconds.
    """

    present: Mask
    numbers: NDArray[np.float64]  # NaN where the value is not a number (a date or time: its seconds)
    ints: NDArray[np.int64]  # the exact value where ``is_int``
    is_int: Mask
    micros: NDArray[np.int64]  # microseconds since the epoch where ``is_time``
    is_time: Mask
    strings: NDArray[np.int32]  # code of the string value, -1 where not a string
    string_codes: dict[str, int]
    booleans: NDArray[np.int8]  # 0/1, -1 where not a bool
    lists: dict[int, frozenset[tuple[type, object]]]  # row -> typed members of a list value

    @classmethod
    def build(cls, values: Sequence[object]) -> Column:
        """Build the column from one value per row (``None`` where the field is absent)."""
        n = len(values)
        present = np.zeros(n, dtype=bool)
        numbers = np.full(n, np.nan)
        ints = np.zeros(n, dtype=np.int64)
        is_int = np.zeros(n, dtype=bool)
        micros = np.zeros(n, dtype=np.int64)
        is_time = np.zeros(n, dtype=bool)
        strings = np.full(n, -1, dtype=np.int32)
        booleans = np.full(n, -1, dtype=np.int8)
        codes: dict[str, int] = {}
        lists: dict[int, frozenset[tuple[type, object]]] = {}
        for row, value in enumerate(values):
            if value is None:
                continue
            present[row] = True
            if isinstance(value, bool):
                booleans[row] = int(value)
            elif isinstance(value, int):
                numbers[row] = value
                if INT64_MIN <= value <= INT64_MAX:
                    ints[row], is_int[row] = value, True
            elif isinstance(value, float):
                numbers[row] = value
            elif isinstance(value, str):
                strings[row] = codes.setdefault(value, len(codes))
            elif times.is_moment(value):
                micros[row] = times.micros(value)  # type: ignore[arg-type]
                numbers[row], is_time[row] = micros[row] / 1_000_000, True
            elif isinstance(value, (list, tuple)):
                lists[row] = frozenset(_typed(v) for v in value)
        return cls(present, numbers, ints, is_int, micros, is_time, strings, codes, booleans, lists)

    def equals(self, value: object) -> Mask:
        """Rows whose scalar value equals ``value`` (numbers by value as in ``compare``, bools only as bools)."""
        if isinstance(value, bool):
            return np.equal(self.booleans, int(value))
        if isinstance(value, (int, float, date)):
            return self.compare("$eq", value)
        code = self.string_codes.get(str(value), -2)
        return np.equal(self.strings, code)

    def compare(self, op: str, value: object) -> Mask:
        """Rows whose number, date or time stands in ``op`` to ``value``: ints and times exactly,
        floats within ``FLOAT_TOLERANCE_ULPS`` (see ``_near``).
        """
        if times.is_moment(value):
            exact = times.micros(value)  # type: ignore[arg-type]
            timed = self.is_time & _COMPARE[op](self.micros, exact)
            return timed | (~self.is_time & _near(op, self.numbers, exact / 1_000_000))
        if isinstance(value, int):
            exact_ints = self.is_int & _COMPARE[op](self.ints, value)
        else:
            exact_ints = self.is_int & _int_bound(op, float(value), self.ints)  # type: ignore[arg-type]
        return exact_ints | (~self.is_int & _near(op, self.numbers, float(value)))  # type: ignore[arg-type]

    def substring(self, needle: str, *, ignore_case: bool) -> Mask:
        """Rows whose string value contains ``needle``."""
        if ignore_case:
            needle = needle.casefold()
            codes = [c for text, c in self.string_codes.items() if needle in text.casefold()]
        else:
            codes = [c for text, c in self.string_codes.items() if needle in text]
        return np.isin(self.strings, np.asarray(codes, dtype=np.int32))

    def contains(self, value: object) -> Mask:
        """Rows whose list value has ``value`` as a member (a float: within the tolerance of ``compare``)."""
        mask = np.zeros(len(self.present), dtype=bool)
        member = _typed(value)
        if type(value) is float:  # float members within the tolerance, as ``compare`` does
            low, high = _tolerance(value)
            rows = [
                row
                for row, members in self.lists.items()
                if any(tag is float and low <= v <= high for tag, v in members)  # type: ignore[operator]
            ]
        else:
            rows = [row for row, members in self.lists.items() if member in members]
        mask[rows] = True
        return mask


def _typed(value: object) -> tuple[type, object]:
    # bool before int: True must not match 1, as in Chroma. Ints and floats share a tag and keep
    # their value: Python compares and hashes them exactly (2**60 + 1 is not 2.0**60).
    if isinstance(value, bool):
        return (bool, value)
    if isinstance(value, (int, float)):
        return (float, value)
    return (type(value), value)


def _near(op: str, numbers: NDArray[np.float64], value: float) -> Mask:
    """``number op value`` where floats within ``FLOAT_TOLERANCE_ULPS`` units in the last place
    of ``value`` count as equal to it: Chroma stores some floats up to 2 ulps off what was written
    (and reads a filter's operand the same way), so a value written as ``x`` equals ``x``.
    """
    low, high = _tolerance(value)
    with np.errstate(invalid="ignore"):  # NaN: not a number in this row
        if op == "$eq":
            return (numbers >= low) & (numbers <= high)
        if op in ("$gt", "$lte"):
            return numbers > high if op == "$gt" else numbers <= high
        return numbers >= low if op == "$gte" else numbers < low


def _tolerance(value: float) -> tuple[float, float]:
    """The floats that count as equal to ``value``: ``FLOAT_TOLERANCE_ULPS`` either side."""
    low = high = np.float64(value)
    with np.errstate(over="ignore"):  # next to the largest float is infinity: fine as a bound
        for _ in range(FLOAT_TOLERANCE_ULPS):
            low, high = np.nextafter(low, -np.inf), np.nextafter(high, np.inf)
    return float(low), float(high)


def _int_bound(op: str, value: float, ints: NDArray[np.int64]) -> Mask:
    """``i op value`` for int64 ``i``, exact: against the nearest integer on the right side of ``value``."""
    if op == "$eq":
        if not value.is_integer() or not INT64_MIN <= value <= INT64_MAX:
            return np.zeros(len(ints), dtype=bool)
        return np.equal(ints, int(value))
    bound = math.floor(value) if op in ("$gt", "$lte") else math.ceil(value)
    if bound > INT64_MAX or bound < INT64_MIN:
        above = bound > INT64_MAX  # every int is below the bound
        return np.full(len(ints), above == (op in ("$lt", "$lte")))
    return _COMPARE[op](ints, np.int64(bound))


class Table(Protocol):
    """What a filter is evaluated against: the records mirror."""

    @property
    def size(self) -> int:
        """Number of rows (dead rows included; the caller masks them)."""
        ...

    def column(self, key: str) -> Column:
        """The typed column of one metadata field."""
        ...

    def documents(self) -> Sequence[str | None]:
        """The document of every row."""
        ...


# ----------------------------------------------------------------------------- tree
class Node(Protocol):
    """A parsed filter: evaluates to a boolean mask over the table's rows."""

    def mask(self, table: Table) -> Mask:
        """Rows that satisfy this filter."""
        ...


@dataclass(frozen=True, slots=True)
class All:
    """Matches every row (the empty filter)."""

    def mask(self, table: Table) -> Mask:
        """Every row."""
        return np.ones(table.size, dtype=bool)


@dataclass(frozen=True, slots=True)
class And:
    """All children match."""

    children: tuple[Node, ...]

    def mask(self, table: Table) -> Mask:
        """Intersection of the children's masks."""
        out = self.children[0].mask(table)
        for child in self.children[1:]:
            out = out & child.mask(table)
        return out


@dataclass(frozen=True, slots=True)
class Or:
    """At least one child matches."""

    children: tuple[Node, ...]

    def mask(self, table: Table) -> Mask:
        """Union of the children's masks."""
        out = self.children[0].mask(table)
        for child in self.children[1:]:
            out = out | child.mask(table)
        return out


@dataclass(frozen=True, slots=True)
class Not:
    """The child does not match."""

    child: Node

    def mask(self, table: Table) -> Mask:
        """Complement of the child's mask."""
        return ~self.child.mask(table)


@dataclass(frozen=True, slots=True)
class FieldOp:
    """One operator on one metadata field."""

    key: str
    op: str
    value: object

    def mask(self, table: Table) -> Mask:
        """Rows where ``key op value`` holds."""
        column = table.column(self.key)
        if self.op == "$eq":
            return column.equals(self.value)
        if self.op == "$ne":
            return ~column.equals(self.value)
        if self.op in ("$in", "$nin"):
            hit = np.zeros(table.size, dtype=bool)
            for item in self.value:  # type: ignore[attr-defined]
                hit |= column.equals(item)
            return hit if self.op == "$in" else ~hit
        if self.op == "$contains":
            return column.contains(self.value)
        if self.op == "$not_contains":
            return ~column.contains(self.value)
        if self.op == "$exists":
            return column.present if self.value else ~column.present
        if self.op in _TEXT_OPS:
            return column.substring(str(self.value), ignore_case=self.op == "$text_match_insensitive")
        return column.compare(self.op, self.value)


@dataclass(frozen=True, slots=True)
class DocumentOp:
    """One operator on the document text."""

    op: str
    value: str
    regex: re2._Regexp | None = field(default=None, compare=False)  # compiled for ``$regex`` / ``$not_regex``

    def mask(self, table: Table) -> Mask:
        """Rows whose document satisfies the operator (a missing document is empty text)."""
        docs = table.documents()
        if self.regex is not None:
            regex = self.regex
            test: Callable[[str], bool] = lambda d: regex.search(d) is not None  # noqa: E731
        elif self.op == "$icontains":
            needle = self.value.casefold()
            test = lambda d: needle in d.casefold()  # noqa: E731
        else:
            needle = self.value
            test = lambda d: needle in d  # noqa: E731
        hit = np.fromiter((test(d or "") for d in docs), dtype=bool, count=len(docs))
        return ~hit if self.op in ("$not_contains", "$not_regex") else hit


# ----------------------------------------------------------------------------- parsing
def parse_where(where: Mapping[str, object] | None) -> Node:
    """Parse and validate a metadata filter.

    Args:
        where: a Chroma ``where`` dict, or ``None`` / ``{}`` for no filter.

    Returns:
        The filter tree.

    Raises:
        FilterError: naming the path of the malformed part and what is allowed there.
    """
    if not where:
        return All()
    return _parse_where(where, "where")


def parse_where_document(where_document: Mapping[str, object] | None) -> Node:
    """Parse and validate a document filter (see ``parse_where``)."""
    if not where_document:
        return All()
    return _parse_document(where_document, "where_document")


def combine(*nodes: Node) -> Node:
    """The ``And`` of the given filters, dropping ``All``."""
    kept = tuple(n for n in nodes if not isinstance(n, All))
    if not kept:
        return All()
    return kept[0] if len(kept) == 1 else And(kept)


def _fail(path: str, problem: str) -> FilterError:
    return FilterError(f"invalid filter at {path}: {problem}")


def _logical(value: object, path: str, depth: int, parse: Callable[[object, str, int], Node]) -> tuple[Node, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(path, f"expects a non-empty list of filters, got {_short(value)}")
    children = []
    for i, child in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(child, Mapping) or not child:
            raise _fail(where, f"expects a non-empty dict, got {_short(child)}")
        children.append(parse(child, where, depth + 1))
    return tuple(children)


def _check_depth(path: str, depth: int) -> None:
    if depth > MAX_FILTER_DEPTH:
        raise _fail(
            path[:120] + "...", f"nests deeper than {MAX_FILTER_DEPTH} levels (MAX_FILTER_DEPTH); flatten the filter"
        )


def _parse_where(where: object, path: str, depth: int = 1) -> Node:
    _check_depth(path, depth)
    if not isinstance(where, Mapping):
        raise _fail(path, f"expects a dict, got {type(where).__name__}")
    if not where:
        raise _fail(path, "is an empty dict")
    nodes: list[Node] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise _fail(path, f"field names must be strings, got {_short(key)}")
        sub = f"{path}.{key}"
        if key == "$and":
            nodes.append(And(_logical(value, sub, depth, _parse_where)))
        elif key == "$or":
            nodes.append(Or(_logical(value, sub, depth, _parse_where)))
        elif key == "$not":
            nodes.append(Not(_parse_where(value, sub, depth + 1)))
        elif key.startswith("$"):
            raise _fail(path, f"unknown logical operator {_short(key)}; use $and, $or or $not")
        else:
            nodes.append(_parse_field(key, value, sub))
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _parse_field(key: str, spec: object, path: str) -> Node:
    if not isinstance(spec, Mapping):
        _check_scalar(spec, path)
        return FieldOp(key, "$eq", spec)
    if len(spec) != 1:
        raise _fail(path, f"expects exactly one operator, got {sorted(map(str, spec))}; combine several with $and")
    op, value = next(iter(spec.items()))
    sub = f"{path}.{op}"
    if op not in _FIELD_OPS:
        raise _fail(path, f"unknown operator {_short(op)}; valid: {', '.join(_FIELD_OPS)}")
    if op in _RANGE_OPS:
        if isinstance(value, bool) or not isinstance(value, (int, float, date)):
            raise _fail(sub, f"expects a number, a date or a datetime, got {_short(value)}")
        _check_scalar(value, sub)
    elif op in ("$in", "$nin"):
        if not isinstance(value, (list, tuple)) or not value:
            raise _fail(sub, f"expects a non-empty list, got {_short(value)}")
        for i, item in enumerate(value):
            _check_scalar(item, f"{sub}[{i}]")
        value = tuple(value)
    elif op == "$exists":
        if not isinstance(value, bool):
            raise _fail(sub, f"expects true or false, got {_short(value)}")
    elif op in _TEXT_OPS:
        if not isinstance(value, str):
            raise _fail(sub, f"expects a string, got {type(value).__name__}")
    else:
        _check_scalar(value, sub)
    return FieldOp(key, op, value)


def _check_scalar(value: object, path: str) -> None:
    if not isinstance(value, (*_SCALAR, date)):
        raise _fail(path, f"expects a str, int, float, bool, date or datetime, got {type(value).__name__}")
    if isinstance(value, float) and not np.isfinite(value):
        raise _fail(path, f"expects a finite number, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
        raise _fail(path, f"{value} is outside the 64-bit integer range metadata can hold")


def _short(value: object) -> str:
    """A value for a message, cut short (hostile filters can be huge)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_document(where: object, path: str, depth: int = 1) -> Node:
    _check_depth(path, depth)
    if not isinstance(where, Mapping) or len(where) != 1:
        raise _fail(path, f"expects a dict with exactly one operator, got {_short(where)}")
    op, value = next(iter(where.items()))
    sub = f"{path}.{op}"
    if op == "$and":
        return And(_logical(value, sub, depth, _parse_document))
    if op == "$or":
        return Or(_logical(value, sub, depth, _parse_document))
    if op == "$not":
        return Not(_parse_document(value, sub, depth + 1))
    if op not in _DOC_OPS:
        raise _fail(path, f"unknown operator {_short(op)}; valid: {', '.join((*_DOC_OPS, '$and', '$or'))}")
    if not isinstance(value, str):
        raise _fail(sub, f"expects a string, got {type(value).__name__}")
    if op in ("$regex", "$not_regex"):
        return DocumentOp(op, value, compile_regex(value, sub))
    return DocumentOp(op, value)


def compile_regex(pattern: str, path: str = "$regex") -> re2._Regexp:
    """Compile a ``$regex`` with RE2, which runs in time linear in the text, as Chroma's own engine does.

    Raises:
        FilterError: for an invalid pattern, or a construct RE2 cannot run (backreferences, lookaround).
    """
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        construct = next((name for marker, name in _UNSUPPORTED if marker in reason), None)
        if construct is not None:
            problem = (
                f"uses {construct} ({reason}), which a linear-time regex engine cannot run (as in Chroma); "
                "rewrite the pattern without it"
            )
        else:
            problem = f"is not a valid regular expression ({reason}); the syntax is RE2's, as in Chroma"
        raise _fail(path, problem) from None
