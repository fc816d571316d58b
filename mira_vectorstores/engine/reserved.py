"""The store's reserved metadata keys (``_mira_*``): their names, stripping them from what a
caller sees, and reading a raw object's facts from them.

Every record the store writes carries its write's stamp (``STAMP``, an int that orders writes:
``stamps.py``) and revision (``REV``, the stamp and the writer, unique per write); a raw object
also carries its content type, codec, size and sha256. Callers may not write keys with this prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

from mira_vectorstores.engine.types import ObjectInfo

RESERVED_PREFIX = "_mira_"
REV = RESERVED_PREFIX + "rev"
STAMP = RESERVED_PREFIX + "stamp"
CONTENT_TYPE = RESERVED_PREFIX + "ctype"
CODEC = RESERVED_PREFIX + "codec"
SIZE = RESERVED_PREFIX + "size"
SHA256 = RESERVED_PREFIX + "sha256"


#: Keys a write sets afresh on every record it touches (never carried over from the old version).
WRITE_KEYS = (REV, STAMP)


def is_reserved(key: str) -> bool:
    """Whether a metadata key belongs to the store."""
    return key.startswith(RESERVED_PREFIX)


def user_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """The metadata a caller wrote, without the store's reserved keys (lists copied, so a
    caller editing a returned list cannot change the mirror).
    """
    # ``k[0] != "_"`` first: most keys are decided without the slower ``startswith``.
    return {
        k: list(v) if type(v) is list else v
        for k, v in metadata.items()
        if k[:1] != "_" or not k.startswith(RESERVED_PREFIX)
    }


def object_info(metadata: Mapping[str, object]) -> ObjectInfo | None:
    """The raw-object facts of a record's metadata, or ``None`` when it is not an object."""
    digest = metadata.get(SHA256)
    if digest is None:
        return None
    size = metadata[SIZE]
    return ObjectInfo(
        content_type=str(metadata[CONTENT_TYPE]),
        codec=str(metadata[CODEC]),
        size=size if isinstance(size, int) else int(str(size)),
        sha256=str(digest),
    )


def object_metadata(*, content_type: str, codec: str, size: int, sha256: str) -> dict[str, object]:
    """The reserved metadata that describes a raw object's payload."""
    return {CONTENT_TYPE: content_type, CODEC: codec, SIZE: size, SHA256: sha256}
