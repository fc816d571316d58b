"""Tests of the records mirror's compact layout: growable ``Packed`` columns, replaced rows, compaction."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mira_vectorstores.engine.config import StoreConfig
from mira_vectorstores.engine.mirrors.mirror_set import Mirrors
from mira_vectorstores.engine.mirrors.records import Packed, RecordsMirror
from mira_vectorstores.engine.query.filters import parse_where, parse_where_document

TEXTS = ["first", None, "", "fourth ✓ Zoë 東京", "x" * 300]
METAS = [{"k": 1, "tags": ["x", "ü"]}, {}, {"k": 2.5, "flag": True}, {"name": "Zoë", "deep": {"a": [1]}}, None]


@pytest.mark.parametrize(("values", "as_json"), [(TEXTS, False), (METAS, True)])
def test_a_grown_column_round_trips_through_its_parts(values: list[object], as_json: bool) -> None:
    column = Packed.of(values[:2], as_json=as_json)
    column.extend(values[2:])
    assert list(column) == values
    assert column.unpack() == values
    assert column[-1] == values[-1]
    assert column[np.int64(3)] == values[3]  # type: ignore[call-overload]
    with pytest.raises(IndexError):
        column[len(values)]
    again = Packed(*column.parts(), as_json=as_json)
    assert again.unpack() == values


def test_an_empty_string_and_none_stay_apart() -> None:
    column = Packed.of(["", None, ""], as_json=False)
    assert column.unpack() == ["", None, ""]
    blob, offsets, nulls = column.parts()
    assert (bytes(blob), offsets.tolist(), nulls.tolist()) == (b"", [0, 0, 0, 0], [False, True, False])


def test_replaced_rows_read_back_and_save_contiguous() -> None:
    column = Packed.of(TEXTS, as_json=False)
    column[0] = "replaced, longer than before"
    column[1] = "was None"
    column[2] = None
    expected = ["replaced, longer than before", "was None", None, TEXTS[3], TEXTS[4]]
    assert column.unpack() == expected
    blob, offsets, nulls = column.parts()
    assert len(blob) == offsets[-1] == sum(len(t.encode()) for t in expected if t is not None)  # no garbage saved
    assert Packed(blob, offsets, nulls, as_json=False).unpack() == expected


def test_many_replacements_repack_the_buffer_instead_of_growing_it() -> None:
    column = Packed.of([{"n": i} for i in range(100)], as_json=True)
    for round_ in range(2_000):
        column[round_ % 100] = {"n": round_, "pad": "p" * 100}
    assert column.unpack() == [{"n": 1_900 + i, "pad": "p" * 100} for i in range(100)]
    live = sum(len(f'{{"n":{1_900 + i},"pad":"{"p" * 100}"}}') for i in range(100))
    assert len(column._blob) <= 2 * live + (1 << 16)  # garbage bounded, not 2,000 rows' worth


def test_take_copies_rows_in_the_given_order() -> None:
    column = Packed.of(TEXTS, as_json=False)
    column[4] = "new"
    taken = column.take([4, 1, 0])
    assert taken.unpack() == ["new", None, "first"]
    assert Packed.of([], as_json=True).take([]).unpack() == []


def test_packing_metadata_keeps_no_encoded_row_alive() -> None:
    # orjson gives each dumps() a 4 KB allocation: a list of encoded rows (the first version)
    # peaked at ~4.2 KB a row; encoding straight into the buffer stays near the data's size.
    metas = [{"category": f"cat-{i % 10}", "year": 2000 + i % 25, "rare": i % 100 == 0} for i in range(20_000)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        blob, _, _ = Packed.pack(metas, as_json=True)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 6 * len(blob) + 1_000_000, f"{peak / len(metas):.0f} bytes a row for {len(blob) / len(metas):.0f}"


def _mirror() -> RecordsMirror:
    mirror = RecordsMirror()
    mirror.append(["a", "b", "c", "d"], ["alpha one", None, "gamma", "delta one"], [{"k": i} for i in range(4)])
    return mirror


def test_filters_see_replaced_and_killed_rows() -> None:
    mirror = _mirror()
    where, text = parse_where({"k": {"$gte": 2}}), parse_where_document({"$contains": "one"})
    assert mirror.allowed(where).tolist() == [False, False, True, True]
    assert mirror.allowed(text).tolist() == [True, False, False, True]
    mirror.replace(0, "zeta", {"k": 7})
    mirror.kill(["d"])
    assert mirror.allowed(where).tolist() == [True, False, True, False]
    assert mirror.allowed(text).tolist() == [False, False, False, False]
    assert (mirror.docs[3], mirror.metas[3], mirror.ids[3]) == (None, {}, None)
    assert mirror.rev("a") is None
    assert mirror.rev("d") is None


def test_append_refuses_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="one document and metadata per id"):
        RecordsMirror().append(["a", "b"], ["only one"], [{}, {}])


def test_a_changed_mirror_saves_and_loads_the_same_state(tmp_path: Path) -> None:
    mirror = _mirror()
    mirror.replace(2, "gamma ✓", {"k": 20, "name": "Zoë"})
    mirror.kill(["b"])
    mirror.save(tmp_path / "one")
    loaded = RecordsMirror.load(tmp_path / "one")
    assert loaded.to_state() == mirror.to_state()
    loaded.replace(loaded.row_of["a"], None, {"k": -1})  # a write after load keeps the columns packed
    assert isinstance(loaded.docs, Packed)
    assert isinstance(loaded.metas, Packed)
    loaded.save(tmp_path / "two")
    assert RecordsMirror.load(tmp_path / "two").to_state() == loaded.to_state()


def test_select_renumbers_without_decoding() -> None:
    mirror = _mirror()
    mirror.replace(3, "delta two", {"k": 30})
    fresh = mirror.select([3, 0])
    assert fresh.to_state() == {
        "ids": ["d", "a"],
        "documents": ["delta two", "alpha one"],
        "metadatas": [{"k": 30}, {"k": 0}],
    }
    assert fresh.row_of == {"d": 0, "a": 1}
    assert fresh.live_count == 2


def test_compaction_keeps_records_and_vectors_aligned() -> None:
    mirrors = Mirrors(4, StoreConfig())
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((1_600, 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"id-{i}" for i in range(1_600)]
    mirrors.apply_upsert(ids, [f"text {i}" for i in range(1_600)], [{"i": i} for i in range(1_600)], vectors)
    mirrors.apply_delete(ids[::2] + ids[1:800:2])  # 1,200 dead of 1,600: compacts
    records = mirrors.records
    assert records.size == records.live_count == 400
    for row in range(records.size):
        i = int(str(records.ids[row]).removeprefix("id-"))
        assert (records.docs[row], records.metas[row]) == (f"text {i}", {"i": i})
        assert np.array_equal(mirrors.dense.vectors[row], vectors[i])


def test_filter_caches_patched_by_writes_answer_like_a_fresh_build() -> None:
    rng = np.random.default_rng(3)
    values: list[object] = ["red", "blue", "grün", 1, 2, 2.5, True, False, ["red", 1], [2.5, True], None]
    wheres: list[dict[str, Any]] = [
        {"color": "red"},
        {"color": {"$ne": "blue"}},
        {"color": {"$in": ["grün", 2]}},
        {"size": {"$gte": 2}},
        {"size": {"$exists": False}},
        {"color": {"$contains": "red"}},
        {"flag": True},
        {"$or": [{"color": {"$text_match": "ü"}}, {"size": {"$lt": 2}}]},
    ]
    where_documents = [{"$contains": "word 1"}, {"$not_contains": "3"}]

    def meta() -> dict[str, object]:
        picked = {key: values[rng.integers(len(values))] for key in ("color", "size", "flag")}
        return {key: value for key, value in picked.items() if value is not None}

    mirror = RecordsMirror()
    mirror.append([f"r{i}" for i in range(30)], [f"word {i}" for i in range(30)], [meta() for _ in range(30)])
    nodes = [parse_where(w) for w in wheres] + [parse_where_document(w) for w in where_documents]
    for node in nodes:
        mirror.allowed(node)  # builds the caches the writes below must keep current
    for step in range(60):
        live = list(mirror.row_of)
        if step % 3 == 0:
            mirror.append([f"n{step}"], [f"word {step}"], [meta()])
        elif step % 3 == 1:
            mirror.replace(mirror.row_of[live[rng.integers(len(live))]], f"new {step}", meta())
        else:
            mirror.kill([live[rng.integers(len(live))]])
        fresh = RecordsMirror.from_state(mirror.to_state())
        for node in nodes:
            assert mirror.allowed(node).tolist() == fresh.allowed(node).tolist(), (step, node)
