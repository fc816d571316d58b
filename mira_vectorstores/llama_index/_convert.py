"""LlamaIndex types <-> engine records: nodes, query modes, embeddings and the one similarity function.

A node is stored as one engine record: its id, its text (``MetadataMode.NONE``, which BM25
indexes), its vector, and metadata made of two parts. ``_node_content`` / ``_node_type`` hold
the whole node as JSON (LlamaIndex's own ``node_to_metadata_dict``), so relationships and
templates round-trip; the node's metadata is stored beside it as filterable fields, with
LlamaIndex's ``doc_id`` / ``ref_doc_id`` / ``document_id``. Those fields follow the engine's one
rule for metadata, as in the LangChain adapter: a value the engine cannot store and filter (a
nested dict, an empty list, a mixed list, a reserved key) raises ``InvalidInputError`` when the
node is added, instead of being silently unfilterable; serialise such values first (e.g.
``json.dumps``). ``None`` values are dropped; dates and times go to the engine as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, Document, MetadataMode, TextNode
from llama_index.core.vector_stores.types import VectorStoreQueryMode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from mira_vectorstores.engine import ConfigError, SearchHit, SearchMode

NODE_CONTENT_KEY = "_node_content"
NODE_TYPE_KEY = "_node_type"
#: The filterable field ``delete(ref_doc_id)`` and ``VectorStoreQuery.doc_ids`` use.
REF_DOC_ID_KEY = "ref_doc_id"
#: The keys ``node_to_metadata_dict`` adds to a node's own metadata.
LLAMA_KEYS = (NODE_CONTENT_KEY, NODE_TYPE_KEY, "document_id", "doc_id", REF_DOC_ID_KEY)

#: LlamaIndex query mode -> (engine mode, whether MMR re-ranks the hits).
MODES: dict[VectorStoreQueryMode, tuple[SearchMode, bool]] = {
    VectorStoreQueryMode.DEFAULT: (SearchMode.DENSE, False),
    VectorStoreQueryMode.SPARSE: (SearchMode.LEXICAL, False),
    VectorStoreQueryMode.TEXT_SEARCH: (SearchMode.LEXICAL, False),
    VectorStoreQueryMode.HYBRID: (SearchMode.HYBRID, False),
    VectorStoreQueryMode.MMR: (SearchMode.DENSE, True),
}


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node as the engine stores it."""

    id: str
    text: str
    metadata: dict[str, object]
    embedding: list[float] | None


def node_to_record(node: BaseNode) -> NodeRecord:
    """Turn a node into the record the engine stores (the engine validates its metadata)."""
    # TextNode kinds keep their text in the record's document only; other kinds (the
    # multimodal ``Node``) keep their whole resources in the JSON so they round-trip exactly.
    full = node_to_metadata_dict(node, remove_text=isinstance(node, TextNode), flat_metadata=False)
    # The node's own values, not their JSON forms (a datetime stays a datetime), then
    # LlamaIndex's keys, which win over user keys of the same name as in node_to_metadata_dict.
    metadata = {**node.metadata, **{key: full[key] for key in LLAMA_KEYS}}
    return NodeRecord(
        id=node.node_id,
        text=node.get_content(metadata_mode=MetadataMode.NONE),
        metadata=metadata,
        embedding=node.embedding,
    )


def record_to_node(record_id: str, document: str | None, metadata: Mapping[str, object]) -> BaseNode:
    """Rebuild the node of an engine record (a ``SearchHit`` or a ``Record``).

    A record written by this adapter comes back equal to the node that was added (embedding
    aside). A record written through the engine directly (``HybridStore.add`` or
    ``put_object``) becomes a ``TextNode`` with the record's id, text and metadata.
    """
    content = metadata.get(NODE_CONTENT_KEY)
    if not isinstance(content, str):
        return TextNode(id_=record_id, text=document or "", metadata=dict(metadata))
    node: BaseNode
    if metadata.get(NODE_TYPE_KEY) == Document.class_name():
        node = Document.from_json(content)  # metadata_dict_to_node would make it a TextNode
    else:
        node = metadata_dict_to_node(dict(metadata))
    if isinstance(node, TextNode) and document is not None:
        node.set_content(document)  # node_to_record left a TextNode's text out of the JSON
    for key, value in metadata.items():  # the JSON holds dates and times as text: take the engine's
        if isinstance(value, date) and key in node.metadata:
            node.metadata[key] = value
    return node


def hit_to_node(hit: SearchHit) -> BaseNode:
    """The node of a search hit."""
    return record_to_node(hit.id, hit.document, hit.metadata)


def to_relevance(hit: SearchHit) -> float:
    """The similarity LlamaIndex sees for a hit: higher is better.

    * dense (DEFAULT, MMR): ``(1 + cosine) / 2`` in [0, 1]; a boost scales it (the engine
      boosts a cosine's height above -1), and the result is clipped to 1;
    * lexical (SPARSE, TEXT_SEARCH): the BM25 score, >= 0 and unbounded, times any boost;
    * hybrid: the fused score times any boost: absolute fusion (the default) gives a value in
      [0, 1] on one scale in every query (``FusionConfig``); reciprocal-rank fusion gives
      ``sum(weight / (rrf_k + rank))`` (at most ``2 / (rrf_k + 1)``, about 0.033); weighted,
      DBSF and TM2C2 fusion give a value in [0, 1] rescaled per query.

    The order of the hits is the engine's in every mode.
    """
    parts = hit.scores
    if parts.fused is None and parts.dense is not None:
        return min(1.0, max(0.0, (1.0 + hit.score) / 2.0))
    return float(hit.score)


def to_search_mode(mode: VectorStoreQueryMode | str) -> tuple[SearchMode, bool]:
    """The engine mode of a LlamaIndex query mode, and whether MMR applies.

    Raises:
        ConfigError: for modes the engine cannot run (learners, semantic hybrid).
    """
    try:
        return MODES[VectorStoreQueryMode(mode)]
    except (ValueError, KeyError):
        valid = ", ".join(m.value for m in MODES)
        msg = f"query mode {mode!r} is not supported by MiraVectorStore; use one of {valid}"
        raise ConfigError(msg) from None


class LlamaEmbedder:
    """An engine ``Embedder`` backed by a LlamaIndex ``BaseEmbedding``.

    The store records the embedder's name (``llama-index:<class>:<model_name>``) and dimension;
    the dimension is measured with one probe embedding unless given.
    """

    def __init__(self, model: BaseEmbedding, *, dimension: int | None = None) -> None:
        """Wrap ``model``.

        Args:
            model: the LlamaIndex embedding model.
            dimension: its vector length; measured with one embedding when ``None``.
        """
        self.model = model
        self.name = f"llama-index:{model.class_name()}:{model.model_name}"
        self.dimension = dimension if dimension is not None else len(model.get_text_embedding("dimension probe"))

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents with the model's batching."""
        vectors = self.model.get_text_embedding_batch(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query."""
        return np.asarray(self.model.get_query_embedding(text), dtype=np.float32)
