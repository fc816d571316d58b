"""The first papercuts: bad input gets a typed error naming the problem and the fix, and the
store is left unchanged; empty texts are stored, found by get, filters and dense search, never
by BM25.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes import CountingEmbedder

from mira_vectorstores import (
    ConfigError,
    FieldBoost,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    RecencyBoost,
)
from mira_vectorstores.engine.writes import validate

DOCS = {
    "a": "the cat sat on the warm mat",
    "b": "a cat and a dog became friends",
    "c": "dogs bark at the mail carrier",
    "d": "the cat chased the cat toy",
}


@pytest.fixture
def filled(store: HybridStore) -> HybridStore:
    store.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"i": i} for i in range(len(DOCS))])
    return store


def snapshot(store: HybridStore) -> list[tuple[str, str | None, dict[str, object]]]:
    return [(r.id, r.document, r.metadata) for r in store.get()]


# -- a lone str, bytes or dict where a list is expected -------------------------------------
WRAP = "wrap it in a list"

BAD_CALLS: dict[str, tuple[Callable[[HybridStore], object], str]] = {
    "add(str)": (lambda s: s.add("hello world"), WRAP),
    "add(ids=str)": (lambda s: s.add(["x"], ids="x"), WRAP),
    "upsert(str)": (lambda s: s.upsert("hello world"), WRAP),
    "update(str ids)": (lambda s: s.update("a", texts=["new"]), WRAP),
    "update(texts=str)": (lambda s: s.update(["a"], texts="new"), WRAP),
    "delete(str)": (lambda s: s.delete("ab"), WRAP),
    "delete(bytes)": (lambda s: s.delete(b"ab"), WRAP),
    "delete(dict)": (lambda s: s.delete({"a": 1}), WRAP),
    "delete(str, where)": (lambda s: s.delete("ab", where={"i": {"$gte": 0}}), WRAP),
    "delete([int])": (lambda s: s.delete(["a", 1]), "ids\\[1\\] is a int"),
    "get(str)": (lambda s: s.get("abc"), WRAP),
    "get(bytes)": (lambda s: s.get(b"abc"), WRAP),
    "get(dict)": (lambda s: s.get({"a": 1}), WRAP),
    "search(ids=str)": (lambda s: s.search("cat", ids="a"), WRAP),
    "search(ids=dict)": (lambda s: s.search("cat", ids={"a": 1}), WRAP),
    "search(vector=str)": (lambda s: s.search(vector="0.1, 0.2"), "vector must be a list of floats"),
    "search(vector=bytes)": (lambda s: s.search(vector=b"\x00\x01"), "vector must be a list of floats"),
    "search(vector=[str])": (lambda s: s.search(vector=["a", "b"]), "vector must be a list of floats"),
    "search(vector=two rows)": (lambda s: s.search(vector=np.ones((2, 64))), "one query vector"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_a_lone_item_where_a_list_is_expected_is_refused_and_nothing_changes(filled: HybridStore, name: str) -> None:
    call, message = BAD_CALLS[name]
    before = snapshot(filled)
    with pytest.raises(InvalidInputError, match=message):
        call(filled)
    assert snapshot(filled) == before


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add(b"hello"), WRAP),
        (lambda s: s.add(["x"], metadatas={"k": 1}), WRAP),
        (lambda s: s.add(["x", "y"], metadatas={"k": 1, "j": 2}), None),
        (lambda s: s.upsert(["x"], metadatas={"k": 1}), None),
        (lambda s: s.update(["a"], metadatas={"k": 1}), WRAP),
        (lambda s: s.add(["x"], ids=b"x"), None),
        (lambda s: s.add(["x"], vectors="0.1 0.2"), None),
        (lambda s: s.put_object(b"x", description="d", metadata=[{"a": 1}]), None),
    ],
    ids=["add(bytes)", "add(metadatas=dict)", "add(metadatas=dict2)", "upsert(metadatas=dict)",
         "update(metadatas=dict)", "add(ids=bytes)", "add(vectors=str)", "put_object(metadata=list)"],
)  # fmt: skip
def test_other_lone_items_get_a_typed_error_and_nothing_changes(filled: HybridStore, call, message) -> None:
    before = snapshot(filled)
    with pytest.raises(InvalidInputError, match=message):
        call(filled)
    assert snapshot(filled) == before


def test_check_list_names_the_argument_and_the_fix() -> None:
    assert validate.check_list(("a", "b"), "ids", of="strings") == ["a", "b"]
    assert validate.check_list(iter(["a"]), "ids", of="strings") == ["a"]
    with pytest.raises(InvalidInputError, match="texts must be a list of strings, got a single str; wrap it in a list"):
        validate.check_list("hello", "texts", of="strings")
    with pytest.raises(InvalidInputError, match="metadatas must be a list of dicts, got a single dict; wrap it"):
        validate.check_list({"a": 1}, "metadatas", of="dicts")
    with pytest.raises(InvalidInputError, match=r"ids must be a list of strings, got int$"):
        validate.check_list(3, "ids", of="strings")


# -- an empty query ----------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
@pytest.mark.parametrize("mode", [None, "dense", "hybrid", "lexical"])
def test_an_empty_query_says_so(filled: HybridStore, query: str, mode: str | None) -> None:
    def refuse(text: str) -> np.ndarray:
        raise AssertionError("a blank query must not be embedded")

    filled.embedder.embed_query = refuse  # type: ignore[union-attr,method-assign]
    with pytest.raises(InvalidInputError, match=r"the query is (empty|only whitespace); pass the text to search for"):
        filled.search(query, mode=mode)


def test_an_empty_query_says_so_without_an_embedder_and_with_a_vector() -> None:
    with HybridStore.in_memory(embedder=None) as store:
        store.add(["a cat"], ids=["a"], vectors=[[1.0, 0.0]])
        with pytest.raises(InvalidInputError, match="the query is empty"):
            store.search("")
        with pytest.raises(InvalidInputError, match="the query is only whitespace"):
            store.search("  ", vector=[1.0, 0.0])
        assert [h.id for h in store.search(vector=[1.0, 0.0], k=1)] == ["a"]  # query=None: by vector alone


# -- options of the wrong type ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.search("cat", mode=""), ConfigError, "mode must be one of"),
        (lambda s: s.search("cat", fusion=""), ConfigError, "fusion must be one of"),
        (lambda s: s.search("cat", alpha="0.5"), InvalidInputError, r"alpha must be a number in \[0, 1\], got str"),
        (lambda s: s.search("cat", mmr_lambda="1"), InvalidInputError, "mmr_lambda must be a number"),
        (lambda s: s.search("cat", score_threshold="0"), InvalidInputError, "score_threshold must be a finite number"),
        (lambda s: s.get(limit=1.5), InvalidInputError, "limit must be an int >= 0, got 1.5"),
        (lambda s: s.get(offset="1"), InvalidInputError, "offset must be an int >= 0, got '1'"),
        (lambda s: s.get(limit=-1), InvalidInputError, "limit must be an int >= 0, got -1"),
    ],
    ids=["mode=''", "fusion=''", "alpha=str", "mmr_lambda=str", "score_threshold=str", "limit=float", "offset=str",
         "limit<0"],
)  # fmt: skip
def test_options_of_the_wrong_type_are_named(filled: HybridStore, call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call(filled)


# -- boosts, embedder and path given in the wrong shape -------------------------------------------
@pytest.mark.parametrize(
    "rule",
    [
        FieldBoost("i", 1, factor=2.0),
        RecencyBoost("ts", half_life_days=3),
        {"type": "field", "field": "i", "equals": 1, "factor": 2.0},
    ],
)
def test_a_single_boost_rule_must_be_wrapped_in_a_list(filled: HybridStore, rule: object) -> None:
    with pytest.raises(ConfigError, match=r"boosts must be a list of rules, got a single \w+; wrap it in a list"):
        filled.search("cat", boosts=rule)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="wrap it in a list"):
        HybridStore.in_memory(embedder=HashingEmbedder(), boosts=rule)  # type: ignore[arg-type]
    assert filled.search("cat", k=1, boosts=[rule])  # type: ignore[list-item]


@pytest.mark.parametrize("boosts", ["field", 3])
def test_boosts_that_are_no_list_at_all(filled: HybridStore, boosts: object) -> None:
    with pytest.raises(ConfigError, match="boosts must be a list of rules"):
        filled.search("cat", boosts=boosts)  # type: ignore[arg-type]


def test_an_embedder_that_is_not_one_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"embedder must be an Embedder .* got str"):
        HybridStore.in_memory(embedder="minilm")  # type: ignore[arg-type]


def test_an_unusable_path_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    cases = {
        "/proc/nope/x": "cannot create the store folder '/proc/nope/x'",
        str(a_file): f"the store path '{a_file}' is a file, not a folder",
        str(a_file / "sub"): f"cannot create the store folder '{a_file / 'sub'}'",
    }
    for path, message in cases.items():
        with pytest.raises(ConfigError, match=message) as info:
            HybridStore("notes", path=path, embedder=HashingEmbedder())
        assert "pass path= a folder this process can write to" in str(info.value)
        assert "path=None for an in-memory store" in str(info.value)
    with pytest.raises(ConfigError, match=r"path must be a str or a pathlib.Path, got int"):
        HybridStore("notes", path=123, embedder=HashingEmbedder())  # type: ignore[arg-type]


def test_a_folder_this_process_cannot_write_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests often run as root, which can write anywhere: stand in for a read-only folder.
    monkeypatch.setattr(validate.os, "access", lambda path, mode: mode & os.W_OK == 0)
    with pytest.raises(ConfigError, match=f"the store folder '{tmp_path}' is not writable by this process"):
        HybridStore.persistent(tmp_path, "notes", embedder=HashingEmbedder())


def test_a_usable_path_is_created_and_opens(tmp_path: Path) -> None:
    with HybridStore.persistent(tmp_path / "new" / "nested", "notes", embedder=HashingEmbedder()) as store:
        assert store.add(["hello"], ids=["h"]) == ["h"]
    assert (tmp_path / "new" / "nested").is_dir()


# -- candidate depth -------------------------------------------------------------------------------
def test_hybrid_fills_k_when_a_side_is_asked_for_fewer(filled: HybridStore) -> None:
    # The reviewer's case: hybrid_search(k=3, fetch_k=1) returned 1 document.
    assert len(filled.search("cat", k=3, mode="hybrid", fetch_k=1)) == 3
    assert len(filled.search("cat", k=4, mode="hybrid", fetch_k=1, lexical_fetch_k=1)) == 4


# -- empty texts -----------------------------------------------------------------------------------
EMPTY = {"e0": "", "e1": "   ", "e2": "\n\t"}


@pytest.mark.parametrize("write", ["add", "upsert"])
def test_empty_texts_are_stored_and_found_by_get_filters_and_dense_but_never_by_bm25(
    filled: HybridStore, embedder: CountingEmbedder, write: str
) -> None:
    metadatas = [{"empty": True, "n": n} for n in range(len(EMPTY))]
    assert getattr(filled, write)(list(EMPTY.values()), ids=list(EMPTY), metadatas=metadatas) == list(EMPTY)
    assert filled.count() == len(DOCS) + len(EMPTY)
    assert [(r.id, r.document) for r in filled.get(list(EMPTY))] == list(EMPTY.items())
    assert sorted(r.id for r in filled.get(where={"empty": True})) == sorted(EMPTY)
    for query in ["cat", "dogs bark", "warm mat friends"]:
        hits = filled.search(query, k=10, mode="lexical")
        assert hits
        assert not {h.id for h in hits} & set(EMPTY), query
    # Dense search finds them: by the vector their (empty) text embeds to.
    vector = embedder.embed_documents([""])[0]
    assert filled.search(vector=vector, k=1)[0].id in EMPTY
    assert {h.id for h in filled.search(vector=vector, k=10, where={"empty": True})} == set(EMPTY)
    # No mode crashes on them, and their lexical part is 0.
    for mode in ["dense", "hybrid", "auto"]:
        hits = filled.search("cat", k=10, mode=mode)
        assert {h.id for h in hits} >= set(EMPTY), mode
    assert all(h.scores.lexical == 0.0 for h in filled.search("cat", k=10, mode="hybrid") if h.id in EMPTY)
    assert len(filled.search("cat", k=7, mmr_lambda=0.5)) == 7
    assert filled.search("cat", k=10, where_document={"$contains": "cat"}, mode="hybrid")


def test_a_store_of_only_empty_texts_survives_every_mode_and_a_reopen(tmp_path: Path) -> None:
    with HybridStore.persistent(tmp_path, "blank", embedder=HashingEmbedder()) as store:
        store.add(list(EMPTY.values()), ids=list(EMPTY))
        assert store.search("anything", k=3, mode="lexical") == []
        assert len(store.search("anything", k=3, mode="hybrid")) == 3
        assert len(store.search("anything", k=3, mode="dense")) == 3
    with HybridStore.persistent(tmp_path, "blank", embedder=HashingEmbedder()) as store:
        assert [(r.id, r.document) for r in store.get(list(EMPTY))] == list(EMPTY.items())
        assert store.search("anything", k=3, mode="lexical") == []
        store.add(["anything goes"], ids=["x"])
        assert [h.id for h in store.search("anything", k=3, mode="lexical")] == ["x"]
