"""Small fakes shared across tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mira_vectorstores import HashingEmbedder

#: Metadata both adapters refuse, as the engine does (one rule for all).
BAD_METADATA = {
    "nested dict": {"a": {"b": 1}},
    "empty list": {"a": []},
    "mixed list": {"a": [1, "one"]},
    "reserved key": {"_mira_x": 1},
    "operator key": {"$x": 1},
}


@dataclass
class CountingEmbedder:
    """A HashingEmbedder that counts the texts it embeds."""

    dimension: int = 64
    embedded: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._inner = HashingEmbedder(self.dimension)
        self.name = self._inner.name

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)


def unit_vectors(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Random unit vectors, float32."""
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
