"""A cache of search answers that can never serve a stale one.

Every answer is stored under the version of the mirrors it was computed from
(``Mirrors.version``, which changes with every write, delete or compaction the mirrors take in,
whether this process made it or a catch-up brought another process's). A lookup at another
version finds nothing, and the first access at a new version empties the cache, so an answer is
served only while the records it was computed from are exactly the ones the store holds.

The size and the time to live bound memory and age (``QueryCacheConfig``); searches whose answer
depends on the clock (a ``RecencyBoost``) are never cached. Hits are copied on the way in and
out: a caller that edits a hit's metadata changes neither the cache nor another caller's hits.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Hashable, Sequence

from cachetools import TTLCache

from mira_vectorstores.engine.config import QueryCacheConfig
from mira_vectorstores.engine.types import SearchHit


class QueryCache:
    """Answers keyed by (mirrors version, the whole request); thread-safe.

    Example:
        >>> cache = QueryCache(QueryCacheConfig(size=2, ttl=60.0))
        >>> cache.put(7, ("q", 4), [])
        >>> cache.get(7, ("q", 4)), cache.get(8, ("q", 4)), cache.get(7, ("q", 4))
        ([], None, None)
    """

    def __init__(self, config: QueryCacheConfig) -> None:
        """Create an empty cache (a size of 0 caches nothing)."""
        self.config = config
        self._answers: TTLCache[Hashable, list[SearchHit]] | None = (
            TTLCache(maxsize=config.size, ttl=config.ttl) if config.size > 0 else None
        )
        self._version: int | None = None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        """Whether answers are kept at all (``QueryCacheConfig.size`` > 0)."""
        return self._answers is not None

    def get(self, version: int, key: Hashable) -> list[SearchHit] | None:
        """The answer cached for ``key`` at ``version``, as a copy; ``None`` when there is none."""
        if self._answers is None:
            return None
        with self._lock:
            self._level(version)
            found = self._answers.get(key) if self._version == version else None
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
        return _copied(found)

    def put(self, version: int, key: Hashable, hits: Sequence[SearchHit]) -> None:
        """Remember the answer computed at ``version`` (a copy of it)."""
        if self._answers is None:
            return
        kept = _copied(hits)
        with self._lock:
            self._level(version)
            if self._version == version:  # an answer of an older version than the cache's is dropped
                self._answers[key] = kept

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            if self._answers is not None:
                self._answers.clear()

    def _level(self, version: int) -> None:
        # Versions only grow: a newer one empties the cache, an older one (a search that started
        # before a write and finishes after it) neither reads nor empties it.
        if self._version is None or version > self._version:
            assert self._answers is not None
            self._answers.clear()
            self._version = version


def _copied(hits: Sequence[SearchHit]) -> list[SearchHit]:
    return [
        dataclasses.replace(
            hit,
            metadata=copy.deepcopy(hit.metadata),
            embedding=None if hit.embedding is None else hit.embedding.copy(),
        )
        for hit in hits
    ]
