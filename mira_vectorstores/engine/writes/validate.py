"""Validation of write input: everything is checked before anything is written."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence

import numpy as np

from mira_vectorstores.engine.errors import DimensionMismatchError, InvalidInputError
from mira_vectorstores.engine.reserved import RESERVED_PREFIX
from mira_vectorstores.engine.types import Metadata, Vector

_SCALARS = (str, int, float, bool)


def check_ids(ids: Sequence[str] | None, n: int) -> list[str]:
    """Validate ids (or generate uuid4 ids) for a batch of ``n`` records."""
    if ids is None:
        return [uuid.uuid4().hex for _ in range(n)]
    if isinstance(ids, str):
        msg = "ids must be a list of strings, got a single str; wrap it in a list"
        raise InvalidInputError(msg)
    ids = list(ids)
    if len(ids) != n:
        msg = f"got {len(ids)} ids for {n} records; give one id per record"
        raise InvalidInputError(msg)
    for i, record_id in enumerate(ids):
        if not isinstance(record_id, str) or not record_id:
            msg = f"ids[{i}] must be a non-empty str, got {record_id!r}"
            raise InvalidInputError(msg)
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        msg = f"duplicate ids in one batch: {dupes[:5]}; each id may appear once per write"
        raise InvalidInputError(msg)
    return ids


def check_texts(texts: Sequence[str] | None, name: str = "texts") -> list[str] | None:
    """Validate a list of texts."""
    if texts is None:
        return None
    if isinstance(texts, str):
        msg = f"{name} must be a list of strings, got a single str; wrap it in a list"
        raise InvalidInputError(msg)
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            msg = f"{name}[{i}] must be a str, got {type(text).__name__}"
            raise InvalidInputError(msg)
    return texts


def check_lengths(n: int, **columns: Sequence[object] | None) -> None:
    """Every given column has ``n`` entries."""
    for name, column in columns.items():
        if column is not None and len(column) != n:
            msg = f"got {len(column)} {name} for {n} records; the lists must line up"
            raise InvalidInputError(msg)


def clean_metadata(metadata: Mapping[str, object] | None, where: str) -> Metadata:
    """Validate one metadata dict: str keys, Chroma-storable values, ``None`` values dropped.

    Raises:
        InvalidInputError: for reserved keys, unsupported or non-finite values, mixed lists.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        msg = f"{where} must be a dict, got {type(metadata).__name__}"
        raise InvalidInputError(msg)
    clean: Metadata = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            msg = f"{where} keys must be non-empty strings, got {key!r}"
            raise InvalidInputError(msg)
        if key.startswith((RESERVED_PREFIX, "$", "#")):
            msg = (
                f"{where} key {key!r} is reserved (keys may not start with {RESERVED_PREFIX!r}, '$' or '#'); rename it"
            )
            raise InvalidInputError(msg)
        if value is None:
            continue
        _check_value(value, f"{where}[{key!r}]")
        clean[key] = list(value) if isinstance(value, (list, tuple)) else value  # type: ignore[assignment]
    return clean


def _check_value(value: object, where: str) -> None:
    if isinstance(value, (list, tuple)):
        if not value:
            msg = f"{where} is an empty list, which Chroma cannot store; drop the key or give a value"
            raise InvalidInputError(msg)
        # Chroma keeps bool, int, float and str lists apart: [1, 1.5] is a mixed list to it.
        kinds = {type(v) for v in value}
        if len(kinds) != 1 or not all(isinstance(v, _SCALARS) for v in value):
            msg = (
                f"{where} must be a list of one type (str, int, float or bool), got {[type(v).__name__ for v in value]}"
            )
            raise InvalidInputError(msg)
        for v in value:
            _check_value(v, where)
        return
    if not isinstance(value, _SCALARS):
        msg = (
            f"{where} has unsupported type {type(value).__name__}; metadata values must be "
            "str, int, float, bool or a list of one of them (serialise others, e.g. with json.dumps)"
        )
        raise InvalidInputError(msg)
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{where} is {value!r}; metadata numbers must be finite"
        raise InvalidInputError(msg)


def check_vectors(vectors: object, n: int, dimension: int | None, what: str = "vectors") -> Vector:
    """Validate ``(n, d)`` finite, non-zero vectors and return them unit-normalised as float32.

    Raises:
        DimensionMismatchError: when ``d`` differs from the store's dimension.
        InvalidInputError: for other shapes, NaN / inf or zero vectors.
    """
    try:
        array = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        msg = f"{what} must be a list of equal-length number lists or a 2-d array ({exc})"
        raise InvalidInputError(msg) from None
    if array.ndim != 2 or len(array) != n:
        msg = f"{what} must have shape ({n}, d), got {array.shape}"
        raise InvalidInputError(msg)
    if dimension is not None and array.shape[1] != dimension:
        msg = (
            f"{what} have {array.shape[1]} dims; this store expects {dimension}. Use the embedder that built the store."
        )
        raise DimensionMismatchError(msg)
    if array.shape[1] == 0:
        msg = f"{what} must have at least one dimension"
        raise InvalidInputError(msg)
    wide = array.astype(np.float64)  # float64: squares of float32 values neither overflow nor underflow
    norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))  # NaN or inf anywhere in a row makes its norm so
    finite = np.isfinite(norms)
    if not finite.all():
        msg = f"{what}[{int(np.flatnonzero(~finite)[0])}] contains NaN or inf"
        raise InvalidInputError(msg)
    if (norms == 0).any():
        msg = f"{what}[{int(np.flatnonzero(norms == 0)[0])}] is all zeros; cosine similarity is undefined for it"
        raise InvalidInputError(msg)
    return np.ascontiguousarray(wide / norms[:, None], dtype=np.float32)
