"""LlamaIndex adapter papercuts: a lone node / str where a list is expected, top-k values below
1, empty queries, constructor arguments, the fill of a hybrid query, the engine's one metadata
rule (with LlamaIndex's own keys still working) and empty texts. Every refusal is typed and
leaves the store as it was; each store method is checked sync and async.
"""

from __future__ import annotations

import datetime as dt

import pytest
from fakes import BAD_METADATA
from llama_fakes import IDS, HashEmbedding, corpus_nodes
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from mira_vectorstores import ConfigError, FieldBoost, InvalidInputError
from mira_vectorstores.llama_index import MiraRetriever, MiraVectorStore
from mira_vectorstores.llama_index._convert import node_to_record
from mira_vectorstores.llama_index._requests import QueryOptions

Mode = VectorStoreQueryMode
WRAP = "wrap it in a list"


def snapshot(store: MiraVectorStore) -> list[tuple[str, str | None]]:
    return [(r.id, r.document) for r in store.client.get()]


def node(node_id: str, text: str, embed: HashEmbedding, **metadata: object) -> TextNode:
    return TextNode(id_=node_id, text=text, metadata=metadata, embedding=embed.vector(text))


# -- a lone item where a list is expected ------------------------------------------------------------
async def test_add_refuses_a_lone_node_or_str(filled, call, embed_model) -> None:
    before = snapshot(filled)
    for bad, kind in ((node("x", "x", embed_model), "TextNode"), ("hello", "str"), ({"id": "x"}, "dict")):
        with pytest.raises(InvalidInputError, match=f"nodes must be a list of nodes, got a single {kind}; {WRAP}"):
            await call(filled, "add", bad)
    with pytest.raises(InvalidInputError, match="nodes\\[1\\] must be a LlamaIndex node"):
        await call(filled, "add", [node("x", "x", embed_model), "not a node"])
    assert snapshot(filled) == before


@pytest.mark.parametrize("method", ["delete_nodes", "get_nodes"])
async def test_node_ids_must_be_a_list(filled, call, method) -> None:
    before = snapshot(filled)
    for bad in ("n0n1", {"n0": 1}):
        with pytest.raises(InvalidInputError, match=f"node_ids must be a list of strings, got a single \\w+; {WRAP}"):
            await call(filled, method, bad)
    assert snapshot(filled) == before  # delete_nodes("n0n1") used to delete nodes "n", "0", "1", ...


async def test_query_node_ids_and_doc_ids_must_be_lists(filled, call, embed_model) -> None:
    for field in ("node_ids", "doc_ids"):
        query = VectorStoreQuery(query_embedding=embed_model.vector("cat"), **{field: "docA"})
        with pytest.raises(InvalidInputError, match=f"{field} must be a list of strings, got a single str"):
            await call(filled, "query", query)


# -- top-k values ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, -1, 1.5, True])
@pytest.mark.parametrize("field", ["similarity_top_k", "sparse_top_k", "hybrid_top_k"])
async def test_query_top_k_below_one_names_the_field(filled, call, embed_model, field, value) -> None:
    query = VectorStoreQuery(query_str="cat", query_embedding=embed_model.vector("cat"), mode=Mode.HYBRID)
    setattr(query, field, value)
    with pytest.raises(InvalidInputError, match=f"{field} must be an int >= 1, got {value!r}"):
        await call(filled, "query", query)


@pytest.mark.parametrize("field", ["similarity_top_k", "sparse_top_k", "hybrid_top_k", "fetch_k"])
@pytest.mark.parametrize("value", [0, -3])
def test_retriever_top_k_below_one_fails_at_construction(filled, field, value) -> None:
    with pytest.raises(ConfigError, match=f"{field} must be an int >= 1, got {value}"):
        MiraRetriever(filled, **{field: value})


def test_query_options_are_checked(filled, embed_model) -> None:
    query = VectorStoreQuery(query_embedding=embed_model.vector("cat"))
    with pytest.raises(ConfigError, match="fetch_k must be an int >= 1, got -1"):
        filled.query(query, fetch_k=-1)
    with pytest.raises(ConfigError, match="fetch_k must be an int >= 1, got 0"):
        QueryOptions(fetch_k=0)
    with pytest.raises(ConfigError, match=f"boosts must be a list of rules, got a single FieldBoost; {WRAP}"):
        filled.query(query, boosts=FieldBoost("topic", "food", factor=2.0))


def test_retriever_refuses_a_lone_boost_rule_or_id(filled) -> None:
    with pytest.raises(ConfigError, match=f"boosts must be a list of rules, got a single FieldBoost; {WRAP}"):
        MiraRetriever(filled, boosts=FieldBoost("topic", "food", factor=2.0))
    with pytest.raises(InvalidInputError, match=f"node_ids must be a list of strings, got a single str; {WRAP}"):
        MiraRetriever(filled, node_ids="n0")
    with pytest.raises(InvalidInputError, match=f"doc_ids must be a list of strings, got a single str; {WRAP}"):
        MiraRetriever(filled, doc_ids="docA")


# -- empty queries --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [Mode.DEFAULT, Mode.HYBRID, Mode.TEXT_SEARCH, Mode.MMR])
async def test_a_blank_query_says_so_and_is_not_embedded(call, embed_model, mode) -> None:
    store = MiraVectorStore.in_memory(embed_model=embed_model)
    try:
        store.add(corpus_nodes(embed_model))
        calls = dict(embed_model.calls)
        with pytest.raises(InvalidInputError, match="the query is only whitespace"):
            await call(store, "query", VectorStoreQuery(query_str="   ", mode=mode))
        assert embed_model.calls == calls
    finally:
        store.client.close()


async def test_an_empty_text_query_says_so(filled, call, embed_model) -> None:
    for mode in (Mode.TEXT_SEARCH, Mode.SPARSE, Mode.HYBRID):
        query = VectorStoreQuery(query_str="", query_embedding=embed_model.vector("cat"), mode=mode)
        with pytest.raises(InvalidInputError, match="the query is empty"):
            await call(filled, "query", query)
    # DEFAULT: an empty query_str asks for a search by the embedding alone, as before.
    by_vector = VectorStoreQuery(query_str="", query_embedding=embed_model.vector("cat"), similarity_top_k=1)
    assert len((await call(filled, "query", by_vector)).ids) == 1


# -- constructors ------------------------------------------------------------------------------------------
def test_constructor_arguments_are_named(tmp_path) -> None:
    with pytest.raises(ConfigError, match="MiraVectorStore\\(engine\\) wraps a HybridStore, got str"):
        MiraVectorStore("docs")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"embed_model must be a LlamaIndex BaseEmbedding .* got str"):
        MiraVectorStore.in_memory(embed_model="text-embedding-3-small")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot create the store folder '/proc/nope/x'"):
        MiraVectorStore.persistent("/proc/nope/x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        MiraVectorStore.persistent(tmp_path / "file")


# -- hybrid fill ---------------------------------------------------------------------------------------------
async def test_hybrid_query_fills_its_hits(filled, call, embed_model) -> None:
    query = VectorStoreQuery(
        query_str="cat",
        query_embedding=embed_model.vector("cat"),
        mode=Mode.HYBRID,
        similarity_top_k=1,
        sparse_top_k=1,
        hybrid_top_k=4,
    )
    assert len((await call(filled, "query", query)).ids) == 4
    three = VectorStoreQuery(
        query_str="cat", query_embedding=query.query_embedding, mode=Mode.HYBRID, similarity_top_k=3
    )
    assert len((await call(filled, "query", three, fetch_k=1)).ids) == 3


# -- one metadata rule, with LlamaIndex's own keys ------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_METADATA)
async def test_metadata_the_engine_cannot_filter_is_refused_as_in_langchain(filled, call, embed_model, name) -> None:
    before = snapshot(filled)
    bad = TextNode(id_="bad", text="x", metadata=BAD_METADATA[name], embedding=embed_model.vector("x"))
    with pytest.raises(InvalidInputError, match="metadatas\\[1\\]"):
        await call(filled, "add", [node("ok", "fine", embed_model), bad])
    assert snapshot(filled) == before


async def test_llama_index_keys_still_work(li_store, call, embed_model) -> None:
    doc = Document(id_="doc", text="a whole document about cats", metadata={"author": "me", "none": None})
    doc.embedding = embed_model.vector(doc.text)
    child = TextNode(
        id_="child",
        text="a chunk about dogs",
        metadata={"page": 2, "doc_id": "user value, overridden as in node_to_metadata_dict"},
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc")},
        embedding=embed_model.vector("a chunk about dogs"),
    )
    assert await call(li_store, "add", [doc, child]) == ["doc", "child"]
    back = await call(li_store, "get_nodes", node_ids=["doc", "child"])
    assert [type(n) for n in back] == [Document, TextNode]
    assert back[1].ref_doc_id == "doc"
    assert back[1].metadata["page"] == 2
    pages = MetadataFilters(filters=[MetadataFilter(key="page", value=1, operator=FilterOperator.GT)])
    assert [n.node_id for n in await call(li_store, "get_nodes", filters=pages)] == ["child"]
    by_doc = VectorStoreQuery(query_embedding=embed_model.vector("dogs"), doc_ids=["doc"], similarity_top_k=5)
    assert (await call(li_store, "query", by_doc)).ids == ["child"]
    await call(li_store, "delete", "doc")
    assert [n.node_id for n in await call(li_store, "get_nodes")] == ["doc"]  # the document's node stays


def test_dates_and_times_go_to_the_engine_as_they_are(embed_model) -> None:
    when, day = dt.datetime(2024, 5, 6, 7, 8, 9), dt.date(2024, 5, 6)
    record = node_to_record(node("t", "timed", embed_model, when=when, day=day))
    assert record.metadata["when"] is when  # not LlamaIndex's JSON string of it
    assert record.metadata["day"] is day


# -- empty texts ---------------------------------------------------------------------------------------------
async def test_empty_text_nodes_are_stored_and_never_matched_by_text_search(filled, call, embed_model) -> None:
    empty = [node("e0", "", embed_model, empty=True), node("e1", "   ", embed_model, empty=True)]
    assert await call(filled, "add", empty) == ["e0", "e1"]
    back = await call(filled, "get_nodes", node_ids=["e0", "e1"])
    assert [(n.node_id, n.text) for n in back] == [("e0", ""), ("e1", "   ")]
    for text in ["cat", "dogs bark", "fresh bread"]:
        result = await call(
            filled, "query", VectorStoreQuery(query_str=text, mode=Mode.TEXT_SEARCH, similarity_top_k=9)
        )
        assert result.ids
        assert not set(result.ids) & {"e0", "e1"}
    dense = await call(filled, "query", VectorStoreQuery(query_embedding=embed_model.vector(""), similarity_top_k=2))
    assert set(dense.ids) == {"e0", "e1"}
    hybrid = VectorStoreQuery(
        query_str="cat", query_embedding=embed_model.vector("cat"), mode=Mode.HYBRID, similarity_top_k=len(IDS) + 2
    )
    assert set((await call(filled, "query", hybrid)).ids) == {*IDS, "e0", "e1"}


async def test_retriever_does_not_embed_a_blank_query(filled, embed_model) -> None:
    retriever = MiraRetriever(filled, embed_model=embed_model)
    calls = dict(embed_model.calls)
    with pytest.raises(InvalidInputError, match="the query is only whitespace"):
        retriever.retrieve("   ")
    with pytest.raises(InvalidInputError, match="the query is only whitespace"):
        await retriever.aretrieve("  ")
    assert embed_model.calls == calls
