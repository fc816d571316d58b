"""MiraRetriever and as_retriever: typed fields, LangChain's search types plus hybrid and
keyword, per-call overrides, and an LCEL chain end to end."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from mira_vectorstores.engine import ConfigError, FieldBoost, FusionMethod, SearchMode
from mira_vectorstores.langchain import MiraRetriever

QUESTION = "which animal swims through the coral reef?"


def ids(docs):
    return [d.id for d in docs]


class Recorder(BaseCallbackHandler):
    """Keeps what the chat model was sent and what the retriever returned."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.retrieved: list[list[Document]] = []

    def on_chat_model_start(self, serialized: dict[str, Any], messages: list[list[Any]], **kwargs: Any) -> None:
        self.prompts.extend(str(m.content) for batch in messages for m in batch)

    def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
        self.retrieved.append(list(documents))


def _chain(retriever):
    def format_docs(docs: list[Document]) -> str:
        return "\n\n".join(d.page_content for d in docs)

    prompt = ChatPromptTemplate.from_template("Answer from the context.\nContext:\n{context}\n\nQuestion: {question}")
    llm = FakeListChatModel(responses=["Fish do."])
    return {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()


def test_lcel_chain_end_to_end(filled):
    recorder = Recorder()
    answer = _chain(MiraRetriever(vectorstore=filled, k=2)).invoke(QUESTION, config={"callbacks": [recorder]})
    assert answer == "Fish do."
    (retrieved,) = recorder.retrieved
    assert len(retrieved) == 2
    assert retrieved[0].id == "fish"
    (prompt,) = recorder.prompts
    assert "Fish swim in schools through the coral reef" in prompt
    assert f"Question: {QUESTION}" in prompt


async def test_lcel_chain_end_to_end_async_with_as_retriever(filled):
    recorder = Recorder()
    retriever = filled.as_retriever(search_type="keyword", search_kwargs={"k": 1})
    answer = await _chain(retriever).ainvoke(QUESTION, config={"callbacks": [recorder]})
    assert answer == "Fish do."
    assert ids(recorder.retrieved[0]) == ["fish"]
    assert "coral reef" in recorder.prompts[0]
    assert "Dogs bark" not in recorder.prompts[0]


# -- as_retriever -----------------------------------------------------------------------------
def test_as_retriever_search_types_match_the_store_methods(filled):
    q = "cats sleep in the sun"
    assert filled.as_retriever().invoke(q) == filled.similarity_search(q)
    assert filled.as_retriever(search_type="hybrid", search_kwargs={"k": 3}).invoke(q) == filled.hybrid_search(q, k=3)
    assert filled.as_retriever(search_type="keyword").invoke(q) == filled.keyword_search(q)
    mmr = filled.as_retriever(search_type="mmr", search_kwargs={"k": 3, "lambda_mult": 0.1, "fetch_k": 5})
    assert mmr.invoke(q) == filled.max_marginal_relevance_search(q, k=3, lambda_mult=0.1, fetch_k=5)
    threshold = filled.as_retriever(search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.6})
    expected = [d for d, r in filled.similarity_search_with_relevance_scores(q, k=4) if r >= 0.6]
    assert 0 < len(expected) < 4
    assert threshold.invoke(q) == expected


@pytest.mark.parametrize(
    ("search_type", "mode", "mmr_lambda"),
    [
        ("similarity", SearchMode.DENSE, None),
        ("mmr", SearchMode.DENSE, 0.5),
        ("hybrid", SearchMode.HYBRID, None),
        ("keyword", SearchMode.LEXICAL, None),
    ],
)
def test_as_retriever_sets_typed_fields(filled, search_type, mode, mmr_lambda):
    retriever = filled.as_retriever(search_type=search_type, search_kwargs={"k": 2, "filter": {"legs": 4}})
    assert isinstance(retriever, MiraRetriever)
    assert (retriever.mode, retriever.mmr_lambda, retriever.k, retriever.filter) == (mode, mmr_lambda, 2, {"legs": 4})
    assert retriever.vectorstore is filled
    assert retriever.tags == ["MiraVectorStore", "HashingEmbeddings"]


def test_as_retriever_refuses_unknown_types_and_keys(filled):
    with pytest.raises(ConfigError, match="'similarity', 'similarity_score_threshold', 'mmr', 'hybrid', 'keyword'"):
        filled.as_retriever(search_type="semantic")
    with pytest.raises(ConfigError, match="unknown search_kwargs"):
        filled.as_retriever(search_kwargs={"top_k": 3})
    with pytest.raises(ConfigError, match="unknown search_kwargs"):
        filled.as_retriever(search_type="hybrid", search_kwargs={"lambda_mult": 0.5})
    with pytest.raises(ConfigError, match="needs search_kwargs"):
        filled.as_retriever(search_type="similarity_score_threshold")


# -- MiraRetriever fields ---------------------------------------------------------------------
def test_fields_are_typed(filled):
    retriever = MiraRetriever(
        vectorstore=filled,
        mode="lexical",
        fusion="weighted",
        boosts=[{"type": "field", "field": "animal", "equals": "fish", "factor": 2.0}],
    )
    assert retriever.mode is SearchMode.LEXICAL
    assert retriever.fusion is FusionMethod.WEIGHTED
    assert retriever.boosts == [FieldBoost("animal", "fish", factor=2.0)]
    assert MiraRetriever(vectorstore=filled).mode is SearchMode.HYBRID


@pytest.mark.parametrize(
    "bad",
    [
        {"k": 0},
        {"alpha": 1.5},
        {"score_threshold": -0.1},
        {"mmr_lambda": 2},
        {"mode": "semantic"},
        {"fusion": "max"},
        {"boosts": ["not a rule"]},
        {"boosts": [{"type": "nope"}]},
        {"top_k": 3},
    ],
)
def test_invalid_fields_are_refused(filled, bad):
    # A ConfigError (not pydantic's ValidationError; both are ValueErrors).
    with pytest.raises(ConfigError):
        MiraRetriever(vectorstore=filled, **bad)


def test_invoke_overrides_apply_to_one_call(filled):
    retriever = MiraRetriever(vectorstore=filled, k=4)
    assert len(retriever.invoke("cats", k=3)) == 3
    assert sorted(ids(retriever.invoke("cats", filter={"legs": 0}))) == ["fish", "snakes"]
    assert len(retriever.invoke("cats")) == 4
    with pytest.raises(ConfigError, match="unknown retriever option"):
        retriever.invoke("cats", top_k=3)
    with pytest.raises(ConfigError, match="k: Input should be greater than or equal to 1"):
        retriever.invoke("cats", k=-1)


async def test_ainvoke_equals_invoke(filled):
    retriever = MiraRetriever(vectorstore=filled, k=3, fusion="dbsf", alpha=0.7, where_document={"$contains": "s"})
    expected = retriever.invoke("warm sun")
    assert expected
    assert await retriever.ainvoke("warm sun") == expected
    assert await retriever.ainvoke("warm sun", k=1) == expected[:1]


def test_score_threshold_is_a_relevance_in_every_mode(open_store, table):
    vectors = {"quartz": [1.0, 0.0, 0.0], "quartz crystal": [1.0, 0.0, 0.0], "orthogonal line": [0.0, 1.0, 0.0]}
    store = open_store(table(vectors))
    store.add_texts(["quartz crystal", "orthogonal line"], ids=["same", "orth"])
    assert ids(MiraRetriever(vectorstore=store, mode="dense").invoke("quartz")) == ["same", "orth"]
    # dense relevance: same 1.0, orth 0.5 (cosine 0); hybrid relevance is the absolute fused score:
    # same 0.67 (its whole dense part, 0.45, and part of the lexical one), orth 0 (no evidence)
    assert ids(MiraRetriever(vectorstore=store, mode="dense", score_threshold=0.75).invoke("quartz")) == ["same"]
    assert ids(MiraRetriever(vectorstore=store, mode="hybrid").invoke("quartz")) == ["same", "orth"]
    assert ids(MiraRetriever(vectorstore=store, mode="hybrid", score_threshold=0.5).invoke("quartz")) == ["same"]
    assert MiraRetriever(vectorstore=store, mode="hybrid", score_threshold=0.75).invoke("quartz") == []
    # fused per query (min-max), a hybrid hit's relevance stays its dense part
    weighted = MiraRetriever(vectorstore=store, mode="hybrid", fusion="weighted", score_threshold=0.75)
    assert ids(weighted.invoke("quartz")) == ["same"]
    assert ids(MiraRetriever(vectorstore=store, mode="lexical", score_threshold=0.1).invoke("quartz")) == ["same"]
    assert MiraRetriever(vectorstore=store, mode="lexical", score_threshold=0.99).invoke("quartz") == []


def test_boosts_and_mmr_fields(open_store, table, filled):
    boosted = MiraRetriever(vectorstore=filled, k=1, mode="dense", boosts=[FieldBoost("animal", "fish", factor=100.0)])
    assert ids(boosted.invoke("cats purr")) == ["fish"]
    vectors = {"q": [1.0, 0.0, 0.0], "a": [1.0, 0.0, 0.0], "a2": [0.99, 0.141, 0.0], "b": [0.6, 0.0, 0.8]}
    store = open_store(table(vectors))
    store.add_texts(["a", "a2", "b"], ids=["a", "a2", "b"])
    assert ids(MiraRetriever(vectorstore=store, k=2, mode="dense").invoke("q")) == ["a", "a2"]
    assert ids(MiraRetriever(vectorstore=store, k=2, mode="dense", mmr_lambda=0.3).invoke("q")) == ["a", "b"]
