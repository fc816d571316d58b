"""ChromaVectorStore's ways in: ``from_params`` arguments turned into an open ``HybridStore``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mira_vectorstores.engine import BoostRule, ConfigError, Embedder, HybridStore, StoreConfig


def open_engine(
    name: str,
    where: Mapping[str, Any],
    collection_kwargs: Mapping[str, Any] | None,
    *,
    embedder: Embedder | None,
    config: StoreConfig | None,
    boosts: Sequence[BoostRule] | None,
) -> HybridStore:
    """The store ``from_params`` opens: in a folder (``{"path": ...}``, Chroma's own layout, so a
    folder ChromaVectorStore wrote opens in place) or on a server (``{"host", "port", "server"}``).

    Raises:
        ConfigError: when neither a folder nor a host and port are given, or for a
            ``collection_kwargs`` key other than ``metadata``.
    """
    if not where.get("path") and not (where.get("host") and where.get("port")):
        msg = "from_params needs persist_dir=, or host= and port= of a Chroma server"
        raise ConfigError(msg)
    location = dict(where)
    if "port" in location:
        try:
            location["port"] = int(location["port"])
        except (TypeError, ValueError):
            msg = f"port must be a port number, got {location['port']!r}"
            raise ConfigError(msg) from None
    return HybridStore(
        name, embedder=embedder, config=config, boosts=boosts, **location, **collection_options(collection_kwargs)
    )


def collection_options(collection_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``HybridStore`` arguments of ChromaVectorStore's ``collection_kwargs`` (its ``metadata``).

    Raises:
        ConfigError: for another key (an embedding function or configuration is Chroma's to use,
            and this store makes its own vectors).
    """
    given = dict(collection_kwargs or {})
    unknown = sorted(set(given) - {"metadata"})
    if unknown:
        msg = f"collection_kwargs {unknown} are not supported; only 'metadata' (of a new collection) is"
        raise ConfigError(msg)
    return {"collection_metadata": given.get("metadata")}
