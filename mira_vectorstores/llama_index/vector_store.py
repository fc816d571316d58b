"""``MiraVectorStore``: LlamaIndex's vector-store surface, each method one engine call.

Every sync/async pair shares its request-building helper; the async method awaits only the
embedding (when one must be computed) and runs the synchronous, thread-safe engine call in a
worker thread, so it never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import chromadb
import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from typing_extensions import override

from mira_vectorstores.engine import (
    BoostRule,
    ConfigError,
    Embedder,
    HybridStore,
    InvalidInputError,
    SearchHit,
    ServerConfig,
    StoreConfig,
)
from mira_vectorstores.llama_index import _chroma, _convert, _requests
from mira_vectorstores.llama_index._objects import RawObjectsMixin

if TYPE_CHECKING:
    import fsspec  # type: ignore[import-untyped]


class MiraVectorStore(RawObjectsMixin, BasePydanticVectorStore):
    """A LlamaIndex vector store on ``HybridStore``: dense, BM25, hybrid and MMR queries, exact filters.

    It stores text, so a ``VectorStoreIndex`` needs no docstore. Without an ``embed_model`` it
    keeps the vectors LlamaIndex computes (query modes that need a vector then need
    ``VectorStoreQuery.query_embedding``); with one, it can embed nodes and queries itself.
    Raw objects stored through ``client.put_object`` come back as nodes whose payload
    ``get_object(node)`` returns. Call ``client.close()`` when done with a persistent store.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
        >>> store = MiraVectorStore.in_memory()
        >>> store.add([TextNode(id_="a", text="cats purr", embedding=[1.0, 0.0]),
        ...            TextNode(id_="b", text="dogs bark", embedding=[0.0, 1.0])])
        ['a', 'b']
        >>> store.query(VectorStoreQuery(query_str="dogs", mode=VectorStoreQueryMode.TEXT_SEARCH)).ids
        ['b']
        >>> store.client.close()
    """

    stores_text: bool = True
    is_embedding_query: bool = True
    _engine: HybridStore = PrivateAttr()
    _embed_model: BaseEmbedding | None = PrivateAttr(default=None)

    def __init__(
        self,
        engine: HybridStore | None = None,
        *,
        chroma_collection: chromadb.Collection | None = None,
        embed_model: BaseEmbedding | None = None,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule] | None = None,
    ) -> None:
        """Wrap an engine store, or (as ``ChromaVectorStore(chroma_collection=...)``) a Chroma collection.

        Args:
            engine: the store; its embedder (if any) embeds nodes that arrive without an
                embedding and queries that arrive without ``query_embedding``.
            chroma_collection: an open chromadb collection, e.g. one ChromaVectorStore wrote:
                it gains hybrid search in place and stays readable by ChromaVectorStore.
            embed_model: with ``chroma_collection``, embeds nodes and queries that come
                without vectors.
            config: with ``chroma_collection``, engine tuning.
            boosts: with ``chroma_collection``, default boost rules.

        Raises:
            ConfigError: when ``engine`` is not a ``HybridStore`` (open one with
                ``MiraVectorStore.in_memory()``, ``.persistent(path, name)`` or ``.connect(host)``),
                or when both or neither of ``engine`` and ``chroma_collection`` are given.
        """
        if (engine is None) == (chroma_collection is None):
            msg = "give MiraVectorStore an engine (a HybridStore) or chroma_collection=, exactly one of them"
            raise ConfigError(msg)
        if chroma_collection is not None:
            engine = HybridStore.from_collection(
                chroma_collection, embedder=_embedder(embed_model), config=config, boosts=boosts
            )
        if not isinstance(engine, HybridStore):
            msg = (
                f"MiraVectorStore(engine) wraps a HybridStore, got {type(engine).__name__}; open a store with "
                "MiraVectorStore.in_memory(), MiraVectorStore.persistent(path, name) or "
                "MiraVectorStore.connect(host, port, name)"
            )
            raise ConfigError(msg)
        super().__init__(stores_text=True)
        self._engine = engine
        embedder = engine.embedder
        self._embed_model = embedder.model if isinstance(embedder, _convert.LlamaEmbedder) else None

    # -- factories ---------------------------------------------------------------------
    @classmethod
    def in_memory(
        cls,
        *,
        embed_model: BaseEmbedding | None = None,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule] | None = None,
    ) -> MiraVectorStore:
        """A store in this process only, under a fresh name (tests, notebooks)."""
        return cls(HybridStore.in_memory(embedder=_embedder(embed_model), config=config, boosts=boosts))

    @classmethod
    def persistent(
        cls,
        path: str | Path,
        name: str = "mira",
        *,
        embed_model: BaseEmbedding | None = None,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule] | None = None,
    ) -> MiraVectorStore:
        """An embedded store persisted under ``path`` (reopen it with the same name and embed_model)."""
        return cls(HybridStore.persistent(path, name, embedder=_embedder(embed_model), config=config, boosts=boosts))

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = 8000,
        name: str = "mira",
        *,
        embed_model: BaseEmbedding | None = None,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule] | None = None,
        server: ServerConfig | None = None,
    ) -> MiraVectorStore:
        """A store on a Chroma server (``chroma run``); ``server`` sets TLS, headers, tenant and database."""
        engine = HybridStore.connect(
            host, port, name, embedder=_embedder(embed_model), config=config, boosts=boosts, server=server
        )
        return cls(engine)

    @classmethod
    def from_collection(cls, collection: chromadb.Collection, *, embed_model: BaseEmbedding | None = None) -> Self:
        """A store on an open chromadb collection (as ``ChromaVectorStore.from_collection``).

        Raises:
            ConfigError: when ``collection`` is not a chromadb collection.
        """
        return cls(chroma_collection=collection, embed_model=embed_model)

    @classmethod
    def from_params(
        cls,
        collection_name: str,
        host: str | None = None,
        port: str | int | None = None,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        persist_dir: str | None = None,
        collection_kwargs: Mapping[str, Any] | None = None,
        *,
        embed_model: BaseEmbedding | None = None,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule] | None = None,
    ) -> Self:
        """Open a collection as ``ChromaVectorStore.from_params`` does: in the folder
        ``persist_dir`` (Chroma's own layout, so a folder ChromaVectorStore wrote opens in
        place), or on the server at ``host``:``port``. ``collection_kwargs["metadata"]`` is the
        metadata of a new collection.

        Raises:
            ConfigError: when neither ``persist_dir`` nor ``host`` and ``port`` are given, or
                for a ``collection_kwargs`` key other than ``metadata``.
        """
        server = ServerConfig(ssl=ssl, headers=dict(headers or {}))
        where = {"path": persist_dir} if persist_dir else {"host": host, "port": port, "server": server}
        engine = _chroma.open_engine(
            collection_name, where, collection_kwargs, embedder=_embedder(embed_model), config=config, boosts=boosts
        )
        return cls(engine)

    @classmethod
    @override
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this store under."""
        return "MiraVectorStore"

    @property
    @override
    def client(self) -> HybridStore:
        """The engine store this adapter wraps."""
        return self._engine

    # -- writes ------------------------------------------------------------------------
    @override
    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Upsert nodes: re-adding a node id replaces its text, metadata and embedding.

        ``nodes`` is a list, even of one. A node's metadata follows the engine's rule (str,
        int, float, bool, a non-empty list of one of them, a date or time; ``None`` dropped);
        in an error message ``metadatas[i]`` is ``nodes[i].metadata``. A node with empty text
        is stored: ``get_nodes``, filters and dense queries find it; SPARSE / TEXT_SEARCH never
        match it.

        Raises:
            InvalidInputError: for a single node, a node without an embedding and no embedder,
                or metadata the engine cannot store and filter (nothing is written).
        """
        _requests.no_options("add", kwargs)
        nodes = _requests.check_nodes(nodes)
        missing = _requests.texts_to_embed(nodes)
        vectors = self._engine_embedder("add").embed_documents(missing) if missing else None
        return self._upsert(nodes, vectors)

    @override
    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Upsert nodes without blocking the event loop (see ``add``)."""
        _requests.no_options("async_add", kwargs)
        nodes = _requests.check_nodes(nodes)
        missing = _requests.texts_to_embed(nodes)
        vectors = None
        if missing and self._embed_model is not None:
            vectors = np.asarray(await self._embed_model.aget_text_embedding_batch(missing), dtype=np.float32)
        elif missing:
            vectors = await asyncio.to_thread(self._engine_embedder("async_add").embed_documents, missing)
        return await asyncio.to_thread(self._upsert, nodes, vectors)

    def _upsert(self, nodes: Sequence[BaseNode], computed: np.ndarray | None) -> list[str]:
        if not nodes:
            return []
        records = [_convert.node_to_record(node) for node in nodes]
        fill = iter(computed if computed is not None else ())
        vectors = [r.embedding if r.embedding is not None else next(fill) for r in records]
        return list(
            self._engine.upsert(
                [r.text for r in records],
                ids=[r.id for r in records],
                metadatas=[r.metadata for r in records],
                vectors=np.asarray(vectors, dtype=np.float32),
            )
        )

    def _engine_embedder(self, method: str) -> Embedder:
        if self._engine.embedder is None:
            msg = (
                f"{method}: some nodes have no embedding and this store has no embedder; embed them first "
                "(VectorStoreIndex does) or open the store with embed_model="
            )
            raise InvalidInputError(msg)
        return self._engine.embedder

    @override
    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document ``ref_doc_id``."""
        self._engine.delete(where=_requests.ref_doc_where(ref_doc_id, delete_kwargs))

    @override
    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the document ``ref_doc_id`` without blocking the event loop."""
        await asyncio.to_thread(partial(self._engine.delete, where=_requests.ref_doc_where(ref_doc_id, delete_kwargs)))

    @override
    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """Delete the nodes with these ids and/or matching these filters (both: the ids that match)."""
        self._engine.delete(**_requests.selection("delete_nodes", node_ids, filters, delete_kwargs))

    @override
    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any
    ) -> None:
        """``delete_nodes`` without blocking the event loop."""
        await asyncio.to_thread(
            partial(self._engine.delete, **_requests.selection("adelete_nodes", node_ids, filters, delete_kwargs))
        )

    @override
    def clear(self) -> None:
        """Delete every node."""
        self._engine.clear()

    @override
    async def aclear(self) -> None:
        """Delete every node without blocking the event loop."""
        await asyncio.to_thread(self._engine.clear)

    @override
    def persist(self, persist_path: str, fs: fsspec.AbstractFileSystem | None = None) -> None:
        """Save the engine's mirrors now (the records are already durable in Chroma)."""
        self._engine.flush()

    # -- reads -------------------------------------------------------------------------
    @override
    def get_nodes(self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None) -> list[BaseNode]:
        """The nodes with these ids and/or matching these filters (every node when neither is given)."""
        return _to_nodes(self._engine.get(**_requests.selection("get_nodes", node_ids, filters, {}, required=False)))

    @override
    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """``get_nodes`` without blocking the event loop."""
        selection = _requests.selection("aget_nodes", node_ids, filters, {}, required=False)
        return _to_nodes(await asyncio.to_thread(partial(self._engine.get, **selection)))

    @override
    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Run the query in its mode (see ``_requests.search_request`` for how each field is honoured).

        A dense query with no vector and no way to make one (no ``query_embedding``, and no
        embedder or no text) answers, as ChromaVectorStore does, with the first
        ``similarity_top_k`` records that pass its filters, without similarities.
        """
        request = _requests.search_request(query, _requests.QueryOptions.from_kwargs(kwargs))
        if _requests.is_listing(request, can_embed=self._engine.embedder is not None):
            return _to_listing(self._engine.get(**_requests.listing(request)))
        return _to_result(self._engine.search(**request))

    def query_batch(self, queries: Sequence[VectorStoreQuery], **kwargs: Any) -> list[VectorStoreQueryResult]:
        """``query`` of each query. Queries that differ only in ``query_str`` and
        ``query_embedding`` run as one engine ``search_batch`` (one embedding call for the texts
        without an embedding, one FAISS call for the dense side); others run one by one.
        """
        options = _requests.QueryOptions.from_kwargs(kwargs)
        requests = [_requests.search_request(query, options) for query in queries]
        shared = _requests.shared_options(requests, can_embed=self._engine.embedder is not None)
        if shared is None:
            return [self.query(query, **kwargs) for query in queries]
        texts, vectors = [r["query"] for r in requests], [r["vector"] for r in requests]
        return [_to_result(hits) for hits in self._engine.search_batch(texts, vectors=vectors, **shared)]

    @override
    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """``query`` without blocking the event loop (the query embedding is awaited)."""
        request = _requests.search_request(query, _requests.QueryOptions.from_kwargs(kwargs))
        if _requests.is_listing(request, can_embed=self._engine.embedder is not None):
            return _to_listing(await asyncio.to_thread(partial(self._engine.get, **_requests.listing(request))))
        if (
            request["vector"] is None
            and _requests.needs_vector(request)
            and self._embed_model is not None
            and query.query_str
            and query.query_str.strip()  # a blank query is refused by the engine, not embedded
        ):
            request["vector"] = await self._embed_model.aget_query_embedding(query.query_str)
        return _to_result(await asyncio.to_thread(partial(self._engine.search, **request)))


# -- results -------------------------------------------------------------------------------
def _to_result(hits: Sequence[SearchHit]) -> VectorStoreQueryResult:
    return VectorStoreQueryResult(
        nodes=[_convert.hit_to_node(hit) for hit in hits],
        similarities=[_convert.to_relevance(hit) for hit in hits],
        ids=[str(hit.id) for hit in hits],
    )


def _to_listing(records: Sequence[Any]) -> VectorStoreQueryResult:
    return VectorStoreQueryResult(nodes=_to_nodes(records), ids=[str(r.id) for r in records])


def _to_nodes(records: Sequence[Any]) -> list[BaseNode]:
    return [_convert.record_to_node(r.id, r.document, r.metadata) for r in records]


def _embedder(embed_model: BaseEmbedding | None) -> _convert.LlamaEmbedder | None:
    if embed_model is None:
        return None
    if not isinstance(embed_model, BaseEmbedding):
        msg = (
            "embed_model must be a LlamaIndex BaseEmbedding (or None to keep the vectors LlamaIndex computes), "
            f"got {type(embed_model).__name__}"
        )
        raise ConfigError(msg)
    return _convert.LlamaEmbedder(embed_model)
