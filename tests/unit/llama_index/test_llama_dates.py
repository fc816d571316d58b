"""Dates and times through the LlamaIndex adapter: node metadata keeps them, and ``MetadataFilter``
(which holds no ``datetime``) takes ISO-8601 strings for them; nesting is bounded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from mira_vectorstores.engine import MAX_FILTER_DEPTH, FilterError
from mira_vectorstores.llama_index import MiraVectorStore

BASE = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def dated():
    store = MiraVectorStore.in_memory()
    store.add(
        [
            TextNode(
                id_=f"n{i}",
                text=f"memory {i}",
                embedding=[1.0, float(i)],
                metadata={"when": BASE + timedelta(days=i), "day": date(2026, 1, 1 + i)},
            )
            for i in range(5)
        ]
    )
    yield store
    store.client.close()


def _query(store: MiraVectorStore, *filters: MetadataFilter, condition=FilterCondition.AND) -> list[str]:
    query = VectorStoreQuery(
        query_embedding=[1.0, 0.0],
        similarity_top_k=10,
        filters=MetadataFilters(filters=list(filters), condition=condition),
    )
    return sorted(n.id_ for n in store.query(query).nodes)


def test_node_metadata_keeps_dates_and_times(dated):
    node = dated.get_nodes(node_ids=["n1"])[0]
    assert node.metadata["when"] == BASE + timedelta(days=1)
    assert node.metadata["day"] == date(2026, 1, 2)
    hit = dated.query(VectorStoreQuery(query_embedding=[1.0, 1.0], similarity_top_k=1)).nodes[0]
    assert isinstance(hit.metadata["when"], datetime)


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        (">=", (BASE + timedelta(days=2)).isoformat(), ["n2", "n3", "n4"]),
        (">", (BASE + timedelta(days=2)).isoformat(), ["n3", "n4"]),
        ("<", "2026-01-03", ["n0", "n1"]),  # a date is midnight UTC
        ("<=", (BASE + timedelta(days=1)).isoformat(), ["n0", "n1"]),
        ("==", (BASE + timedelta(days=3)).isoformat(), ["n3"]),
        ("!=", (BASE + timedelta(days=3)).isoformat(), ["n0", "n1", "n2", "n4"]),
    ],
)
def test_iso_strings_filter_dates_and_times(dated, operator, value, expected):
    assert _query(dated, MetadataFilter(key="when", value=value, operator=operator)) == expected


def test_a_date_field_filters_by_date(dated):
    assert _query(dated, MetadataFilter(key="day", value="2026-01-04", operator=">=")) == ["n3", "n4"]


def test_a_string_that_is_no_date_cannot_be_ordered(dated):
    with pytest.raises(FilterError, match="ISO-8601"):
        _query(dated, MetadataFilter(key="when", value="next week", operator=">"))


def test_nested_filters_have_a_depth_limit(dated):
    inner = MetadataFilters(filters=[MetadataFilter(key="when", value="2026-01-01", operator=">=")])
    for _ in range(MAX_FILTER_DEPTH + 5):
        inner = MetadataFilters(filters=[inner])
    query = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=10, filters=inner)
    with pytest.raises(FilterError, match="MAX_FILTER_DEPTH"):
        dated.query(query)
