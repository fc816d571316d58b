"""Tests of ``engine/config.py``: every validation error, and enums given as strings."""

from __future__ import annotations

import dataclasses
import re

import pytest

from mira_vectorstores.engine.config import (
    ChromaConfig,
    FaissConfig,
    FusionConfig,
    LexicalConfig,
    ServerConfig,
    StoreConfig,
    enum_value,
)
from mira_vectorstores.engine.errors import ConfigError
from mira_vectorstores.engine.types import FusionMethod, IndexKind, SearchMode


# ----------------------------------------------------------------------------- enums
@pytest.mark.parametrize(
    ("given", "member"), [("hnsw", IndexKind.HNSW), ("flat", IndexKind.FLAT), (IndexKind.IVF, IndexKind.IVF)]
)
def test_faiss_index_kind_accepts_strings_and_members(given: object, member: IndexKind) -> None:
    config = FaissConfig(index_kind=given)  # type: ignore[arg-type]
    assert config.index_kind is member


def test_fusion_config_accepts_strings() -> None:
    config = FusionConfig(mode="hybrid", method="dbsf")  # type: ignore[arg-type]
    assert config.mode is SearchMode.HYBRID
    assert config.method is FusionMethod.DBSF


@pytest.mark.parametrize("value", ["HNSW", "hnswlib", "", None, 3])
def test_unknown_index_kind_lists_the_valid_ones(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        FaissConfig(index_kind=value)  # type: ignore[arg-type]
    message = str(info.value)
    assert "FaissConfig.index_kind must be one of 'auto', 'flat', 'hnsw', 'ivf'" in message
    assert repr(value) in message


def test_unknown_search_mode_lists_the_valid_ones() -> None:
    valid = "'dense', 'lexical', 'hybrid', 'auto'"
    with pytest.raises(ConfigError, match=f"FusionConfig.mode must be one of {valid}, got 'mmr'"):
        FusionConfig(mode="mmr")  # type: ignore[arg-type]


def test_unknown_fusion_method_lists_the_valid_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"FusionConfig\.method must be one of 'rrf', 'weighted', 'dbsf', 'tm2c2', 'absolute', got 'sum'",
    ):
        FusionConfig(method="sum")  # type: ignore[arg-type]


def test_enum_value_helper() -> None:
    assert enum_value(SearchMode, "dense", "x") is SearchMode.DENSE
    with pytest.raises(ConfigError, match=r"where\.mode must be one of"):
        enum_value(SearchMode, "sparse", "where.mode")


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"hnsw_m"):
        FaissConfig(hnsw_m=0)


# ----------------------------------------------------------------------------- FaissConfig
def test_faiss_config_defaults() -> None:
    config = FaissConfig()
    assert config.index_kind is IndexKind.AUTO
    assert config.hnsw_threshold == 20_000


@pytest.mark.parametrize(
    "name", ["hnsw_threshold", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nlist", "ivf_nprobe"]
)
@pytest.mark.parametrize("value", [0, -1])
def test_faiss_positive_fields(name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f"FaissConfig.{name} must be > 0, got {value}"):
        FaissConfig(**{name: value})  # type: ignore[arg-type]
    assert getattr(FaissConfig(**{name: 1}), name) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.01, 1.5, float("nan")])
def test_faiss_exact_scan_fraction_in_unit_interval(value: float) -> None:
    with pytest.raises(ConfigError, match=r"FaissConfig.exact_scan_fraction must be in \[0, 1\]"):
        FaissConfig(exact_scan_fraction=value)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_faiss_exact_scan_fraction_bounds_are_allowed(value: float) -> None:
    assert FaissConfig(exact_scan_fraction=value).exact_scan_fraction == value


def test_faiss_exact_scan_max_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="exact_scan_max"):
        FaissConfig(exact_scan_max=-1)


def test_configs_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        FaissConfig().hnsw_m = 8  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        FusionConfig().alpha = 0.1  # type: ignore[misc]


# ----------------------------------------------------------------------------- LexicalConfig
@pytest.mark.parametrize(("k1", "b"), [(0.0, 0.75), (-1.0, 0.75), (1.5, -0.1), (1.5, 1.01)])
def test_lexical_config_k1_and_b(k1: float, b: float) -> None:
    with pytest.raises(ConfigError, match=rf"LexicalConfig needs k1 > 0 and 0 <= b <= 1, got k1={k1}, b={b}"):
        LexicalConfig(k1=k1, b=b)


def test_lexical_config_refuses_nan_k1() -> None:
    with pytest.raises(ConfigError, match="k1 > 0"):
        LexicalConfig(k1=float("nan"))


def test_lexical_config_accepts_bounds_and_no_stemming() -> None:
    config = LexicalConfig(stemmer=None, stopwords=None, k1=0.1, b=0.0)
    assert (config.stemmer, config.stopwords, config.b) == (None, None, 0.0)
    assert LexicalConfig(b=1.0).b == 1.0


# ----------------------------------------------------------------------------- FusionConfig
@pytest.mark.parametrize("value", [0, -60])
def test_fusion_rrf_k_positive(value: int) -> None:
    with pytest.raises(ConfigError, match=f"FusionConfig.rrf_k must be > 0, got {value}"):
        FusionConfig(rrf_k=value)


@pytest.mark.parametrize("value", [-0.1, 1.1, float("nan")])
def test_fusion_alpha_in_unit_interval(value: float) -> None:
    with pytest.raises(ConfigError, match=r"FusionConfig.alpha must be in \[0, 1\]"):
        FusionConfig(alpha=value)


@pytest.mark.parametrize("value", [0, -5])
def test_fusion_fetch_k_positive_or_none(value: int) -> None:
    with pytest.raises(ConfigError, match=f"FusionConfig.fetch_k must be > 0 or None, got {value}"):
        FusionConfig(fetch_k=value)
    assert FusionConfig(fetch_k=None).fetch_k is None
    assert FusionConfig(fetch_k=1).fetch_k == 1


def test_fusion_config_defaults() -> None:
    config = FusionConfig()
    assert (config.mode, config.method, config.rrf_k, config.alpha) == (
        SearchMode.AUTO,
        FusionMethod.ABSOLUTE,
        60,
        None,
    )
    # Each method's own dense weight, measured on SciFact train; an explicit alpha wins.
    assert config.alpha_for(FusionMethod.ABSOLUTE) == 0.45
    assert config.alpha_for(FusionMethod.WEIGHTED) == 0.5
    assert FusionConfig(alpha=0.7).alpha_for(FusionMethod.ABSOLUTE) == 0.7


# ----------------------------------------------------------------------------- StoreConfig
def test_store_config_refresh_interval() -> None:
    with pytest.raises(ConfigError, match=r"StoreConfig\.refresh_interval must be a number >= 0 or None, got -1"):
        StoreConfig(refresh_interval=-1)
    assert StoreConfig(refresh_interval=0).refresh_interval == 0
    assert StoreConfig().refresh_interval is None


def test_store_config_holds_one_config_per_concern() -> None:
    faiss, fusion = FaissConfig(index_kind="flat"), FusionConfig(method="weighted")  # type: ignore[arg-type]
    config = StoreConfig(faiss=faiss, fusion=fusion)
    assert config.faiss.index_kind is IndexKind.FLAT
    assert config.fusion.method is FusionMethod.WEIGHTED
    assert config.lexical == LexicalConfig()


# ----------------------------------------------------------------------------- Chroma's own index
@pytest.mark.parametrize(
    ("field", "value"), [("hnsw_max_neighbors", 1), ("hnsw_ef_construction", 0), ("hnsw_max_neighbors", True)]
)
def test_chroma_config_rejects_degenerate_graphs(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"ChromaConfig.{field} must be an int >= 2, got {value!r}")):
        ChromaConfig(**{field: value})  # type: ignore[arg-type]


def test_a_new_collection_gets_the_configured_chroma_index() -> None:
    from mira_vectorstores.engine.storage.chroma import ChromaStorage

    config = ChromaConfig(hnsw_max_neighbors=6, hnsw_ef_construction=24)
    storage = ChromaStorage.open(name="chroma-config", path=None, host=None, port=0, config=config)
    try:
        hnsw = storage.collection.configuration["hnsw"]
        assert (hnsw["space"], hnsw["max_neighbors"], hnsw["ef_construction"]) == ("ip", 6, 24)
    finally:
        storage.drop()


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, r"ServerConfig\.timeout must be > 0 or None, got 0"),
        ({"connect_timeout": -1.0}, r"ServerConfig\.connect_timeout must be > 0"),
        ({"retries": -1}, r"ServerConfig\.retries must be an int >= 0, got -1"),
        ({"retries": True}, r"ServerConfig\.retries must be an int >= 0, got True"),
        ({"backoff": -0.5}, r"ServerConfig\.backoff must be >= 0"),
        ({"headers": {"X-Chroma-Token": 42}}, r"ServerConfig\.headers must map str to str"),
        ({"tenant": ""}, r"ServerConfig\.tenant must be a non-empty str"),
    ],
)
def test_server_config_names_the_bad_option(options: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        ServerConfig(**options)  # type: ignore[arg-type]


def test_server_config_url_says_the_scheme() -> None:
    assert ServerConfig().url("db.local", 8000) == "http://db.local:8000"
    assert ServerConfig(ssl=True).url("db.local", 443) == "https://db.local:443"
