"""Raw objects through HybridStore: codecs, integrity, search, deletion, both payload stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores import (
    CorruptedObjectError,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    ObjectCodecError,
    RecordNotFoundError,
    UnsafeDeserializationError,
)


@pytest.fixture(params=["memory", "persistent"])
def obj_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HybridStore]:
    if request.param == "memory":
        store = HybridStore.in_memory(embedder=HashingEmbedder(32))
    else:
        store = HybridStore.persistent(tmp_path, "objects", embedder=HashingEmbedder(32))
    yield store
    store.close()


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


@pytest.mark.parametrize(
    ("obj", "codec", "content_type"),
    [
        (b"\x00\xffraw bytes\x00", "bytes", "application/octet-stream"),
        ("plain text, ünïcode", "text", "text/plain; charset=utf-8"),
        ({"a": [1, 2.5, None], "b": {"c": True}}, "json", "application/json"),
        (np.arange(12, dtype=np.float16).reshape(3, 4), "numpy", "application/x-npy"),
    ],
)
def test_round_trip_is_exact(obj_store: HybridStore, obj: object, codec: str, content_type: str) -> None:
    oid = obj_store.put_object(obj, description="a thing", metadata={"kind": codec})
    back = obj_store.get_object(oid)
    if isinstance(obj, np.ndarray):
        assert back.dtype == obj.dtype
        assert back.shape == obj.shape
        assert np.array_equal(back, obj)
    else:
        assert back == obj
        assert type(back) is type(obj)
    data, info = obj_store.get_object_bytes(oid)
    assert info.codec == codec
    assert info.content_type == content_type
    assert info.size == len(data)
    record = obj_store.get([oid])[0]
    assert record.metadata == {"kind": codec}
    assert record.object == info


def test_pickle_needs_opt_in_twice(obj_store: HybridStore) -> None:
    with pytest.raises(ObjectCodecError, match=r"Point.*pickle"):
        obj_store.put_object(Point(3), description="a point")
    oid = obj_store.put_object(Point(3), description="a point", codec="pickle")
    with pytest.raises(UnsafeDeserializationError, match="allow_pickle=True"):
        obj_store.get_object(oid)
    assert obj_store.get_object(oid, allow_pickle=True).x == 3  # type: ignore[attr-defined]


def test_objects_are_searchable_with_filters(obj_store: HybridStore) -> None:
    obj_store.add(["an ordinary note about zebras"], ids=["note"])
    oid = obj_store.put_object(b"PNG...", id="img1", description="photo of a zebra herd", metadata={"kind": "image"})
    hits = obj_store.search("zebra herd photo", k=2, where={"kind": "image"})
    assert [h.id for h in hits] == [oid]
    assert hits[0].object is not None
    assert hits[0].object.size == 6
    text_obj = obj_store.put_object({"title": "giraffe facts"})  # JSON renders its own text
    assert obj_store.search("giraffe", k=1, mode="lexical")[0].id == text_obj


def test_custom_content_type_and_replacement(obj_store: HybridStore) -> None:
    oid = obj_store.put_object(b"\x89PNG", id="pic", content_type="image/png", description="a logo")
    assert obj_store.get_object_bytes(oid)[1].content_type == "image/png"
    obj_store.put_object(b"new bytes", id="pic", description="a new logo")
    assert obj_store.get_object("pic") == b"new bytes"
    assert obj_store.count() == 1


def test_object_needs_description_or_embedding(obj_store: HybridStore) -> None:
    with pytest.raises(InvalidInputError, match="description"):
        obj_store.put_object(b"bytes without words")
    oid = obj_store.put_object(b"bytes", embedding=np.ones(32))
    assert obj_store.get_object(oid) == b"bytes"
    assert obj_store.count() == 1


def test_delete_removes_the_payload(obj_store: HybridStore) -> None:
    oid = obj_store.put_object(b"to be deleted", description="temp")
    info = obj_store.get_object_bytes(oid)[1]
    obj_store.delete([oid])
    with pytest.raises(RecordNotFoundError):
        obj_store.get_object(oid)
    with pytest.raises(CorruptedObjectError):
        obj_store.objects.payloads.get(info.sha256, info.size)


def test_shared_payload_survives_until_last_reference(obj_store: HybridStore) -> None:
    a = obj_store.put_object(b"same bytes", description="first")
    b = obj_store.put_object(b"same bytes", description="second")
    obj_store.delete([a])
    assert obj_store.get_object(b) == b"same bytes"


def test_tampered_payload_is_detected(tmp_path: Path) -> None:
    store = HybridStore.persistent(tmp_path, "objects", embedder=HashingEmbedder(32))
    oid = store.put_object(b"original payload", description="x")
    info = store.get_object_bytes(oid)[1]
    (tmp_path / "mira" / "objects" / "objects" / info.sha256[:2] / info.sha256).write_bytes(b"tampered payload")
    with pytest.raises(CorruptedObjectError, match="sha256"):
        store.get_object(oid)
    store.close()


def test_get_object_of_a_plain_record_is_not_found(obj_store: HybridStore) -> None:
    obj_store.add(["just text"], ids=["t"])
    with pytest.raises(RecordNotFoundError, match="no object"):
        obj_store.get_object("t")


def test_put_objects_is_one_write_refused_whole_by_a_bad_object(tmp_path):
    from mira_vectorstores import HashingEmbedder, HybridStore
    from mira_vectorstores.engine.errors import ObjectCodecError

    with HybridStore.persistent(tmp_path, embedder=HashingEmbedder()) as store:
        with pytest.raises(ObjectCodecError):
            store.put_objects([b"one", "two", object()], ids=["a", "b", "c"], descriptions=["x", None, "z"])
        assert store.count() == 0
        assert not any(p.is_file() for p in (tmp_path / "mira").rglob("*") if len(p.name) == 64)
        ids = store.put_objects(
            [b"one", "two", {"n": 3}],
            ids=["a", None, "c"],
            descriptions=["first", None, None],
            embeddings=[None, None, store.embed_query("third")],
        )
        assert (ids[0], ids[2], len(ids[1])) == ("a", "c", 32)
        assert [store.get_object(i) for i in ids] == [b"one", "two", {"n": 3}]
        assert store.search("first", k=1)[0].id == "a"
