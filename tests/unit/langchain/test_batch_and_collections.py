"""LangChain: ``MiraRetriever.batch`` answers with one engine search; ``MiraCollectionsRetriever``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from mira_vectorstores.engine import ConfigError, HybridStore, InvalidInputError
from mira_vectorstores.langchain import MiraCollectionsRetriever, MiraRetriever, MiraVectorStore

TEXTS = ["coral reef fish swim", "desert fox runs", "reef shark hunts fish", "mountain goat climbs", "owl hunts mice"]
QUERIES = ["which fish swim in the reef?", "who hunts at night?", "desert animals", "climbing goats"]


class Ends(BaseCallbackHandler):
    def __init__(self) -> None:
        self.ends = 0

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.ends += 1


def test_batch_equals_invoke_of_each_query_with_one_engine_search(
    store: MiraVectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_texts(TEXTS, ids=[f"t{i}" for i in range(len(TEXTS))])
    retriever = MiraRetriever(vectorstore=store, k=2, score_threshold=0.3)
    one_by_one = [[d.id for d in retriever.invoke(q)] for q in QUERIES]
    calls = {"batch": 0, "search": 0}
    batch, search = HybridStore.search_batch, HybridStore.search

    def counted_batch(self: HybridStore, *args: Any, **kwargs: Any) -> Any:
        calls["batch"] += 1
        return batch(self, *args, **kwargs)

    def counted_search(self: HybridStore, *args: Any, **kwargs: Any) -> Any:
        calls["search"] += 1
        return search(self, *args, **kwargs)

    monkeypatch.setattr(HybridStore, "search_batch", counted_batch)
    monkeypatch.setattr(HybridStore, "search", counted_search)
    ends = Ends()
    batched = retriever.batch(QUERIES, config={"callbacks": [ends]})
    assert [[d.id for d in docs] for docs in batched] == one_by_one
    assert calls == {"batch": 1, "search": 0}
    assert ends.ends == len(QUERIES)  # callbacks still run per query
    # Overrides apply to the whole batch, as to invoke.
    monkeypatch.undo()
    assert [[d.id for d in docs] for docs in retriever.batch(QUERIES, k=1)] == [
        [d.id for d in retriever.invoke(q, k=1)] for q in QUERIES
    ]


def test_batch_with_a_bad_query_raises_or_returns_the_error(store: MiraVectorStore) -> None:
    store.add_texts(TEXTS)
    retriever = MiraRetriever(vectorstore=store)
    with pytest.raises(InvalidInputError, match="empty"):
        retriever.batch(["reef", ""])
    answers = retriever.batch(["reef", ""], return_exceptions=True)
    assert isinstance(answers[0], list)
    assert answers[0]
    assert isinstance(answers[1], InvalidInputError)


def test_collections_retriever_merges_stores_and_names_each(hashing: Any) -> None:
    ocean, land = MiraVectorStore(hashing), MiraVectorStore(hashing)
    try:
        ocean.add_texts(TEXTS[:3:2], ids=["o1", "o2"])
        land.add_texts([*TEXTS[1::2], TEXTS[4]], ids=["l1", "l2", "l3"])
        retriever = MiraCollectionsRetriever(vectorstores=[ocean, land], k=3)
        docs = retriever.invoke("who hunts fish?")
        merged = sorted(
            [
                (h.score, store.engine.name, h.id)
                for store in (ocean, land)
                for h in store.engine.search("who hunts fish?", k=3)
            ],
            key=lambda item: (-item[0], item[1], item[2]),
        )[:3]
        assert [(d.metadata["mira_collection"], d.id) for d in docs] == [(name, rid) for _, name, rid in merged]
        assert {d.metadata["mira_collection"] for d in docs} == {ocean.engine.name, land.engine.name}
        assert MiraCollectionsRetriever(vectorstores=[ocean, land], k=5, score_threshold=0.99).invoke("fish") == []
        with pytest.raises(ConfigError):
            MiraCollectionsRetriever(vectorstores=[], k=3)
    finally:
        ocean.close()
        land.close()
