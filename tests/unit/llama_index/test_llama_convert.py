"""Node <-> record conversion, the similarity function, query modes and the embedding wrapper."""

from __future__ import annotations

import json

import numpy as np
import pytest
from llama_fakes import HashEmbedding
from llama_index.core.schema import (
    Document,
    ImageNode,
    IndexNode,
    MediaResource,
    Node,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import VectorStoreQueryMode

from mira_vectorstores import ConfigError, RecordId, ScoreBreakdown, SearchHit, SearchMode
from mira_vectorstores.llama_index import MiraVectorStore
from mira_vectorstores.llama_index._convert import (
    LlamaEmbedder,
    node_to_record,
    record_to_node,
    to_relevance,
    to_search_mode,
)


def rich_node() -> TextNode:
    return TextNode(
        id_="rich",
        text="a node with everything",
        metadata={
            "nested": {"a": [1, {"b": None}], "c": "d"},
            "tags": ["x", "y"],
            "mixed": [1, "one"],
            "empty": [],
            "none": None,
            "flag": True,
            "score": 0.25,
            "count": 3,
            "$dollar": "refused by the engine",
            "_mira_rev": "reserved by the engine",
        },
        relationships={
            NodeRelationship.SOURCE: RelatedNodeInfo(node_id="the-doc", metadata={"page": 2}),
            NodeRelationship.PREVIOUS: RelatedNodeInfo(node_id="prev"),
            NodeRelationship.NEXT: RelatedNodeInfo(node_id="next"),
            NodeRelationship.PARENT: RelatedNodeInfo(node_id="parent"),
            NodeRelationship.CHILD: [RelatedNodeInfo(node_id="c1"), RelatedNodeInfo(node_id="c2")],
        },
        excluded_llm_metadata_keys=["nested"],
        excluded_embed_metadata_keys=["tags"],
        metadata_template="{key}=>{value}",
        embedding=[1.0, 0.0, 0.0],
    )


def without_embedding(node):
    return node.model_copy(update={"embedding": None})


def test_record_passes_every_top_level_value_to_the_engine() -> None:
    # The engine applies its one metadata rule (and refuses this node's nested, empty, mixed and
    # reserved values: test_papercuts_llama.py); nothing is dropped here.
    node = rich_node()
    record = node_to_record(node)
    stored = {k: v for k, v in record.metadata.items() if not k.startswith("_node")}
    assert stored == {
        **node.metadata,
        "document_id": "the-doc",
        "doc_id": "the-doc",
        "ref_doc_id": "the-doc",
    }
    content = json.loads(str(record.metadata["_node_content"]))
    assert content["metadata"]["nested"] == {"a": [1, {"b": None}], "c": "d"}
    assert content["text"] == ""  # the text lives in the record's document only
    assert record.text == "a node with everything"
    assert record.embedding == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "node",
    [
        rich_node(),
        TextNode(id_="plain", text="plain text"),
        TextNode(id_="empty-text", text=""),
        IndexNode(id_="idx", text="points elsewhere", index_id="other-index", metadata={"k": 1}),
        ImageNode(id_="img", text="a caption", image_url="http://example.invalid/cat.png"),
        Node(id_="multi", text_resource=MediaResource(text="multimodal text", mimetype="text/plain")),
        Node(id_="multi-empty"),
        Document(id_="document", text="a whole document", metadata={"author": "me"}),
    ],
    ids=lambda n: n.node_id,
)
def test_round_trip_gives_an_equal_node(node) -> None:
    record = node_to_record(node)
    back = record_to_node(record.id, record.text, record.metadata)
    assert type(back) is type(node)
    assert back == without_embedding(node)
    assert back.ref_doc_id == node.ref_doc_id


def test_engine_record_without_node_content_becomes_text_node() -> None:
    node = record_to_node("raw", "written by the engine", {"kind": "raw", "n": 2})
    assert isinstance(node, TextNode)
    assert (node.node_id, node.text, node.metadata) == ("raw", "written by the engine", {"kind": "raw", "n": 2})


def hit(score: float, **parts: float) -> SearchHit:
    return SearchHit(id=RecordId("x"), document="", metadata={}, score=score, scores=ScoreBreakdown(**parts))


def test_dense_relevance_maps_cosine_into_unit_interval() -> None:
    assert to_relevance(hit(1.0, dense=1.0)) == 1.0
    assert to_relevance(hit(-1.0, dense=-1.0)) == 0.0
    assert to_relevance(hit(0.0, dense=0.0)) == 0.5
    assert to_relevance(hit(0.6, dense=0.6)) == pytest.approx(0.8)
    # A boosted cosine above 1 is clipped.
    assert to_relevance(hit(1.4, dense=0.9, boost=1.5)) == 1.0


def test_lexical_and_hybrid_relevance_is_the_engine_score() -> None:
    assert to_relevance(hit(7.25, lexical=7.25)) == 7.25
    assert to_relevance(hit(0.0325, dense=0.8, lexical=3.0, fused=0.0325)) == 0.0325


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (VectorStoreQueryMode.DEFAULT, (SearchMode.DENSE, False)),
        (VectorStoreQueryMode.SPARSE, (SearchMode.LEXICAL, False)),
        (VectorStoreQueryMode.TEXT_SEARCH, (SearchMode.LEXICAL, False)),
        (VectorStoreQueryMode.HYBRID, (SearchMode.HYBRID, False)),
        (VectorStoreQueryMode.MMR, (SearchMode.DENSE, True)),
        ("hybrid", (SearchMode.HYBRID, False)),
    ],
)
def test_query_modes_map_to_engine_modes(mode, expected) -> None:
    assert to_search_mode(mode) == expected


@pytest.mark.parametrize(
    "mode",
    [
        VectorStoreQueryMode.SVM,
        VectorStoreQueryMode.LOGISTIC_REGRESSION,
        VectorStoreQueryMode.LINEAR_REGRESSION,
        VectorStoreQueryMode.SEMANTIC_HYBRID,
        "no-such-mode",
    ],
)
def test_unsupported_modes_raise_config_error(mode) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        to_search_mode(mode)


def test_llama_embedder_wraps_a_base_embedding() -> None:
    model = HashEmbedding(32)
    embedder = LlamaEmbedder(model)
    assert embedder.name == "llama-index:HashEmbedding:hash-32"
    assert embedder.dimension == 32
    vectors = embedder.embed_documents(["cats purr", "dogs bark"])
    assert vectors.shape == (2, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors[1], model.vector("dogs bark"), rtol=1e-6)
    np.testing.assert_allclose(embedder.embed_query("cats"), model.vector("cats"), rtol=1e-6)


def test_store_reopened_with_another_embed_model_is_refused(tmp_path) -> None:
    from mira_vectorstores import EmbeddingMismatchError

    store = MiraVectorStore.persistent(tmp_path, embed_model=HashEmbedding(32))
    store.add([TextNode(id_="a", text="hello")])
    store.client.close()
    with pytest.raises(EmbeddingMismatchError, match="hash-32"):
        MiraVectorStore.persistent(tmp_path, embed_model=HashEmbedding(16))
