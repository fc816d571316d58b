"""Validation of write input: everything is checked before anything is written."""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from mira_vectorstores.engine import times
from mira_vectorstores.engine.embeddings import unit_rows
from mira_vectorstores.engine.errors import ConfigError, DimensionMismatchError, InvalidInputError
from mira_vectorstores.engine.reserved import RESERVED_PREFIX
from mira_vectorstores.engine.types import INT64_MAX, INT64_MIN, Metadata, Vector

_SCALARS = (str, int, float, bool)


def check_ids(ids: Sequence[object] | None, n: int) -> list[str]:
    """Validate ids (or generate uuid4 ids) for a batch of ``n`` records."""
    if ids is None:
        return [uuid.uuid4().hex for _ in range(n)]
    ids = cast(list[str], check_list(ids, "ids", of="strings"))  # each item is checked below
    if len(ids) != n:
        msg = f"got {len(ids)} ids for {n} records; give one id per record"
        raise InvalidInputError(msg)
    for i, record_id in enumerate(ids):
        if not isinstance(record_id, str) or not record_id:
            msg = f"ids[{i}] must be a non-empty str, got {record_id!r}"
            raise InvalidInputError(msg)
        check_text(record_id, f"ids[{i}]")
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
    texts = cast(list[str], check_list(texts, name, of="strings"))  # each item is checked below
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            msg = f"{name}[{i}] must be a str, got {type(text).__name__}"
            raise InvalidInputError(msg)
        check_text(text, f"{name}[{i}]")
    return texts


def check_lengths(n: int, **columns: Sequence[object] | None) -> None:
    """Every given column is a list (not a lone str, dict or flat vector) of ``n`` entries."""
    for name, column in columns.items():
        if column is None:
            continue
        vectors = name in ("vectors", "embeddings")
        check_list(column, name, of="vectors" if vectors else "dicts" if name == "metadatas" else "strings")
        if vectors and len(column) and isinstance(column[0], (int, float, np.number)):
            msg = f"{name} must be one vector per record, got a single flat vector; wrap it in a list"
            raise InvalidInputError(msg)
        if column is not None and len(column) != n:
            msg = f"got {len(column)} {name} for {n} records; the lists must line up"
            raise InvalidInputError(msg)


def clean_metadata(metadata: Mapping[str, object] | None, where: str) -> Metadata:
    """Validate one metadata dict: str keys, Chroma-storable values, ``None`` values dropped; a
    ``datetime`` / ``date`` becomes its timestamp plus its exact form (``times.py``).

    Raises:
        InvalidInputError: for reserved keys, unsupported or non-finite values, ints beyond 64
            bits, mixed lists.
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
        check_text(key, f"{where} key {key[:40]!r}")
        if key.startswith((RESERVED_PREFIX, "$", "#")):
            msg = (
                f"{where} key {key!r} is reserved (keys may not start with {RESERVED_PREFIX!r}, '$' or '#'); rename it"
            )
            raise InvalidInputError(msg)
        if value is None:
            continue
        if times.is_moment(value):
            _check_moment(value, f"{where}[{key!r}]")  # type: ignore[arg-type]
            clean[key] = times.seconds(value)  # type: ignore[arg-type]
            clean[times.TIME_PREFIX + key] = times.encode(value)  # type: ignore[arg-type]
            continue
        _check_value(value, f"{where}[{key!r}]")
        clean[key] = list(value) if isinstance(value, (list, tuple)) else value  # type: ignore[assignment]
    return clean


def check_text(text: str, where: str) -> None:
    """A str Chroma can store: valid UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = f"{where} is not valid Unicode ({exc.reason} at position {exc.start}); remove or replace that character"
        raise InvalidInputError(msg) from None


def _check_moment(value: times.Moment, where: str) -> None:
    # A datetime subclass (say with nanoseconds) must read back equal, or it is refused now.
    text = times.encode(value)
    if times.decode(text, times.seconds(value)) != value:
        msg = f"{where} ({type(value).__name__}) would not read back equal; pass a plain datetime.datetime or date"
        raise InvalidInputError(msg)


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
                " (dates and times only as single values)"
            )
            raise InvalidInputError(msg)
        for v in value:
            _check_value(v, where)
        return
    if not isinstance(value, _SCALARS):
        msg = (
            f"{where} has unsupported type {type(value).__name__}; metadata values must be "
            "str, int, float, bool, datetime, date or a list of str, int, float or bool "
            "(serialise others, e.g. with json.dumps)"
        )
        raise InvalidInputError(msg)
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{where} is {value!r}; metadata numbers must be finite"
        raise InvalidInputError(msg)
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        msg = f"{where} is {value}, outside Chroma's 64-bit integer range; store it as a str or a float"
        raise InvalidInputError(msg)
    if isinstance(value, str):
        check_text(value, where)


def check_vectors(vectors: object, n: int, dimension: int | None, what: str = "vectors") -> Vector:
    """Validate ``(n, d)`` finite vectors and return them unit-normalised as float32.

    An all-zero vector stays all zeros (Chroma stores it; LlamaIndex's ``MockEmbedding`` and
    some models make it for empty text): its cosine with anything is defined as 0, so it ranks
    below every positive match and its ``distance`` is that of an orthogonal vector.

    Raises:
        DimensionMismatchError: when ``d`` differs from the store's dimension.
        InvalidInputError: for other shapes or NaN / inf.
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
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        msg = f"{what}[{bad}] contains NaN or inf; give finite numbers (check the embedder or the data)"
        raise InvalidInputError(msg)
    return unit_rows(array)


# -- the shape of an argument, a query vector, the store's folder ------------------------------
def check_list(value: object, name: str, *, of: str, single: tuple[type, ...] = ()) -> list[Any]:
    """``value`` as a list, refusing a lone str, bytes or dict where a list of them is expected.

    ``list("hello")`` is five one-character texts and ``list({"a": 1})`` is the key ``"a"``:
    either would be written without complaint, so both are refused by name.

    Args:
        value: the argument as given.
        name: its name, for the message.
        of: what the list holds, for the message (``"strings"``, ``"dicts"``, ...).
        single: further types that are one item (a LangChain ``Document``, a LlamaIndex node).

    Raises:
        InvalidInputError: naming the argument and the fix.
    """
    if isinstance(value, (str, bytes, bytearray, Mapping, *single)):
        kind = "dict" if isinstance(value, Mapping) else type(value).__name__
        msg = f"{name} must be a list of {of}, got a single {kind}; wrap it in a list"
        raise InvalidInputError(msg)
    if not isinstance(value, Iterable):
        msg = f"{name} must be a list of {of}, got {type(value).__name__}"
        raise InvalidInputError(msg)
    return list(value)


def check_id_list(ids: object, name: str = "ids") -> list[str]:
    """Ids given to a read, a search or a delete: a list of strings, in the order given.

    Raises:
        InvalidInputError: for a lone str, bytes or dict, or an id that is not a str.
    """
    checked = check_list(ids, name, of="strings")
    for i, record_id in enumerate(checked):
        if not isinstance(record_id, str):
            msg = f"{name} must be a list of strings; {name}[{i}] is a {type(record_id).__name__}"
            raise InvalidInputError(msg)
    return checked  # every item was checked to be a str


def check_query_vector(vector: object) -> Vector:
    """One query vector as a flat float32 array (shape ``(d,)``, or ``(1, d)``).

    Raises:
        InvalidInputError: for a str, bytes or dict, items that are not numbers, or several vectors.
    """
    if isinstance(vector, (str, bytes, bytearray, Mapping)):
        msg = f"vector must be a list of floats (one query vector), got a {type(vector).__name__}"
        raise InvalidInputError(msg)
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        msg = f"vector must be a list of floats (one query vector): {exc}"
        raise InvalidInputError(msg) from None
    if array.ndim == 2 and len(array) == 1:
        array = array[0]
    if array.ndim != 1:
        msg = f"vector must be one query vector (a flat list of floats), got an array of shape {array.shape}"
        raise InvalidInputError(msg)
    return array


def check_folder(path: object) -> Path:
    """The folder of an embedded store: created when missing, and writable by this process.

    Raises:
        ConfigError: naming the folder, what is wrong with it and the fix.
    """
    fix = "pass path= a folder this process can write to (created if missing), or path=None for an in-memory store"
    try:
        folder = Path(path)  # type: ignore[arg-type]  # anything else is refused just below
    except TypeError:
        msg = f"path must be a str or a pathlib.Path, got {type(path).__name__}; {fix}"
        raise ConfigError(msg) from None
    if folder.exists() and not folder.is_dir():
        msg = f"the store path {str(folder)!r} is a file, not a folder; {fix}"
        raise ConfigError(msg)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the store folder {str(folder)!r} ({exc.strerror or exc}); {fix}"
        raise ConfigError(msg) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        msg = f"the store folder {str(folder)!r} is not writable by this process; {fix}"
        raise ConfigError(msg)
    return folder
