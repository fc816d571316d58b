"""``MiraVectorStore``: LangChain's ``VectorStore`` over the engine's ``HybridStore``.

Every method translates its arguments (in ``_convert``) and makes one engine call. An async
method awaits the LangChain embedding, then runs the synchronous engine in a thread, so it
never blocks the event loop; it builds its request with the same helper as its sync twin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import chromadb
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from typing_extensions import override

from mira_vectorstores.engine import (
    BoostRule,
    ConfigError,
    HybridStore,
    ServerConfig,
    StoreConfig,
)
from mira_vectorstores.langchain import _chroma, _convert
from mira_vectorstores.langchain._chroma import ChromaCompatMixin
from mira_vectorstores.langchain._hybrid import HybridSearchMixin
from mira_vectorstores.langchain._objects import RawObjectsMixin

if TYPE_CHECKING:
    from mira_vectorstores.langchain.retriever import MiraRetriever


class MiraVectorStore(ChromaCompatMixin, HybridSearchMixin, RawObjectsMixin, VectorStore):
    """Hybrid (dense + BM25) search with exact filters, boosts and raw objects, for LangChain.

    Without ``path`` or ``host`` the store lives in memory. ``similarity_search`` is dense;
    ``hybrid_search`` fuses dense and BM25; ``keyword_search`` is BM25 alone. ``filter=``
    (Chroma's ``where`` grammar), ``where_document=``, ``boosts=``, ``fusion=``, ``alpha=``,
    ``fetch_k=`` (candidates per side, at least ``k``) and (similarity methods) ``mode=`` pass
    to the engine through ``**kwargs``. Lists stay lists: a single str, dict or ``Document``
    where a list is expected raises ``InvalidInputError`` before anything is written.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> store = MiraVectorStore(DeterministicFakeEmbedding(size=16))
        >>> store.add_texts(["cats purr", "dogs bark"], [{"pet": "cat"}, {"pet": "dog"}], ids=["c", "d"])
        ['c', 'd']
        >>> store.similarity_search("cats purr", k=1)
        [Document(id='c', metadata={'pet': 'cat'}, page_content='cats purr')]
        >>> [doc.id for doc in store.keyword_search("dogs", filter={"pet": "dog"})]
        ['d']
        >>> store.close()
    """

    def __init__(
        self,
        embedding: Embeddings | str | None = None,
        embedding_function: Embeddings | None = None,
        persist_directory: str | Path | None = None,
        *,
        name: str | None = None,
        path: str | Path | None = None,
        host: str | None = None,
        port: int = 8000,
        config: StoreConfig | None = None,
        boosts: Sequence[BoostRule | Mapping[str, object]] | None = None,
        embedding_name: str | None = None,
        server: ServerConfig | None = None,
        collection_name: str | None = None,
        client: chromadb.api.ClientAPI | None = None,
        collection_metadata: Mapping[str, object] | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        create_collection_if_not_exists: bool = True,
        ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        tenant: str | None = None,
        database: str | None = None,
    ) -> None:
        """Open or create a store; langchain-chroma's ``Chroma(...)`` arguments work as they do there.

        Args:
            embedding: any LangChain embeddings; ``None`` uses the bundled all-MiniLM-L6-v2. A
                str here is the collection name, as ``Chroma``'s first argument is.
            embedding_function: langchain-chroma's name for ``embedding``.
            persist_directory: langchain-chroma's name for ``path``.
            name: the collection; a fresh unique name in memory, ``"mira"`` otherwise
                (``"langchain"``, langchain-chroma's, with ``persist_directory`` or ``client``).
            path: folder of an embedded, persistent store.
            host: a Chroma server (``chroma run``); ``path`` is then ignored.
            port: the server's port.
            config: engine tuning (``StoreConfig``).
            boosts: default boost rules for every search.
            embedding_name: the embedder name the store records; by default derived from the
                embeddings' class and model (see ``_convert.embedder_name``).
            server: TLS, headers (token auth), tenant and database of the server (``ServerConfig``).
            collection_name: langchain-chroma's name for ``name``.
            client: an open chromadb client to use (never closed by the store).
            collection_metadata: metadata of a new collection; ``{"hnsw:space": ...}`` chooses
                Chroma's space (dense search ranks by cosine in every space).
            relevance_score_fn: distance -> the relevance ``similarity_search_with_relevance_scores``
                reports (default: ``_convert.to_relevance``).
            create_collection_if_not_exists: ``False`` opens an existing collection only.
            ssl: use HTTPS with ``host`` (langchain-chroma's; ``server=`` is ours).
            headers: HTTP headers for ``host``.
            tenant: the server's tenant.
            database: the server's database.

        Raises:
            ConfigError: for a bad name or option, two names for one argument
                (``name`` and ``collection_name``), ``embedding`` that is not an embeddings
                model, or a ``path`` that is not a folder this process can write to.
            EmbeddingMismatchError: when the store was built with other embeddings.
            StorageError: when ``create_collection_if_not_exists=False`` and the collection does not exist.
            StoreUnavailableError: when the server cannot be reached.
        """
        options = _chroma.open_options(
            embedding=embedding,
            embedding_function=embedding_function,
            embedding_name=embedding_name,
            persist_directory=persist_directory,
            name=name,
            collection_name=collection_name,
            path=path,
            host=host,
            client=client,
            server=server,
            server_args={"ssl": ssl, "headers": headers, "tenant": tenant, "database": database},
            relevance_score_fn=relevance_score_fn,
        )
        # Kept to open the collection again after reset_collection().
        self._open = partial(
            HybridStore,
            port=port,
            config=config,
            boosts=boosts,
            collection_metadata=collection_metadata,
            create=create_collection_if_not_exists,
            **options,
        )
        self._relevance_score_fn = relevance_score_fn
        self._bind(self._open())

    @classmethod
    def from_engine(cls, engine: HybridStore) -> Self:
        """Wrap an open ``HybridStore`` (for instance one shared with the LlamaIndex adapter)."""
        store = cls.__new__(cls)  # no _open: it cannot reset_collection
        store._bind(engine)
        return store

    def _bind(self, engine: HybridStore) -> None:
        self._engine = engine
        embedder = engine.embedder
        self._embeddings = embedder.embeddings if isinstance(embedder, _convert.LangChainEmbedder) else None

    @property
    def engine(self) -> HybridStore:
        """The wrapped engine store."""
        return self._engine

    @property
    @override
    def embeddings(self) -> Embeddings | None:
        """The LangChain embeddings, or ``None`` for an engine embedder (the bundled MiniLM)."""
        return self._embeddings

    def close(self) -> None:
        """Persist the mirrors and release the store (an in-memory store's data is dropped)."""
        self._engine.close()

    # -- writes ---------------------------------------------------------------------------
    @override
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add or replace (by id) texts; returns their ids. Lists stay lists (a lone str or dict is refused).

        An empty or whitespace-only text is stored: ``get_by_ids``, filters and similarity
        search find it; ``keyword_search`` (BM25) never matches it.
        """
        return list(self._engine.upsert(**_convert.write_request(texts, metadatas, ids, kwargs)))

    @override
    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Add or replace (by id) texts; returns their ids (see ``add_texts``)."""
        request = _convert.write_request(texts, metadatas, ids, kwargs)
        if self._embeddings is not None and request["texts"]:
            request["vectors"] = await self._embeddings.aembed_documents(request["texts"])
        return list(await asyncio.to_thread(self._engine.upsert, **request))

    @override
    def add_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add or replace a list of documents; ``Document.id`` is honoured (``ids=`` takes precedence)."""
        texts, metadatas, doc_ids = _convert.document_columns(documents)
        return self.add_texts(texts, metadatas, ids=kwargs.pop("ids", None) or doc_ids, **kwargs)

    @override
    async def aadd_documents(self, documents: list[Document], **kwargs: Any) -> list[str]:
        """Add or replace documents; ``Document.id`` is honoured (``ids=`` takes precedence)."""
        texts, metadatas, doc_ids = _convert.document_columns(documents)
        return await self.aadd_texts(texts, metadatas, ids=kwargs.pop("ids", None) or doc_ids, **kwargs)

    @override
    def delete(
        self,
        ids: list[str] | None = None,
        *,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Delete by ids and/or filters; with no argument, delete everything.

        Unknown ids are ignored. Given ids and a filter, only the ids that match it go.

        Returns:
            ``True``.

        Raises:
            ConfigError: for an unknown keyword.
        """
        if kwargs:
            msg = f"unknown delete option(s) {sorted(kwargs)}; valid options are ['where', 'where_document']"
            raise ConfigError(msg)
        if ids is None and where is None and where_document is None:
            self._engine.clear()
        else:
            self._engine.delete(ids, where=where, where_document=where_document)
        return True

    @override
    async def adelete(
        self,
        ids: list[str] | None = None,
        *,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Delete by ids and/or filters; with no argument, delete everything."""
        return await asyncio.to_thread(self.delete, ids, where=where, where_document=where_document, **kwargs)

    @override
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids (a list, even of one), in the order given; unknown ids are skipped."""
        return [_convert.to_document(record) for record in self._engine.get(ids)]

    @override
    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents with these ids, in the order given; unknown ids are skipped."""
        return await asyncio.to_thread(self.get_by_ids, ids)

    # -- search: one sync and one async path (``EngineSearch._hits`` / ``_ahits``) ----------
    @override
    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest the query (dense unless ``mode=`` says otherwise)."""
        return _convert.documents(self._hits(query, None, _convert.search_options(k, kwargs)))

    @override
    async def asimilarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest the query (dense unless ``mode=`` says otherwise)."""
        return _convert.documents(await self._ahits(query, None, _convert.search_options(k, kwargs)))

    @override
    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest a query vector."""
        return _convert.documents(self._hits(None, embedding, _convert.search_options(k, kwargs)))

    @override
    async def asimilarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` documents nearest a query vector."""
        return _convert.documents(await self._ahits(None, embedding, _convert.search_options(k, kwargs)))

    @override
    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents chosen by MMR among the ``fetch_k`` nearest."""
        return _convert.documents(self._hits(query, None, _convert.mmr_options(k, fetch_k, lambda_mult, kwargs)))

    @override
    async def amax_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents chosen by MMR among the ``fetch_k`` nearest."""
        return _convert.documents(await self._ahits(query, None, _convert.mmr_options(k, fetch_k, lambda_mult, kwargs)))

    @override
    def max_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents chosen by MMR among the ``fetch_k`` nearest a query vector."""
        return _convert.documents(self._hits(None, embedding, _convert.mmr_options(k, fetch_k, lambda_mult, kwargs)))

    @override
    async def amax_marginal_relevance_search_by_vector(
        self, embedding: list[float], k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[Document]:
        """``k`` documents chosen by MMR among the ``fetch_k`` nearest a query vector."""
        return _convert.documents(
            await self._ahits(None, embedding, _convert.mmr_options(k, fetch_k, lambda_mult, kwargs))
        )

    @override
    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """As LangChain's ``search``, also accepting ``"hybrid"`` and ``"keyword"``."""
        return self.as_retriever(search_type=search_type, search_kwargs=kwargs).invoke(query)

    @override
    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """As LangChain's ``asearch``, also accepting ``"hybrid"`` and ``"keyword"``."""
        return await self.as_retriever(search_type=search_type, search_kwargs=kwargs).ainvoke(query)

    # -- construction and retrievers -------------------------------------------------------
    @classmethod
    @override
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store (``**kwargs`` as in the constructor) holding these texts."""
        request = _convert.write_request(texts, metadatas, ids, {})  # bad input fails before a store is made
        store = cls(_convert.check_embeddings(embedding) if embedding is not None else None, **kwargs)
        store.add_texts(request["texts"], request["metadatas"], ids=request["ids"])
        return store

    @classmethod
    @override
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> Self:
        """A new store (``**kwargs`` as in the constructor) holding these texts."""
        request = _convert.write_request(texts, metadatas, ids, {})  # bad input fails before a store is made
        # Opening touches disk or network and may probe the embedding: keep it off the loop.
        store = await asyncio.to_thread(
            cls, _convert.check_embeddings(embedding) if embedding is not None else None, **kwargs
        )
        await store.aadd_texts(request["texts"], request["metadatas"], ids=request["ids"])
        return store

    @override
    def as_retriever(  # type: ignore[override]  # a MiraRetriever, not a VectorStoreRetriever
        self, *, search_type: str = "similarity", search_kwargs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> MiraRetriever:
        """A ``MiraRetriever`` for LangChain's ``search_type`` and ``search_kwargs``.

        Args:
            search_type: ``"similarity"``, ``"similarity_score_threshold"``, ``"mmr"``,
                ``"hybrid"`` or ``"keyword"``.
            search_kwargs: ``k``, ``filter``, ``where_document``, ``fusion``, ``alpha``,
                ``boosts``, ``fetch_k``, ``score_threshold`` (a relevance in ``[0, 1]``), and
                for ``mmr`` ``lambda_mult``.
            **kwargs: other ``MiraRetriever`` fields (``tags``, ``metadata``, ``callbacks``).

        Raises:
            ConfigError: for an unknown search type or keyword.
        """
        from mira_vectorstores.langchain.retriever import MiraRetriever  # here: the two modules refer to each other

        fields = _convert.retriever_fields(search_type, search_kwargs or {})
        tags = kwargs.pop("tags", None) or self._get_retriever_tags()
        return MiraRetriever(vectorstore=self, tags=tags, **fields, **kwargs)
