"""``MiraRetriever``: a LlamaIndex retriever whose mode, fusion, boosts and filters are typed fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from typing_extensions import override

from mira_vectorstores.engine import (
    BoostRule,
    ConfigError,
    FieldBoost,
    FusionMethod,
    RecencyBoost,
    SearchMode,
    ThresholdBoost,
    check_list,
    enum_value,
)
from mira_vectorstores.llama_index import _convert, _requests
from mira_vectorstores.llama_index.vector_store import MiraVectorStore


class MiraRetriever(BaseRetriever):
    """Retrieve ``NodeWithScore`` from a ``MiraVectorStore`` in any mode, with fusion, boosts and filters.

    Scores follow ``MiraVectorStore.query``: dense similarity in [0, 1]; BM25 (SPARSE /
    TEXT_SEARCH) and fused (HYBRID) scores as documented there.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> from llama_index.core.vector_stores.types import VectorStoreQueryMode
        >>> from mira_vectorstores.engine import FieldBoost
        >>> store = MiraVectorStore.in_memory()
        >>> _ = store.add([TextNode(id_="a", text="red apples", metadata={"fresh": "no"}, embedding=[1.0, 0.0]),
        ...                TextNode(id_="b", text="red apples", metadata={"fresh": "yes"}, embedding=[0.0, 1.0])])
        >>> retriever = MiraRetriever(store, mode=VectorStoreQueryMode.TEXT_SEARCH, similarity_top_k=2,
        ...                           boosts=[FieldBoost("fresh", "yes", factor=2.0)])
        >>> [hit.node.node_id for hit in retriever.retrieve("apples")]
        ['b', 'a']
        >>> store.client.close()
    """

    vector_store: MiraVectorStore
    embed_model: BaseEmbedding | None
    similarity_top_k: int
    mode: VectorStoreQueryMode
    fusion: FusionMethod | None
    alpha: float | None
    boosts: list[BoostRule] | None
    filters: MetadataFilters | None
    node_ids: list[str] | None
    doc_ids: list[str] | None
    mmr_threshold: float | None
    sparse_top_k: int | None
    hybrid_top_k: int | None
    fetch_k: int | None

    def __init__(
        self,
        vector_store: MiraVectorStore,
        *,
        embed_model: BaseEmbedding | None = None,
        similarity_top_k: int = DEFAULT_SIMILARITY_TOP_K,
        mode: VectorStoreQueryMode | str = VectorStoreQueryMode.DEFAULT,
        fusion: FusionMethod | str | None = None,
        alpha: float | None = None,
        boosts: Sequence[BoostRule] | None = None,
        filters: MetadataFilters | None = None,
        node_ids: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        mmr_threshold: float | None = None,
        sparse_top_k: int | None = None,
        hybrid_top_k: int | None = None,
        fetch_k: int | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """Create the retriever; the fields mean what they mean in ``VectorStoreQuery``.

        Args:
            vector_store: the store to search.
            embed_model: embeds queries; ``None`` leaves it to the store's embedder (modes that
                need a vector then need a store opened with ``embed_model=``).
            similarity_top_k: hits to return (an int >= 1).
            mode: DEFAULT (dense), SPARSE / TEXT_SEARCH (BM25), HYBRID or MMR.
            fusion: how HYBRID fuses the rankings (default: the store's, weighted min-max).
            alpha: HYBRID's weight of the dense side (0 = BM25 only, 1 = dense only).
            boosts: boost rules replacing the store's defaults (``[]`` for none).
            filters: metadata filters, applied before ranking.
            node_ids: search only these nodes.
            doc_ids: search only the nodes of these documents (``ref_doc_id``).
            mmr_threshold: MMR's lambda (1 = relevance only, 0 = diversity only).
            sparse_top_k: lexical candidates in HYBRID mode; the hits in SPARSE mode.
            hybrid_top_k: hits in HYBRID mode (``similarity_top_k`` then counts dense candidates).
            fetch_k: candidates taken before fusion, boosts and MMR, at least the hits returned
                (default: the engine's).
            callback_manager: LlamaIndex callbacks.
            verbose: LlamaIndex's verbose flag.

        Raises:
            ConfigError: for a query mode the store cannot run, an unknown fusion method, a
                top-k or ``fetch_k`` that is not an int >= 1, or ``boosts`` that are not a list.
            InvalidInputError: for ``node_ids`` / ``doc_ids`` that are not lists of strings.
        """
        # Fail now, not at the first query.
        _convert.to_search_mode(mode)
        for name, value in (
            ("similarity_top_k", similarity_top_k),
            ("sparse_top_k", sparse_top_k),
            ("hybrid_top_k", hybrid_top_k),
            ("fetch_k", fetch_k),
        ):
            _requests.check_top_k(name, value, error=ConfigError)
        if isinstance(boosts, (Mapping, FieldBoost, ThresholdBoost, RecencyBoost)):
            kind = "dict" if isinstance(boosts, Mapping) else type(boosts).__name__
            msg = f"boosts must be a list of rules, got a single {kind}; wrap it in a list: boosts=[rule]"
            raise ConfigError(msg)
        self.vector_store = vector_store
        self.embed_model = embed_model
        self.similarity_top_k = similarity_top_k
        self.mode = VectorStoreQueryMode(mode)
        self.fusion = None if fusion is None else _fusion(fusion)
        self.alpha = alpha
        self.boosts = None if boosts is None else list(boosts)
        self.filters = filters
        self.node_ids = None if node_ids is None else check_list(node_ids, "node_ids", of="strings")
        self.doc_ids = None if doc_ids is None else check_list(doc_ids, "doc_ids", of="strings")
        self.mmr_threshold = mmr_threshold
        self.sparse_top_k = sparse_top_k
        self.hybrid_top_k = hybrid_top_k
        self.fetch_k = fetch_k
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    @override
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        embedding = query_bundle.embedding
        if embedding is None and self._needs_embedding(query_bundle):
            embedding = self.embed_model.get_agg_embedding_from_queries(query_bundle.embedding_strs)  # type: ignore[union-attr]
        return _scored(self.vector_store.query(self._query(query_bundle, embedding), **self._options()))

    @override
    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        embedding = query_bundle.embedding
        if embedding is None and self._needs_embedding(query_bundle):
            embedding = await self.embed_model.aget_agg_embedding_from_queries(query_bundle.embedding_strs)  # type: ignore[union-attr]
        return _scored(await self.vector_store.aquery(self._query(query_bundle, embedding), **self._options()))

    def retrieve_batch(self, queries: Sequence[str | QueryBundle]) -> list[list[NodeWithScore]]:
        """``retrieve`` of each query, answered together by the store's ``query_batch`` (one
        engine search for all; the store's embedder embeds them in one call when this retriever
        has no ``embed_model``). LlamaIndex's callback events are not sent.
        """
        bundles = [QueryBundle(query) if isinstance(query, str) else query for query in queries]
        vector_queries = []
        for bundle in bundles:
            embedding = bundle.embedding
            if embedding is None and self._needs_embedding(bundle):
                embedding = self.embed_model.get_agg_embedding_from_queries(bundle.embedding_strs)  # type: ignore[union-attr]
            vector_queries.append(self._query(bundle, embedding))
        return [_scored(result) for result in self.vector_store.query_batch(vector_queries, **self._options())]

    def _needs_embedding(self, query_bundle: QueryBundle) -> bool:
        dense_side = _convert.to_search_mode(self.mode)[0] is not SearchMode.LEXICAL
        # A blank query is refused by the engine: nothing to embed.
        has_text = any(text.strip() for text in query_bundle.embedding_strs)
        return self.embed_model is not None and dense_side and has_text

    def _query(self, query_bundle: QueryBundle, embedding: list[float] | None) -> VectorStoreQuery:
        return VectorStoreQuery(
            query_embedding=embedding,
            similarity_top_k=self.similarity_top_k,
            node_ids=self.node_ids,
            doc_ids=self.doc_ids,
            query_str=query_bundle.query_str,
            mode=self.mode,
            alpha=self.alpha,
            filters=self.filters,
            mmr_threshold=self.mmr_threshold,
            sparse_top_k=self.sparse_top_k,
            hybrid_top_k=self.hybrid_top_k,
        )

    def _options(self) -> dict[str, object]:
        return {"fusion": self.fusion, "boosts": self.boosts, "fetch_k": self.fetch_k}


def _fusion(value: FusionMethod | str) -> FusionMethod:
    return enum_value(FusionMethod, value, "fusion")


def _scored(result: VectorStoreQueryResult) -> list[NodeWithScore]:
    nodes = result.nodes or []
    # A query answered by a listing (no vector to rank by) has no similarities: no score.
    scores = result.similarities if result.similarities is not None else [None] * len(nodes)
    return [NodeWithScore(node=node, score=score) for node, score in zip(nodes, scores, strict=True)]
