"""Raw objects: codecs that turn objects into payload bytes, and stores that keep the bytes.

A payload is content-addressed by its sha256 and verified on every read. Pickle is written
only on request and read only with ``allow_pickle=True``: unpickling runs code, so never
read pickles from a store you do not trust.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mira_vectorstores.engine.errors import CorruptedObjectError, ObjectCodecError, UnsafeDeserializationError


@dataclass(frozen=True, slots=True)
class Codec:
    """How one kind of object becomes bytes and back."""

    name: str
    content_type: str
    encode: Callable[[object], bytes]
    decode: Callable[[bytes], object]
    #: The text indexed for search when no description is given (None: a description is needed).
    render: Callable[[object], str] | None = None


def _encode_bytes(obj: object) -> bytes:
    if not isinstance(obj, (bytes, bytearray, memoryview)):
        msg = f"cannot encode {type(obj).__qualname__} with the bytes codec"
        raise ObjectCodecError(msg)
    return bytes(obj)


def _encode_text(obj: object) -> bytes:
    if not isinstance(obj, str):
        msg = f"cannot encode {type(obj).__qualname__} with the text codec"
        raise ObjectCodecError(msg)
    return obj.encode("utf-8")


def _encode_json(obj: object) -> bytes:
    try:
        data = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        msg = f"cannot encode {type(obj).__qualname__} with the json codec ({exc}); use codec='pickle' for other objects"
        raise ObjectCodecError(msg) from None
    # JSON turns tuples into lists and int keys into strings: refuse rather than change the object.
    if json.loads(data) != obj:
        msg = f"the json codec would change this {type(obj).__qualname__} (tuples or non-str keys); use codec='pickle'"
        raise ObjectCodecError(msg)
    return data


def _encode_numpy(obj: object) -> bytes:
    if not isinstance(obj, np.ndarray):
        msg = f"cannot encode {type(obj).__qualname__} with the numpy codec"
        raise ObjectCodecError(msg)
    if obj.dtype.hasobject:
        msg = "cannot encode a NumPy array of Python objects with the numpy codec; use codec='pickle'"
        raise ObjectCodecError(msg)
    buffer = io.BytesIO()
    np.save(buffer, obj, allow_pickle=False)
    return buffer.getvalue()


def _decode_numpy(data: bytes) -> object:
    return np.load(io.BytesIO(data), allow_pickle=False)


def _encode_pickle(obj: object) -> bytes:
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        msg = f"cannot encode {type(obj).__qualname__} with the pickle codec: {exc}"
        raise ObjectCodecError(msg) from None


def _decode_pickle(data: bytes) -> object:
    return pickle.loads(data)


def _render_json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


CODECS: dict[str, Codec] = {
    "bytes": Codec("bytes", "application/octet-stream", _encode_bytes, bytes),
    "text": Codec("text", "text/plain; charset=utf-8", _encode_text, lambda b: b.decode("utf-8"), str),
    "json": Codec("json", "application/json", _encode_json, lambda b: json.loads(b.decode("utf-8")), _render_json),
    "numpy": Codec("numpy", "application/x-npy", _encode_numpy, _decode_numpy),
    "pickle": Codec("pickle", "application/x-python-pickle", _encode_pickle, _decode_pickle),
}


def choose_codec(obj: object, codec: str | None) -> Codec:
    """The codec named, or the one that fits the object's type (never pickle unasked).

    Raises:
        ObjectCodecError: for an unknown codec name, or an object no safe codec fits.
    """
    if codec is not None:
        if codec not in CODECS:
            msg = f"unknown codec {codec!r}; valid: {', '.join(CODECS)}"
            raise ObjectCodecError(msg)
        return CODECS[codec]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return CODECS["bytes"]
    if isinstance(obj, str):
        return CODECS["text"]
    if isinstance(obj, np.ndarray):
        return CODECS["numpy"]
    if obj is None or isinstance(obj, (dict, list, bool, int)) or (isinstance(obj, float) and math.isfinite(obj)):
        return CODECS["json"]
    msg = f"no safe codec for {type(obj).__qualname__}; pass codec='pickle' to store it pickled"
    raise ObjectCodecError(msg)


def decode(data: bytes, codec_name: str, *, allow_pickle: bool, record_id: str) -> object:
    """Decode a verified payload.

    Raises:
        UnsafeDeserializationError: a pickle payload without ``allow_pickle=True``.
    """
    if codec_name == "pickle" and not allow_pickle:
        msg = (
            f"object {record_id!r} is pickled; reading it runs code. "
            "Pass allow_pickle=True only if you trust whoever wrote this store."
        )
        raise UnsafeDeserializationError(msg)
    codec = CODECS.get(codec_name)
    if codec is None:
        msg = f"object {record_id!r} was written with unknown codec {codec_name!r}"
        raise ObjectCodecError(msg)
    return codec.decode(data)


def sha256(data: bytes) -> str:
    """Hex sha256 of a payload."""
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- payload stores
class PayloadStore(Protocol):
    """Keeps payload bytes by sha256."""

    def put(self, digest: str, data: bytes) -> None:
        """Store a payload (a no-op when it is already there)."""
        ...

    def get(self, digest: str, size: int) -> bytes:
        """Read a payload of ``size`` bytes (raises ``CorruptedObjectError`` when missing)."""
        ...

    def delete(self, digest: str, size: int) -> None:
        """Remove a payload (missing is fine)."""
        ...


class FilePayloadStore:
    """Payloads as files under a folder (embedded mode), written atomically."""

    def __init__(self, folder: Path) -> None:
        """Use ``folder`` (created on first write)."""
        self.folder = folder

    def _path(self, digest: str) -> Path:
        return self.folder / digest[:2] / digest

    def put(self, digest: str, data: bytes) -> None:
        """Write temp, fsync, rename."""
        path = self._path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def get(self, digest: str, size: int) -> bytes:
        """Read the file."""
        try:
            return self._path(digest).read_bytes()
        except FileNotFoundError:
            msg = f"payload {digest} is missing from {self.folder}"
            raise CorruptedObjectError(msg) from None

    def delete(self, digest: str, size: int) -> None:
        """Remove the file."""
        self._path(digest).unlink(missing_ok=True)


class ChromaPayloadStore:
    """Payloads inside Chroma itself (server and in-memory modes), so every client sees them.

    A payload is split into base64 chunks of ``chunk_bytes``, one record each, in a side
    collection; reads fetch the chunks by id.
    """

    def __init__(self, collection: object, *, chunk_bytes: int = 4 * 1024 * 1024) -> None:
        """Use a Chroma collection created for payloads."""
        self.collection = collection
        self.chunk_bytes = chunk_bytes

    def _ids(self, digest: str, size: int) -> list[str]:
        parts = max(1, math.ceil(size / self.chunk_bytes))
        return [f"{digest}:{i}" for i in range(parts)]

    def put(self, digest: str, data: bytes) -> None:
        """Write the chunks, a few per request."""
        ids = self._ids(digest, len(data))
        for start in range(0, len(ids), 4):
            batch = ids[start : start + 4]
            chunks = [data[int(i.rsplit(":", 1)[1]) * self.chunk_bytes :][: self.chunk_bytes] for i in batch]
            self.collection.upsert(  # type: ignore[attr-defined]
                ids=batch,
                embeddings=[[0.0]] * len(batch),
                documents=[base64.b64encode(c).decode("ascii") for c in chunks],
                metadatas=[{"sha256": digest}] * len(batch),
            )

    def get(self, digest: str, size: int) -> bytes:
        """Fetch and join the chunks."""
        ids = self._ids(digest, size)
        parts: dict[str, bytes] = {}
        for start in range(0, len(ids), 4):
            got = self.collection.get(ids=ids[start : start + 4], include=["documents"])  # type: ignore[attr-defined]
            parts.update({i: base64.b64decode(d) for i, d in zip(got["ids"], got["documents"], strict=True)})
        if len(parts) != len(ids):
            msg = f"payload {digest} is missing {len(ids) - len(parts)} of {len(ids)} chunks"
            raise CorruptedObjectError(msg)
        return b"".join(parts[i] for i in ids)

    def delete(self, digest: str, size: int) -> None:
        """Delete the chunks."""
        self.collection.delete(ids=self._ids(digest, size))  # type: ignore[attr-defined]
