"""The framework-free core: ``HybridStore`` and its configuration, value types and errors."""

from __future__ import annotations

from mira_vectorstores.engine.boosting import (
    BoostRule,
    FieldBoost,
    RecencyBoost,
    ThresholdBoost,
    boosts_from_json,
    boosts_to_json,
)
from mira_vectorstores.engine.config import FaissConfig, FusionConfig, LexicalConfig, StoreConfig, enum_value
from mira_vectorstores.engine.embeddings import CachedEmbedder, Embedder, HashingEmbedder, MiniLMEmbedder
from mira_vectorstores.engine.errors import (
    ConfigError,
    CorruptedObjectError,
    DimensionMismatchError,
    EmbeddingMismatchError,
    FilterError,
    IndexOutOfSyncError,
    InvalidInputError,
    MiraError,
    ObjectCodecError,
    RecordNotFoundError,
    StorageError,
    StoreUnavailableError,
    UnsafeDeserializationError,
)
from mira_vectorstores.engine.store import HybridStore
from mira_vectorstores.engine.types import (
    DuplicatePair,
    FusionMethod,
    IndexKind,
    ObjectInfo,
    Record,
    RecordId,
    ScoreBreakdown,
    SearchHit,
    SearchMode,
)

__all__ = [
    "BoostRule",
    "CachedEmbedder",
    "ConfigError",
    "CorruptedObjectError",
    "DimensionMismatchError",
    "DuplicatePair",
    "Embedder",
    "EmbeddingMismatchError",
    "FaissConfig",
    "FieldBoost",
    "FilterError",
    "FusionConfig",
    "FusionMethod",
    "HashingEmbedder",
    "HybridStore",
    "IndexKind",
    "IndexOutOfSyncError",
    "InvalidInputError",
    "LexicalConfig",
    "MiniLMEmbedder",
    "MiraError",
    "ObjectCodecError",
    "ObjectInfo",
    "RecencyBoost",
    "Record",
    "RecordId",
    "RecordNotFoundError",
    "ScoreBreakdown",
    "SearchHit",
    "SearchMode",
    "StorageError",
    "StoreConfig",
    "StoreUnavailableError",
    "ThresholdBoost",
    "UnsafeDeserializationError",
    "boosts_from_json",
    "boosts_to_json",
    "enum_value",
]
