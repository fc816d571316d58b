"""Tests of ``engine/mirrors/records.py``: the packed snapshot columns and the mirror they load into."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores.engine.mirrors.records import Packed, RecordsMirror
from mira_vectorstores.engine.query.filters import parse_where

IDS = ["a", "b", "c", "d", "é-ü"]
DOCS = ["first", None, "", "fourth text ✓", "fifth"]
METAS = [{"k": 1, "tags": ["x", "y"]}, {}, {"k": 2.5, "flag": True}, {"name": "Zoë"}, {"k": None, "n": -3}]


def _mirror() -> RecordsMirror:
    mirror = RecordsMirror()
    mirror.append(IDS, DOCS, [dict(m) for m in METAS])
    mirror.kill(["b"])  # a dead row: id and document None, metadata {}
    return mirror


@pytest.mark.parametrize("as_json", [False, True])
def test_packed_column_round_trips_every_row(as_json: bool) -> None:
    values = [*METAS, None] if as_json else DOCS
    blob, offsets, nulls = Packed.pack(values, as_json=as_json)
    packed = Packed(blob, offsets, nulls, as_json=as_json)
    assert len(packed) == len(values)
    assert [packed[i] for i in range(len(values))] == values
    assert packed.unpack() == values
    assert list(packed) == values
    assert packed[-1] == values[-1]
    assert packed[1:3] == values[1:3]


def test_packed_column_of_nothing() -> None:
    for as_json in (False, True):
        packed = Packed(*Packed.pack([], as_json=as_json), as_json=as_json)
        assert len(packed) == 0
        assert packed.unpack() == []


def test_packed_column_refuses_offsets_that_do_not_fit() -> None:
    blob, offsets, nulls = Packed.pack(["abc", "de"], as_json=False)
    with pytest.raises(ValueError, match="does not match its offsets"):
        Packed(blob[:-1], offsets, nulls, as_json=False)
    with pytest.raises(ValueError, match="does not match its offsets"):
        Packed(blob, offsets, nulls[:1], as_json=False)


def test_saved_mirror_loads_packed_and_answers_like_the_original(tmp_path: Path) -> None:
    original = _mirror()
    files = original.save(tmp_path)
    assert all(f.exists() for f in files)
    loaded = RecordsMirror.load(tmp_path)
    assert isinstance(loaded.ids, Packed)
    assert isinstance(loaded.metas, Packed)
    assert loaded.size == original.size == 5
    assert loaded.live_count == original.live_count == 4
    assert loaded.alive.tolist() == original.alive.tolist() == [True, False, True, True, True]
    assert [loaded.ids[r] for r in range(5)] == ["a", None, "c", "d", "é-ü"]
    assert [loaded.docs[r] for r in range(5)] == ["first", None, "", "fourth text ✓", "fifth"]
    assert [loaded.metas[r] for r in range(5)] == [METAS[0], {}, METAS[2], METAS[3], METAS[4]]
    assert loaded.row_of == original.row_of
    where = parse_where({"k": {"$gte": 1}})
    assert loaded.allowed(where).tolist() == original.allowed(where).tolist() == [True, False, True, False, False]


def test_reading_rows_of_a_loaded_mirror_does_not_unpack_it(tmp_path: Path) -> None:
    _mirror().save(tmp_path)
    loaded = RecordsMirror.load(tmp_path)
    assert loaded.metas[3] == {"name": "Zoë"}
    assert loaded.ids[4] == "é-ü"
    assert isinstance(loaded.ids, Packed)
    assert isinstance(loaded.docs, Packed)
    assert isinstance(loaded.metas, Packed)
    loaded.column("k")  # a filter reads the metadata; it stays packed
    assert isinstance(loaded.metas, Packed)
    assert isinstance(loaded.docs, Packed)


def test_writes_after_load_unpack_and_save_again(tmp_path: Path) -> None:
    _mirror().save(tmp_path / "one")
    loaded = RecordsMirror.load(tmp_path / "one")
    loaded.replace(loaded.row_of["c"], "changed", {"k": 9})
    assert loaded.append(["f"], ["sixth"], [{"k": 6}]) == [5]
    assert loaded.kill(["a"]) == [0]
    assert loaded.live_count == 4
    assert isinstance(loaded.ids, list)
    loaded.save(tmp_path / "two")
    again = RecordsMirror.load(tmp_path / "two")
    assert again.to_state() == loaded.to_state()
    assert again.row_of == {"c": 2, "d": 3, "é-ü": 4, "f": 5}
    assert again.allowed(parse_where({"k": 9})).tolist() == [False, False, True, False, False, False]


def test_an_unchanged_loaded_mirror_saves_the_same_bytes(tmp_path: Path) -> None:
    _mirror().save(tmp_path / "one")
    RecordsMirror.load(tmp_path / "one").save(tmp_path / "two")
    for name in ("ids.bin", "docs.bin", "metas.bin"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    for name in ("offsets.npy", "nulls.npy"):
        assert np.array_equal(np.load(tmp_path / "one" / name), np.load(tmp_path / "two" / name))


def test_load_refuses_mismatched_files(tmp_path: Path) -> None:
    _mirror().save(tmp_path)
    np.save(tmp_path / "nulls.npy", np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="do not fit together"):
        RecordsMirror.load(tmp_path)
