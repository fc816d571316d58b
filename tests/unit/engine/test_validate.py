"""Tests of ``engine/writes/validate.py``: ids, metadata and vectors are checked before anything is written."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mira_vectorstores.engine.errors import DimensionMismatchError, InvalidInputError
from mira_vectorstores.engine.writes.validate import (
    check_ids,
    check_lengths,
    check_texts,
    check_vectors,
    clean_metadata,
)


# ----------------------------------------------------------------------------- check_ids
def test_check_ids_generates_unique_ids() -> None:
    ids = check_ids(None, 50)
    assert len(ids) == 50
    assert len(set(ids)) == 50
    assert all(isinstance(i, str) and i for i in ids)
    assert set(ids).isdisjoint(check_ids(None, 50))


def test_check_ids_generates_none_for_an_empty_batch() -> None:
    assert check_ids(None, 0) == []


def test_check_ids_returns_a_list_copy() -> None:
    given = ("a", "b")
    assert check_ids(given, 2) == ["a", "b"]


def test_check_ids_names_the_duplicates() -> None:
    with pytest.raises(InvalidInputError) as info:
        check_ids(["a", "b", "a", "c", "c", "d"], 6)
    message = str(info.value)
    assert "duplicate ids" in message
    assert "['a', 'c']" in message
    assert "'b'" not in message


def test_check_ids_wrong_count() -> None:
    with pytest.raises(InvalidInputError, match="got 2 ids for 3 records"):
        check_ids(["a", "b"], 3)


@pytest.mark.parametrize(("ids", "bad"), [(["a", 1], "ids[1]"), ([None], "ids[0]"), (["a", ""], "ids[1]")])
def test_check_ids_refuses_non_str_or_empty(ids: list[object], bad: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(bad) + " must be a non-empty str"):
        check_ids(ids, len(ids))  # type: ignore[arg-type]


def test_check_ids_refuses_a_single_str() -> None:
    with pytest.raises(InvalidInputError, match="got a single str; wrap it in a list"):
        check_ids("abc", 3)


def test_check_texts() -> None:
    assert check_texts(None) is None
    assert check_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(InvalidInputError, match="single str"):
        check_texts("ab")
    with pytest.raises(InvalidInputError, match=r"documents\[1\] must be a str, got int"):
        check_texts(["a", 1], "documents")  # type: ignore[list-item]


def test_check_lengths() -> None:
    check_lengths(2, texts=["a", "b"], metadatas=None)
    with pytest.raises(InvalidInputError, match="got 1 metadatas for 2 records"):
        check_lengths(2, texts=["a", "b"], metadatas=[{}])


# ----------------------------------------------------------------------------- clean_metadata
def test_clean_metadata_none_is_empty() -> None:
    assert clean_metadata(None, "metadatas[0]") == {}


def test_clean_metadata_keeps_valid_values_and_drops_none() -> None:
    metadata = {"s": "x", "i": 3, "f": 1.5, "b": False, "ls": ["a", "b"], "li": (1, 2), "lb": [True], "gone": None}
    assert clean_metadata(metadata, "m") == {
        "s": "x",
        "i": 3,
        "f": 1.5,
        "b": False,
        "ls": ["a", "b"],
        "li": [1, 2],
        "lb": [True],
    }


def test_clean_metadata_does_not_mutate_or_alias_its_input() -> None:
    tags = ["a", "b"]
    metadata = {"tags": tags, "gone": None}
    clean = clean_metadata(metadata, "m")
    clean["tags"].append("c")  # type: ignore[union-attr]
    assert metadata == {"tags": ["a", "b"], "gone": None}


@pytest.mark.parametrize("key", ["_mira_rev", "_mira_", "$and", "#document"])
def test_clean_metadata_refuses_reserved_keys(key: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(f"metadatas[2] key {key!r} is reserved")):
        clean_metadata({key: 1}, "metadatas[2]")


@pytest.mark.parametrize("key", [1, "", None])
def test_clean_metadata_refuses_bad_keys(key: object) -> None:
    with pytest.raises(InvalidInputError, match="keys must be non-empty strings"):
        clean_metadata({key: 1}, "m")  # type: ignore[dict-item]


def test_clean_metadata_refuses_a_non_dict() -> None:
    with pytest.raises(InvalidInputError, match=r"m must be a dict, got list"):
        clean_metadata([("a", 1)], "m")  # type: ignore[arg-type]


def test_clean_metadata_nested_dict_says_to_serialise() -> None:
    with pytest.raises(InvalidInputError) as info:
        clean_metadata({"author": {"name": "Ada"}}, "metadatas[0]")
    message = str(info.value)
    assert "metadatas[0]['author']" in message
    assert "unsupported type dict" in message
    assert "serialise" in message


@pytest.mark.parametrize("value", [b"bytes", object(), {1, 2}, np.float32(1.0)])
def test_clean_metadata_refuses_other_types(value: object) -> None:
    with pytest.raises(InvalidInputError, match="unsupported type"):
        clean_metadata({"v": value}, "m")


def test_clean_metadata_refuses_empty_list() -> None:
    with pytest.raises(InvalidInputError, match=r"m\['tags'\] is an empty list"):
        clean_metadata({"tags": []}, "m")


@pytest.mark.parametrize("value", [[1, "a"], [True, 1], ["a", None], [[1], [2]], [{"a": 1}], [1.5, False]])
def test_clean_metadata_refuses_mixed_or_nested_lists(value: list[object]) -> None:
    with pytest.raises(InvalidInputError, match="must be a list of one type"):
        clean_metadata({"v": value}, "m")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), [1.0, float("nan")]])
def test_clean_metadata_refuses_non_finite_numbers(value: object) -> None:
    with pytest.raises(InvalidInputError, match="must be finite"):
        clean_metadata({"v": value}, "m")


def test_clean_metadata_refuses_int_float_mixed_list() -> None:
    with pytest.raises(InvalidInputError, match="must be a list of one type"):
        clean_metadata({"v": [1, 1.5]}, "m")


# ----------------------------------------------------------------------------- check_vectors
def test_check_vectors_unit_normalises_to_float32() -> None:
    out = check_vectors([[3.0, 4.0], [0.0, -2.0]], 2, 2)
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, -1.0]], rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0, 1.0], rtol=1e-6)


def test_check_vectors_does_not_mutate_its_input() -> None:
    given = np.array([[3.0, 4.0]], dtype=np.float32)
    check_vectors(given, 1, 2)
    np.testing.assert_array_equal(given, [[3.0, 4.0]])


def test_check_vectors_accepts_any_dimension_without_a_store_dimension() -> None:
    assert check_vectors(np.ones((3, 7)), 3, None).shape == (3, 7)


@pytest.mark.parametrize(
    ("vectors", "n"),
    [
        ([1.0, 0.0], 1),  # 1-d
        ([[1.0, 0.0]], 2),  # wrong count
        (np.ones((2, 2, 2)), 2),  # 3-d
    ],
)
def test_check_vectors_refuses_wrong_shape(vectors: object, n: int) -> None:
    with pytest.raises(InvalidInputError, match=rf"vectors must have shape \({n}, d\)"):
        check_vectors(vectors, n, None)


@pytest.mark.parametrize("vectors", [[[1.0, 0.0], [1.0]], [["a", "b"]], [[{"x": 1}, 1.0]]])
def test_check_vectors_refuses_ragged_or_non_numeric(vectors: object) -> None:
    with pytest.raises(InvalidInputError, match="must be a list of equal-length number lists or a 2-d array"):
        check_vectors(vectors, len(vectors), None)  # type: ignore[arg-type]


def test_check_vectors_refuses_none_entries() -> None:
    # None becomes NaN in the float32 cast, so it is refused as a non-finite value
    with pytest.raises(InvalidInputError, match=r"vectors\[0\]"):
        check_vectors([[None, 1.0]], 1, 2)


def test_check_vectors_dimension_mismatch_names_both_dims() -> None:
    with pytest.raises(DimensionMismatchError) as info:
        check_vectors(np.ones((2, 3)), 2, 384, what="embeddings")
    message = str(info.value)
    assert "embeddings have 3 dims" in message
    assert "expects 384" in message
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, ValueError)


def test_check_vectors_refuses_zero_dimensions() -> None:
    with pytest.raises(InvalidInputError, match="at least one dimension"):
        check_vectors(np.ones((2, 0)), 2, None)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])  # 1e39 overflows float32
def test_check_vectors_refuses_non_finite(bad: float) -> None:
    with pytest.raises(InvalidInputError, match=r"vectors\[1\] contains NaN or inf"):
        check_vectors([[1.0, 0.0], [bad, 1.0]], 2, 2)


def test_check_vectors_keeps_an_all_zero_row_zero() -> None:
    out = check_vectors([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]], 3, 2)
    np.testing.assert_array_equal(out, np.array([[0.6, 0.8], [0.0, 1.0], [0.0, 0.0]], dtype=np.float32))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_check_vectors_large_finite_values_stay_unit() -> None:
    out = check_vectors([[1e20, 1e20]], 1, 2)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), [1.0], rtol=1e-6)


def test_check_vectors_tiny_non_zero_values_are_not_zero() -> None:
    out = check_vectors([[1e-30, 1e-30]], 1, 2)
    np.testing.assert_allclose(out, [[2**-0.5, 2**-0.5]], rtol=1e-6)
