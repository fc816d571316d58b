"""Test helpers for the LlamaIndex adapter: a deterministic hashing embedding and a small corpus."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from mira_vectorstores import HashingEmbedder


class HashEmbedding(BaseEmbedding):
    """The engine's HashingEmbedder as a LlamaIndex BaseEmbedding (bag of words, no model).

    Counts its calls, and its async methods really yield to the event loop.
    """

    dimension: int = 64
    _inner: HashingEmbedder = PrivateAttr()
    _calls: dict[str, int] = PrivateAttr(default_factory=dict)

    def __init__(self, dimension: int = 64, **kwargs: Any) -> None:
        super().__init__(dimension=dimension, model_name=f"hash-{dimension}", **kwargs)
        self._inner = HashingEmbedder(dimension)
        self._calls = {"sync": 0, "async": 0}

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    @property
    def calls(self) -> dict[str, int]:
        return self._calls

    def vector(self, text: str) -> list[float]:
        return [float(x) for x in self._inner.embed_query(text)]

    def _get_query_embedding(self, query: str) -> list[float]:
        self._calls["sync"] += 1
        return self.vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        self._calls["sync"] += 1
        return self.vector(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        self._calls["async"] += 1
        await asyncio.sleep(0)
        return self.vector(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        self._calls["async"] += 1
        await asyncio.sleep(0)
        return self.vector(text)


#: id, text, metadata, ref doc id. Metadata is chosen so that every filter operator has a
#: small known answer (see test_llama_filters.py).
CORPUS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "n0",
        "the cat sat on the warm mat",
        {"animal": "cat", "legs": 4, "weight": 4.5, "tags": ["pet", "indoor"], "title": "Warm Mat Story"},
        "docA",
    ),
    (
        "n1",
        "dogs bark at the mail carrier",
        {"animal": "dog", "legs": 4, "weight": 30.0, "tags": ["pet", "outdoor"], "title": "The Mail Carrier"},
        "docA",
    ),
    (
        "n2",
        "a cat and a dog became friends",
        {"animal": "cat", "legs": 4, "weight": 5, "tags": ["pet"], "title": "friends forever", "note": ""},
        "docA",
    ),
    (
        "n3",
        "quantum computers factor large numbers",
        {"topic": "physics", "legs": 0, "weight": 1000, "tags": ["science"], "title": "Quantum Leap", "note": "key"},
        "docB",
    ),
    (
        "n4",
        "the stock market fell sharply today",
        {"topic": "finance", "legs": 0, "tags": ["news", "money"], "title": "market crash", "note": None},
        "docB",
    ),
    (
        "n5",
        "fresh bread from the bakery smells great",
        {
            "topic": "food",
            "legs": 0,
            "weight": 0.5,
            "tags": ["food", "indoor"],
            "title": "Bakery NEWS",
            "chef": '{"name": "Ana", "stars": [1, 2]}',  # nested data serialised: the engine's metadata rule
        },
        "docC",
    ),
]
IDS = [row[0] for row in CORPUS]


def corpus_nodes(embed: HashEmbedding | None = None) -> list[TextNode]:
    """The corpus as TextNodes, embedded from their text when ``embed`` is given."""
    nodes = []
    for node_id, text, metadata, ref_doc in CORPUS:
        nodes.append(
            TextNode(
                id_=node_id,
                text=text,
                metadata=dict(metadata),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=ref_doc)},
                embedding=None if embed is None else embed.vector(text),
            )
        )
    return nodes
