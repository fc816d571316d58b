"""A LangChain ``Embeddings`` that returns precomputed vectors: ingest measures the stores, not a model.

It is its own module (imported only by the systems that need it) so that timing the imports of a
system in a fresh process does not find ``langchain_core`` already loaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
from langchain_core.embeddings import Embeddings
from numpy.typing import NDArray


class PassThroughEmbeddings(Embeddings):
    """Looks every text up in a table of precomputed vectors (the dataset's texts are unique).

    A text missing from the table (LangChain probes with one) gets a stable hashed unit vector.
    """

    def __init__(self, table: Mapping[str, NDArray[np.float32]], dimensions: int) -> None:
        self.table = table
        self.dimensions = dimensions

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return np.stack([self._vector(t) for t in texts]).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text).tolist()

    def _vector(self, text: str) -> NDArray[np.float32]:
        found = self.table.get(text)
        if found is not None:
            return found
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dimensions).astype(np.float32)
        return v / np.linalg.norm(v)
