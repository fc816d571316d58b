"""The store's reserved metadata keys (``_mira_*``): their names, stripping them from what a
caller sees, and reading a raw object's facts from them.

Every record the store writes carries its write's stamp (``STAMP``, an int that orders writes:
``stamps.py``) and revision (``REV``, the stamp and the writer, unique per write); a raw object
also carries its content type, codec, size and sha256. Callers may not write keys with this prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeGuard, cast

from mira_vectorstores.engine import times
from mira_vectorstores.engine.errors import CorruptedObjectError
from mira_vectorstores.engine.types import ObjectInfo

RESERVED_PREFIX = "_mira_"
REV = RESERVED_PREFIX + "rev"
STAMP = RESERVED_PREFIX + "stamp"
CONTENT_TYPE = RESERVED_PREFIX + "ctype"
CODEC = RESERVED_PREFIX + "codec"
SIZE = RESERVED_PREFIX + "size"
SHA256 = RESERVED_PREFIX + "sha256"


#: The keys that describe a raw object; a record with any of them is one.
OBJECT_KEYS = (CONTENT_TYPE, CODEC, SIZE, SHA256)
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Each object key, its check and what the check expects (for messages).
_OBJECT_KEYS: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    (SHA256, lambda v: is_sha256(v), "64 lowercase hex characters"),
    (SIZE, lambda v: type(v) is int and v >= 0, "a non-negative int"),
    (CODEC, lambda v: isinstance(v, str), "a str"),
    (CONTENT_TYPE, lambda v: isinstance(v, str), "a str"),
)


#: Keys a write sets afresh on every record it touches (never carried over from the old version).
WRITE_KEYS = (REV, STAMP)


def is_reserved(key: str) -> bool:
    """Whether a metadata key belongs to the store."""
    return key.startswith(RESERVED_PREFIX)


def user_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """The metadata a caller wrote, without the store's reserved keys (lists copied, so a
    caller editing a returned list cannot change the mirror), dates and times as given (``times.py``).
    """
    # ``k[0] != "_"`` first: most keys are decided without the slower ``startswith``.
    out = {
        k: list(v) if type(v) is list else v
        for k, v in metadata.items()
        if k[:1] != "_" or not k.startswith(RESERVED_PREFIX)
    }
    if len(out) < len(metadata):  # some reserved keys: dates and times among them?
        found = {k[len(times.TIME_PREFIX) :]: v for k, v in metadata.items() if k.startswith(times.TIME_PREFIX)}
        if found:
            times.restore(out, found)
    return out


def is_sha256(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a payload digest as the store writes one: 64 lowercase hex characters."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def object_problem(metadata: Mapping[str, object]) -> str | None:
    """What is wrong with a record's raw-object metadata (``None``: valid, or not an object).

    Any plain Chroma client can write the reserved keys, so they are checked before a digest
    names a file or a size counts chunks.
    """
    for key, valid, expected in _OBJECT_KEYS:
        value = metadata.get(key)
        if not valid(value):
            return f"{key} must be {expected}, got {_short(value)}"
    return None


def object_info(metadata: Mapping[str, object]) -> ObjectInfo | None:
    """The raw-object facts of a record's metadata: ``None`` when it is not an object, or when its
    object metadata is malformed (``read_object`` says why).
    """
    if not _is_object(metadata) or object_problem(metadata) is not None:
        return None
    return ObjectInfo(
        content_type=cast(str, metadata[CONTENT_TYPE]),
        codec=cast(str, metadata[CODEC]),
        size=cast(int, metadata[SIZE]),
        sha256=cast(str, metadata[SHA256]),
    )


def read_object(metadata: Mapping[str, object], record_id: str) -> ObjectInfo | None:
    """The raw-object facts of a record's metadata, checked (``None``: it is not an object).

    Raises:
        CorruptedObjectError: a reserved object key is missing or malformed; the message names
            the record, the key and the fix.
    """
    problem = object_problem(metadata) if _is_object(metadata) else None
    if problem is not None:
        msg = (
            f"record {record_id!r} has malformed raw-object metadata: {problem}. Its reserved metadata was "
            "changed outside this store; delete the record or put_object it again"
        )
        raise CorruptedObjectError(msg)
    return object_info(metadata)


def _is_object(metadata: Mapping[str, object]) -> bool:
    return any(metadata.get(key) is not None for key in OBJECT_KEYS)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def object_metadata(*, content_type: str, codec: str, size: int, sha256: str) -> dict[str, object]:
    """The reserved metadata that describes a raw object's payload."""
    return {CONTENT_TYPE: content_type, CODEC: codec, SIZE: size, SHA256: sha256}
