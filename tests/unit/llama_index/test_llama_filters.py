"""MetadataFilters -> engine filters: every operator and condition against a known answer.

The corpus is ``llama_fakes.CORPUS``. Each flat case is also checked against LlamaIndex's own
reference evaluator (``build_metadata_filter_fn``, used by its SimpleVectorStore) run over the
nodes' original metadata.
"""

from __future__ import annotations

import pytest
from llama_fakes import CORPUS, IDS
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn

from mira_vectorstores import FilterError
from mira_vectorstores.llama_index import MiraVectorStore
from mira_vectorstores.llama_index._filters import to_where

Op = FilterOperator
F = MetadataFilter

# One known answer per operator: (filter, ids it selects).
OPERATOR_CASES = {
    Op.EQ: (F(key="animal", value="cat", operator=Op.EQ), ["n0", "n2"]),
    Op.NE: (F(key="animal", value="cat", operator=Op.NE), ["n1", "n3", "n4", "n5"]),
    Op.GT: (F(key="weight", value=5.0, operator=Op.GT), ["n1", "n3"]),
    Op.GTE: (F(key="weight", value=5, operator=Op.GTE), ["n1", "n2", "n3"]),
    Op.LT: (F(key="weight", value=5, operator=Op.LT), ["n0", "n5"]),
    Op.LTE: (F(key="weight", value=5.0, operator=Op.LTE), ["n0", "n2", "n5"]),
    Op.IN: (F(key="animal", value=["dog", "bird"], operator=Op.IN), ["n1"]),
    Op.NIN: (F(key="topic", value=["physics", "food"], operator=Op.NIN), ["n0", "n1", "n2", "n4"]),
    Op.ANY: (F(key="tags", value=["outdoor", "science"], operator=Op.ANY), ["n1", "n3"]),
    Op.ALL: (F(key="tags", value=["pet", "indoor"], operator=Op.ALL), ["n0"]),
    Op.CONTAINS: (F(key="tags", value="indoor", operator=Op.CONTAINS), ["n0", "n5"]),
    Op.TEXT_MATCH: (F(key="title", value="Ma", operator=Op.TEXT_MATCH), ["n0", "n1"]),
    Op.TEXT_MATCH_INSENSITIVE: (F(key="title", value="ma", operator=Op.TEXT_MATCH_INSENSITIVE), ["n0", "n1", "n4"]),
    # note: "" (n2), None (n4) and absent (n0, n1, n5) are empty; "key" (n3) is not.
    Op.IS_EMPTY: (F(key="note", value=None, operator=Op.IS_EMPTY), ["n0", "n1", "n2", "n4", "n5"]),
}

cat = F(key="animal", value="cat")
legless = F(key="legs", value=0)
# One known answer per condition, plus nesting.
CONDITION_CASES = {
    "AND": (MetadataFilters(filters=[cat, F(key="weight", value=4.8, operator=Op.GT)]), ["n2"]),
    "OR": (
        MetadataFilters(filters=[F(key="animal", value="dog"), F(key="topic", value="food")], condition="or"),
        ["n1", "n5"],
    ),
    "NOT-one": (MetadataFilters(filters=[cat], condition=FilterCondition.NOT), ["n1", "n3", "n4", "n5"]),
    # LlamaIndex's NOT: none of the filters matches.
    "NOT-several": (MetadataFilters(filters=[cat, legless], condition=FilterCondition.NOT), ["n1"]),
    "AND-of-OR": (
        MetadataFilters(
            filters=[
                F(key="tags", value="pet", operator=Op.CONTAINS),
                MetadataFilters(
                    filters=[
                        F(key="weight", value=10, operator=Op.GT),
                        F(key="title", value="FRIENDS", operator=Op.TEXT_MATCH_INSENSITIVE),
                    ],
                    condition=FilterCondition.OR,
                ),
            ]
        ),
        ["n1", "n2"],
    ),
    "OR-of-NOT-and-AND": (
        MetadataFilters(
            filters=[
                MetadataFilters(filters=[F(key="legs", value=0, operator=Op.GTE)], condition=FilterCondition.NOT),
                MetadataFilters(filters=[legless, F(key="weight", value=100, operator=Op.LT)]),
            ],
            condition=FilterCondition.OR,
        ),
        ["n5"],
    ),
    "NOT-of-nested": (
        MetadataFilters(
            filters=[MetadataFilters(filters=[cat, F(key="tags", value=["science"], operator=Op.ANY)], condition="or")],
            condition=FilterCondition.NOT,
        ),
        ["n1", "n4", "n5"],
    ),
}


def ids_of(nodes) -> list[str]:
    return sorted(n.node_id for n in nodes)


def reference_answer(flt: MetadataFilter | MetadataFilters) -> list[str]:
    metadata = {node_id: meta for node_id, _, meta, _ in CORPUS}
    filters = flt if isinstance(flt, MetadataFilters) else MetadataFilters(filters=[flt])
    matches = build_metadata_filter_fn(lambda node_id: metadata[node_id], filters)
    return [node_id for node_id in IDS if matches(node_id)]


def test_every_operator_has_a_case() -> None:
    assert set(OPERATOR_CASES) == set(FilterOperator)


@pytest.mark.parametrize("operator", list(OPERATOR_CASES), ids=lambda op: op.name)
async def test_operator_known_answer(filled: MiraVectorStore, call, operator: FilterOperator) -> None:
    flt, expected = OPERATOR_CASES[operator]
    assert reference_answer(flt) == expected  # the case agrees with LlamaIndex's own evaluator
    filters = MetadataFilters(filters=[flt])
    assert ids_of(await call(filled, "get_nodes", filters=filters)) == expected
    result = await call(
        filled,
        "query",
        VectorStoreQuery(query_str="x", query_embedding=[1.0] * 64, similarity_top_k=10, filters=filters),
    )
    assert sorted(result.ids) == expected


@pytest.mark.parametrize("name", list(CONDITION_CASES))
async def test_condition_known_answer(filled: MiraVectorStore, call, name: str) -> None:
    filters, expected = CONDITION_CASES[name]
    if not any(isinstance(f, MetadataFilters) for f in filters.filters):  # the reference cannot nest
        assert reference_answer(filters) == expected
    assert ids_of(await call(filled, "get_nodes", filters=filters)) == expected
    result = await call(
        filled, "query", VectorStoreQuery(query_embedding=[1.0] * 64, similarity_top_k=10, filters=filters)
    )
    assert sorted(result.ids) == expected
    lexical = VectorStoreQuery(
        query_str="cat dog", similarity_top_k=10, filters=filters, mode=VectorStoreQueryMode.TEXT_SEARCH
    )
    assert set((await call(filled, "query", lexical)).ids) <= set(expected)


def test_filters_restrict_before_ranking(filled: MiraVectorStore) -> None:
    # The best dense match for "cat" is n0, but only legless nodes are allowed: k hits still come back.
    query = VectorStoreQuery(query_embedding=[1.0] * 64, similarity_top_k=3, filters=MetadataFilters(filters=[legless]))
    assert sorted(filled.query(query).ids) == ["n3", "n4", "n5"]


def test_translation_of_conditions() -> None:
    filters = MetadataFilters(
        filters=[cat, MetadataFilters(filters=[legless, cat], condition=FilterCondition.NOT)],
        condition=FilterCondition.OR,
    )
    assert to_where(filters) == {
        "$or": [
            {"animal": {"$eq": "cat"}},
            {"$not": {"$or": [{"legs": {"$eq": 0}}, {"animal": {"$eq": "cat"}}]}},
        ]
    }
    assert to_where(MetadataFilters(filters=[F(key="tags", value=["a", "b"], operator=Op.ALL)])) == {
        "$and": [{"tags": {"$contains": "a"}}, {"tags": {"$contains": "b"}}]
    }


@pytest.mark.parametrize("filters", [None, MetadataFilters(filters=[]), MetadataFilters(filters=[], condition="or")])
def test_no_filters_means_everything(filters) -> None:
    assert to_where(filters) is None


@pytest.mark.parametrize(
    ("flt", "problem"),
    [
        (F(key="animal", value=None, operator=Op.EQ), "one str, int or float"),
        (F(key="animal", value=["cat"], operator=Op.NE), "one str, int or float"),
        (F(key="title", value="M", operator=Op.GT), "expects a number"),
        (F(key="animal", value="cat", operator=Op.IN), "non-empty list"),
        (F(key="tags", value=[], operator=Op.ANY), "non-empty list"),
        (F(key="tags", value="pet", operator=Op.ALL), "non-empty list"),
        (F(key="legs", value=4, operator=Op.TEXT_MATCH), "expects a str"),
        (F(key="legs", value=4, operator=Op.TEXT_MATCH_INSENSITIVE), "expects a str"),
    ],
    ids=lambda x: x.operator.name if isinstance(x, MetadataFilter) else None,
)
async def test_filters_that_cannot_be_honoured_raise(filled: MiraVectorStore, call, flt, problem: str) -> None:
    with pytest.raises(FilterError, match=problem):
        await call(filled, "get_nodes", filters=MetadataFilters(filters=[flt]))


def test_empty_nested_group_raises() -> None:
    with pytest.raises(FilterError, match="empty nested"):
        to_where(MetadataFilters(filters=[cat, MetadataFilters(filters=[], condition="or")]))


def test_unknown_operator_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from mira_vectorstores.llama_index import _filters

    monkeypatch.delitem(_filters._BUILDERS, Op.CONTAINS)
    with pytest.raises(FilterError, match="not supported"):
        to_where(MetadataFilters(filters=[F(key="tags", value="pet", operator=Op.CONTAINS)]))
