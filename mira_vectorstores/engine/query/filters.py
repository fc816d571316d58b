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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.errors import FilterError

Mask = NDArray[np.bool_]
_SCALAR = (str, int, float, bool)
_COMPARE: dict[str, Callable[[np.ndarray, float], Mask]] = {
    "$gt": np.greater,
    "$gte": np.greater_equal,
    "$lt": np.less,
    "$lte": np.less_equal,
}
_TEXT_OPS = ("$text_match", "$text_match_insensitive")
_FIELD_OPS = ("$eq", "$ne", "$in", "$nin", "$contains", "$not_contains", "$exists", *_TEXT_OPS, *_COMPARE)
_DOC_OPS = ("$contains", "$not_contains", "$icontains", "$regex", "$not_regex")


# ----------------------------------------------------------------------------- columns
@dataclass(slots=True)
class Column:
    """One metadata field over all rows, split by value type (numpy arrays of length n)."""

    present: Mask
    numbers: NDArray[np.float64]  # NaN where the value is not an int/float
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
            elif isinstance(value, (int, float)):
                numbers[row] = value
            elif isinstance(value, str):
                strings[row] = codes.setdefault(value, len(codes))
            elif isinstance(value, (list, tuple)):
                lists[row] = frozenset(_typed(v) for v in value)
        return cls(present, numbers, strings, codes, booleans, lists)

    def equals(self, value: object) -> Mask:
        """Rows whose scalar value equals ``value`` (numbers by value, bools only as bools)."""
        if isinstance(value, bool):
            return np.equal(self.booleans, int(value))
        if isinstance(value, (int, float)):
            return np.equal(self.numbers, value)
        code = self.string_codes.get(str(value), -2)
        return np.equal(self.strings, code)

    def substring(self, needle: str, *, ignore_case: bool) -> Mask:
        """Rows whose string value contains ``needle``."""
        if ignore_case:
            needle = needle.casefold()
            codes = [c for text, c in self.string_codes.items() if needle in text.casefold()]
        else:
            codes = [c for text, c in self.string_codes.items() if needle in text]
        return np.isin(self.strings, np.asarray(codes, dtype=np.int32))

    def contains(self, value: object) -> Mask:
        """Rows whose list value has ``value`` as a member."""
        mask = np.zeros(len(self.present), dtype=bool)
        member = _typed(value)
        rows = [row for row, members in self.lists.items() if member in members]
        mask[rows] = True
        return mask


def _typed(value: object) -> tuple[type, object]:
    # bool before int: True must not match 1, as in Chroma.
    if isinstance(value, bool):
        return (bool, value)
    if isinstance(value, (int, float)):
        return (float, float(value))
    return (type(value), value)


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
        with np.errstate(invalid="ignore"):
            return _COMPARE[self.op](column.numbers, float(self.value))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class DocumentOp:
    """One operator on the document text."""

    op: str
    value: str

    def mask(self, table: Table) -> Mask:
        """Rows whose document satisfies the operator (a missing document is empty text)."""
        docs = table.documents()
        if self.op in ("$regex", "$not_regex"):
            pattern = re.compile(self.value)
            test: Callable[[str], bool] = lambda d: pattern.search(d) is not None  # noqa: E731
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


def _logical(value: object, path: str, parse: Callable[[Mapping[str, object], str], Node]) -> tuple[Node, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(path, f"expects a non-empty list of filters, got {value!r}")
    children = []
    for i, child in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(child, Mapping) or not child:
            problem = f"expects a non-empty dict, got {child!r}"
            raise _fail(where, problem)
        children.append(parse(child, where))
    return tuple(children)


def _parse_where(where: object, path: str) -> Node:
    if not isinstance(where, Mapping):
        raise _fail(path, f"expects a dict, got {type(where).__name__}")
    if not where:
        raise _fail(path, "is an empty dict")
    nodes: list[Node] = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise _fail(path, f"field names must be strings, got {key!r}")
        sub = f"{path}.{key}"
        if key == "$and":
            nodes.append(And(_logical(value, sub, _parse_where)))
        elif key == "$or":
            nodes.append(Or(_logical(value, sub, _parse_where)))
        elif key == "$not":
            nodes.append(Not(_parse_where(value, sub)))
        elif key.startswith("$"):
            raise _fail(path, f"unknown logical operator {key!r}; use $and, $or or $not")
        else:
            nodes.append(_parse_field(key, value, sub))
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def _parse_field(key: str, spec: object, path: str) -> Node:
    if not isinstance(spec, Mapping):
        _check_scalar(spec, path)
        return FieldOp(key, "$eq", spec)
    if len(spec) != 1:
        raise _fail(path, f"expects exactly one operator, got {sorted(spec)}; combine several with $and")
    op, value = next(iter(spec.items()))
    sub = f"{path}.{op}"
    if op not in _FIELD_OPS:
        raise _fail(path, f"unknown operator {op!r}; valid: {', '.join(_FIELD_OPS)}")
    if op in _COMPARE:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(sub, f"expects a number, got {value!r}")
    elif op in ("$in", "$nin"):
        if not isinstance(value, (list, tuple)) or not value:
            raise _fail(sub, f"expects a non-empty list, got {value!r}")
        for i, item in enumerate(value):
            _check_scalar(item, f"{sub}[{i}]")
        value = tuple(value)
    elif op == "$exists":
        if not isinstance(value, bool):
            raise _fail(sub, f"expects true or false, got {value!r}")
    elif op in _TEXT_OPS:
        if not isinstance(value, str):
            raise _fail(sub, f"expects a string, got {type(value).__name__}")
    else:
        _check_scalar(value, sub)
    return FieldOp(key, op, value)


def _check_scalar(value: object, path: str) -> None:
    if not isinstance(value, _SCALAR):
        raise _fail(path, f"expects a str, int, float or bool, got {type(value).__name__}")
    if isinstance(value, float) and not np.isfinite(value):
        raise _fail(path, f"expects a finite number, got {value!r}")


def _parse_document(where: object, path: str) -> Node:
    if not isinstance(where, Mapping) or len(where) != 1:
        raise _fail(path, f"expects a dict with exactly one operator, got {where!r}")
    op, value = next(iter(where.items()))
    sub = f"{path}.{op}"
    if op == "$and":
        return And(_logical(value, sub, _parse_document))
    if op == "$or":
        return Or(_logical(value, sub, _parse_document))
    if op == "$not":
        return Not(_parse_document(value, sub))
    if op not in _DOC_OPS:
        raise _fail(path, f"unknown operator {op!r}; valid: {', '.join((*_DOC_OPS, '$and', '$or'))}")
    if not isinstance(value, str):
        raise _fail(sub, f"expects a string, got {type(value).__name__}")
    if op in ("$regex", "$not_regex"):
        try:
            re.compile(value)
        except re.error as exc:
            raise _fail(sub, f"is not a valid regular expression ({exc})") from None
    return DocumentOp(op, value)
