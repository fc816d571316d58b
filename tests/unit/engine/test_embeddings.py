"""Tests of ``engine/embeddings.py``: the hashing embedder and the embedding cache (no model is loaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import CountingEmbedder

from mira_vectorstores.engine.embeddings import CachedEmbedder, Embedder, HashingEmbedder


# ----------------------------------------------------------------------------- HashingEmbedder
def test_hashing_embedder_is_deterministic() -> None:
    texts = ["cats and dogs", "the quick brown fox"]
    first = HashingEmbedder(64).embed_documents(texts)
    second = HashingEmbedder(64).embed_documents(texts)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(HashingEmbedder(64).embed_query("cats and dogs"), first[0])


def test_hashing_embedder_shape_dtype_and_name() -> None:
    embedder = HashingEmbedder(dimension=32)
    vectors = embedder.embed_documents(["a b", "c", "d e f"])
    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    assert embedder.embed_query("a b").shape == (32,)
    assert embedder.dimension == 32
    assert embedder.name == "hashing-32"
    assert HashingEmbedder().dimension == 384


def test_hashing_embedder_vectors_have_unit_norm() -> None:
    texts = ["one", "two words", "a longer sentence with repeated repeated words"]
    vectors = HashingEmbedder(64).embed_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), np.ones(3), rtol=1e-6)


def test_hashing_embedder_shared_words_are_closer_than_disjoint_words() -> None:
    embedder = HashingEmbedder(256)
    query = embedder.embed_query("neural network training")
    shared = embedder.embed_query("training a neural network quickly")
    disjoint = embedder.embed_query("sourdough bread recipe")
    assert float(query @ shared) > float(query @ disjoint)
    assert float(query @ shared) > 0.5


def test_hashing_embedder_ignores_case_and_punctuation() -> None:
    embedder = HashingEmbedder(64)
    np.testing.assert_array_equal(embedder.embed_query("Hello, World!"), embedder.embed_query("hello world"))


@pytest.mark.parametrize("text", ["", "   ", "!?."])
def test_hashing_embedder_empty_text_gives_a_unit_vector(text: str) -> None:
    vector = HashingEmbedder(16).embed_query(text)
    assert np.isfinite(vector).all()
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0)


def test_hashing_embedder_empty_batch() -> None:
    assert HashingEmbedder(8).embed_documents([]).shape == (0, 8)


@pytest.mark.parametrize("dimension", [0, -4])
def test_hashing_embedder_refuses_non_positive_dimension(dimension: int) -> None:
    with pytest.raises(ValueError, match="dimension must be > 0"):
        HashingEmbedder(dimension)


def test_hashing_embedder_is_an_embedder() -> None:
    assert isinstance(HashingEmbedder(8), Embedder)
    assert isinstance(CachedEmbedder(HashingEmbedder(8)), Embedder)


# ----------------------------------------------------------------------------- CachedEmbedder
def test_cached_embedder_second_call_does_not_call_the_inner_embedder() -> None:
    inner = CountingEmbedder(dimension=16)
    cached = CachedEmbedder(inner)
    first = cached.embed_documents(["alpha", "beta"])
    assert inner.embedded == ["alpha", "beta"]
    second = cached.embed_documents(["beta", "alpha"])
    assert inner.embedded == ["alpha", "beta"]
    np.testing.assert_array_equal(second, first[[1, 0]])
    assert (cached.hits, cached.misses) == (2, 2)


def test_cached_embedder_embeds_only_new_texts_once() -> None:
    inner = CountingEmbedder(dimension=16)
    cached = CachedEmbedder(inner)
    cached.embed_documents(["alpha"])
    out = cached.embed_documents(["alpha", "gamma", "gamma", "delta"])
    assert inner.embedded == ["alpha", "gamma", "delta"]
    np.testing.assert_array_equal(out[1], out[2])
    assert out.shape == (4, 16)


def test_cached_embedder_results_equal_the_inner_embedders() -> None:
    texts = ["alpha beta", "gamma", "", "alpha beta"]
    reference = HashingEmbedder(16).embed_documents(texts)
    cached = CachedEmbedder(HashingEmbedder(16))
    np.testing.assert_array_equal(cached.embed_documents(texts), reference)
    np.testing.assert_array_equal(cached.embed_documents(texts), reference)  # from cache
    np.testing.assert_array_equal(cached.embed_query("gamma"), reference[1])


def test_cached_embedder_query_uses_the_cache() -> None:
    inner = CountingEmbedder(dimension=16)
    cached = CachedEmbedder(inner)
    cached.embed_query("alpha")
    cached.embed_query("alpha")
    assert inner.embedded == ["alpha"]


def test_cached_embedder_keeps_inner_name_and_dimension() -> None:
    cached = CachedEmbedder(HashingEmbedder(24))
    assert (cached.name, cached.dimension) == ("hashing-24", 24)


def test_cached_embedder_empty_batch_does_not_call_inner() -> None:
    inner = CountingEmbedder(dimension=8)
    out = CachedEmbedder(inner).embed_documents([])
    assert out.shape == (0, 8)
    assert inner.embedded == []


def test_cached_embedder_sqlite_cache_survives_a_new_instance(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "embeddings.sqlite"
    first_inner = CountingEmbedder(dimension=16)
    first = CachedEmbedder(first_inner, path=path).embed_documents(["alpha", "beta"])
    assert path.exists()
    second_inner = CountingEmbedder(dimension=16)
    second_cache = CachedEmbedder(second_inner, path=path)
    second = second_cache.embed_documents(["beta", "alpha", "new"])
    assert second_inner.embedded == ["new"]
    np.testing.assert_array_equal(second[:2], first[[1, 0]])
    np.testing.assert_array_equal(second, HashingEmbedder(16).embed_documents(["beta", "alpha", "new"]))
    assert (second_cache.hits, second_cache.misses) == (2, 1)


def test_cached_embedder_sqlite_handles_more_than_one_lookup_chunk(tmp_path: Path) -> None:
    texts = [f"text {i}" for i in range(1200)]  # above the 500-key lookup chunk
    path = tmp_path / "big.sqlite"
    CachedEmbedder(HashingEmbedder(8), path=path).embed_documents(texts)
    inner = CountingEmbedder(dimension=8)
    out = CachedEmbedder(inner, path=path).embed_documents(texts)
    assert inner.embedded == []
    np.testing.assert_array_equal(out, HashingEmbedder(8).embed_documents(texts))


def test_cached_embedder_key_includes_the_embedder_name(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    CachedEmbedder(HashingEmbedder(16), path=path).embed_documents(["alpha"])
    other = CountingEmbedder(dimension=8)  # another name: hashing-8
    out = CachedEmbedder(other, path=path).embed_documents(["alpha"])
    assert other.embedded == ["alpha"]
    assert out.shape == (1, 8)
