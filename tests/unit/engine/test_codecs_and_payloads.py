"""Tests of ``engine/storage/codecs.py`` and ``payloads.py``: codecs, byte-exact round trips, payload stores."""

from __future__ import annotations

import io
import pickle
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromadb
import numpy as np
import pytest

from mira_vectorstores.engine.errors import CorruptedObjectError, ObjectCodecError, UnsafeDeserializationError
from mira_vectorstores.engine.storage.codecs import CODECS, choose_codec, decode, sha256
from mira_vectorstores.engine.storage.payloads import ChromaPayloadStore, FilePayloadStore


@dataclass
class Point:
    """A plain object no safe codec fits."""

    x: int
    y: int


def round_trip(obj: object, codec_name: str | None = None) -> tuple[bytes, object]:
    codec = choose_codec(obj, codec_name)
    data = codec.encode(obj)
    back = decode(data, codec.name, allow_pickle=True, record_id="r1")
    assert codec.encode(back) == data  # byte-exact: re-encoding what was read gives the same payload
    return data, back


# ----------------------------------------------------------------------------- choose_codec
@pytest.mark.parametrize(
    ("obj", "name"),
    [
        (b"\x00\xff", "bytes"),
        (bytearray(b"ab"), "bytes"),
        (memoryview(b"ab"), "bytes"),
        ("text", "text"),
        ("", "text"),
        ({"a": [1, 2.5, None, True]}, "json"),
        ([1, "two"], "json"),
        (None, "json"),
        (True, "json"),
        (7, "json"),
        (2.5, "json"),
        (np.arange(3), "numpy"),
        (np.array(1.5), "numpy"),
    ],
)
def test_choose_codec_by_type(obj: object, name: str) -> None:
    assert choose_codec(obj, None).name == name


@pytest.mark.parametrize("obj", [Point(1, 2), {1, 2}, (1, 2), float("nan"), complex(1, 2), object()])
def test_choose_codec_refuses_arbitrary_objects(obj: object) -> None:
    with pytest.raises(ObjectCodecError) as info:
        choose_codec(obj, None)
    message = str(info.value)
    assert type(obj).__qualname__ in message
    assert "codec='pickle'" in message


def test_object_codec_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        choose_codec(Point(1, 2), None)


def test_choose_codec_named_codec_wins() -> None:
    assert choose_codec(Point(1, 2), "pickle").name == "pickle"
    assert choose_codec("text", "json").name == "json"


def test_choose_codec_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ObjectCodecError, match="unknown codec 'yaml'; valid: bytes, text, json, numpy, pickle"):
        choose_codec("x", "yaml")


def test_choose_codec_never_picks_pickle_unasked() -> None:
    for obj in (b"x", "x", {"a": 1}, [1], None, 1, 1.0, np.zeros(2)):
        assert choose_codec(obj, None).name != "pickle"


def test_numpy_codec_refuses_object_arrays() -> None:
    array = np.array([{"a": 1}, None], dtype=object)
    codec = choose_codec(array, None)
    with pytest.raises(ObjectCodecError, match=r"NumPy array of Python objects.*codec='pickle'"):
        codec.encode(array)


@pytest.mark.parametrize(
    ("codec_name", "obj"),
    [("bytes", "text"), ("text", b"bytes"), ("numpy", [1, 2]), ("json", Point(1, 2)), ("json", {"x": float("nan")})],
)
def test_codec_refuses_the_wrong_kind_naming_the_type(codec_name: str, obj: object) -> None:
    with pytest.raises(ObjectCodecError, match=type(obj).__qualname__):
        CODECS[codec_name].encode(obj)


def test_pickle_codec_refuses_unpicklable_objects() -> None:
    with pytest.raises(ObjectCodecError, match="cannot encode function with the pickle codec"):
        CODECS["pickle"].encode(lambda: 1)


# ----------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("obj", [b"", b"\x00\x01\xfe\xff" * 100, bytes(range(256))])
def test_bytes_round_trip(obj: bytes) -> None:
    data, back = round_trip(obj)
    assert back == obj
    assert data == obj


def test_bytearray_and_memoryview_come_back_as_bytes() -> None:
    assert round_trip(bytearray(b"abc"))[1] == b"abc"
    assert round_trip(memoryview(b"abc"))[1] == b"abc"


@pytest.mark.parametrize("obj", ["", "plain", "ünïcødé ✓ 中文 \U0001f600", "line\nbreak\x00nul"])
def test_text_round_trip(obj: str) -> None:
    data, back = round_trip(obj)
    assert back == obj
    assert data == obj.encode("utf-8")


@pytest.mark.parametrize(
    "obj",
    [
        {"a": 1, "b": [1.5, "x", None, False], "c": {"nested": {"deep": [[]]}}},
        [1, 2, 3],
        "a string as json",
        None,
        True,
        0,
        -2.25,
        10**30,
        {"ünï": "ü"},
    ],
)
def test_json_round_trip(obj: object) -> None:
    _, back = round_trip(obj, "json")
    assert back == obj
    assert type(back) is type(obj)


@pytest.mark.parametrize("obj", [{1: "a"}, [(1, 2)], {"k": (1,)}])
def test_json_never_changes_an_object_silently(obj: object) -> None:
    try:
        codec = choose_codec(obj, None)
        data = codec.encode(obj)
    except ObjectCodecError:
        return  # refusing is fine
    assert decode(data, codec.name, allow_pickle=False, record_id="r") == obj


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int64).reshape(3, 4),
        np.array(3.5),  # 0-d
        np.array([1.5, -0.0, np.inf, np.nan], dtype=np.float16),
        np.zeros((0, 5), dtype=np.float32),
        np.asfortranarray(np.arange(6, dtype=np.int8).reshape(2, 3)),
        np.array([True, False]),
        np.array(["ab", "ü"]),
        np.array([1 + 2j], dtype=np.complex128),
        np.array([(1, 2.5)], dtype=[("a", "<i4"), ("b", "<f8")]),
    ],
)
def test_numpy_round_trip_keeps_dtype_shape_and_values(array: np.ndarray) -> None:
    _, back = round_trip(array)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.tobytes() == array.tobytes()


def test_pickle_round_trip() -> None:
    obj = {"point": Point(1, 2), "set": {1, 2}, "tuple": (1, "a")}
    data, back = round_trip(obj, "pickle")
    assert back == obj
    assert pickle.loads(data) == obj


# ----------------------------------------------------------------------------- decode
def test_decode_pickle_without_allow_pickle_raises() -> None:
    data = CODECS["pickle"].encode(Point(1, 2))
    with pytest.raises(UnsafeDeserializationError) as info:
        decode(data, "pickle", allow_pickle=False, record_id="obj-7")
    assert "'obj-7'" in str(info.value)
    assert "allow_pickle=True" in str(info.value)
    assert isinstance(info.value, PermissionError)


def test_decode_pickle_with_allow_pickle() -> None:
    data = CODECS["pickle"].encode(Point(1, 2))
    assert decode(data, "pickle", allow_pickle=True, record_id="obj-7") == Point(1, 2)


def test_decode_safe_codecs_need_no_permission() -> None:
    assert decode(b'{"a": 1}', "json", allow_pickle=False, record_id="r") == {"a": 1}


def test_decode_unknown_codec_names_it() -> None:
    with pytest.raises(ObjectCodecError, match="object 'r' was written with unknown codec 'zip'"):
        decode(b"", "zip", allow_pickle=True, record_id="r")


def test_numpy_decode_never_unpickles() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        CODECS["numpy"].decode(buffer.getvalue())


def test_sha256_is_hex_of_the_bytes() -> None:
    assert sha256(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# ----------------------------------------------------------------------------- FilePayloadStore
def test_file_payload_store_put_get_delete(tmp_path: Path) -> None:
    store = FilePayloadStore(tmp_path / "payloads")
    data = b"\x00payload\xff" * 10
    digest = sha256(data)
    store.put(digest, data)
    assert store.get(digest, len(data)) == data
    assert (tmp_path / "payloads" / digest[:2] / digest).read_bytes() == data
    store.delete(digest, len(data))
    with pytest.raises(CorruptedObjectError, match=f"payload {digest} is missing"):
        store.get(digest, len(data))


def test_file_payload_store_put_twice_is_a_no_op(tmp_path: Path) -> None:
    store = FilePayloadStore(tmp_path)
    data = b"same bytes"
    store.put(sha256(data), data)
    store.put(sha256(data), data)
    assert store.get(sha256(data), len(data)) == data
    assert [p.name for p in (tmp_path / sha256(data)[:2]).iterdir()] == [sha256(data)]  # no temp files left


def test_file_payload_store_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(CorruptedObjectError):
        FilePayloadStore(tmp_path).get(sha256(b"never"), 5)


def test_file_payload_store_delete_missing_is_fine(tmp_path: Path) -> None:
    FilePayloadStore(tmp_path).delete(sha256(b"never"), 5)


def test_file_payload_store_empty_payload(tmp_path: Path) -> None:
    store = FilePayloadStore(tmp_path)
    store.put(sha256(b""), b"")
    assert store.get(sha256(b""), 0) == b""


# ----------------------------------------------------------------------------- ChromaPayloadStore
@pytest.fixture
def payload_collection() -> Iterator[chromadb.Collection]:
    client = chromadb.EphemeralClient()
    name = f"payloads-{uuid.uuid4().hex}"
    collection = client.create_collection(name, embedding_function=None)
    yield collection
    client.delete_collection(name)


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 95, 100])
def test_chroma_payload_store_splits_and_rejoins(payload_collection: chromadb.Collection, size: int) -> None:
    store = ChromaPayloadStore(payload_collection, chunk_bytes=10)
    data = bytes((i * 37) % 256 for i in range(size))
    digest = sha256(data)
    store.put(digest, data)
    assert payload_collection.count() == max(1, -(-size // 10))
    assert store.get(digest, size) == data


def test_chroma_payload_store_reports_missing_chunks(payload_collection: chromadb.Collection) -> None:
    store = ChromaPayloadStore(payload_collection, chunk_bytes=10)
    data = bytes(range(95))
    digest = sha256(data)
    store.put(digest, data)
    payload_collection.delete(ids=[f"{digest}:3", f"{digest}:7"])
    with pytest.raises(CorruptedObjectError, match=f"payload {digest} is missing 2 of 10 chunks"):
        store.get(digest, len(data))


def test_chroma_payload_store_delete(payload_collection: chromadb.Collection) -> None:
    store = ChromaPayloadStore(payload_collection, chunk_bytes=10)
    keep, drop = b"k" * 25, b"d" * 25
    store.put(sha256(keep), keep)
    store.put(sha256(drop), drop)
    store.delete(sha256(drop), len(drop))
    assert payload_collection.count() == 3
    assert store.get(sha256(keep), len(keep)) == keep
    with pytest.raises(CorruptedObjectError, match="missing 3 of 3 chunks"):
        store.get(sha256(drop), len(drop))


def test_chroma_payload_store_put_twice_keeps_one_copy(payload_collection: chromadb.Collection) -> None:
    store = ChromaPayloadStore(payload_collection, chunk_bytes=10)
    data = b"x" * 42
    store.put(sha256(data), data)
    store.put(sha256(data), data)
    assert payload_collection.count() == 5
    assert store.get(sha256(data), len(data)) == data
