"""Request building shared by each sync/async pair of ``MiraVectorStore``.

LlamaIndex arguments in, ``HybridStore`` keyword arguments out: no I/O and no engine calls, so
the sync method and its async twin cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery

from mira_vectorstores.engine import BoostRule, ConfigError, FusionMethod, InvalidInputError, SearchMode, check_list
from mira_vectorstores.llama_index import _convert
from mira_vectorstores.llama_index._filters import and_where, to_where

#: LlamaIndex's own default MMR threshold (``get_top_k_mmr_embeddings``).
DEFAULT_MMR_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """Engine options a query may add to ``VectorStoreQuery``.

    They are passed as keyword arguments of ``query`` / ``aquery`` (``VectorIndexRetriever``
    forwards its ``vector_store_kwargs`` there); any other keyword is an error.

    Attributes:
        fusion: how hybrid rankings are fused (default: the store's ``FusionConfig.method``,
            weighted min-max unless the store was configured otherwise).
        boosts: a list of boost rules replacing the store's defaults (``[]`` for none).
        mmr_threshold: MMR's lambda when ``VectorStoreQuery.mmr_threshold`` is unset
            (1 = relevance only, 0 = diversity only; default 0.5).
        fetch_k: candidates taken (per side) before fusion, boosts and MMR, at least the hits
            returned; default: the engine's (``max(10 * k, 200)`` when anything can reorder the
            top k). HYBRID's ``hybrid_top_k`` form sets the per-side candidates itself.
        where: a Chroma ``where`` filter, as ChromaVectorStore takes it through
            ``vector_store_kwargs``; combined with ``VectorStoreQuery.filters`` by ``$and``
            (ChromaVectorStore refuses the two together).
        where_document: a Chroma ``where_document`` filter.
        mmr_prefetch_k: MMR candidates (ChromaVectorStore's name for ``fetch_k`` in MMR mode).
        mmr_prefetch_factor: MMR candidates as a multiple of ``similarity_top_k``
            (ChromaVectorStore's default is 4; ours is the engine's ``fetch_k``).

    Raises:
        ConfigError: for a ``fetch_k`` or ``mmr_prefetch_k`` that is not an int >= 1, a
            ``mmr_prefetch_factor`` that is not a positive number, or both MMR prefetch options.
    """

    fusion: FusionMethod | None = None
    boosts: Sequence[BoostRule] | None = None
    mmr_threshold: float | None = None
    fetch_k: int | None = None
    where: Mapping[str, Any] | None = None
    where_document: Mapping[str, Any] | None = None
    mmr_prefetch_k: int | None = None
    mmr_prefetch_factor: float | None = None

    def __post_init__(self) -> None:
        check_top_k("fetch_k", self.fetch_k, error=ConfigError)
        check_top_k("mmr_prefetch_k", self.mmr_prefetch_k, error=ConfigError)
        factor = self.mmr_prefetch_factor
        if factor is not None and (isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0):
            msg = f"mmr_prefetch_factor must be a number > 0, got {factor!r}"
            raise ConfigError(msg)
        if factor is not None and self.mmr_prefetch_k is not None:
            msg = "give mmr_prefetch_k or mmr_prefetch_factor, not both"
            raise ConfigError(msg)

    def candidates(self, k: int) -> int | None:
        """Candidates per side: ``fetch_k``, else the MMR prefetch options, else ``None`` (the engine's)."""
        if self.fetch_k is not None:
            return self.fetch_k
        if self.mmr_prefetch_k is not None:
            return self.mmr_prefetch_k
        return None if self.mmr_prefetch_factor is None else max(k, int(k * self.mmr_prefetch_factor))

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> QueryOptions:
        """Build the options from ``query(**kwargs)``.

        Raises:
            ConfigError: for an unknown keyword.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(kwargs) - set(known))
        if unknown:
            msg = f"unknown query options {unknown}; MiraVectorStore.query accepts {known}"
            raise ConfigError(msg)
        return cls(**kwargs)


# -- search, get and delete ---------------------------------------------------------------
def search_request(query: VectorStoreQuery, options: QueryOptions) -> dict[str, Any]:
    """The ``HybridStore.search`` arguments of a ``VectorStoreQuery``.

    * ``mode``: DEFAULT is dense; SPARSE and TEXT_SEARCH are BM25 over ``query_str``; HYBRID
      fuses both (``alpha`` weighs the dense side, 1 = dense only); MMR is dense re-ranked by
      MMR with lambda ``mmr_threshold``. Other modes raise ``ConfigError``.
    * ``similarity_top_k`` hits are returned. In HYBRID mode with ``hybrid_top_k`` set, LlamaIndex's
      three numbers apply: ``similarity_top_k`` dense candidates, ``sparse_top_k`` (default
      ``similarity_top_k``) lexical candidates, ``hybrid_top_k`` hits. Without it, ``sparse_top_k``
      only sets the lexical candidates. In SPARSE / TEXT_SEARCH mode ``sparse_top_k``, when set,
      is the number of hits.
      Each side takes at least as many candidates as the hits returned, so the union of the two
      fills the hits whenever enough nodes are allowed: a smaller ``similarity_top_k`` or
      ``sparse_top_k`` only counts when it is larger.
    * ``node_ids`` and ``doc_ids`` (the nodes' ``ref_doc_id``) restrict the candidates before
      ranking, together with ``filters``. An empty list does not restrict, as in LlamaIndex's
      other stores: ``VectorStoreIndex.as_retriever`` passes ``node_ids=[]`` for a store that
      keeps the text (its index struct lists no nodes).
    * ``output_fields`` and ``embedding_field`` do not apply: whole nodes are returned.

    Raises:
        InvalidInputError: for a top-k that is not an int >= 1, or ``node_ids`` / ``doc_ids``
            that are not lists of strings.
        ConfigError: for a query mode the store cannot run.
    """
    mode, mmr = _convert.to_search_mode(query.mode)
    for name in ("similarity_top_k", "sparse_top_k", "hybrid_top_k"):
        check_top_k(name, getattr(query, name))
    k, fetch_k, lexical_fetch_k = _depths(query, mode)
    node_ids = None if query.node_ids is None else check_list(query.node_ids, "node_ids", of="strings")
    doc_ids = None if query.doc_ids is None else check_list(query.doc_ids, "doc_ids", of="strings")
    doc_filter: dict[str, object] | None = None
    if doc_ids:
        doc_filter = {_convert.REF_DOC_ID_KEY: {"$in": doc_ids}}
    mmr_lambda = None
    if mmr:
        given = query.mmr_threshold if query.mmr_threshold is not None else options.mmr_threshold
        mmr_lambda = DEFAULT_MMR_THRESHOLD if given is None else given
    return {
        # "" asks for no text in a dense query (search by the embedding); elsewhere it is an empty query.
        "query": (query.query_str or None) if mode is SearchMode.DENSE else query.query_str,
        "vector": None if mode is SearchMode.LEXICAL else query.query_embedding,
        "k": k,
        "where": and_where(to_where(query.filters), doc_filter, dict(options.where) if options.where else None),
        "where_document": dict(options.where_document) if options.where_document else None,
        "mode": mode,
        "fusion": options.fusion,
        "alpha": query.alpha,
        "boosts": options.boosts,
        "fetch_k": options.candidates(k) if fetch_k is None else fetch_k,
        "lexical_fetch_k": lexical_fetch_k,
        "mmr_lambda": mmr_lambda,
        "ids": node_ids or None,
    }


def _depths(query: VectorStoreQuery, mode: SearchMode) -> tuple[int, int | None, int | None]:
    """(hits, dense candidates, lexical candidates); ``None`` leaves the engine's default."""
    if mode is SearchMode.HYBRID and query.hybrid_top_k is not None:
        return query.hybrid_top_k, query.similarity_top_k, query.sparse_top_k or query.similarity_top_k
    if mode is SearchMode.HYBRID:
        return query.similarity_top_k, None, query.sparse_top_k
    if mode is SearchMode.LEXICAL:
        return query.sparse_top_k or query.similarity_top_k, None, None
    return query.similarity_top_k, None, None


def shared_options(requests: Sequence[Mapping[str, Any]], *, can_embed: bool) -> dict[str, Any] | None:
    """The search options every request shares besides its text and vector, or ``None`` when
    they differ or one of them is a listing (``is_listing``): such requests run one by one.
    """
    if not requests or any(is_listing(r, can_embed=can_embed) for r in requests):
        return None
    options = [{key: value for key, value in r.items() if key not in ("query", "vector")} for r in requests]
    return options[0] if all(o == options[0] for o in options) else None


def needs_vector(request: Mapping[str, Any]) -> bool:
    return request["mode"] in (SearchMode.DENSE, SearchMode.HYBRID)


def is_listing(request: Mapping[str, Any], *, can_embed: bool) -> bool:
    """Whether a search request is a dense (or MMR) one with no vector and no way to make one
    (no embedder, or no ``query_str``): ChromaVectorStore answers those with the records that
    pass the filters, and so does ``MiraVectorStore.query`` (``listing``). A whitespace-only
    ``query_str`` is left to the engine, which refuses it by name.
    """
    text = request["query"]
    if request["mode"] is not SearchMode.DENSE or request["vector"] is not None:
        return False
    return text is None or (not can_embed and isinstance(text, str) and bool(text.strip()))


def listing(request: Mapping[str, Any]) -> dict[str, Any]:
    """The ``HybridStore.get`` arguments of a request ``is_listing`` accepts: its filters, ids and top k."""
    return {
        "ids": request["ids"],
        "where": request["where"],
        "where_document": request["where_document"],
        "limit": request["k"],
    }


def selection(
    method: str,
    node_ids: Sequence[str] | None,
    filters: MetadataFilters | None,
    kwargs: Mapping[str, Any],
    *,
    required: bool = True,
) -> dict[str, Any]:
    """``ids`` / ``where`` arguments of ``get`` and ``delete``.

    Raises:
        InvalidInputError: for ``node_ids`` that are not a list (a single id goes in a list),
            or a delete with neither ids nor filters.
    """
    no_options(method, kwargs)
    where = to_where(filters)
    if required and node_ids is None and where is None:
        msg = f"{method} needs node_ids or filters; call clear() to delete every node"
        raise InvalidInputError(msg)
    return {"ids": None if node_ids is None else check_list(node_ids, "node_ids", of="strings"), "where": where}


def ref_doc_where(ref_doc_id: str, kwargs: Mapping[str, Any]) -> dict[str, object]:
    no_options("delete", kwargs)
    if not isinstance(ref_doc_id, str):
        msg = f"ref_doc_id must be a str, got {type(ref_doc_id).__name__}"
        raise InvalidInputError(msg)
    return {_convert.REF_DOC_ID_KEY: ref_doc_id}


def no_options(method: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        msg = f"MiraVectorStore.{method} takes no extra options, got {sorted(kwargs)}"
        raise ConfigError(msg)


def check_nodes(nodes: object) -> list[BaseNode]:
    """The nodes of an ``add``: a list of ``BaseNode``.

    Raises:
        InvalidInputError: for a single node (or str) where a list is expected, or an item
            that is not a node.
    """
    checked = check_list(nodes, "nodes", of="nodes", single=(BaseNode,))
    for i, node in enumerate(checked):
        if not isinstance(node, BaseNode):
            msg = f"nodes[{i}] must be a LlamaIndex node (TextNode, Document, ...), got {type(node).__name__}"
            raise InvalidInputError(msg)
    return checked


def check_top_k(name: str, value: object, *, error: type[Exception] = InvalidInputError) -> None:
    """A top-k or candidate count: ``None`` (unset) or an int >= 1.

    Raises:
        InvalidInputError: (or ``error``) naming the field and what it accepts.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        msg = f"{name} must be an int >= 1, got {value!r}"
        raise error(msg)


def texts_to_embed(nodes: Sequence[BaseNode]) -> list[str]:
    """What LlamaIndex would embed, for the nodes that arrive without an embedding."""
    return [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes if node.embedding is None]
