"""Chroma access: client modes, chunked writes and paged reads within Chroma's limits.

Chroma is the single source of truth (DESIGN.md decision 1). Two of its limits shape this
module: a write takes at most ``client.get_max_batch_size()`` records, and a local ``get``
that returns metadata fails past ~32,766 rows ("too many SQL variables"), so every bulk
read is paged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import chromadb
import numpy as np
from chromadb.api.collection_configuration import HNSWConfiguration
from chromadb.errors import ChromaError, NotFoundError

from mira_vectorstores.engine.config import ChromaConfig
from mira_vectorstores.engine.errors import StorageError, StoreUnavailableError
from mira_vectorstores.engine.types import Vector

logger = logging.getLogger(__name__)
READ_PAGE = 5_000  # rows per paged get: well below Chroma's ~32,766 SQL-variable limit
STATE_PREFIX = "mira_"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a bulk read."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, object]]
    embeddings: Vector | None


def _client_error(exc: Exception, what: str) -> StorageError:
    return StorageError(f"Chroma failed to {what}: {type(exc).__name__}: {exc}")


class ChromaStorage:
    """One Chroma collection holding ids, documents, metadata and embeddings."""

    def __init__(
        self, client: chromadb.api.ClientAPI, name: str, *, where: str, config: ChromaConfig | None = None
    ) -> None:
        """Open (or create) collection ``name`` on ``client``.

        Args:
            client: any Chroma client.
            name: the collection name.
            where: a description of the client for error messages.
            config: Chroma's HNSW parameters for a new collection (an existing one keeps its own).
        """
        config = config or ChromaConfig()
        self.client = client
        self.name = name
        self.where = where
        try:
            # No embedding function: vectors always come from us (Chroma's default one
            # would download a model). Space "ip", not "cosine": we store unit vectors, so
            # both rank alike, and Chroma re-normalises under "cosine", which changes the
            # last bits of the vectors it returns (and so the order of ties after a rebuild).
            # A small graph: our searches never use Chroma's index (see ChromaConfig).
            hnsw: HNSWConfiguration = {
                "space": "ip",
                "max_neighbors": config.hnsw_max_neighbors,
                "ef_construction": config.hnsw_ef_construction,
            }
            self.collection = client.get_or_create_collection(
                name,
                embedding_function=None,
                configuration={"hnsw": hnsw},
            )
            self.max_batch = int(client.get_max_batch_size())
        except (ChromaError, ValueError) as exc:
            raise _client_error(exc, f"open collection {name!r} at {where}") from exc
        except Exception as exc:
            if _is_connection_error(exc):
                msg = (
                    f"cannot reach the Chroma server at {where}: {exc}. Start it with `chroma run --path DIR --port P`."
                )
                raise StoreUnavailableError(msg) from exc
            raise

    @classmethod
    def open(
        cls, *, name: str, path: str | Path | None, host: str | None, port: int, config: ChromaConfig | None = None
    ) -> ChromaStorage:
        """Open embedded (``path``), server (``host``) or in-memory (neither) storage."""
        if host is not None:
            try:
                client = chromadb.HttpClient(host=host, port=port)
            except Exception as exc:
                if _is_connection_error(exc):
                    msg = f"cannot reach the Chroma server at {host}:{port}: {exc}. "
                    msg += f"Start it with `chroma run --port {port}`."
                    raise StoreUnavailableError(msg) from exc
                raise
            return cls(client, name, where=f"http://{host}:{port}", config=config)
        if path is not None:
            Path(path).mkdir(parents=True, exist_ok=True)
            return cls(chromadb.PersistentClient(path=str(path)), name, where=str(path), config=config)
        return cls(chromadb.EphemeralClient(), name, where="memory", config=config)

    # -- collection state (generation, embedder) ---------------------------------------
    def state(self) -> dict[str, object]:
        """The store's keys of the collection metadata (one cheap read)."""
        try:
            metadata = self.client.get_collection(self.name).metadata or {}
        except NotFoundError as exc:
            msg = f"collection {self.name!r} was deleted at {self.where}; reopen the store to recreate it"
            raise StorageError(msg) from exc
        return {k[len(STATE_PREFIX) :]: v for k, v in metadata.items() if k.startswith(STATE_PREFIX)}

    def set_state(self, state: Mapping[str, object]) -> None:
        """Replace the store's keys of the collection metadata."""
        try:
            self.collection.modify(metadata={STATE_PREFIX + k: v for k, v in state.items()})
        except (ChromaError, ValueError) as exc:
            raise _client_error(exc, "update the collection metadata") from exc

    # -- records -----------------------------------------------------------------------
    def count(self) -> int:
        """Records in the collection."""
        return int(self.collection.count())

    def upsert(
        self,
        ids: Sequence[str],
        embeddings: Vector | None,
        documents: Sequence[str | None] | None,
        metadatas: Sequence[Mapping[str, object]],
    ) -> None:
        """Upsert in chunks of ``max_batch`` (each chunk is atomic in Chroma)."""
        for start in range(0, len(ids), self.max_batch):
            end = start + self.max_batch
            try:
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=None if embeddings is None else embeddings[start:end],
                    documents=None if documents is None else list(documents[start:end]),  # type: ignore[arg-type]
                    metadatas=list(metadatas[start:end]),  # type: ignore[arg-type]
                )
            except (ChromaError, ValueError) as exc:
                raise _client_error(exc, f"write records {start}..{min(end, len(ids))}") from exc

    def delete(self, ids: Sequence[str]) -> None:
        """Delete records by id, in chunks."""
        for start in range(0, len(ids), self.max_batch):
            try:
                self.collection.delete(ids=list(ids[start : start + self.max_batch]))
            except (ChromaError, ValueError) as exc:
                raise _client_error(exc, "delete records") from exc

    def pages(
        self, *, ids: Sequence[str] | None = None, embeddings: bool = True, metadata_only: bool = False
    ) -> Iterator[Page]:
        """Read records page by page (by ``ids`` when given, else all)."""
        include = ["metadatas"] if metadata_only else ["metadatas", "documents"]
        if embeddings and not metadata_only:
            include.append("embeddings")
        if ids is not None:
            for start in range(0, len(ids), READ_PAGE):
                yield self._get(include, ids=list(ids[start : start + READ_PAGE]))
            return
        offset = 0
        while True:
            page = self._get(include, limit=READ_PAGE, offset=offset)
            if not page.ids:
                return
            yield page
            offset += len(page.ids)

    def _get(self, include: list[str], **kwargs: object) -> Page:
        try:
            got = self.collection.get(include=include, **kwargs)  # type: ignore[arg-type]
        except (ChromaError, ValueError) as exc:
            raise _client_error(exc, "read records") from exc
        n = len(got["ids"])
        embeddings = got.get("embeddings")
        documents, metadatas = got.get("documents"), got.get("metadatas")
        return Page(
            ids=list(got["ids"]),
            documents=list(documents) if documents is not None else [None] * n,
            metadatas=[dict(m or {}) for m in metadatas] if metadatas is not None else [{}] * n,
            embeddings=None
            if embeddings is None or n == 0
            else np.asarray(embeddings, dtype=np.float32).reshape(n, -1),
        )

    def drop(self) -> None:
        """Delete the whole collection."""
        drop_collection(self.client, self.name)


def drop_collection(client: chromadb.api.ClientAPI, name: str) -> None:
    """Delete a collection, emptying it first: Chroma 1.5 leaves list-valued metadata of a
    deleted collection's records behind, where later collections can pick it up
    (chroma-core/chroma#7594).
    """
    try:
        collection = client.get_collection(name)
        while ids := collection.get(include=[], limit=READ_PAGE)["ids"]:
            collection.delete(ids=ids)
        client.delete_collection(name)
    except NotFoundError:
        pass


def _is_connection_error(exc: BaseException) -> bool:
    # The HTTP client raises httpx / builtin connection errors, sometimes wrapped in ValueError.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionError, OSError)) or type(seen).__name__ in ("ConnectError", "ConnectTimeout"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
