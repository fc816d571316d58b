"""The adapter's translations: relevance, embedder naming and wrapping, search types."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from mira_vectorstores.engine import ConfigError, ObjectInfo, RecordId, ScoreBreakdown, SearchHit, SearchMode
from mira_vectorstores.langchain import _convert


def hit(dense=None, lexical=None, fused=None, boost=1.0, score=0.0, obj=None):
    scores = ScoreBreakdown(dense=dense, lexical=lexical, fused=fused, boost=boost)
    return SearchHit(RecordId("x"), "text", {"k": 1}, score, scores, obj)


finite = st.floats(allow_nan=False, allow_infinity=False, width=32)


@given(dense=st.none() | st.floats(-1.5, 1.5), lexical=st.none() | st.floats(0, 1e6), fused=st.none() | finite)
def test_relevance_is_always_in_unit_interval(dense, lexical, fused):
    assert 0.0 <= _convert.to_relevance(hit(dense, lexical, fused)) <= 1.0


@given(a=st.floats(-1, 1), b=st.floats(-1, 1))
def test_dense_relevance_keeps_cosine_order(a, b):
    if a < b:
        assert _convert.to_relevance(hit(dense=a)) <= _convert.to_relevance(hit(dense=b))


@given(a=st.floats(0, 1e6), b=st.floats(0, 1e6))
def test_keyword_relevance_keeps_bm25_order(a, b):
    if a < b:
        assert _convert.to_relevance(hit(lexical=a)) <= _convert.to_relevance(hit(lexical=b))


def test_relevance_values():
    assert _convert.to_relevance(hit(dense=1.0)) == 1.0
    assert _convert.to_relevance(hit(dense=0.0)) == 0.5
    assert _convert.to_relevance(hit(dense=-1.0)) == 0.0
    assert _convert.to_relevance(hit(dense=1.0000001)) == 1.0
    assert _convert.to_relevance(hit(lexical=3.0)) == 0.75
    # fused scores and boosts order results; they do not change relevance
    assert _convert.to_relevance(hit(dense=0.2, lexical=5.0, fused=0.03, boost=3.0, score=0.09)) == pytest.approx(0.6)
    assert _convert.to_relevance(hit()) == 0.0


def test_to_document_adds_object_info_only_for_objects():
    info = ObjectInfo(content_type="application/json", codec="json", size=7, sha256="ab")
    assert _convert.to_document(hit()).metadata == {"k": 1}
    assert _convert.to_document(hit(obj=info)).metadata == {
        "k": 1,
        "mira_object": {"content_type": "application/json", "codec": "json", "size": 7, "sha256": "ab"},
    }


class ApiEmbeddings(Embeddings):
    def __init__(self, model: str, api_key: str, max_retries: int) -> None:
        self.model, self.api_key, self.max_retries = model, api_key, max_retries
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [[1.0, 2.0, 3.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        return [1.0, 2.0, 3.0]


def test_embedder_name_identifies_class_and_model_only():
    a = _convert.embedder_name(ApiEmbeddings("m-1", api_key="secret", max_retries=2))
    assert a == f"langchain:{ApiEmbeddings.__module__.split('.')[0]}.ApiEmbeddings(model=m-1)"
    assert a == _convert.embedder_name(ApiEmbeddings("m-1", api_key="other", max_retries=9))
    assert a != _convert.embedder_name(ApiEmbeddings("m-2", api_key="secret", max_retries=2))
    assert _convert.embedder_name(DeterministicFakeEmbedding(size=6)) == (
        "langchain:langchain_core.DeterministicFakeEmbedding(size=6)"
    )


def test_langchain_embedder_probes_dimension_once_and_returns_float32():
    embeddings = ApiEmbeddings("m", api_key="k", max_retries=0)
    embedder = _convert.LangChainEmbedder(embeddings)
    assert (embedder.dimension, embedder.dimension) == (3, 3)
    assert embeddings.calls == 1
    out = embedder.embed_documents(["a", "b"])
    assert out.dtype == np.float32
    assert out.shape == (2, 3)
    assert embedder.embed_documents([]).shape == (0, 3)
    assert embedder.embed_query("q").shape == (3,)
    assert _convert.LangChainEmbedder(embeddings, name="n", dimension=3).name == "n"


def test_search_options_translate_langchain_names():
    options = _convert.search_options(3, {"filter": {"a": 1}, "fusion": "rrf", "alpha": None}, mode=SearchMode.DENSE)
    assert options == {"k": 3, "mode": SearchMode.DENSE, "where": {"a": 1}, "fusion": "rrf"}
    assert _convert.search_options(3, {"mode": "lexical"}, mode=SearchMode.DENSE)["mode"] is SearchMode.LEXICAL
    assert _convert.needs_vector("q", {"mode": SearchMode.LEXICAL}) is False
    assert _convert.needs_vector("q", {"mode": SearchMode.LEXICAL, "mmr_lambda": 0.5}) is True
    assert _convert.needs_vector("q", {"mode": SearchMode.HYBRID}) is True
    # No query text, or a blank one (which the engine refuses): nothing to embed.
    assert _convert.needs_vector(None, {"mode": SearchMode.HYBRID}) is False
    assert _convert.needs_vector("  ", {"mode": SearchMode.HYBRID}) is False


def test_parse_search_type_lists_valid_values():
    assert _convert.parse_search_type("keyword") is _convert.SearchType.KEYWORD
    with pytest.raises(ConfigError, match="'similarity', 'similarity_score_threshold', 'mmr', 'hybrid', 'keyword'"):
        _convert.parse_search_type("bm25")


def test_write_request_fills_missing_ids():
    request = _convert.write_request(iter(["a", "b", "c"]), None, ["x", None, ""], {})
    assert request["texts"] == ["a", "b", "c"]
    assert request["ids"][0] == "x"
    assert all(request["ids"])
    assert len(set(request["ids"])) == 3
