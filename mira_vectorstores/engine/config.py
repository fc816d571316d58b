"""One frozen, validated configuration object per concern."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from mira_vectorstores.engine.errors import ConfigError
from mira_vectorstores.engine.types import FusionMethod, IndexKind, SearchMode

E = TypeVar("E", bound=Enum)


def enum_value(enum_type: type[E], value: object, what: str) -> E:
    """Turn a string (or the enum itself) into an enum member, or raise ``ConfigError``."""
    try:
        return enum_type(value)
    except ValueError:
        valid = ", ".join(repr(m.value) for m in enum_type)
        msg = f"{what} must be one of {valid}, got {value!r}"
        raise ConfigError(msg) from None


@dataclass(frozen=True, slots=True)
class FaissConfig:
    """The dense mirror.

    HNSW parameters left at ``None`` are chosen by measurement against ``target_recall``
    (``engine/mirrors/calibration.py``): after each HNSW build, and again whenever the live rows
    have grown by ``recalibrate_growth`` since, the mirror compares its index with an exact
    scan on a seeded sample of its own vectors (perturbed, as queries) and keeps the smallest
    ``efSearch`` that reaches the target, or searches unfiltered queries by exact scan when no
    ``efSearch`` does so faster than the scan (``index_kind`` auto only: an explicit ``hnsw``
    keeps the graph). A value given explicitly is fixed: it is used as given and never
    calibrated (``hnsw_ef_search=64`` searches with 64 whatever the recall).

    Attributes:
        index_kind: flat (exact), HNSW, IVF, or auto (flat below ``hnsw_threshold``).
        hnsw_threshold: live records above which ``auto`` switches from flat to HNSW.
        target_recall: the recall@10 of unfiltered HNSW searches to calibrate for, in (0, 1];
            ``None`` turns calibration off (then unset HNSW parameters take their defaults).
        recalibrate_growth: recalibrate ``efSearch`` once the live rows have grown by this factor
            since the last calibration (> 1).
        hnsw_m: HNSW graph degree (``None``: chosen at build).
        hnsw_ef_construction: HNSW build beam width (``None``: chosen at build).
        hnsw_ef_search: HNSW query beam width, raised to ``k`` when smaller (``None``: calibrated).
        ivf_nlist: IVF cells; IVF is trained once ``39 * ivf_nlist`` vectors exist (flat before).
        ivf_nprobe: IVF cells visited per query.
        exact_scan_max: a filter that leaves at most this many rows (or at most
            ``exact_scan_fraction`` of them) is answered by an exact scan of that subset.
        exact_scan_fraction: see ``exact_scan_max``.
    """

    index_kind: IndexKind = IndexKind.AUTO
    hnsw_threshold: int = 20_000
    target_recall: float | None = 0.99
    recalibrate_growth: float = 1.25
    hnsw_m: int | None = None
    hnsw_ef_construction: int | None = None
    hnsw_ef_search: int | None = None
    ivf_nlist: int = 1024
    ivf_nprobe: int = 32
    exact_scan_max: int = 20_000
    exact_scan_fraction: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "index_kind", enum_value(IndexKind, self.index_kind, "FaissConfig.index_kind"))
        for name in ("hnsw_threshold", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nlist", "ivf_nprobe"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                msg = f"FaissConfig.{name} must be > 0, got {value!r}"
                raise ConfigError(msg)
        target = self.target_recall
        if target is not None and (isinstance(target, bool) or not 0.0 < target <= 1.0):
            msg = f"FaissConfig.target_recall must be in (0, 1] or None, got {target!r}"
            raise ConfigError(msg)
        if not self.recalibrate_growth > 1.0:
            msg = f"FaissConfig.recalibrate_growth must be > 1, got {self.recalibrate_growth!r}"
            raise ConfigError(msg)
        if self.exact_scan_max < 0:
            msg = f"FaissConfig.exact_scan_max must be >= 0, got {self.exact_scan_max}"
            raise ConfigError(msg)
        if not 0.0 <= self.exact_scan_fraction <= 1.0:
            msg = f"FaissConfig.exact_scan_fraction must be in [0, 1], got {self.exact_scan_fraction}"
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class LexicalConfig:
    """The BM25 mirror (bm25s).

    Attributes:
        stemmer: a PyStemmer language ("english", "german", ...) or ``None`` for no stemming.
        stopwords: a bm25s stopword set ("en", "de", ...) or ``None``.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation. bm25s' defaults (1.5, 0.75) are kept: on SciFact train
            (809 queries) k1 in 0.9-1.2 and b in 0.4-0.9 moved hybrid nDCG@10 by at most +0.004
            (``python -m benchmarks.fusion``), within the noise of 809 queries.
    """

    stemmer: str | None = "english"
    stopwords: str | None = "en"
    k1: float = 1.5
    b: float = 0.75

    def __post_init__(self) -> None:
        if not (math.isfinite(self.k1) and self.k1 > 0) or not 0 <= self.b <= 1:
            msg = f"LexicalConfig needs k1 > 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}"
            raise ConfigError(msg)


#: The dense weight each fusion measured best with on SciFact train (``python -m benchmarks.fusion``).
DEFAULT_ALPHA = {
    FusionMethod.ABSOLUTE: 0.45,
    FusionMethod.TM2C2: 0.8,
    FusionMethod.WEIGHTED: 0.5,
    FusionMethod.DBSF: 0.5,
    FusionMethod.RRF: 0.5,
}


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Default search behaviour; every field can be overridden per search.

    Attributes:
        mode: the default search mode.
        method: how hybrid rankings are fused. ``ABSOLUTE`` is the default: a score means the
            same in every query. It is ``alpha * dense + (1 - alpha) * lexical`` in [0, 1], where
            dense is the cosine's share of the way from the query's background cosine (the 99th
            percentile of its cosines to ~1,024 records sampled from a store of 1,000 or more;
            0 below) to 1, and lexical is the BM25 score's share of the query's IDF sum
            (``LexicalIndex.query_weight``). 0 = no evidence on either side. Min-max fusion
            (``WEIGHTED``, the previous default) stretches every query's candidates to [0, 1]:
            its best hit is always near 1, and pure dense noise can outrank the one record
            holding a rare query word. Chosen on SciFact train (809 queries, all-MiniLM-L6-v2,
            ``python -m benchmarks.fusion``) as the best-scoring variant that keeps a rare-term
            record first (``pipeline.BACKGROUND_PERCENTILE``); nDCG@10 train / test (300), int8
            vectors: absolute 0.738 / 0.722, min-max 0.734 / 0.734, TM2C2 (alpha 0.8) 0.738 / 0.736,
            RRF 0.714 / 0.718; so the meaning costs 0.012 on test (recall@100 0.945 vs 0.955). What a
            threshold keeps on SciFact train: ``benchmarks/README.md``.
        rrf_k: RRF constant (Cormack et al. 2009; a small k over-rewards the top ranks).
        alpha: weight of the dense side in fusion (and of RRF's dense list); ``None``: the
            method's own, measured on SciFact train (``DEFAULT_ALPHA``: absolute 0.45, TM2C2 0.8,
            the others 0.5).
        fetch_k: candidates taken from each side before fusion; ``None`` picks ``max(10 * k, 200)``
            (a plain dense search takes ``k``: nothing could reorder its top k).
    """

    mode: SearchMode = SearchMode.AUTO
    method: FusionMethod = FusionMethod.ABSOLUTE
    rrf_k: int = 60
    alpha: float | None = None
    fetch_k: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", enum_value(SearchMode, self.mode, "FusionConfig.mode"))
        object.__setattr__(self, "method", enum_value(FusionMethod, self.method, "FusionConfig.method"))
        if self.rrf_k <= 0:
            msg = f"FusionConfig.rrf_k must be > 0, got {self.rrf_k}"
            raise ConfigError(msg)
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            msg = f"FusionConfig.alpha must be in [0, 1] or None (the method's own), got {self.alpha}"
            raise ConfigError(msg)
        if self.fetch_k is not None and self.fetch_k <= 0:
            msg = f"FusionConfig.fetch_k must be > 0 or None, got {self.fetch_k}"
            raise ConfigError(msg)

    def alpha_for(self, method: FusionMethod) -> float:
        """The dense weight of a hybrid search fused by ``method``: ``alpha``, else the method's own."""
        return DEFAULT_ALPHA[method] if self.alpha is None else self.alpha


@dataclass(frozen=True, slots=True)
class ChromaConfig:
    """Chroma's own HNSW index of the collection, fixed when the collection is created.

    Our searches never use it (FAISS, BM25 and the records mirror answer them, DESIGN.md
    decision 4), yet Chroma updates it on every write: with Chroma's defaults (16 neighbours,
    ``ef_construction`` 100) it takes about 40 % of an ingest of 100,000 384-d records, more
    than our whole FAISS mirror (``benchmarks/README.md``). The small defaults here keep it
    cheap. Raise them (Chroma's are 16 and 100) if plain Chroma clients query the collection
    and need its recall. An existing collection keeps the values it was created with.

    Attributes:
        hnsw_max_neighbors: Chroma's ``max_neighbors`` (the HNSW graph degree, ``M``).
        hnsw_ef_construction: Chroma's ``ef_construction`` (the build beam width).
    """

    hnsw_max_neighbors: int = 4
    hnsw_ef_construction: int = 16

    def __post_init__(self) -> None:
        for name in ("hnsw_max_neighbors", "hnsw_ef_construction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                msg = f"ChromaConfig.{name} must be an int >= 2, got {value!r}"
                raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class QueryCacheConfig:
    """The cache of search answers (``engine/query/cache.py``).

    An answer is kept under the version of the mirrors it came from and emptied by the first
    search after any write the store learns of (its own, or another process's through a
    catch-up), so it is never stale; searches with a ``RecencyBoost`` are not cached. A hit costs
    a dictionary lookup and a copy of the hits instead of embedding the query (~3-8 ms with
    MiniLM) and searching (0.2-3 ms).

    Attributes:
        size: answers kept (least recently used go first); 0 turns the cache off.
        ttl: seconds an answer may be served.
    """

    size: int = 256
    ttl: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            msg = f"QueryCacheConfig.size must be an int >= 0 (0 turns the cache off), got {self.size!r}"
            raise ConfigError(msg)
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int | float) or not self.ttl > 0:
            msg = f"QueryCacheConfig.ttl must be a number of seconds > 0, got {self.ttl!r}"
            raise ConfigError(msg)


#: Seconds between background catch-ups of a server store when ``refresh_interval`` is ``None``:
#: a write shows in other processes within about this plus one catch-up (~20 ms idle); measured
#: at 100,000 records: p50 0.34 s, p99 1.03 s (``benchmarks/concurrency.py``).
SERVER_REFRESH_INTERVAL = 0.5


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Everything a ``HybridStore`` can be tuned with.

    Attributes:
        faiss: the dense mirror.
        lexical: the BM25 mirror.
        fusion: default search options.
        chroma: Chroma's own index of the collection (unused by our searches).
        query_cache: the cache of search answers (on: 256 answers, 300 s).
        refresh_interval: how stale the mirrors may get, in seconds. A store on a server
            catches up with other processes' writes in a background thread this often (``None``:
            every ``SERVER_REFRESH_INTERVAL`` = 0.5 s), so searches never wait on Chroma and see
            another process's write within about this interval plus one catch-up. An
            embedded or in-memory store has no other writing process (its folder is locked);
            given a value, its reads catch up first once it has passed (``None``: only
            ``refresh()`` does), which matters only for several stores of one process on one folder.
        checkpoint_interval: seconds between saves of an embedded store's mirrors during
            writes (``None``: only ``flush`` / ``close``). Each save lets the journal of writes
            since the previous one go; it costs about 1.2 s per 50,000 384-d records
            (``benchmarks/results/crash.md``).
        repair_on_open: when Chroma cannot read an embedded collection after its process died
            (a probe in a child process tells), repair it on open (``HybridStore.repair``) and
            log a warning; ``False`` raises ``StoreCorruptedError`` instead. A repair that would
            leave any record without its vector always raises.
    """

    faiss: FaissConfig = field(default_factory=FaissConfig)
    lexical: LexicalConfig = field(default_factory=LexicalConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    chroma: ChromaConfig = field(default_factory=ChromaConfig)
    query_cache: QueryCacheConfig = field(default_factory=QueryCacheConfig)
    refresh_interval: float | None = None
    checkpoint_interval: float | None = 60.0
    repair_on_open: bool = True

    def __post_init__(self) -> None:
        for name in ("refresh_interval", "checkpoint_interval"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                msg = f"StoreConfig.{name} must be a number >= 0 or None, got {value!r}"
                raise ConfigError(msg)
        if not isinstance(self.repair_on_open, bool):
            msg = f"StoreConfig.repair_on_open must be True or False, got {self.repair_on_open!r}"
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to reach a Chroma server (``HybridStore.connect``).

    Attributes:
        ssl: use HTTPS.
        headers: sent with every request, e.g. ``{"Authorization": "Bearer <token>"}`` or
            ``{"X-Chroma-Token": "<token>"}`` for a server with token auth.
        tenant: the Chroma tenant.
        database: the Chroma database.
        timeout: seconds a request may take (``None``: no limit); generous, since a large write
            (a raw object of many MB, a full batch) can take a Chroma server a while.
        connect_timeout: seconds to connect before the server counts as unreachable.
        retries: how often a request that cannot reach the server is tried again (every
            request the store makes is idempotent, writes included).
        backoff: seconds before the first retry; each further retry waits twice as long.
    """

    ssl: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    tenant: str = "default_tenant"
    database: str = "default_database"
    timeout: float | None = 300.0
    connect_timeout: float = 5.0
    retries: int = 2
    backoff: float = 0.25

    def __post_init__(self) -> None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(self.headers).items()):
            msg = f"ServerConfig.headers must map str to str, got {dict(self.headers)!r}"
            raise ConfigError(msg)
        if self.timeout is not None and not self.timeout > 0:
            msg = f"ServerConfig.timeout must be > 0 or None, got {self.timeout!r}"
            raise ConfigError(msg)
        if not self.connect_timeout > 0:
            msg = f"ServerConfig.connect_timeout must be > 0, got {self.connect_timeout!r}"
            raise ConfigError(msg)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            msg = f"ServerConfig.retries must be an int >= 0, got {self.retries!r}"
            raise ConfigError(msg)
        if not self.backoff >= 0:
            msg = f"ServerConfig.backoff must be >= 0, got {self.backoff!r}"
            raise ConfigError(msg)
        for name in ("tenant", "database"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                msg = f"ServerConfig.{name} must be a non-empty str, got {getattr(self, name)!r}"
                raise ConfigError(msg)

    def url(self, host: str, port: int) -> str:
        """The server's address, for messages and cache keys."""
        return f"{'https' if self.ssl else 'http'}://{host}:{port}"
