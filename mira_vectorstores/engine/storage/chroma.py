"""Chroma access: client modes, chunked writes and paged reads within Chroma's limits.

Chroma is the single source of truth (DESIGN.md decision 1). Two of its limits shape this
module: a write takes at most ``client.get_max_batch_size()`` records, and a local ``get``
that returns metadata fails past ~32,766 rows ("too many SQL variables"), so every bulk
read is paged.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal, TypeVar, cast

import chromadb
import httpx
import numpy as np
from chromadb.api.collection_configuration import HNSWConfiguration
from chromadb.api.types import Where
from chromadb.errors import ChromaError, NotFoundError

from mira_vectorstores.engine.config import ChromaConfig, ServerConfig
from mira_vectorstores.engine.errors import ConfigError, StorageError, StoreUnavailableError
from mira_vectorstores.engine.reserved import STAMP
from mira_vectorstores.engine.types import Vector

logger = logging.getLogger(__name__)
T = TypeVar("T")
READ_PAGE = 5_000  # rows per paged get: well below Chroma's ~32,766 SQL-variable limit
STATE_PREFIX = "mira_"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a bulk read."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, object]]
    embeddings: Vector | None


#: What a Chroma call raises: its own errors, bad-argument ValueErrors, and (HTTP client) the
#: transport errors of httpx or the OS when the server is down or goes away mid-call.
CHROMA_ERRORS = (ChromaError, ValueError, httpx.TransportError, OSError)


def failure(exc: BaseException, what: str, where: str) -> StorageError:
    """The typed error for a failed Chroma call: ``StoreUnavailableError`` when the server is unreachable."""
    if _is_connection_error(exc):
        msg = (
            f"the Chroma server at {where} is unreachable ({type(exc).__name__}: {exc}) while trying to {what}. "
            "Check that it runs (`chroma run --path DIR --port P`) and is reachable; the store works again "
            "once it is back."
        )
        return StoreUnavailableError(msg)
    return StorageError(f"Chroma failed to {what} at {where}: {type(exc).__name__}: {exc}")


class ChromaStorage:
    """One Chroma collection holding ids, documents, metadata and embeddings."""

    def __init__(
        self,
        client: chromadb.api.ClientAPI,
        name: str,
        *,
        where: str,
        config: ChromaConfig | None = None,
        retries: int = 0,
        backoff: float = 0.25,
        owned: bool = True,
        create: bool = True,
        metadata: Mapping[str, object] | None = None,
    ) -> None:
        """Open (or create) collection ``name`` on ``client``.

        An existing collection is opened as it is, whoever wrote it (langchain-chroma,
        LlamaIndex's ChromaVectorStore, a plain client), whatever its distance space.

        Args:
            client: any Chroma client.
            name: the collection name.
            where: a description of the client for error messages.
            config: Chroma's HNSW parameters for a new collection (an existing one keeps its own).
            retries: how often a call that cannot reach the server is tried again.
            backoff: seconds before the first retry (doubling after each).
            owned: the client is ours to close, and the collection ours to drop with an in-memory
                store (``False``: a caller's client, left open, and a caller's collection, kept).
            create: create the collection when it does not exist (``False``: ``StorageError``).
            metadata: metadata of a new collection; a ``"hnsw:space"`` key in it chooses the
                distance space as it does in Chroma.

        Raises:
            StorageError: when the collection cannot be opened (or does not exist and
                ``create`` is ``False``).
        """
        config = config or ChromaConfig()
        self.client = client
        self.name = name
        self.where = where
        self.retries = retries
        self.backoff = backoff
        self.owned = owned
        #: ``close`` closes the client (a client made from a caller's collection is ours to close).
        self.close_client = owned
        #: The folder of an embedded client (``write_position`` reads Chroma's database there).
        self.path: Path | None = None
        self._position_db: sqlite3.Connection | None = None
        try:
            if create:
                self.collection = client.get_or_create_collection(
                    name,
                    embedding_function=None,
                    metadata=dict(metadata) if metadata else None,
                    configuration={"hnsw": _new_hnsw(config, metadata or {})},
                )
            else:
                self.collection = client.get_collection(name, embedding_function=None)
            self.max_batch = int(client.get_max_batch_size())
        except NotFoundError as exc:
            msg = f"collection {name!r} does not exist at {where}; create it (create=True) or check the name"
            raise StorageError(msg) from exc
        except CHROMA_ERRORS as exc:
            raise failure(exc, f"open collection {name!r}", where) from exc
        self._tombstones: chromadb.Collection | None = None
        #: The collection's distance space: ``ip``, ``cosine`` or ``l2`` (the one ``distance`` reports in).
        self.space = _space_of(self.collection)

    @classmethod
    def open(
        cls,
        *,
        name: str,
        path: str | Path | None,
        host: str | None,
        port: int,
        config: ChromaConfig | None = None,
        server: ServerConfig | None = None,
        client: chromadb.api.ClientAPI | None = None,
        create: bool = True,
        metadata: Mapping[str, object] | None = None,
        resolve: Callable[[chromadb.api.ClientAPI, str], str] | None = None,
    ) -> ChromaStorage:
        """Open embedded (``path``), server (``host``) or in-memory (neither) storage, or the
        collection on a caller's open ``client`` (used as it is and never closed here).
        ``resolve(client, where)`` gives the collection to open in place of ``name`` (a store
        alias, ``aliases.py``), once the client is made.
        """
        options = {"config": config, "create": create, "metadata": metadata}
        owned, retries, backoff, folder = client is None, 0, 0.25, None
        if client is not None:
            where = (server or ServerConfig()).url(host, port) if host is not None else str(path or "memory")
            folder = Path(path) if path is not None and host is None else None
        else:
            client, where = make_client(path=path, host=host, port=port, server=server)
            if host is not None:
                retries, backoff = (server or ServerConfig()).retries, (server or ServerConfig()).backoff
            elif path is not None:
                folder = Path(path)
        if resolve is not None:
            name = resolve(client, where)
        storage = cls(client, name, where=where, retries=retries, backoff=backoff, owned=owned, **options)  # type: ignore[arg-type]
        storage.path = folder
        return storage

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one Chroma call; a server that cannot be reached is retried with backoff
        (``ServerConfig.retries``: every call we make is idempotent, writes included), and any
        failure becomes a ``StorageError`` or ``StoreUnavailableError``.
        """
        for attempt in itertools.count():
            try:
                return call()
            except CHROMA_ERRORS as exc:
                error = failure(exc, what, self.where)
                if not isinstance(error, StoreUnavailableError) or attempt >= self.retries:
                    raise error from exc
                logger.debug("retrying %s at %s after %s", what, self.where, type(exc).__name__)
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError  # unreachable: the loop returns or raises

    # -- collection state (embedder, dimension) ---------------------------------------
    def state(self) -> dict[str, object]:
        """The store's keys of the collection metadata (one cheap read)."""
        try:
            metadata = self.client.get_collection(self.name).metadata or {}
        except NotFoundError as exc:
            msg = f"collection {self.name!r} was deleted at {self.where}; reopen the store to recreate it"
            raise StorageError(msg) from exc
        except CHROMA_ERRORS as exc:
            raise failure(exc, "read the collection's metadata", self.where) from exc
        return {k[len(STATE_PREFIX) :]: v for k, v in metadata.items() if k.startswith(STATE_PREFIX)}

    def set_state(self, state: Mapping[str, object]) -> None:
        """Set the store's keys of the collection metadata, keeping everyone else's keys (a
        collection written by langchain-chroma or LlamaIndex keeps its own metadata).

        Chroma refuses a change of metadata that holds ``hnsw:*`` keys, and a change replaces
        the whole metadata: a collection whose metadata has them (langchain-chroma's
        ``collection_metadata={"hnsw:space": ...}``, which other libraries read back) is left
        as it is, and its state is only what it was created with (``state_metadata``).
        """

        def modify() -> None:
            current = self.client.get_collection(self.name).metadata or {}
            if any(k.startswith("hnsw:") for k in current):
                logger.debug("collection %r keeps its hnsw:* metadata; the store's state is not recorded", self.name)
                return
            kept = {k: v for k, v in current.items() if not k.startswith(STATE_PREFIX)}
            self.collection.modify(metadata={**kept, **state_metadata(state)})

        self._call("update the collection metadata", modify)

    # -- records -----------------------------------------------------------------------
    def count(self) -> int:
        """Records in the collection."""
        return self._call("count records", lambda: int(self.collection.count()))

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
            self._call(
                f"write records {start}..{min(end, len(ids))}",
                partial(
                    self.collection.upsert,
                    ids=list(ids[start:end]),
                    embeddings=None if embeddings is None else embeddings[start:end],
                    documents=None if documents is None else list(documents[start:end]),  # type: ignore[arg-type]
                    metadatas=list(metadatas[start:end]),  # type: ignore[arg-type]
                ),
            )

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Mapping[str, object]]) -> None:
        """Merge metadata keys into existing records (a None value removes its key), in chunks."""
        for start in range(0, len(ids), self.max_batch):
            end = start + self.max_batch
            self._call(
                f"update records {start}..{min(end, len(ids))}",
                partial(self.collection.update, ids=list(ids[start:end]), metadatas=list(metadatas[start:end])),  # type: ignore[arg-type]
            )

    def delete(self, ids: Sequence[str]) -> None:
        """Delete records by id, in chunks."""
        for start in range(0, len(ids), self.max_batch):
            self._call("delete records", partial(self.collection.delete, ids=list(ids[start : start + self.max_batch])))

    def pages(
        self,
        *,
        ids: Sequence[str] | None = None,
        embeddings: bool = True,
        metadata_only: bool = False,
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
        got = self._call("read records", lambda: self.collection.get(include=include, **kwargs))  # type: ignore[arg-type]
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

    def stored_dimension(self) -> int | None:
        """The length of the vectors the collection holds (one record read); ``None`` when empty."""
        page = self._get(["embeddings"], limit=1)
        return None if page.embeddings is None else int(page.embeddings.shape[1])

    def ids_stamped_after(self, stamp: int) -> list[str]:
        """Ids of the records stamped after ``stamp``, read in one call: a consistent set, where
        pages by offset could skip a record when another is deleted between two pages (an ids-only
        read is not subject to Chroma's SQL-variable limit).
        """
        return self._call(
            "read changed records", lambda: list(self.collection.get(where=_stamped("$gt", stamp), include=[])["ids"])
        )

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Which of these ids Chroma holds."""
        found: set[str] = set()
        for start in range(0, len(ids), READ_PAGE):
            got = self._call(
                "look records up", partial(self.collection.get, ids=list(ids[start : start + READ_PAGE]), include=[])
            )
            found.update(got["ids"])
        return found

    def metadatas_of(self, ids: Sequence[str]) -> dict[str, dict[str, object]]:
        """The metadata Chroma holds for these ids (absent ids are left out)."""
        found: dict[str, dict[str, object]] = {}
        for start in range(0, len(ids), READ_PAGE):
            page = self._get(["metadatas"], ids=list(ids[start : start + READ_PAGE]))
            found.update(zip(page.ids, page.metadatas, strict=True))
        return found

    def write_position(self) -> int | None:
        """How far Chroma's metadata segment of this collection has applied the write log: any
        write to the collection, by any client (langchain-chroma's, ChromaVectorStore's), moves it
        on. Embedded folders only; ``None`` elsewhere, or when this chromadb's database cannot be
        read so (then a caller assumes the collection may have changed).
        """
        if self.path is None:
            return None
        database = self.path / "chroma.sqlite3"
        try:
            if self._position_db is None:  # one read-only connection, kept: each read is then ~0.05 ms
                uri = f"{database.resolve().as_uri()}?mode=ro"
                self._position_db = sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)
            rows = self._position_db.execute(
                "SELECT m.seq_id FROM max_seq_id m JOIN segments s ON m.segment_id = s.id "
                "WHERE s.collection = ? AND s.scope = 'METADATA'",
                (self.collection_id,),
            ).fetchall()
        except sqlite3.Error:
            logger.debug("cannot read Chroma's write position at %s", database, exc_info=True)
            return None
        # An int, or 8 big-endian bytes in databases older chromadb versions wrote.
        return max([0, *(int.from_bytes(v, "big") if isinstance(v, bytes) else int(v) for (v,) in rows)])

    @property
    def collection_id(self) -> str:
        """Chroma's id of the collection (a collection dropped and made again gets a new one)."""
        return str(self.collection.id)

    def heartbeat(self) -> None:
        """Raise ``StoreUnavailableError`` unless the server (or embedded client) answers."""
        self._call("reach the server", lambda: self.client.heartbeat())

    # -- tombstones: one stamped record per deleted id, so other processes learn of deletes ----
    @staticmethod
    def tombstones_name(name: str) -> str:
        """The side collection holding collection ``name``'s tombstones."""
        return f"{name}-mira-tombstones"

    def _tombstone_collection(self) -> chromadb.Collection:
        if self._tombstones is None:
            self._tombstones = self._call(
                "open the tombstones",
                lambda: self.client.get_or_create_collection(self.tombstones_name(self.name), embedding_function=None),
            )
        return self._tombstones

    def add_tombstones(self, ids: Sequence[str], stamp: int) -> None:
        """Record that these ids are deleted as of ``stamp``."""
        collection = self._tombstone_collection()
        for start in range(0, len(ids), self.max_batch):
            chunk = list(ids[start : start + self.max_batch])
            self._call(
                "write tombstones",
                partial(
                    collection.upsert,
                    ids=chunk,
                    embeddings=np.zeros((len(chunk), 1), dtype=np.float32),
                    metadatas=[{STAMP: stamp}] * len(chunk),
                ),
            )

    def tombstones_after(self, stamp: int) -> list[tuple[str, int]]:
        """(id, stamp) of every delete stamped after ``stamp``."""
        collection = self._tombstone_collection()
        found: list[tuple[str, int]] = []
        offset = 0
        while True:
            got = self._call(
                "read tombstones",
                partial(
                    collection.get, where=_stamped("$gt", stamp), include=["metadatas"], limit=READ_PAGE, offset=offset
                ),
            )
            metadatas = got.get("metadatas") or []
            found += [(i, _stamp(m)) for i, m in zip(got["ids"], metadatas, strict=True)]
            if len(got["ids"]) < READ_PAGE:
                return found
            offset += READ_PAGE

    def drop_tombstones_before(self, stamp: int) -> None:
        """Forget deletes stamped before ``stamp`` (readers further behind do a full reconcile)."""
        self._call("compact tombstones", lambda: self._tombstone_collection().delete(where=_stamped("$lt", stamp)))

    def close(self) -> None:
        """Release the client: chromadb shares one engine per folder within a process, and the last
        client to close stops it, so a store opened again later reads the files as they are then
        (written by another process meanwhile), not a stale in-memory state.
        """
        if self._position_db is not None:
            self._position_db.close()
            self._position_db = None
        if self.close_client:
            close_client(self.client)

    def drop(self) -> None:
        """Delete the whole collection and its tombstones."""
        drop_collection(self.client, self.name)
        drop_collection(self.client, self.tombstones_name(self.name))


def make_client(
    *, path: str | Path | None, host: str | None, port: int, server: ServerConfig | None
) -> tuple[chromadb.api.ClientAPI, str]:
    """A client of a server (``host``), an embedded folder (``path``) or memory (neither), and
    where it points, for messages.

    Raises:
        StorageError: when the client cannot be made (``StoreUnavailableError``: no server there).
    """
    if host is not None:
        server = server or ServerConfig()
        where = server.url(host, port)
        try:
            client = chromadb.HttpClient(
                host=host,
                port=port,
                ssl=server.ssl,
                headers=dict(server.headers),
                tenant=server.tenant,
                database=server.database,
            )
        except CHROMA_ERRORS as exc:
            raise failure(exc, "connect", where) from exc
        _set_timeouts(client, server)
        return client, where
    if path is not None:
        Path(path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path)), str(path)
    return chromadb.EphemeralClient(), "memory"


def close_client(client: chromadb.api.ClientAPI) -> None:
    """Release a client (chromadb >= 1.1 counts the clients of each folder's engine)."""
    close = getattr(client, "close", None)  # not in ClientAPI's declared interface
    try:
        if callable(close):
            close()
    except CHROMA_ERRORS:
        logger.debug("closing a Chroma client failed", exc_info=True)


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


def state_metadata(state: Mapping[str, object]) -> dict[str, object]:
    """The store's state as collection metadata keys (``mira_*``)."""
    return {STATE_PREFIX + k: v for k, v in state.items()}


def client_of(collection: object) -> chromadb.api.ClientAPI:
    """A client on the same Chroma as an open ``Collection`` (same settings, tenant and database).

    Raises:
        ConfigError: when ``collection`` is not a chromadb collection.
    """
    api = getattr(collection, "_client", None)  # where chromadb keeps a collection's connection
    if not isinstance(collection, chromadb.Collection) or not callable(getattr(api, "get_settings", None)):
        msg = f"expected a chromadb Collection (client.get_or_create_collection(name)), got {type(collection).__name__}"
        raise ConfigError(msg)
    settings = api.get_settings()  # type: ignore[union-attr]
    return chromadb.Client(settings=settings, tenant=collection.tenant, database=collection.database)


def _new_hnsw(config: ChromaConfig, metadata: Mapping[str, object]) -> HNSWConfiguration:
    """Chroma's HNSW settings for a collection we create.

    No embedding function: vectors always come from us (Chroma's default one would download a
    model). Space "ip", not "cosine": we store unit vectors, so both rank alike, and Chroma
    re-normalises under "cosine", which changes the last bits of the vectors it returns (and so
    the order of ties after a rebuild). A small graph: our searches never use Chroma's index
    (see ChromaConfig). Metadata with ``hnsw:*`` keys (langchain-chroma's ``collection_metadata``)
    sets the index itself, as in Chroma.
    """
    if any(k.startswith("hnsw:") for k in metadata):
        return {}
    return {"space": "ip", "max_neighbors": config.hnsw_max_neighbors, "ef_construction": config.hnsw_ef_construction}


def _space_of(collection: chromadb.Collection) -> str:
    """The distance space of a collection: its configuration's, else its legacy metadata's, else
    Chroma's default ``l2``.
    """
    configuration = getattr(collection, "configuration_json", None) or {}
    for index in ("hnsw", "spann"):
        space = (configuration.get(index) or {}).get("space")
        if isinstance(space, str):
            return space
    space = (collection.metadata or {}).get("hnsw:space")
    return space if isinstance(space, str) else "l2"


def _stamped(operator: Literal["$gt", "$lt"], stamp: int) -> Where:
    """A ``where`` on the write stamp."""
    return cast(Where, {STAMP: {operator: stamp}})


def _stamp(metadata: Mapping[str, object] | None) -> int:
    value = (metadata or {}).get(STAMP)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _set_timeouts(client: chromadb.api.ClientAPI, server: ServerConfig) -> None:
    """Give the HTTP client's session our timeouts (chromadb 1.5 makes it with none at all, so a
    server that stops answering would hang every call). The session is a private attribute of
    chromadb's HTTP client: if a release renames it, calls keep chromadb's behaviour and a
    warning says so.
    """
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(server.timeout, connect=server.connect_timeout)
    else:
        logger.warning("cannot set timeouts on this chromadb's HTTP client; calls wait as long as chromadb lets them")


def _is_connection_error(exc: BaseException) -> bool:
    # The HTTP client raises httpx / builtin connection errors, sometimes wrapped in ValueError.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ConnectionError, OSError, httpx.TransportError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
