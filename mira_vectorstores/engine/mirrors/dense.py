"""The dense mirror: unit vectors by row, a FAISS index over them, and filter-aware search.

Row numbers (shared with the records mirror) are the FAISS ids: rows are only appended, so
a flat, HNSW or IVF index numbers its vectors exactly as we do, and a deleted row is masked
by an ``IDSelectorBitmap`` until the next compaction. (HNSW cannot ``remove_ids``; masking
works the same for every index kind.)

Search is planned by selectivity (DESIGN.md decision 4): a filter that leaves few rows is
answered by an exact scan of just those rows (recall 1.0, ~0.2 ms for 1,000 rows); an
unfiltered or broad query uses the index, falling back to an exact scan if the index returns
fewer than ``k`` allowed hits.

Exact scans are one NumPy matrix-vector product over our own copy of the vectors; the flat
"index" is that copy, not a ``faiss.IndexFlatIP``. FAISS runs a one-query flat search in an
OpenMP parallel region, and when the cores are busy (other processes, or a server's other
requests) its threads wait for one another: 24-28 ms instead of 0.8 ms for 10,000 vectors
on a loaded 2-core machine (``benchmarks/README.md``). NumPy's product has no such barrier,
and the flat kind no longer holds a second copy of every vector.

An HNSW index is calibrated to ``FaissConfig.target_recall`` (``calibration.py``) after each
build and each time the live rows grow by ``recalibrate_growth``; the calibration is saved
with the index, so a reopen does not repeat it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from mira_vectorstores.engine.config import FaissConfig
from mira_vectorstores.engine.mirrors.calibration import Calibration, calibrate, hnsw_parameters
from mira_vectorstores.engine.query.filters import Mask
from mira_vectorstores.engine.types import IndexKind, Vector

logger = logging.getLogger(__name__)
Rows = NDArray[np.int64]
#: The widest beam a filtered HNSW search uses (see ``FaissMirror._params``).
FILTERED_EF_SEARCH_CAP = 2_048
#: (M, efConstruction) tried in turn when unset: the next only when the widest ``efSearch`` of
#: the calibration ladder still misses the target on the one before. See ``benchmarks/recall.py``.
HNSW_LEVELS = ((32, 80), (48, 200))
DEFAULT_EF_SEARCH = 128  # used when calibration is off and ``hnsw_ef_search`` unset
#: Above this many rows a build does not try the wider graph: it costs ~2.5x the build, paid by
#: a write (a 1,000,000-row rebuild at (48, 200) would take well over an hour on 2 cores).
WIDEN_MAX_ROWS = 200_000


class FaissMirror:
    """Unit vectors of every row plus the FAISS index that searches them.

    Where the vectors live depends on the kind: a flat or IVF mirror keeps its own growable
    matrix (``_vectors``); an HNSW index's flat storage already holds every row's vector, so
    an HNSW mirror keeps none and ``vectors`` is a view of that storage (at 100,000 384-d rows,
    153 MB not held twice; at 1,000,000, 1.5 GB). FAISS reallocates the storage when it grows,
    so the view is remade after every write and never handed out: callers index it (a copy)
    or use it before the next write, all under the store's lock.
    """

    def __init__(self, dimension: int, config: FaissConfig) -> None:
        """Create an empty mirror for vectors of ``dimension``."""
        self.dimension = dimension
        self.config = config
        self._vectors = np.zeros((0, dimension), dtype=np.float32)
        self._size = 0
        self._index: faiss.Index | None = None
        self.kind = IndexKind.FLAT
        self._view: Vector | None = None  # of the HNSW storage; None when stale
        #: The memory-mapped HNSW file the index is read from (see ``load``).
        self._mapped: np.memmap | None = None
        self._shared_params: dict[tuple[IndexKind, int], faiss.SearchParameters] = {}
        #: The HNSW index's chosen parameters and measured recall (``None`` for other kinds).
        self.calibration: Calibration | None = None

    @property
    def size(self) -> int:
        """Rows held, dead ones included."""
        return self._size

    @property
    def vectors(self) -> Vector:
        """The (size, dimension) matrix of unit vectors, by row (read-only for an HNSW mirror)."""
        if self.kind is not IndexKind.HNSW or self._size == 0:
            return self._vectors[: self._size]
        if self._view is None:
            storage = faiss.downcast_index(self._index.storage)  # type: ignore[union-attr]
            # faiss's type stubs lack the SWIG accessors of IndexFlat (``get_xb`` exists at run time).
            flat = faiss.rev_swig_ptr(storage.get_xb(), self._size * self.dimension)  # type: ignore[attr-defined]
            self._view = flat.reshape(self._size, self.dimension)
            self._view.flags.writeable = False
        return self._view

    # -- writes -------------------------------------------------------------------------
    def append(self, vectors: Vector, live_count: int) -> None:
        """Add vectors for the next rows (they must already be unit length)."""
        if self._mapped is not None:
            # A memory-mapped index cannot grow (FAISS aborts the process): read it into
            # memory once, at the first write after opening that adds a vector (~0.3 s at
            # 100,000 rows).
            self._index, self._mapped = faiss.deserialize_index(self._mapped), None
        self._view = None
        n = len(vectors)
        wanted = self._wanted_kind(live_count)
        if self.kind is IndexKind.HNSW and wanted is IndexKind.HNSW:
            self._index.add(np.ascontiguousarray(vectors))  # type: ignore[union-attr]
            self._size += n
            if self._calibration_due(live_count):
                self._calibrate(live_count)
            return
        self._own_vectors()
        if self._size + n > len(self._vectors):
            capacity = max(self._size + n, int(len(self._vectors) * 1.5), 1024)
            grown = np.zeros((capacity, self.dimension), dtype=np.float32)
            grown[: self._size] = self._vectors[: self._size]
            self._vectors = grown
        self._vectors[self._size : self._size + n] = vectors
        self._size += n
        if wanted is not self.kind or (wanted is not IndexKind.FLAT and self._index is None):
            self._build(wanted, live_count)
        elif self._index is not None:
            self._index.add(np.ascontiguousarray(vectors))

    def rebuild(self, vectors: Vector, live_count: int) -> None:
        """Replace every row (used after compaction)."""
        self._index, self.kind, self._view, self._mapped = None, IndexKind.FLAT, None, None
        self.calibration = None
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        self._size = len(self._vectors)
        self._build(self._wanted_kind(live_count), live_count)

    def _own_vectors(self) -> None:
        """Copy an HNSW mirror's vectors out of its index, before the index is replaced."""
        if self.kind is IndexKind.HNSW:
            self._vectors = np.array(self.vectors)
            self._index, self.kind, self._view, self._mapped = None, IndexKind.FLAT, None, None
            self.calibration = None

    def _wanted_kind(self, live_count: int) -> IndexKind:
        kind = self.config.index_kind
        if kind is IndexKind.AUTO:
            return IndexKind.HNSW if live_count >= self.config.hnsw_threshold else IndexKind.FLAT
        if kind is IndexKind.IVF and live_count < 39 * self.config.ivf_nlist:
            return IndexKind.FLAT  # too few vectors to train the coarse quantiser yet
        return kind

    def _build(self, kind: IndexKind, live_count: int) -> None:
        self._own_vectors()
        d = self.dimension
        if kind is IndexKind.FLAT:  # searched by ``exact`` over ``self._vectors``: no FAISS index
            self._index, self.kind = None, kind
            return
        if kind is IndexKind.HNSW:
            self._build_hnsw(live_count)
            return
        quantizer = faiss.IndexFlatIP(d)
        ivf = faiss.IndexIVFFlat(quantizer, d, self.config.ivf_nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(self.vectors)
        ivf.nprobe = self.config.ivf_nprobe
        self._quantizer = quantizer  # the IVF index does not own it
        if self._size:
            ivf.add(self.vectors)
        self._index, self.kind, self._view = ivf, kind, None
        logger.debug("built ivf index over %d rows (%d live)", self._size, live_count)

    def _build_hnsw(self, live_count: int) -> None:
        """Build HNSW, at the next (M, efConstruction) of ``HNSW_LEVELS`` while the target is out of reach."""
        vectors, config = self._vectors[: self._size], self.config
        fixed = config.hnsw_m is not None or config.hnsw_ef_construction is not None or config.target_recall is None
        levels = [(config.hnsw_m or HNSW_LEVELS[0][0], config.hnsw_ef_construction or HNSW_LEVELS[0][1])]
        for m, ef_construction in levels if fixed else HNSW_LEVELS:
            hnsw = faiss.IndexHNSWFlat(self.dimension, m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = ef_construction
            if self._size:
                hnsw.add(vectors)
            self._index, self.kind, self._view, self._shared_params = hnsw, IndexKind.HNSW, None, {}
            self._calibrate(live_count)
            if self.calibration is None or self.calibration.ann_reached or self._size > WIDEN_MAX_ROWS:
                break
        self._vectors = np.zeros((0, self.dimension), dtype=np.float32)  # the index storage holds them now
        logger.debug("built hnsw index over %d rows (%d live): %s", self._size, live_count, self.calibration)

    # -- calibration --------------------------------------------------------------------
    def _calibration_due(self, live_count: int) -> bool:
        target, calibration = self.config.target_recall, self.calibration
        if target is None or self.kind is not IndexKind.HNSW:
            return False
        if calibration is None or calibration.target_recall != target:
            return True  # never calibrated (an index saved before calibration existed) or another target
        return live_count >= calibration.calibrated_at_rows * self.config.recalibrate_growth

    def _calibrate(self, live_count: int) -> None:
        """Measure the HNSW index against exact search (see ``calibration.py``); no-op when calibration is off."""
        target = self.config.target_recall
        if target is None or self._index is None or self._size == 0:
            self.calibration = None
        else:
            self.calibration = calibrate(
                self._index,
                self.vectors,
                target=target,
                fixed_ef=self.config.hnsw_ef_search,
                live_rows=live_count,
                may_scan=self.config.index_kind is IndexKind.AUTO,
                previous_ef=None if self.calibration is None else self.calibration.ef_search,
            )
        self._shared_params = {}

    @property
    def ef_search(self) -> int:
        """The HNSW beam width of an unfiltered search (calibrated, configured or the default)."""
        if self.calibration is not None:
            return self.calibration.ef_search
        return self.config.hnsw_ef_search or DEFAULT_EF_SEARCH

    @property
    def exact_scan(self) -> bool:
        """Whether unfiltered (and broadly filtered) queries scan exactly instead of searching HNSW."""
        return self.kind is IndexKind.HNSW and self.calibration is not None and self.calibration.exact_scan

    def describe(self) -> dict[str, object]:
        """The index's parameters and calibration, for ``HybridStore.stats``."""
        if self.kind is not IndexKind.HNSW or self._index is None:
            return {}
        m, ef_construction = hnsw_parameters(self._index)
        described: dict[str, object] = {
            "M": m,
            "ef_construction": ef_construction,
            "ef_search": self.ef_search,
            "exact_scan": self.exact_scan,
        }
        calibration = self.calibration
        described.update(
            target_recall=None if calibration is None else calibration.target_recall,
            measured_recall=None if calibration is None else calibration.measured_recall,
            calibrated_at_rows=None if calibration is None else calibration.calibrated_at_rows,
        )
        return described

    # -- search -------------------------------------------------------------------------
    def search(
        self, query: Vector, k: int, allowed: Mask, *, everything_alive: bool, at_least: int | None = None
    ) -> tuple[Rows, NDArray[np.float32]]:
        """Top ``k`` allowed rows by cosine similarity, best first.

        Args:
            query: a unit vector.
            k: how many hits.
            allowed: mask over rows of the rows that may be returned.
            everything_alive: ``allowed`` is every row (no filter, no dead rows).
            at_least: when the index (under a filter) returns fewer than ``k`` rows, an exact
                scan replaces its answer only if it has fewer than this many (default ``k``).
                Candidate lists (``k`` = a hybrid search's 200) set the final k here: an exact
                scan of a broad filter's rows costs ~60 ms at 1,000,000 records.
        """
        n_allowed = int(allowed.sum()) if not everything_alive else self._size
        if n_allowed == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, n_allowed)
        selective = n_allowed <= self.config.exact_scan_max or n_allowed <= self.config.exact_scan_fraction * self._size
        # A calibration that found the scan faster than the graph at the target (``exact_scan``)
        # makes a filtered search scan too: its allowed rows are at most every row.
        flat = self.kind is IndexKind.FLAT or self.exact_scan
        if flat and everything_alive:
            return self.exact(query, k, None)
        if flat or (selective and not everything_alive):
            return self.exact(query, k, np.flatnonzero(allowed))
        rows, sims = self._index_search(query, k, None if everything_alive else allowed, n_allowed)
        if len(rows) < min(k, at_least or k):  # the graph ran out of allowed neighbours: be exact instead
            return self.exact(query, k, np.flatnonzero(allowed))
        return rows, sims

    def exact(self, query: Vector, k: int, rows: Rows | None) -> tuple[Rows, NDArray[np.float32]]:
        """Exact top ``k`` of the given rows (of every row when ``rows`` is ``None``)."""
        sims = self.vectors @ query if rows is None else self.vectors[rows] @ query
        top = np.argpartition(-sims, k - 1)[:k] if len(sims) > k else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        picked = top if rows is None else rows[top]
        return picked.astype(np.int64), sims[top].astype(np.float32)

    def search_many(self, queries: Vector, k: int) -> list[tuple[Rows, NDArray[np.float32]]]:
        """``search`` of every row (no filter, no dead rows) for each query, in one FAISS call.

        An exact scan is one matrix product per 64 queries (a (64, rows) block of cosines: 26 MB
        at 100,000 rows) instead of one product per query.
        """
        k = min(k, self._size)
        if k <= 0:
            return [(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)) for _ in queries]
        if self.kind is IndexKind.FLAT or self.exact_scan:
            found = []
            for start in range(0, len(queries), 64):
                block = queries[start : start + 64] @ self.vectors.T
                top = np.argpartition(-block, k - 1, axis=1)[:, :k] if block.shape[1] > k else None
                for i, sims in enumerate(block):
                    picked = np.arange(len(sims)) if top is None else top[i]
                    picked = picked[np.argsort(-sims[picked], kind="stable")]
                    found.append((picked.astype(np.int64), sims[picked].astype(np.float32)))
            return found
        assert self._index is not None
        sims, labels = self._index.search(np.ascontiguousarray(queries), k, params=self._unfiltered_params(k))
        found = []
        for query, row_labels, row_sims in zip(queries, labels, sims, strict=True):
            keep = row_labels >= 0
            if int(keep.sum()) < k:  # the graph ran out of neighbours: be exact, as ``search`` is
                found.append(self.exact(query, k, None))
            else:
                found.append((row_labels[keep].astype(np.int64), row_sims[keep].astype(np.float32)))
        return found

    def _index_search(
        self, query: Vector, k: int, allowed: Mask | None, n_allowed: int
    ) -> tuple[Rows, NDArray[np.float32]]:
        assert self._index is not None
        bitmap = None
        if allowed is None:
            params = self._unfiltered_params(k)
        else:
            params = self._params(k, allowed_fraction=n_allowed / max(self._size, 1))
            bitmap = np.packbits(allowed, bitorder="little")
            params.sel = faiss.IDSelectorBitmap(self._size, faiss.swig_ptr(bitmap))
        sims, labels = self._index.search(query.reshape(1, -1), k, params=params)
        keep = labels[0] >= 0  # FAISS pads missing results with -1
        return labels[0][keep].astype(np.int64), sims[0][keep].astype(np.float32)

    def _params(self, k: int, allowed_fraction: float = 1.0) -> faiss.SearchParameters:
        if self.kind is IndexKind.HNSW:
            hnsw = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # in faiss, not in its stubs
            # A filter hides most of the graph from the result list, so the beam widens by the
            # inverse of the allowed fraction (capped): at 100,000 rows with a 10 % filter forced
            # through HNSW, efSearch 128 finds 0.935 of the exact top 10, 1,280 finds 0.998.
            ef = max(self.ef_search, k)
            hnsw.efSearch = min(max(ef, round(ef / max(allowed_fraction, 1e-9))), max(ef, FILTERED_EF_SEARCH_CAP))
            params: faiss.SearchParameters = hnsw
        else:
            ivf = faiss.SearchParametersIVF()
            ivf.nprobe = self.config.ivf_nprobe
            params = ivf
        return params

    def _unfiltered_params(self, k: int) -> faiss.SearchParameters:
        # Made once per k and only read by FAISS afterwards, so searches (threads included) share them.
        params = self._shared_params.get((self.kind, k))
        if params is None:
            params = self._shared_params[(self.kind, k)] = self._params(k)
        return params

    def range_pairs(self, rows: Rows, threshold: float) -> list[tuple[int, int, float]]:
        """Pairs of the given rows with cosine >= threshold (FAISS range search)."""
        if len(rows) < 2:
            return []
        sub = np.ascontiguousarray(self.vectors[rows])
        index = faiss.IndexFlatIP(self.dimension)
        index.add(sub)
        # FAISS keeps inner products strictly above the radius; step just below it and
        # re-check, so the threshold is inclusive despite float32 rounding.
        lims, sims, labels = index.range_search(sub, float(threshold) - 1e-6)
        pairs = []
        for i in range(len(rows)):
            for j, sim in zip(labels[lims[i] : lims[i + 1]], sims[lims[i] : lims[i + 1]], strict=True):
                if j > i and sim >= threshold - 1e-6:
                    pairs.append((int(rows[i]), int(rows[j]), min(1.0, float(sim))))
        return pairs

    # -- persistence --------------------------------------------------------------------
    def save(self, folder: Path) -> list[Path]:
        """Write the vectors (and an ANN index, which is costly to rebuild).

        An HNSW index's flat storage holds every row's vector, in row order, bit for bit: it
        is saved alone, with no ``vectors.npy`` beside it (at 100,000 384-d records that is
        147 MB less to write, checksum and read at every open).
        """
        folder.mkdir(parents=True, exist_ok=True)
        if self.kind is IndexKind.HNSW and self._index is not None:
            index_file = folder / "index-hnsw.faiss"
            faiss.write_index(self._index, str(index_file))
            return [index_file]
        np.save(folder / "vectors.npy", self.vectors)
        files = [folder / "vectors.npy"]
        if self.kind is not IndexKind.FLAT and self._index is not None:
            # The kind is in the name: a store reopened with another index kind rebuilds.
            index_file = folder / f"index-{self.kind.value}.faiss"
            faiss.write_index(self._index, str(index_file))
            files.append(index_file)
        return files

    def load(self, folder: Path, live_count: int, *, calibration: Calibration | None = None) -> None:
        """Read what ``save`` wrote, memory-mapped where it can be.

        ``calibration`` is the one saved with an HNSW index (``snapshot.py``): a reopen keeps it.
        Without one (a snapshot older than calibration), or for another ``target_recall``, the
        index is calibrated here, once.

        ``vectors.npy`` is mapped read-only. An HNSW file is read with FAISS's
        ``IO_FLAG_MMAP_IFC``: the graph is loaded and the flat storage stays in the mapped
        file, so opening 100,000 384-d rows reads ~30 MB of graph instead of 180 MB, and
        ``vectors`` is a view of the mapped storage. The first write that adds a vector
        reads the index into memory (see ``append``).
        """
        self._index, self.kind, self._view, self._mapped = None, IndexKind.FLAT, None, None
        self.calibration, self._shared_params = None, {}
        hnsw_file = folder / "index-hnsw.faiss"
        if (folder / "vectors.npy").exists():
            self._vectors = np.load(folder / "vectors.npy", mmap_mode="r")
            if self._vectors.ndim != 2 or self._vectors.shape[1] != self.dimension or self._vectors.dtype != np.float32:
                got = f"{self._vectors.dtype} {self._vectors.shape}"
                msg = f"the saved vectors are {got}, expected float32 (n, {self.dimension})"
                raise ValueError(msg)
            self._size = len(self._vectors)
        else:
            index = faiss.read_index(str(hnsw_file), faiss.IO_FLAG_MMAP_IFC)
            if index.d != self.dimension or not isinstance(faiss.downcast_index(index), faiss.IndexHNSWFlat):
                msg = f"{hnsw_file.name} is not an HNSW index of {self.dimension}-d vectors"
                raise ValueError(msg)
            self._index, self.kind, self._size = index, IndexKind.HNSW, index.ntotal
            # Kept for ``append``: FAISS reads a private, growable copy of the index from it.
            self._mapped = np.memmap(hnsw_file, dtype=np.uint8, mode="r")
            self.calibration = calibration
            if self._calibration_due(live_count):  # saved before calibration existed, or another target
                self._calibrate(live_count)
        wanted = self._wanted_kind(live_count)
        if wanted is self.kind:
            return
        index_file = folder / f"index-{wanted.value}.faiss"
        if wanted is IndexKind.IVF and index_file.exists():
            index = faiss.read_index(str(index_file))
            if index.ntotal != self._size or index.d != self.dimension:
                msg = (
                    f"{index_file.name} holds {index.ntotal} vectors of {index.d} dims, "
                    f"expected {self._size} of {self.dimension}"
                )
                raise ValueError(msg)
            faiss.extract_index_ivf(index).nprobe = self.config.ivf_nprobe
            self._index, self.kind = index, wanted
        else:  # saved as another kind (the configuration changed): build this one
            self._build(wanted, live_count)
