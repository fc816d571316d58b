"""LangChain adapter papercuts: a lone str / dict / Document where a list is expected, empty
queries, constructor and retriever arguments, the fill of a hybrid search, raw objects with
their own vectors, the metadata rule and empty texts. Every refusal is typed and leaves the
store as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pytest
from fakes import BAD_METADATA
from langchain_core.documents import Document

from mira_vectorstores.engine import (
    ConfigError,
    DimensionMismatchError,
    FieldBoost,
    HashingEmbedder,
    InvalidInputError,
)
from mira_vectorstores.langchain import MiraRetriever, MiraVectorStore, _convert

WRAP = "wrap it in a list"


def snapshot(store: MiraVectorStore) -> list[tuple[str, str, dict[str, object]]]:
    return [(r.id, r.document or "", r.metadata) for r in store.engine.get()]


def vector(store: MiraVectorStore, text: str = "cats") -> list[float]:
    return store.embeddings.embed_query(text)


# -- a lone item where a list is expected ----------------------------------------------------------
SYNC_CALLS: dict[str, tuple[Callable[[MiraVectorStore], object], str]] = {
    "add_texts(str)": (lambda s: s.add_texts("hello world"), "texts must be a list of strings, got a single str"),
    "add_texts(bytes)": (lambda s: s.add_texts(b"hello"), "got a single bytes"),
    "add_texts(metadatas=dict)": (lambda s: s.add_texts(["x"], {"a": 1}), "metadatas must be a list of dicts"),
    "add_texts(ids=str)": (lambda s: s.add_texts(["x"], ids="x"), "ids must be a list of strings"),
    "add_documents(Document)": (lambda s: s.add_documents(Document(page_content="x")), "got a single Document"),
    "add_documents(str)": (lambda s: s.add_documents("hello"), "got a single str"),
    "add_documents([str])": (lambda s: s.add_documents(["hello"]), "documents\\[0\\] must be a Document"),
    "get_by_ids(str)": (lambda s: s.get_by_ids("abc"), "ids must be a list of strings, got a single str"),
    "delete(str)": (lambda s: s.delete("cats"), "got a single str"),
    "delete(dict)": (lambda s: s.delete({"cats": 1}), "got a single dict"),
    "similarity_search_by_vector(str)": (lambda s: s.similarity_search_by_vector("0.1"), "list of floats"),
    "mmr_by_vector(str)": (lambda s: s.max_marginal_relevance_search_by_vector("0.1"), "list of floats"),
    "add_objects(bytes)": (lambda s: s.add_objects(b"png", descriptions=["x"]), "got a single bytes"),
    "add_objects(dict)": (lambda s: s.add_objects({"a": 1}), "got a single dict"),
    "add_objects(ndarray)": (lambda s: s.add_objects(np.zeros(3)), "got a single ndarray"),
    "add_objects(ids=str)": (lambda s: s.add_objects([b"x"], ids="x", descriptions=["d"]), "ids must be a list"),
    "add_objects(descriptions=str)": (lambda s: s.add_objects([b"x"], descriptions="d"), "got a single str"),
    "add_objects(metadatas=dict)": (
        lambda s: s.add_objects([b"x"], descriptions=["d"], metadatas={"a": 1}),
        "metadatas must be a list of dicts",
    ),
    "add_objects(embeddings=one vector)": (
        lambda s: s.add_objects([b"x"], embeddings=vector(s)),
        "embeddings must be one vector per record, got a single flat vector",
    ),
}


@pytest.mark.parametrize("name", SYNC_CALLS)
def test_a_lone_item_is_refused_and_nothing_changes(filled, name):
    call, message = SYNC_CALLS[name]
    before = snapshot(filled)
    with pytest.raises(InvalidInputError, match=message):
        call(filled)
    assert snapshot(filled) == before


ASYNC_CALLS = {
    "aadd_texts(str)": lambda s: s.aadd_texts("hello world"),
    "aadd_texts(metadatas=dict)": lambda s: s.aadd_texts(["x"], {"a": 1}),
    "aadd_documents(Document)": lambda s: s.aadd_documents(Document(page_content="x")),
    "aget_by_ids(str)": lambda s: s.aget_by_ids("abc"),
    "adelete(str)": lambda s: s.adelete("cats"),
    "aadd_objects(bytes)": lambda s: s.aadd_objects(b"png", descriptions=["x"]),
    "asimilarity_search_by_vector(str)": lambda s: s.asimilarity_search_by_vector("0.1"),
}


@pytest.mark.parametrize("name", ASYNC_CALLS)
async def test_async_twins_refuse_a_lone_item_too(filled, name):
    before = snapshot(filled)
    with pytest.raises(InvalidInputError, match=r"wrap it in a list|list of floats"):
        await ASYNC_CALLS[name](filled)
    assert snapshot(filled) == before


async def test_a_lone_text_is_refused_before_the_async_embedding(async_only):
    store = MiraVectorStore(async_only)
    try:
        calls = async_only.async_calls
        with pytest.raises(InvalidInputError, match=WRAP):
            await store.aadd_texts("hello world")
        assert async_only.async_calls == calls
        assert store.engine.count() == 0
    finally:
        store.close()


@pytest.mark.parametrize("factory", ["from_texts", "afrom_texts"])
async def test_from_texts_refuses_a_lone_str_before_making_a_store(hashing, tmp_path, factory):
    async def make() -> object:
        result = getattr(MiraVectorStore, factory)("hello world", hashing, path=tmp_path / "store")
        return await result if factory == "afrom_texts" else result

    with pytest.raises(InvalidInputError, match=WRAP):
        await make()
    assert not (tmp_path / "store").exists()


def test_lists_of_any_kind_still_work(store):
    assert store.add_texts(("a", "b"), ids=("1", "2")) == ["1", "2"]
    assert store.add_texts(iter(["c"]), ids=["3"]) == ["3"]
    assert [d.id for d in store.get_by_ids(("2", "1"))] == ["2", "1"]
    assert store.add_documents((Document(id="4", page_content="d"),)) == ["4"]


# -- empty queries ----------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["", "   "])
@pytest.mark.parametrize(
    "method", ["similarity_search", "similarity_search_with_score", "hybrid_search", "keyword_search",
               "max_marginal_relevance_search"],
)  # fmt: skip
async def test_an_empty_query_says_so_sync_and_async(filled, method, query):
    with pytest.raises(InvalidInputError, match=r"the query is (empty|only whitespace)"):
        getattr(filled, method)(query)
    with pytest.raises(InvalidInputError, match=r"the query is (empty|only whitespace)"):
        await getattr(filled, "a" + method)(query)


async def test_a_blank_query_is_not_embedded(async_only):
    store = MiraVectorStore(async_only)
    try:
        store.add_texts(["cats purr"], ids=["c"])
        async_only.forbid_sync = True
        calls = async_only.async_calls
        with pytest.raises(InvalidInputError, match="the query is only whitespace"):
            await store.asimilarity_search("   ")
        with pytest.raises(InvalidInputError, match="the query is only whitespace"):
            await MiraRetriever(vectorstore=store).ainvoke("  ")
        assert async_only.async_calls == calls
    finally:
        store.close()


# -- constructor, boosts and retriever arguments -------------------------------------------------------
def test_a_string_first_is_the_collection_name_as_in_langchain_chroma(tmp_path):
    store = MiraVectorStore("docs", HashingEmbedder(16))  # Chroma("docs", embeddings)
    try:
        assert store.engine.name == "docs"
        assert store.add_texts(["hello"], ids=["h"]) == ["h"]
    finally:
        store.close()
    with pytest.raises(ConfigError, match="store name must be 3-512 characters"):
        MiraVectorStore("some string")
    with pytest.raises(ConfigError, match="give one of them"):
        MiraVectorStore("docs", collection_name="other")
    with pytest.raises(ConfigError, match="got int"):
        MiraVectorStore(42)
    with pytest.raises(ConfigError, match="first argument is the embeddings model"):
        MiraVectorStore.from_texts(["x"], "some string", path=tmp_path)


def test_an_engine_embedder_is_accepted_as_embeddings():
    store = MiraVectorStore(HashingEmbedder(16))  # duck-typed: embed_documents and embed_query
    try:
        assert store.add_texts(["hello"], ids=["h"]) == ["h"]
        assert store.similarity_search("hello", k=1)[0].id == "h"
    finally:
        store.close()


def test_an_unusable_path_is_a_config_error(hashing, tmp_path):
    with pytest.raises(ConfigError, match="cannot create the store folder '/proc/nope/x'"):
        MiraVectorStore(hashing, path="/proc/nope/x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        MiraVectorStore(hashing, path=tmp_path / "file")


def test_a_single_boost_rule_must_be_wrapped(filled, hashing):
    rule = FieldBoost("animal", "fish", factor=2.0)
    for call in (
        lambda: filled.hybrid_search("cats", boosts=rule),
        lambda: filled.similarity_search("cats", boosts=rule),
        lambda: MiraVectorStore(hashing, boosts=rule),
        lambda: MiraRetriever(vectorstore=filled, boosts=rule),
        lambda: MiraRetriever(vectorstore=filled, boosts={"type": "field", "field": "a", "equals": 1, "factor": 2}),
        lambda: filled.as_retriever(search_type="hybrid", search_kwargs={"boosts": rule}),
        lambda: MiraRetriever(vectorstore=filled).invoke("cats", boosts=rule),
    ):
        with pytest.raises(
            ConfigError, match=r"boosts must be a list of rules, got a single (FieldBoost|dict); wrap it"
        ):
            call()
    assert filled.hybrid_search("cats", k=1, boosts=[rule])


@pytest.mark.parametrize("k", [0, -1])
def test_retriever_k_below_one_names_the_field_and_the_fix(filled, k):
    expected = f"invalid MiraRetriever: k: Input should be greater than or equal to 1, got {k}"
    with pytest.raises(ConfigError, match=expected):
        MiraRetriever(vectorstore=filled, k=k)
    with pytest.raises(ConfigError, match=expected):
        filled.as_retriever(search_kwargs={"k": k})
    with pytest.raises(ConfigError, match=expected):
        MiraRetriever(vectorstore=filled).invoke("cats", k=k)
    with pytest.raises(ConfigError, match="fetch_k: Input should be greater than or equal to 1"):
        MiraRetriever(vectorstore=filled, fetch_k=k)


def test_retriever_errors_name_unknown_fields_and_keep_engine_messages(filled):
    with pytest.raises(ConfigError, match="unknown field 'top_k'"):
        MiraRetriever(vectorstore=filled, top_k=3)
    with pytest.raises(ConfigError, match="mode must be one of"):
        MiraRetriever(vectorstore=filled, mode="semantic")
    with pytest.raises(ValueError, match="alpha"):  # ConfigError is a ValueError, as pydantic's error was
        MiraRetriever(vectorstore=filled, alpha=2.0)


# -- hybrid fill ------------------------------------------------------------------------------------
async def test_hybrid_search_fills_k_when_fetch_k_is_smaller(filled):
    # The reviewer's case: hybrid_search(k=3, fetch_k=1) returned 1 document.
    assert len(filled.hybrid_search("cats purr", k=3, fetch_k=1)) == 3
    assert len(await filled.ahybrid_search("cats purr", k=3, fetch_k=1)) == 3
    assert len(filled.max_marginal_relevance_search("cats", k=4, fetch_k=2)) == 4
    assert len(MiraRetriever(vectorstore=filled, k=3, fetch_k=1).invoke("cats purr")) == 3


# -- raw objects with their own vector -------------------------------------------------------------
def test_add_objects_takes_one_vector_per_object(store):
    png = b"\x89PNG\r\n\x1a\n fake image bytes"
    clip = vector(store, "a photo of a tabby cat")
    ids = store.add_objects(
        [png, b"notes"],
        ids=["img", "notes"],
        embeddings=[clip, None],
        descriptions=[None, "meeting notes about dogs"],
        content_types=["image/png", None],
        metadatas=[{"kind": "image"}, None],
    )
    assert ids == ["img", "notes"]
    hit = store.similarity_search_by_vector(clip, k=1)[0]
    assert hit.id == "img"
    assert hit.metadata["kind"] == "image"
    assert hit.metadata["mira_object"]["content_type"] == "image/png"
    assert store.get_object("img") == png
    assert [d.id for d in store.keyword_search("dogs")] == ["notes"]  # the other one by its description


async def test_aadd_objects_takes_embeddings_too(store):
    clip = vector(store, "a photo")
    assert await store.aadd_objects([b"raw"], ids=["r"], embeddings=np.asarray([clip])) == ["r"]
    assert (await store.asimilarity_search_by_vector(clip, k=1))[0].id == "r"


def test_add_objects_embeddings_are_checked(store):
    with pytest.raises(InvalidInputError, match="got 1 embeddings for 2 records"):
        store.add_objects([b"a", b"b"], embeddings=[vector(store)])
    with pytest.raises(DimensionMismatchError):
        store.add_objects([b"a"], embeddings=[[1.0, 0.0]])
    assert store.engine.count() == 0


# -- one metadata rule --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_METADATA)
def test_metadata_the_engine_cannot_filter_is_refused(filled, name):
    before = snapshot(filled)
    with pytest.raises(InvalidInputError, match="metadatas\\[0\\]"):
        filled.add_texts(["x"], [BAD_METADATA[name]], ids=["x"])
    assert snapshot(filled) == before


def test_dates_and_times_are_passed_to_the_engine_as_they_are():
    when, day = dt.datetime(2024, 5, 6, 7, 8, 9), dt.date(2024, 5, 6)
    request = _convert.write_request(["x"], [{"when": when, "day": day}], ["x"], {})
    assert request["metadatas"][0]["when"] is when
    assert request["metadatas"][0]["day"] is day


# -- empty texts ---------------------------------------------------------------------------------------
def test_empty_texts_are_stored_and_never_matched_by_keyword_search(filled):
    assert filled.add_texts(["", "   "], [{"empty": True}, {"empty": True}], ids=["e0", "e1"]) == ["e0", "e1"]
    assert [(d.id, d.page_content) for d in filled.get_by_ids(["e0", "e1"])] == [("e0", ""), ("e1", "   ")]
    for query in ["cats", "dogs bark", "coral reef sun"]:
        assert not {d.id for d in filled.keyword_search(query, k=10)} & {"e0", "e1"}
    assert {d.id for d in filled.similarity_search("cats", k=10, filter={"empty": True})} == {"e0", "e1"}
    assert len(filled.hybrid_search("cats", k=7)) == 7
    assert len(filled.max_marginal_relevance_search("cats", k=7)) == 7
    assert filled.add_documents([Document(id="e2", page_content="")]) == ["e2"]
