"""Frozen value objects the engine returns, and the aliases its signatures use."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import NewType

import numpy as np
from numpy.typing import NDArray

RecordId = NewType("RecordId", str)
Vector = NDArray[np.float32]
#: A metadata value Chroma can store: a scalar, or a non-empty list of one scalar type. A
#: ``datetime`` / ``date`` is written as its timestamp plus its exact form (``engine/times.py``).
Scalar = str | int | float | bool
MetadataValue = Scalar | datetime | date | list[str] | list[int] | list[float] | list[bool]
#: The integers Chroma holds (int64): larger ones are refused at write time and in filters.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
Metadata = dict[str, MetadataValue]
#: A Chroma-style filter document (``where`` or ``where_document``), validated by ``filters.parse_*``.
FilterDict = dict[str, object]


class SearchMode(str, Enum):
    """Which indexes a search uses."""

    DENSE = "dense"
    LEXICAL = "lexical"
    HYBRID = "hybrid"
    #: The MIRA guides' routing: a query text means hybrid, a vector alone means dense.
    AUTO = "auto"


class FusionMethod(str, Enum):
    """How the dense and lexical rankings of a hybrid search become one."""

    #: Reciprocal rank fusion (Cormack et al. 2009): only ranks matter.
    RRF = "rrf"
    #: Min-max normalised scores, ``alpha * dense + (1 - alpha) * lexical``.
    WEIGHTED = "weighted"
    #: Distribution-based score fusion: scores scaled by mean ± 3 std, then weighted by ``alpha``.
    DBSF = "dbsf"
    #: Theoretical-minimum normalisation (Bruch et al. 2023): ``(s - min) / (query max - min)``
    #: with min -1 for cosine and 0 for BM25, weighted by ``alpha``; still rescaled per query.
    TM2C2 = "tm2c2"
    #: Scales fixed before the candidates are seen, the same in every query: ``alpha`` times the
    #: cosine above the query's background cosine (``fusion.background_cosine``) as a share of
    #: the way to 1, plus ``1 - alpha`` times BM25 / the query's IDF sum. In [0, 1], 0 = no evidence.
    ABSOLUTE = "absolute"


class IndexKind(str, Enum):
    """The FAISS index behind the dense mirror."""

    AUTO = "auto"  # flat below ``FaissConfig.hnsw_threshold`` live records, HNSW above
    FLAT = "flat"
    HNSW = "hnsw"
    IVF = "ivf"


@dataclass(frozen=True, slots=True)
class ScoreBreakdown:
    """Why a hit ranked where it did. Parts a search did not compute are ``None``.

    Attributes:
        dense: cosine similarity of query and record vectors (0 when either is all zeros).
        lexical: BM25 score of the query text against the document.
        fused: the fused score before boosting (hybrid searches only). With the default
            ``ABSOLUTE`` fusion it is in [0, 1] and on the same scale in every query: ``alpha``
            times the cosine's share of the way from the query's background cosine to 1, plus
            ``1 - alpha`` times BM25's share of the query's IDF sum; 0 = no evidence on either
            side, 1 = the query's own vector in a document holding all its words without limit
            (on SciFact train 0.14 keeps 90 % of relevant hits: ``FusionConfig``). With
            ``WEIGHTED`` / ``DBSF`` / ``TM2C2`` it is rescaled per query (the best is near 1).
        boost: the product of the boost factors that applied (1.0 when none did).
        distance: lower is better, as Chroma reports it in the collection's space, for the unit
            vectors the store holds: ``1 - cosine`` in ``ip`` and ``cosine`` spaces (0.0 for
            the query's own vector), the squared Euclidean distance ``2 - 2 * cosine`` in
            ``l2``; set whenever the search had a query vector.
    """

    dense: float | None = None
    lexical: float | None = None
    fused: float | None = None
    boost: float = 1.0
    distance: float | None = None
    #: How ``fused`` was computed (hybrid searches only).
    fusion: FusionMethod | None = None


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What the store knows of a raw object's payload."""

    content_type: str
    codec: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked result. ``score`` is higher-is-better; ``scores`` holds its parts."""

    id: RecordId
    document: str | None
    metadata: Metadata
    score: float
    scores: ScoreBreakdown = field(default_factory=ScoreBreakdown)
    #: Set when the record is a raw object (``HybridStore.put_object``).
    object: ObjectInfo | None = None
    #: The record's unit vector, when the search asked for it (``include_embeddings=True``).
    embedding: Vector | None = None
    #: The store the hit comes from, in a search over several (``search_collections``).
    collection: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A stored record as ``HybridStore.get`` returns it."""

    id: RecordId
    document: str | None
    metadata: Metadata
    embedding: Vector | None = None
    object: ObjectInfo | None = None


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two records whose cosine similarity reached the ``find_duplicates`` threshold."""

    first: RecordId
    second: RecordId
    similarity: float


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What ``HybridStore.health()`` reports, for monitoring.

    Attributes:
        mode: ``embedded`` (a folder locked to this process), ``server`` or ``memory``.
        reachable: whether Chroma answered just now.
        records: records in this process's mirrors.
        lag_seconds: how old this process's view may be: seconds since its last catch-up on a
            server (``0.0`` for embedded and in-memory stores, whose only writer is this process).
        changes_behind: writes in Chroma the mirrors have not applied yet (``None``: unreachable).
        last_catch_up: when the mirrors last caught up (seconds since the epoch).
        lock_holder: the pid holding an embedded store's folder.
        mirror_dir: where the mirrors persist (``None``: nowhere).
        error: the last failure meeting Chroma, if any.
    """

    mode: str
    reachable: bool
    records: int
    lag_seconds: float | None
    changes_behind: int | None
    last_catch_up: float | None
    lock_holder: int | None
    mirror_dir: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What ``HybridStore.repair`` did.

    Attributes:
        path: the store's folder.
        name: the collection.
        needed: ``False`` when Chroma read the collection and nothing was rebuilt.
        records: records in the rebuilt collection.
        sources: how many vectors came from each source: ``journal``, ``log`` (Chroma's write
            log), ``mirrors`` (the mirror snapshot), ``segments`` (Chroma's HNSW files),
            ``reembedded``.
        redone: journalled writes Chroma did not hold, applied again.
        unrecovered: ids of records no source held a vector for (kept in ``lost_file``).
        aside: the folder holding the damaged files, the report and ``lost.jsonl``.
        lost_file: the unrecovered records' documents and metadata, one JSON object per line.
        seconds: how long the repair took.
        detail: the probe's answer, or notes on unusable sources.
    """

    path: str
    name: str
    needed: bool
    records: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    redone: int = 0
    unrecovered: list[str] = field(default_factory=list)
    aside: str | None = None
    lost_file: str | None = None
    seconds: float = 0.0
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ObjectsReport:
    """What ``HybridStore.verify_objects`` found and, with ``repair=True``, removed.

    Attributes:
        objects: live raw-object records checked.
        missing: ids of objects whose payload is gone.
        corrupted: ids of objects whose payload fails its size or sha256 check (or is unreadable).
        malformed: ids of records whose reserved object metadata is invalid (changed outside the
            store); their payloads are not read.
        orphaned: payloads no live record refers to, by sha256, and stray pieces of interrupted
            writes (a temp file's path relative to the payload folder, or a chunk's id).
        removed: the orphans removed (``repair=True``; only those older than the grace period).
    """

    objects: int = 0
    missing: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every object intact and no orphan left."""
        return not (self.missing or self.corrupted or self.malformed) and len(self.removed) == len(self.orphaned)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TransferReport:
    """What an export, import, backup or restore moved.

    Attributes:
        path: the file or backup folder.
        format: ``parquet``, ``jsonl`` or ``backup``.
        records: records written or read.
        objects: raw objects among them.
        seconds: how long it took.
    """

    path: str
    format: str
    records: int
    objects: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What ``HybridStore.migrate_embeddings`` did.

    Attributes:
        name: the store's name (the one that opens the new collection now).
        source: the collection the records came from (kept until dropped).
        target: the new collection.
        embedder: the new embedder's name.
        embedded: records embedded by this run.
        reused: records an earlier, interrupted run had copied already.
        seconds: how long this run took.
        switched: the store opens the target now (``True`` whenever the call returns: a migration
            that cannot finish raises, and the next call resumes it).
    """

    name: str
    source: str
    target: str
    embedder: str
    embedded: int
    reused: int
    seconds: float
    switched: bool

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """What ``HybridStore.doctor`` found (and, with ``repair=True``, fixed).

    Attributes:
        records: records in the mirrors after the check.
        missing_from_mirrors: ids Chroma holds that the mirrors lacked.
        unknown_to_chroma: ids the mirrors held that Chroma does not.
        stale: ids whose revision in Chroma differed from the mirrors'.
        objects: the raw-object check (``verify_objects``; with ``repair``, the orphans removed).
        repaired: the mirrors differed and were rebuilt from Chroma, and now match it.
    """

    records: int
    missing_from_mirrors: list[str]
    unknown_to_chroma: list[str]
    stale: list[str]
    objects: ObjectsReport
    repaired: bool

    @property
    def ok(self) -> bool:
        """Mirrors level with Chroma (as found, or after the repair) and every object intact, no orphan left."""
        level = not (self.missing_from_mirrors or self.unknown_to_chroma or self.stale) or self.repaired
        return level and self.objects.ok

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy (with ``ok``)."""
        return {**asdict(self), "ok": self.ok}


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What ``HybridStore.stats`` reports.

    Attributes:
        name: the store's name.
        collection: the Chroma collection it opens (another name after a migration).
        mode: ``embedded``, ``server`` or ``memory``.
        records: live records.
        dimension: vector length.
        embedder: the embedder's name (``None``: vectors only).
        space: Chroma's distance space.
        index: the FAISS index kind in use and its parameters.
        lexical: the BM25 settings.
        health: ``HybridStore.health()``.
        disk_bytes: bytes under the embedded folder (all its collections) or, on a server,
            the mirror folder; ``None`` in memory.
    """

    name: str
    collection: str
    mode: str
    records: int
    dimension: int | None
    embedder: str | None
    space: str
    index: dict[str, object]
    lexical: dict[str, object]
    health: StoreHealth
    disk_bytes: int | None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """One collection as ``HybridStore.collections`` lists it.

    Attributes:
        name: the Chroma collection.
        records: records it holds.
        embedder: the embedder its store recorded (``None``: unknown, e.g. another library's).
        alias: the store name that opens this collection since a migration, if any.
        replaced_by: the collection a migration moved this one's store to (this one is kept
            until dropped).
    """

    name: str
    records: int
    embedder: str | None
    alias: str | None = None
    replaced_by: str | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready copy."""
        return asdict(self)
