"""Object codecs: how bytes, text, JSON, NumPy arrays and (opt-in) pickles become payload bytes and back.

Pickle is written
only on request and read only with ``allow_pickle=True``: unpickling runs code, so never
read pickles from a store you do not trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mira_vectorstores.engine.errors import ObjectCodecError, UnsafeDeserializationError


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
    try:
        return obj.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = (
            f"cannot encode this text: it is not valid Unicode ({exc.reason} at position {exc.start}); "
            "remove or replace that character, or store it as bytes"
        )
        raise ObjectCodecError(msg) from None


def _encode_json(obj: object) -> bytes:
    try:
        data = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        msg = (
            f"cannot encode {type(obj).__qualname__} with the json codec ({type(exc).__name__}: {exc}); "
            "use codec='pickle' for other objects, and flatten objects nested hundreds of levels deep"
        )
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
    try:
        return codec.decode(data)
    except (ValueError, RecursionError, EOFError) as exc:  # verified bytes under a changed codec name
        msg = (
            f"object {record_id!r} cannot be decoded with its codec {codec_name!r} ({type(exc).__name__}); "
            "read it with get_object_bytes, or put_object it again"
        )
        raise ObjectCodecError(msg) from None


def sha256(data: bytes) -> str:
    """Hex sha256 of a payload."""
    return hashlib.sha256(data).hexdigest()
