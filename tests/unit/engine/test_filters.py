"""Tests of ``engine/query/filters.py``: parsing, evaluation on a hand-built table, and Chroma as oracle."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import chromadb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mira_vectorstores.engine.errors import FilterError, InvalidInputError
from mira_vectorstores.engine.mirrors.records import RecordsMirror
from mira_vectorstores.engine.query.filters import (
    All,
    And,
    DocumentOp,
    FieldOp,
    Not,
    Or,
    combine,
    parse_where,
    parse_where_document,
)


# ----------------------------------------------------------------------------- helpers
def mirror_of(records: Mapping[str, tuple[str | None, dict[str, object]]]) -> RecordsMirror:
    mirror = RecordsMirror()
    ids = list(records)
    mirror.append(ids, [records[i][0] for i in ids], [dict(records[i][1]) for i in ids])
    return mirror


def selected(
    mirror: RecordsMirror, where: dict[str, object] | None = None, where_document: dict[str, object] | None = None
) -> set[str]:
    node = combine(parse_where(where), parse_where_document(where_document))
    return {str(mirror.ids[row]) for row, hit in enumerate(mirror.allowed(node)) if hit}


# A small table with known answers. Note c.year is the float 2021.0, c.flag the int 1 (not
# True), d.year the string "2022", d has no document, e lacks most fields.
TABLE: dict[str, tuple[str | None, dict[str, object]]] = {
    "a": (
        "Attention is all you need",
        {
            "year": 2019,
            "rating": 4.5,
            "kind": "paper",
            "flag": True,
            "tags": ["ml", "nlp"],
            "title": "Deep Learning Survey",
        },
    ),
    "b": (
        "Rust ownership explained",
        {"year": 2020, "rating": 3.0, "kind": "blog", "flag": False, "tags": ["ml"], "title": "learning rust"},
    ),
    "c": (
        "Transformers in vision",
        {"year": 2021.0, "kind": "paper", "flag": 1, "nums": [1, 2, 3], "floats": [0.5, 2.5]},
    ),
    "d": (None, {"year": "2022", "rating": 5, "flags": [True]}),
    "e": ("attention please", {"kind": "note"}),
}


@pytest.fixture
def table() -> RecordsMirror:
    return mirror_of(TABLE)


# ----------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("where", [None, {}])
def test_parse_where_empty_is_all(where: dict[str, object] | None) -> None:
    assert parse_where(where) == All()


@pytest.mark.parametrize("where_document", [None, {}])
def test_parse_where_document_empty_is_all(where_document: dict[str, object] | None) -> None:
    assert parse_where_document(where_document) == All()


@pytest.mark.parametrize(
    ("spec", "op", "value"),
    [
        ({"$eq": "x"}, "$eq", "x"),
        ({"$ne": 1}, "$ne", 1),
        ({"$gt": 1}, "$gt", 1),
        ({"$gte": 1.5}, "$gte", 1.5),
        ({"$lt": -2}, "$lt", -2),
        ({"$lte": 0.0}, "$lte", 0.0),
        ({"$in": ["x", "y"]}, "$in", ("x", "y")),
        ({"$nin": [1, 2]}, "$nin", (1, 2)),
        ({"$contains": "ml"}, "$contains", "ml"),
        ({"$not_contains": True}, "$not_contains", True),
        ({"$exists": False}, "$exists", False),
        ({"$text_match": "Learn"}, "$text_match", "Learn"),
        ({"$text_match_insensitive": "learn"}, "$text_match_insensitive", "learn"),
    ],
)
def test_parse_where_accepts_every_field_operator(spec: dict[str, object], op: str, value: object) -> None:
    assert parse_where({"year": spec}) == FieldOp("year", op, value)


def test_parse_where_bare_value_is_eq() -> None:
    assert parse_where({"kind": "paper"}) == FieldOp("kind", "$eq", "paper")


def test_parse_where_logical_operators() -> None:
    node = parse_where({"$or": [{"a": 1}, {"$and": [{"b": 2}, {"$not": {"c": 3}}]}]})
    assert node == Or((FieldOp("a", "$eq", 1), And((FieldOp("b", "$eq", 2), Not(FieldOp("c", "$eq", 3))))))


def test_parse_where_several_fields_are_their_and() -> None:
    assert parse_where({"a": 1, "b": {"$gt": 2}}) == And((FieldOp("a", "$eq", 1), FieldOp("b", "$gt", 2)))


@pytest.mark.parametrize("op", ["$contains", "$not_contains", "$icontains", "$regex", "$not_regex"])
def test_parse_where_document_accepts_every_operator(op: str) -> None:
    assert parse_where_document({op: "a.c"}) == DocumentOp(op, "a.c")


def test_parse_where_document_logical_operators() -> None:
    node = parse_where_document(
        {"$and": [{"$contains": "a"}, {"$or": [{"$regex": "b"}, {"$not": {"$icontains": "c"}}]}]}
    )
    assert node == And(
        (DocumentOp("$contains", "a"), Or((DocumentOp("$regex", "b"), Not(DocumentOp("$icontains", "c")))))
    )


def test_combine_drops_all_and_ands_the_rest() -> None:
    a, b = FieldOp("a", "$eq", 1), DocumentOp("$contains", "x")
    assert combine() == All()
    assert combine(All(), All()) == All()
    assert combine(All(), a) == a
    assert combine(a, All(), b) == And((a, b))


@pytest.mark.parametrize(
    ("where", "path", "problem"),
    [
        ({"$and": [{"a": 1}, {"year": {"$gt": "2020"}}]}, "where.$and[1].year.$gt", "expects a number"),
        ({"year": {"$gt": True}}, "where.year.$gt", "expects a number"),
        ({"year": {"$lte": None}}, "where.year.$lte", "expects a number"),
        ({"year": {"$between": [1, 2]}}, "where.year", "unknown operator '$between'"),
        ({"year": {"$gt": 1, "$lt": 3}}, "where.year", "exactly one operator"),
        ({"year": {}}, "where.year", "exactly one operator"),
        ({"$nor": [{"a": 1}]}, "where", "unknown logical operator '$nor'"),
        ({"a": {"$in": "x"}}, "where.a.$in", "non-empty list"),
        ({"a": {"$nin": 3}}, "where.a.$nin", "non-empty list"),
        ({"a": {"$in": []}}, "where.a.$in", "non-empty list"),
        ({"a": {"$in": [1, None]}}, "where.a.$in[1]", "str, int, float, bool, date or datetime"),
        ({"a": {"$nin": ["x", {"y": 1}]}}, "where.a.$nin[1]", "str, int, float, bool, date or datetime"),
        ({"$and": []}, "where.$and", "non-empty list"),
        ({"$or": {"a": 1}}, "where.$or", "non-empty list"),
        ({"$and": [{"a": 1}, {}]}, "where.$and[1]", "non-empty dict"),
        ({"$or": [{"a": 1}, "b"]}, "where.$or[1]", "non-empty dict"),
        ({"$or": [{"$and": [{"a": 1}, {"b": {"$in": 2}}]}]}, "where.$or[0].$and[1].b.$in", "non-empty list"),
        ({"$not": [{"a": 1}]}, "where.$not", "expects a dict"),
        ({"$not": {}}, "where.$not", "empty dict"),
        ({"a": None}, "where.a", "str, int, float, bool, date or datetime"),
        ({"a": [1, 2]}, "where.a", "str, int, float, bool, date or datetime"),
        ({"a": float("nan")}, "where.a", "finite"),
        ({"a": {"$eq": float("inf")}}, "where.a.$eq", "finite"),
        ({"a": {"$contains": ["x"]}}, "where.a.$contains", "str, int, float, bool, date or datetime"),
        ({"a": {"$exists": "yes"}}, "where.a.$exists", "true or false"),
        ({"a": {"$text_match": 3}}, "where.a.$text_match", "expects a string"),
        ({"a": {"$text_match_insensitive": None}}, "where.a.$text_match_insensitive", "expects a string"),
        ({1: "x"}, "where", "field names must be strings"),
    ],
)
def test_parse_where_error_names_the_bad_part(where: dict[str, object], path: str, problem: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_where(where)
    message = str(info.value)
    assert f"at {path}:" in message
    assert problem in message


def test_parse_where_unknown_operator_lists_the_valid_ones() -> None:
    with pytest.raises(FilterError, match=r"valid: \$eq, \$ne, \$in, \$nin, \$contains"):
        parse_where({"a": {"$like": "x"}})


def test_parse_where_refuses_a_non_dict() -> None:
    with pytest.raises(FilterError, match=r"at where: expects a dict, got list"):
        parse_where([{"a": 1}])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("where_document", "path", "problem"),
    [
        ({"$regex": "("}, "where_document.$regex", "not a valid regular expression"),
        ({"$not_regex": "[a-"}, "where_document.$not_regex", "not a valid regular expression"),
        ({"$contains": 1}, "where_document.$contains", "expects a string"),
        ({"$icontains": None}, "where_document.$icontains", "expects a string"),
        ({"$contains": "a", "$regex": "b"}, "where_document", "exactly one operator"),
        ({"$like": "x"}, "where_document", "unknown operator '$like'"),
        ({"$and": [{"$contains": "a"}, {"$regex": "["}]}, "where_document.$and[1].$regex", "regular expression"),
        ({"$or": []}, "where_document.$or", "non-empty list"),
        ({"$and": [{"$contains": "a"}, {}]}, "where_document.$and[1]", "non-empty dict"),
        ({"$not": {"$regex": ")"}}, "where_document.$not.$regex", "regular expression"),
    ],
)
def test_parse_where_document_error_names_the_bad_part(
    where_document: dict[str, object], path: str, problem: str
) -> None:
    with pytest.raises(FilterError) as info:
        parse_where_document(where_document)
    message = str(info.value)
    assert f"at {path}:" in message
    assert problem in message


def test_filter_error_is_an_invalid_input_and_a_value_error() -> None:
    with pytest.raises(InvalidInputError):
        parse_where({"a": {"$gt": "x"}})
    with pytest.raises(ValueError, match=r"\$gt"):
        parse_where({"a": {"$gt": "x"}})


# ----------------------------------------------------------------------------- evaluation
@pytest.mark.parametrize(
    ("where", "expected"),
    [
        # $eq: numbers by value (c.year is 2021.0), strings exactly, bools only as bools
        ({"year": 2020}, {"b"}),
        ({"year": 2021}, {"c"}),
        ({"year": 2019.0}, {"a"}),
        ({"year": "2022"}, {"d"}),
        ({"year": 2022}, set()),
        ({"year": {"$eq": "paper"}}, set()),
        ({"kind": "paper"}, {"a", "c"}),
        ({"flag": True}, {"a"}),
        ({"flag": 1}, {"c"}),
        ({"flag": False}, {"b"}),
        ({"flag": 0}, set()),
        ({"tags": "ml"}, set()),  # $eq does not look inside lists
        # $ne matches records lacking the field, as Chroma does
        ({"year": {"$ne": 2020}}, {"a", "c", "d", "e"}),
        ({"flag": {"$ne": True}}, {"b", "c", "d", "e"}),
        ({"flag": {"$ne": 1}}, {"a", "b", "d", "e"}),
        # comparisons: numbers only, never bools or strings
        ({"year": {"$gt": 2019}}, {"b", "c"}),
        ({"year": {"$gte": 2019}}, {"a", "b", "c"}),
        ({"year": {"$lt": 2020}}, {"a"}),
        ({"year": {"$lte": 2021}}, {"a", "b", "c"}),
        ({"year": {"$lte": 2020.5}}, {"a", "b"}),
        ({"rating": {"$gt": 4}}, {"a", "d"}),
        ({"rating": {"$gte": 3}}, {"a", "b", "d"}),
        ({"flag": {"$gt": 0}}, {"c"}),
        ({"flag": {"$lt": 1}}, set()),
        ({"missing": {"$lt": 1e9}}, set()),
        # $in / $nin
        ({"kind": {"$in": ["paper", "note"]}}, {"a", "c", "e"}),
        ({"year": {"$in": [2019, 2021]}}, {"a", "c"}),
        ({"flag": {"$in": [True]}}, {"a"}),
        ({"kind": {"$nin": ["paper"]}}, {"b", "d", "e"}),
        ({"year": {"$nin": [2019, 2020, 2021]}}, {"d", "e"}),
        # $contains / $not_contains: membership in a list value, bools apart from ints
        ({"tags": {"$contains": "ml"}}, {"a", "b"}),
        ({"tags": {"$contains": "nlp"}}, {"a"}),
        ({"nums": {"$contains": 2}}, {"c"}),
        ({"nums": {"$contains": 2.0}}, {"c"}),
        ({"floats": {"$contains": 2.5}}, {"c"}),
        ({"flags": {"$contains": True}}, {"d"}),
        ({"nums": {"$contains": True}}, set()),
        ({"flags": {"$contains": 1}}, set()),
        ({"kind": {"$contains": "pap"}}, set()),  # a string field is not a list
        ({"tags": {"$not_contains": "nlp"}}, {"b", "c", "d", "e"}),
        # extensions: $exists, $text_match, $text_match_insensitive, $not
        ({"rating": {"$exists": True}}, {"a", "b", "d"}),
        ({"rating": {"$exists": False}}, {"c", "e"}),
        ({"title": {"$text_match": "Learning"}}, {"a"}),
        ({"title": {"$text_match": "learning"}}, {"b"}),
        ({"title": {"$text_match_insensitive": "LEARNING"}}, {"a", "b"}),
        ({"year": {"$text_match": "202"}}, {"d"}),  # only string values are searched
        ({"$not": {"kind": "paper"}}, {"b", "d", "e"}),
        ({"$not": {"rating": {"$gt": 4}}}, {"b", "c", "e"}),
        # logical combinations
        ({"$and": [{"kind": "paper"}, {"year": {"$gte": 2020}}]}, {"c"}),
        ({"kind": "paper", "flag": True}, {"a"}),
        ({"$or": [{"kind": "blog"}, {"flags": {"$contains": True}}]}, {"b", "d"}),
        ({"$or": [{"$and": [{"kind": "paper"}, {"flag": 1}]}, {"kind": "note"}]}, {"c", "e"}),
        ({"$not": {"$or": [{"kind": "paper"}, {"kind": "blog"}]}}, {"d", "e"}),
    ],
)
def test_where_evaluation_on_known_table(table: RecordsMirror, where: dict[str, object], expected: set[str]) -> None:
    assert selected(table, where) == expected


@pytest.mark.parametrize(
    ("where_document", "expected"),
    [
        ({"$contains": "attention"}, {"e"}),
        ({"$contains": "Attention"}, {"a"}),
        ({"$icontains": "ATTENTION"}, {"a", "e"}),
        ({"$not_contains": "attention"}, {"a", "b", "c", "d"}),  # d has no document: empty text
        ({"$regex": "^R"}, {"b"}),
        ({"$regex": r"\bin\b"}, {"c"}),
        ({"$not_regex": "^R"}, {"a", "c", "d", "e"}),
        ({"$and": [{"$icontains": "attention"}, {"$contains": "need"}]}, {"a"}),
        ({"$or": [{"$regex": "^R"}, {"$contains": "vision"}]}, {"b", "c"}),
        ({"$not": {"$icontains": "attention"}}, {"b", "c", "d"}),
    ],
)
def test_where_document_evaluation_on_known_table(
    table: RecordsMirror, where_document: dict[str, object], expected: set[str]
) -> None:
    assert selected(table, where_document=where_document) == expected


def test_where_and_where_document_combine(table: RecordsMirror) -> None:
    assert selected(table, {"kind": "paper"}, {"$icontains": "attention"}) == {"a"}


def test_allowed_skips_deleted_rows(table: RecordsMirror) -> None:
    table.kill(["a", "e"])
    assert selected(table) == {"b", "c", "d"}
    assert selected(table, {"kind": {"$ne": "blog"}}) == {"c", "d"}


def test_evaluation_sees_replaced_metadata(table: RecordsMirror) -> None:
    assert selected(table, {"kind": "blog"}) == {"b"}
    table.replace(table.row_of["e"], "note", {"kind": "blog"})
    assert selected(table, {"kind": "blog"}) == {"b", "e"}


# ----------------------------------------------------------------------------- Chroma as oracle
@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> chromadb.api.ClientAPI:
    # A private client, not chromadb.EphemeralClient(): every EphemeralClient of a process
    # shares one system, and in chromadb 1.5.9 delete_collection leaves list-valued metadata
    # behind, which reappears on records of a collection created later (they then match
    # {"k": {"$contains": v}} for a key they were never given; chroma-core/chroma#7594).
    # Other tests delete collections; collections made here are never deleted.
    return chromadb.PersistentClient(path=str(tmp_path_factory.mktemp("chroma-oracle")))


def _chroma_collection(
    client: chromadb.api.ClientAPI, metas: Mapping[str, dict[str, object]], docs: Mapping[str, str | None] | None = None
) -> chromadb.Collection:
    collection = client.create_collection(f"oracle-{uuid.uuid4().hex}", embedding_function=None)
    ids = list(metas)
    collection.add(
        ids=ids,
        embeddings=[[1.0, float(i)] for i in range(len(ids))],
        metadatas=[metas[i] for i in ids],
        documents=None if docs is None else [docs[i] for i in ids],
    )
    return collection


@pytest.fixture(scope="module")
def table_in_chroma(chroma: chromadb.api.ClientAPI) -> chromadb.Collection:
    metas = {record_id: meta for record_id, (_, meta) in TABLE.items()}
    return _chroma_collection(chroma, metas, {record_id: doc for record_id, (doc, _) in TABLE.items()})


@pytest.mark.parametrize(
    "where_document",
    [
        {"$contains": "attention"},
        {"$contains": "Attention"},
        {"$not_contains": "attention"},
        {"$regex": "^R"},
        {"$not_regex": "^R"},
        {"$and": [{"$contains": "e"}, {"$not_contains": "o"}]},
        {"$or": [{"$regex": "^R"}, {"$contains": "vision"}]},
    ],
)
def test_where_document_agrees_with_chroma(
    table_in_chroma: chromadb.Collection, where_document: dict[str, object]
) -> None:
    expected = set(table_in_chroma.get(where_document=where_document)["ids"])
    assert selected(mirror_of(TABLE), where_document=where_document) == expected


KEYS = ("k1", "k2", "k3")
STRINGS = ("x", "y", "xy")
INTS = st.integers(-2, 3)
# Chroma compares an int field with a float operand after truncating the operand to an int
# ({"n": 1.5} matches n=1, {"n": {"$gt": -0.5}} misses n=0; chromadb 1.5.9), while the
# mirror compares by value. So float *operands* of $eq/$ne/$gt.../$in/$nin are integral here.
INTEGRAL_FLOATS = st.integers(-2, 3).map(float)
# Chroma keeps int and float list members apart ({"$contains": 2} misses [2.0], and
# {"$contains": 2.0} misses [2]), while the mirror compares members by value. So float list
# members and float $contains operands are never integral here.
FRACTIONAL_FLOATS = st.sampled_from((-1.5, 0.5, 2.5))
METADATA_FLOATS = st.sampled_from((-1.5, 0.5, 1.0, 2.0, 2.5))

scalar_values = st.one_of(st.sampled_from(STRINGS), INTS, METADATA_FLOATS, st.booleans())
list_values = st.one_of(
    st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3),
    st.lists(INTS, min_size=1, max_size=3),
    st.lists(FRACTIONAL_FLOATS, min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=1, max_size=3),
)
metadatas = st.dictionaries(st.sampled_from(KEYS), st.one_of(scalar_values, list_values), min_size=1, max_size=3)

operands = st.one_of(st.sampled_from(STRINGS), INTS, INTEGRAL_FLOATS, st.booleans())
numbers = st.one_of(INTS, INTEGRAL_FLOATS)
homogeneous_lists = st.one_of(
    st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3),
    st.lists(INTS, min_size=1, max_size=3),
    st.lists(INTEGRAL_FLOATS, min_size=1, max_size=3),
    st.lists(st.booleans(), min_size=1, max_size=2),
)
members = st.one_of(st.sampled_from(STRINGS), INTS, FRACTIONAL_FLOATS, st.booleans())


def _field_filters() -> st.SearchStrategy[dict[str, object]]:
    key = st.sampled_from(KEYS)
    specs = st.one_of(
        operands,  # bare value: $eq
        st.builds(lambda op, v: {op: v}, st.sampled_from(("$eq", "$ne")), operands),
        st.builds(lambda op, v: {op: v}, st.sampled_from(("$gt", "$gte", "$lt", "$lte")), numbers),
        st.builds(lambda op, v: {op: v}, st.sampled_from(("$in", "$nin")), homogeneous_lists),
        st.builds(lambda op, v: {op: v}, st.sampled_from(("$contains", "$not_contains")), members),
    )
    return st.builds(lambda k, s: {k: s}, key, specs)


where_filters = st.recursive(
    _field_filters(),
    lambda children: st.builds(
        lambda op, parts: {op: parts}, st.sampled_from(("$and", "$or")), st.lists(children, min_size=2, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(metadatas, min_size=1, max_size=12),
    filters=st.lists(where_filters, min_size=1, max_size=4),
)
def test_where_selects_what_chroma_selects(
    chroma: chromadb.api.ClientAPI, records: list[dict[str, object]], filters: list[dict[str, object]]
) -> None:
    metas = {f"r{i}": meta for i, meta in enumerate(records)}
    collection = _chroma_collection(chroma, metas)
    mirror = mirror_of({record_id: (None, meta) for record_id, meta in metas.items()})
    for where in filters:
        expected = set(collection.get(where=where)["ids"])
        assert selected(mirror, where) == expected, where


# Two known disagreements with chromadb 1.5.9, pinned on the mirror's documented side
# ("numbers compare by value"); see the generation constraints of the oracle test above.
def test_float_operand_compares_int_field_by_value_unlike_chroma() -> None:
    mirror = mirror_of({"one": (None, {"n": 1}), "zero": (None, {"n": 0})})
    assert selected(mirror, {"n": 1.5}) == set()  # Chroma: {"one"} (1.5 truncated to 1)
    assert selected(mirror, {"n": {"$gt": -0.5}}) == {"one", "zero"}  # Chroma: {"one"}


def test_contains_compares_list_members_by_value_unlike_chroma() -> None:
    mirror = mirror_of({"ints": (None, {"n": [1, 2]}), "floats": (None, {"n": [2.0]})})
    assert selected(mirror, {"n": {"$contains": 2}}) == {"ints", "floats"}  # Chroma: {"ints"}
    assert selected(mirror, {"n": {"$contains": 2.0}}) == {"ints", "floats"}  # Chroma: {"floats"}
