"""Store names that open another collection after a migration (``migrate_embeddings``).

An alias maps a store's name to the collection that holds its records now, and names the one
it replaced (kept until dropped). Switching is one atomic write, so an open sees the old
collection or the new one, never a mix:

- an embedded folder keeps its aliases in ``<path>/mira/aliases.json`` (temp file, fsync,
  rename), read before Chroma is opened;
- a server (or an in-memory client) keeps them in the collection ``mira-aliases``, one record
  per store name (a Chroma upsert is atomic).

What is read back is checked: a malformed entry is a ``StorageError`` naming where it is.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import chromadb
import numpy as np
import orjson
from chromadb.errors import NotFoundError

from mira_vectorstores.engine.errors import StorageError
from mira_vectorstores.engine.storage.chroma import CHROMA_ERRORS, failure
from mira_vectorstores.engine.storage.payloads import write_atomic

ALIAS_COLLECTION = "mira-aliases"
ALIAS_FILE = "aliases.json"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


@dataclass(frozen=True, slots=True)
class Alias:
    """Store ``name`` opens ``collection``; ``previous`` is the collection it replaced."""

    name: str
    collection: str
    previous: str
    embedder: str


def _checked(name: object, entry: object, where: str) -> Alias:
    fields = ("collection", "previous", "embedder")
    if (
        not isinstance(name, str)
        or not isinstance(entry, dict)
        or not all(isinstance(entry.get(f), str) for f in fields)
    ):
        msg = f"a store alias at {where} is malformed ({name!r}); remove the entry, or restore the file"
        raise StorageError(msg)
    if not _NAME.match(entry["collection"]):
        msg = f"the store alias {name!r} at {where} names an invalid collection {entry['collection']!r}"
        raise StorageError(msg)
    return Alias(name, entry["collection"], entry["previous"], entry["embedder"])


class FileAliases:
    """The aliases of an embedded folder."""

    def __init__(self, path: str | Path) -> None:
        """Aliases of the store folder ``path``."""
        self.file = Path(path) / "mira" / ALIAS_FILE

    def all(self) -> dict[str, Alias]:
        """Every alias, by store name."""
        try:
            raw = orjson.loads(self.file.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, orjson.JSONDecodeError) as exc:
            msg = f"{str(self.file)!r} is unreadable ({exc}); restore it or remove it (stores then open by name)"
            raise StorageError(msg) from None
        if not isinstance(raw, dict):
            msg = f"{str(self.file)!r} must hold a JSON object of store aliases"
            raise StorageError(msg)
        return {name: _checked(name, entry, str(self.file)) for name, entry in raw.items()}

    def resolve(self, name: str) -> str:
        """The collection store ``name`` opens."""
        alias = self.all().get(name)
        return name if alias is None else alias.collection

    def set(self, alias: Alias) -> None:
        """Point ``alias.name`` at ``alias.collection`` (one atomic file replace)."""
        entries = {n: asdict(a) for n, a in self.all().items()}
        entries[alias.name] = asdict(alias)
        self.file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.file, orjson.dumps(entries, option=orjson.OPT_INDENT_2))

    def remove(self, name: str) -> None:
        """Forget store ``name``'s alias."""
        entries = {n: asdict(a) for n, a in self.all().items() if n != name}
        if self.file.exists():
            write_atomic(self.file, orjson.dumps(entries, option=orjson.OPT_INDENT_2))


class ChromaAliases:
    """The aliases of a Chroma server's database (or of an in-memory client)."""

    def __init__(self, client: chromadb.api.ClientAPI, where: str) -> None:
        """Aliases kept through ``client`` (``where`` names it in errors)."""
        self.client = client
        self.where = where

    def all(self) -> dict[str, Alias]:
        """Every alias, by store name."""
        try:
            got = self.client.get_collection(ALIAS_COLLECTION, embedding_function=None).get(include=["metadatas"])
        except NotFoundError:
            return {}
        except CHROMA_ERRORS as exc:
            raise failure(exc, "read the store aliases", self.where) from exc
        where = f"{self.where} (collection {ALIAS_COLLECTION!r})"
        metadatas = got["metadatas"] or []
        return {i: _checked(i, dict(m or {}), where) for i, m in zip(got["ids"], metadatas, strict=True)}

    def resolve(self, name: str) -> str:
        """The collection store ``name`` opens (one small read; none when no alias was ever set)."""
        alias = self.all().get(name)
        return name if alias is None else alias.collection

    def set(self, alias: Alias) -> None:
        """Point ``alias.name`` at ``alias.collection`` (one upsert)."""
        entry = {k: v for k, v in asdict(alias).items() if k != "name"}
        try:
            collection = self.client.get_or_create_collection(ALIAS_COLLECTION, embedding_function=None)
            collection.upsert(ids=[alias.name], metadatas=[entry], embeddings=np.ones((1, 1), dtype=np.float32))
        except CHROMA_ERRORS as exc:
            raise failure(exc, "switch the store alias", self.where) from exc

    def remove(self, name: str) -> None:
        """Forget store ``name``'s alias."""
        try:
            self.client.get_collection(ALIAS_COLLECTION, embedding_function=None).delete(ids=[name])
        except NotFoundError:
            return
        except CHROMA_ERRORS as exc:
            raise failure(exc, "remove the store alias", self.where) from exc


def aliases_of(path: str | Path | None, client: chromadb.api.ClientAPI, where: str) -> FileAliases | ChromaAliases:
    """The aliases of an embedded folder (``path``), else those kept through ``client``."""
    return FileAliases(path) if path is not None else ChromaAliases(client, where)
