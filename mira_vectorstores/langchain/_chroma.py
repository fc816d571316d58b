"""langchain-chroma's extra surface, for code written against ``langchain_chroma.Chroma``.

The ``ChromaCompatMixin`` half of ``MiraVectorStore``: ``get`` in Chroma's dict shape,
``update_document(s)``, ``delete_collection`` / ``reset_collection``, the distance-returning
``similarity_search_by_vector_with_relevance_scores``, ``similarity_search_with_vectors`` and
images. Each method is one engine call; the translations are here and in ``_convert``. Where the
behaviour differs from langchain-chroma's, the docstring says so (README: "Coming from
langchain-chroma").
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.documents import Document

from mira_vectorstores.engine import (
    ConfigError,
    HybridStore,
    InvalidInputError,
    ServerConfig,
    check_list,
)
from mira_vectorstores.langchain import _convert
from mira_vectorstores.langchain._hybrid import EngineSearch

#: What ``get(include=...)`` may ask for, as in Chroma.
GET_INCLUDES = ("documents", "metadatas", "embeddings")


class ChromaCompatMixin(EngineSearch):
    """langchain-chroma methods over the wrapped engine (``self._engine``)."""

    #: Opens the collection again with the constructor's arguments (``None``: made by ``from_engine``).
    _open: Callable[[], HybridStore] | None = None
    #: langchain-chroma's ``relevance_score_fn``: distance -> relevance (``None``: ``_convert.to_relevance``).
    _relevance_score_fn: Callable[[float], float] | None = None

    if TYPE_CHECKING:  # MiraVectorStore's methods, used here

        def _bind(self, engine: HybridStore) -> None: ...

        def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[Document]: ...

    # -- scores as langchain-chroma reports them ------------------------------------------
    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, float]]:
        """Documents with their distance, lower is better, as langchain-chroma returns them.

        The distance is Chroma's in the collection's space, of the unit vectors the store keeps:
        ``1 - cosine`` for a store this package made (0.0 for an exact match), ``2 - 2 * cosine``
        in an ``l2`` collection. With ``mode="hybrid"`` or ``"lexical"`` the score is the
        engine's final score instead, higher is better (as ``hybrid_search_with_score``).
        """
        options = _convert.search_options(k, kwargs)
        return _convert.scored(self._hits(query, None, options), options["mode"])

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with their distance (see ``similarity_search_with_score``)."""
        options = _convert.search_options(k, kwargs)
        return _convert.scored(await self._ahits(query, None, options), options["mode"])

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        # The public method (LangChain's) applies score_threshold to these relevances.
        hits = self._hits(query, None, _convert.search_options(k, kwargs))
        return _convert.relevant(hits, self._relevance_score_fn)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = await self._ahits(query, None, _convert.search_options(k, kwargs))
        return _convert.relevant(hits, self._relevance_score_fn)

    # -- the collection ---------------------------------------------------------------------
    def delete_collection(self) -> None:
        """Delete the collection, its records, raw objects and this store's files, as
        langchain-chroma does; the store is closed afterwards (``reset_collection`` opens a new,
        empty one under the same name).
        """
        self._engine.drop()

    def reset_collection(self) -> None:
        """Delete the collection (if it still exists) and open a new, empty one with the same
        arguments, as langchain-chroma does.

        Raises:
            ConfigError: for a store made by ``from_engine`` (it knows no arguments to reopen with).
        """
        if self._open is None:
            msg = "a store made by from_engine() cannot reset its collection; open it with MiraVectorStore(...)"
            raise ConfigError(msg)
        if not self._engine.closed:
            self._engine.drop()
        self._bind(self._open())

    def get(
        self,
        ids: str | list[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        where_document: dict[str, Any] | None = None,
        include: list[str] | None = None,
    ) -> dict[str, Any]:
        """Records in Chroma's ``get`` shape, as langchain-chroma returns them.

        ``{"ids", "documents", "metadatas", "embeddings", "uris", "data", "included"}``; a key
        not in ``include`` (default ``["metadatas", "documents"]``) is ``None``. Read from the
        in-process mirror: the same records Chroma holds, metadata without the store's
        ``_mira_*`` keys, embeddings as the unit vectors the store keeps.

        Raises:
            InvalidInputError: for bad ids, limit, offset or ``include`` entries.
            FilterError: for a malformed filter.
        """
        return chroma_get(
            self._engine,
            ids=ids,
            where=where,
            limit=limit,
            offset=offset,
            where_document=where_document,
            include=include,
        )

    def update_document(self, document_id: str, document: Document) -> None:
        """Replace one document's text and metadata (see ``update_documents``)."""
        self.update_documents([document_id], [document])

    def update_documents(self, ids: list[str], documents: list[Document]) -> None:
        """Replace the text of existing documents and merge their metadata, as Chroma's
        ``update`` does: keys not given stay. The texts are re-embedded.

        Unlike Chroma, which skips an unknown id with a warning, an id that does not exist raises
        and nothing is written: an update that did not happen is never acknowledged.

        Raises:
            RecordNotFoundError: when an id does not exist.
            InvalidInputError: for mismatched lengths or bad metadata.
        """
        texts, metadatas, _ = _convert.document_columns(documents)
        self._engine.update(check_list(ids, "ids", of="strings"), texts=texts, metadatas=metadatas)

    def similarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents nearest a query vector with their distance, lower is better: despite its
        name, langchain-chroma's method returns distances, and so does this one.
        """
        options = _convert.search_options(k, kwargs)
        return _convert.scored(self._hits(None, embedding, options), options["mode"])

    async def asimilarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async ``similarity_search_by_vector_with_relevance_scores``."""
        options = _convert.search_options(k, kwargs)
        return _convert.scored(await self._ahits(None, embedding, options), options["mode"])

    def similarity_search_with_vectors(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[Document, Any]]:
        """Documents nearest the query, each with its vector (a NumPy array of unit length:
        the store keeps vectors normalised, where Chroma returns them as written).
        """
        options = _convert.search_options(k, kwargs) | {"include_embeddings": True}
        return [(_convert.to_document(hit), hit.embedding) for hit in self._hits(query, None, options)]

    # -- images (langchain-chroma's add_images / similarity_search_by_image) ---------------
    def add_images(
        self, uris: list[str], metadatas: list[dict[str, Any]] | None = None, ids: list[str] | None = None
    ) -> list[str]:
        """Add images by file path, embedded with the embeddings' ``embed_image`` (e.g.
        ``OpenCLIPEmbeddings``); each record's text is the image file base64-encoded, as
        langchain-chroma stores it, so either library reads the other's images.

        Raises:
            ConfigError: when the embeddings have no ``embed_image``.
            InvalidInputError: for a file that cannot be read, or bad metadata or ids.
        """
        uris = check_list(uris, "uris", of="file paths")
        texts = [read_image_base64(uri) for uri in uris]  # first: a file that cannot be read is named here
        request = _convert.write_request(texts, metadatas, ids, {})
        return list(self._engine.upsert(**request, vectors=self._image_vectors(uris)))

    def similarity_search_by_image(self, uri: str, k: int = 4, **kwargs: Any) -> list[Document]:
        """The ``k`` images (or documents) nearest an image file (see ``add_images``)."""
        return self.similarity_search_by_vector(self._image_vectors([uri])[0], k=k, **kwargs)

    def similarity_search_by_image_with_relevance_score(
        self, uri: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Images nearest an image file with their distance, lower is better (as langchain-chroma)."""
        return self.similarity_search_by_vector_with_relevance_scores(self._image_vectors([uri])[0], k=k, **kwargs)

    def _image_vectors(self, uris: list[str]) -> list[list[float]]:
        embed_image = getattr(self._embeddings, "embed_image", None)
        if not callable(embed_image):
            msg = (
                "images need embeddings with embed_image(uris) (e.g. OpenCLIPEmbeddings); "
                f"this store's embeddings are {type(self._embeddings).__name__}"
            )
            raise ConfigError(msg)
        for uri in uris:
            if not isinstance(uri, (str, Path)) or not Path(uri).is_file():
                msg = f"image {uri!r} is not a file this process can read; give the path of an image file"
                raise InvalidInputError(msg)
        return list(embed_image(uris=uris))


# -- translations ------------------------------------------------------------------------------
def chroma_get(
    engine: HybridStore,
    *,
    ids: str | Sequence[str] | None,
    where: Mapping[str, Any] | None,
    limit: int | None,
    offset: int | None,
    where_document: Mapping[str, Any] | None,
    include: Sequence[str] | None,
) -> dict[str, Any]:
    """Records in Chroma's ``get`` result shape (langchain-chroma's ``get``): one engine call.

    Raises:
        InvalidInputError: for an ``include`` entry Chroma's ``get`` does not know.
    """
    included = ["metadatas", "documents"] if include is None else check_list(include, "include", of="strings")
    unknown = sorted(set(included) - set(GET_INCLUDES))
    if unknown:
        msg = f"include={unknown} is not something get() returns; choose among {list(GET_INCLUDES)}"
        raise InvalidInputError(msg)
    records = engine.get(
        [ids] if isinstance(ids, str) else ids,  # Chroma takes one id as a str
        where=where,  # type: ignore[arg-type]
        where_document=where_document,  # type: ignore[arg-type]
        limit=limit,
        offset=offset or 0,
        include_embeddings="embeddings" in included,
    )
    embeddings = np.array([r.embedding for r in records], dtype=np.float32) if records else np.zeros((0, 0))
    return {
        "ids": [r.id for r in records],
        "documents": [r.document for r in records] if "documents" in included else None,
        "metadatas": [r.metadata or None for r in records] if "metadatas" in included else None,
        "embeddings": embeddings if "embeddings" in included else None,
        "uris": None,
        "data": None,
        "included": included,
    }


def read_image_base64(uri: str) -> str:
    """An image file as base64 text, the form langchain-chroma stores images in.

    Raises:
        InvalidInputError: when the file cannot be read.
    """
    try:
        return base64.b64encode(Path(uri).read_bytes()).decode("ascii")
    except (OSError, TypeError) as exc:
        msg = f"cannot read image {uri!r}: {exc}"
        raise InvalidInputError(msg) from exc


def open_options(
    *,
    embedding: object,
    embedding_function: object,
    embedding_name: str | None,
    persist_directory: str | Path | None,
    name: str | None,
    collection_name: str | None,
    path: str | Path | None,
    host: str | None,
    client: object,
    server: ServerConfig | None,
    server_args: Mapping[str, Any],
    relevance_score_fn: object,
) -> dict[str, Any]:
    """The ``HybridStore(...)`` arguments (embedder and location) of ``MiraVectorStore``'s
    constructor, with langchain-chroma's names (``collection_name``, ``embedding_function``,
    ``persist_directory``, ``ssl`` / ``headers`` / ``tenant`` / ``database``) mapped onto ours.

    Raises:
        ConfigError: when an argument is given under both its names, the embeddings are not an
            embeddings model, or ``relevance_score_fn`` is not callable.
    """
    if relevance_score_fn is not None and not callable(relevance_score_fn):
        msg = f"relevance_score_fn must map a distance to a relevance, got {type(relevance_score_fn).__name__}"
        raise ConfigError(msg)
    if isinstance(embedding, str):  # Chroma("docs", embeddings): langchain-chroma's positional order
        collection_name = _one_of("collection_name", collection_name, "the first argument", embedding)
        embedding = None
    embeddings = _one_of("embedding", embedding, "embedding_function", embedding_function)
    chosen = _one_of("name", name, "collection_name", collection_name)
    folder = _one_of("path", path, "persist_directory", persist_directory)
    given = {key: value for key, value in server_args.items() if value not in (None, False)}
    if given and server is not None:
        msg = f"give {sorted(given)} inside server=ServerConfig(...) or as arguments, not both"
        raise ConfigError(msg)
    if chosen is None and (persist_directory is not None or client is not None):
        chosen = "langchain"  # langchain-chroma's default collection
    elif chosen is None:
        chosen = "mira" if host is not None or folder is not None else f"mem-{uuid.uuid4().hex[:12]}"
    options = {
        "name": chosen,
        "path": folder,
        "host": host,
        "client": client,
        "server": ServerConfig(**given) if given else server,
    }
    if embeddings is not None:
        options["embedder"] = _convert.LangChainEmbedder(_convert.check_embeddings(embeddings), name=embedding_name)
    return options


def _one_of(ours: str, value: Any, theirs: str, alias: Any) -> Any:
    if value is not None and alias is not None:
        msg = f"{ours}= and {theirs} name the same thing; give one of them"
        raise ConfigError(msg)
    return value if value is not None else alias
