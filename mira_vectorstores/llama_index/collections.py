"""``MiraCollectionsRetriever``: one LlamaIndex retriever over several ``MiraVectorStore`` collections."""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.constants import DEFAULT_SIMILARITY_TOP_K
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery, VectorStoreQueryMode
from typing_extensions import override

from mira_vectorstores.engine import BoostRule, ConfigError, FusionMethod, enum_value, search_collections
from mira_vectorstores.llama_index import _convert, _requests
from mira_vectorstores.llama_index.vector_store import MiraVectorStore

#: The metadata key naming the collection a node came from.
COLLECTION_KEY = "mira_collection"


class MiraCollectionsRetriever(BaseRetriever):
    """Retrieve from several stores at once, merged into one ranking by the final score.

    Each store runs the same query (``mode``, ``filters``, ``fusion``, ``boosts``); the
    ``similarity_top_k`` best nodes of all of them are returned, each with
    ``node.metadata["mira_collection"]`` naming its store. Scores are the relevances of
    ``MiraVectorStore.query``; the order is the engine's final score, comparable across stores
    because they search alike (stores whose default fusion differs are refused unless
    ``fusion`` and ``alpha`` are given).

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> cats, dogs = MiraVectorStore.in_memory(), MiraVectorStore.in_memory()
        >>> _ = cats.add([TextNode(id_="c", text="cats purr", embedding=[1.0, 0.0])])
        >>> _ = dogs.add([TextNode(id_="d", text="dogs bark loudly", embedding=[0.0, 1.0])])
        >>> retriever = MiraCollectionsRetriever([cats, dogs], mode="text_search")
        >>> [hit] = retriever.retrieve("dogs")
        >>> hit.node.node_id, hit.node.metadata["mira_collection"] == dogs.client.name
        ('d', True)
        >>> cats.client.close(); dogs.client.close()
    """

    def __init__(
        self,
        vector_stores: Sequence[MiraVectorStore],
        *,
        embed_model: BaseEmbedding | None = None,
        similarity_top_k: int = DEFAULT_SIMILARITY_TOP_K,
        mode: VectorStoreQueryMode | str = VectorStoreQueryMode.HYBRID,
        fusion: FusionMethod | str | None = None,
        alpha: float | None = None,
        boosts: Sequence[BoostRule] | None = None,
        filters: MetadataFilters | None = None,
    ) -> None:
        """Create the retriever.

        Args:
            vector_stores: the stores to search (each once).
            embed_model: embeds the query once for every store; ``None`` leaves it to each
                store's embedder.
            similarity_top_k: nodes returned in all.
            mode: DEFAULT (dense), SPARSE / TEXT_SEARCH (BM25), HYBRID or MMR.
            fusion: how HYBRID fuses the rankings (default: the stores' own, which must agree).
            alpha: HYBRID's weight of the dense side (default: the stores' own).
            boosts: boost rules replacing each store's defaults (``[]`` for none).
            filters: metadata filters, applied in every store before ranking.

        Raises:
            ConfigError: for no stores, a query mode the stores cannot run, or a top-k that is
                not an int >= 1.
        """
        if isinstance(vector_stores, MiraVectorStore) or not vector_stores:
            msg = "vector_stores must be a non-empty list of MiraVectorStore objects"
            raise ConfigError(msg)
        _convert.to_search_mode(mode)
        _requests.check_top_k("similarity_top_k", similarity_top_k, error=ConfigError)
        self.vector_stores = list(vector_stores)
        self.embed_model = embed_model
        self.similarity_top_k = similarity_top_k
        self.mode = VectorStoreQueryMode(mode)
        self.alpha = alpha
        self.filters = filters
        chosen = None if fusion is None else enum_value(FusionMethod, fusion, "fusion")
        self.options = _requests.QueryOptions(fusion=chosen, boosts=None if boosts is None else list(boosts))
        super().__init__()

    @override
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        embedding = query_bundle.embedding
        dense_side = _convert.to_search_mode(self.mode)[0].value != "lexical"
        if embedding is None and self.embed_model is not None and dense_side and query_bundle.query_str.strip():
            embedding = self.embed_model.get_agg_embedding_from_queries(query_bundle.embedding_strs)
        query = VectorStoreQuery(
            query_embedding=embedding,
            similarity_top_k=self.similarity_top_k,
            query_str=query_bundle.query_str,
            mode=self.mode,
            alpha=self.alpha,
            filters=self.filters,
        )
        request = _requests.search_request(query, self.options)
        text, vector = request.pop("query"), request.pop("vector")
        hits = search_collections([store.client for store in self.vector_stores], text, vector=vector, **request)
        found = []
        for hit in hits:
            node = _convert.hit_to_node(hit)
            node.metadata[COLLECTION_KEY] = hit.collection
            found.append(NodeWithScore(node=node, score=_convert.to_relevance(hit)))
        return found
