"""Dates and times through the LangChain adapter: stored, returned as given, filtered exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from mira_vectorstores.langchain import MiraVectorStore

BASE = datetime(2026, 1, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))


def test_dates_round_trip_and_filter(hashing):
    store = MiraVectorStore(hashing)
    store.add_texts(
        [f"memory {i}" for i in range(5)],
        metadatas=[{"when": BASE + timedelta(minutes=i)} for i in range(5)],
        ids=[f"n{i}" for i in range(5)],
    )
    assert store.get_by_ids(["n2"])[0].metadata == {"when": BASE + timedelta(minutes=2)}
    cut = (BASE + timedelta(minutes=2)).astimezone(UTC)
    found = store.similarity_search("memory", k=10, filter={"when": {"$gte": cut}})
    assert sorted(d.id for d in found) == ["n2", "n3", "n4"]
    retriever = store.as_retriever(search_kwargs={"k": 10, "filter": {"when": {"$lt": cut}}})
    assert sorted(d.id for d in retriever.invoke("memory")) == ["n0", "n1"]
    assert found[0].metadata["when"].utcoffset() == timedelta(hours=-3)
