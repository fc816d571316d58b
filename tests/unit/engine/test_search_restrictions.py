"""HybridStore.search(ids=..., lexical_fetch_k=...): restricting candidates to ids, and per-side depths."""

from __future__ import annotations

import pytest

from mira_vectorstores import HybridStore, InvalidInputError

DOCS = {
    "a": "the cat sat on the warm mat",
    "b": "a cat and a dog became friends",
    "c": "dogs bark at the mail carrier",
    "d": "the cat chased the cat toy",
    "e": "fresh bread from the bakery",
}


@pytest.fixture
def filled(store: HybridStore) -> HybridStore:
    store.add(list(DOCS.values()), ids=list(DOCS), metadatas=[{"i": i} for i in range(len(DOCS))])
    return store


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_ids_restrict_the_candidates_in_every_mode(filled: HybridStore, mode: str) -> None:
    everything = [h.id for h in filled.search("cat", k=5, mode=mode)]
    restricted = [h.id for h in filled.search("cat", k=5, mode=mode, ids=["b", "c", "e", "zz"])]
    assert {"a", "d"} <= set(everything)
    assert set(restricted) <= {"b", "c", "e"}
    assert "b" in restricted  # it matches "cat" on both sides
    if mode != "hybrid":  # per-side scores do not depend on the restriction (fused ranks do)
        assert restricted == [i for i in everything if i in {"b", "c", "e"}]


def test_ids_fill_k_when_enough_allowed_records_exist(filled: HybridStore) -> None:
    # Restriction happens before ranking: the allowed records are all found, not post-filtered.
    hits = filled.search(vector=filled.embed_query("cat"), k=2, ids=["c", "e"])
    assert sorted(h.id for h in hits) == ["c", "e"]


def test_ids_combine_with_filters_and_mmr(filled: HybridStore) -> None:
    hits = filled.search("cat", k=5, mode="dense", ids=["a", "b", "d"], where={"i": {"$gte": 1}})
    assert sorted(h.id for h in hits) == ["b", "d"]
    hits = filled.search("cat", k=5, mode="dense", ids=["a", "b"], mmr_lambda=0.5)
    assert sorted(h.id for h in hits) == ["a", "b"]


def test_empty_or_unknown_ids_match_nothing(filled: HybridStore) -> None:
    assert filled.search("cat", k=3, ids=[]) == []
    assert filled.search("cat", k=3, ids=["zz"]) == []


def test_ids_must_be_a_list_of_strings(filled: HybridStore) -> None:
    with pytest.raises(InvalidInputError, match="list of strings"):
        filled.search("cat", ids="a")
    with pytest.raises(InvalidInputError, match="list of strings"):
        filled.search("cat", ids=[1, 2])


def test_deleted_ids_are_not_found(filled: HybridStore) -> None:
    filled.delete(["a"])
    assert [h.id for h in filled.search("cat", k=3, mode="lexical", ids=["a", "d"])] == ["d"]


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_side_fetches_at_least_k(filled: HybridStore, mode: str) -> None:
    # fetch_k / lexical_fetch_k below k are raised to k: a hybrid union, or one side, fills k.
    # (Before: a hybrid search with fetch_k=1 returned at most 2 hits, other modes refused it.)
    shallow = filled.search("cat", k=3, mode=mode, fetch_k=1, lexical_fetch_k=1)
    assert len(shallow) == 3  # "cat" has three lexical matches: a, b, d
    if mode != "hybrid":  # per-side rankings do not depend on the depth beyond k
        assert [h.id for h in shallow] == [h.id for h in filled.search("cat", k=3, mode=mode)]


def test_fetch_k_below_one_is_refused(filled: HybridStore) -> None:
    with pytest.raises(InvalidInputError, match="fetch_k must be an int >= 1"):
        filled.search("cat", k=3, mode="dense", fetch_k=0)
    with pytest.raises(InvalidInputError, match="lexical_fetch_k must be an int >= 1"):
        filled.search("cat", k=3, mode="hybrid", lexical_fetch_k=0)
