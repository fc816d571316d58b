"""Values that round-trip: dates and times, 64-bit ints, floats Chroma rounds, and bounded filters
(a linear-time ``$regex``, a depth limit) — on the mirror and after a rebuild from Chroma alike.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta, timezone

import chromadb
import pytest

from mira_vectorstores import HashingEmbedder, HybridStore, RecencyBoost
from mira_vectorstores.engine import times
from mira_vectorstores.engine.errors import FilterError, InvalidInputError, ObjectCodecError
from mira_vectorstores.engine.query.filters import MAX_FILTER_DEPTH

PLUS5 = timezone(timedelta(hours=5))
BASE = datetime(2026, 3, 1, 12, 0, 0, tzinfo=PLUS5)


@pytest.fixture
def store(tmp_path):
    s = HybridStore.persistent(tmp_path, embedder=HashingEmbedder())
    yield s
    s.close()


def _ids(hits) -> list[str]:
    return sorted(h.id for h in hits)


# -- times.py ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        BASE,
        datetime(2026, 3, 1, 7, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999),  # naive: read as UTC
        datetime(2300, 1, 1, 0, 0, 0, 7, tzinfo=UTC),
        date(2026, 3, 1),
    ],
)
def test_times_encode_and_decode_exactly(value):
    text = times.encode(value)
    back = times.decode(text, times.seconds(value))
    assert back == value
    assert type(back) is type(value)
    assert (back.tzinfo is None) == (getattr(value, "tzinfo", None) is None) if isinstance(value, datetime) else True


def test_times_micros_orders_instants_not_wall_clocks():
    utc_seven = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)  # the same instant as BASE
    assert times.micros(utc_seven) == times.micros(BASE)
    assert times.micros(date(1970, 1, 2)) == 86_400 * 1_000_000
    assert times.micros(datetime(1970, 1, 1, 0, 0, 0, 1)) == 1


def test_times_decode_refuses_malformed_or_stale_forms():
    assert times.decode("not a date", 0.0) is None
    assert times.decode(12, 0.0) is None
    assert times.decode(BASE.isoformat(), times.seconds(BASE) + 5.0) is None  # the number was changed


# -- dates and times through the store -----------------------------------------------------------
def _dated(store: HybridStore, n: int = 40) -> list[datetime]:
    moments = [BASE + timedelta(microseconds=i) for i in range(n)]
    store.add(
        [f"note {i}" for i in range(n)],
        ids=[f"n{i}" for i in range(n)],
        metadatas=[
            {"when": m, "day": date(2026, 3, 1 + i % 20), "naive": m.replace(tzinfo=None)}
            for i, m in enumerate(moments)
        ],
    )
    return moments


def _range_answers(store: HybridStore, cut: datetime) -> dict[str, list[str]]:
    return {op: _ids(store.get(where={"when": {op: cut}})) for op in ("$gt", "$gte", "$lt", "$lte", "$eq", "$ne")} | {
        "day": _ids(store.get(where={"day": {"$lte": date(2026, 3, 5)}}))
    }


def test_datetimes_round_trip_with_their_offset_naive_and_date(store):
    moments = _dated(store, 3)
    meta = store.get(ids=["n1"])[0].metadata
    assert meta["when"] == moments[1]
    assert meta["when"].utcoffset() == timedelta(hours=5)
    assert meta["naive"] == moments[1].replace(tzinfo=None)
    assert meta["naive"].tzinfo is None
    assert meta["day"] == date(2026, 3, 2)
    assert type(meta["day"]) is date
    assert not any(k.startswith("_mira") for k in meta)


def test_datetime_range_filters_are_exact_at_the_microsecond_and_survive_a_rebuild(store, tmp_path):
    _dated(store)
    cut = BASE + timedelta(microseconds=17)
    answers = _range_answers(store, cut)
    assert answers["$eq"] == ["n17"]
    assert len(answers["$gte"]) == 23
    assert len(answers["$gt"]) == 22
    assert len(answers["$lt"]) == 17
    assert len(answers["$lte"]) == 18
    # the same instant in another zone is the same cut
    assert _ids(store.get(where={"when": {"$gte": cut.astimezone(UTC)}})) == answers["$gte"]
    store.refresh(full=True)
    assert _range_answers(store, cut) == answers
    store.close()
    with HybridStore.persistent(tmp_path, embedder=HashingEmbedder()) as reopened:
        assert _range_answers(reopened, cut) == answers
        assert reopened.get(ids=["n17"])[0].metadata["when"] == cut


def test_chroma_sees_a_datetime_as_its_timestamp(store):
    _dated(store, 5)
    cut = BASE + timedelta(microseconds=3)
    collection = store._replica.storage.collection
    got = collection.get(where={"when": {"$gte": cut.timestamp() - 1e-7}}, include=[])
    assert sorted(got["ids"]) == ["n3", "n4"]


def test_updates_keep_replace_and_remove_dates(store):
    _dated(store, 3)
    store.update(["n0"], metadatas=[{"other": 1}])
    assert store.get(ids=["n0"])[0].metadata["when"] == BASE
    store.update(["n0"], metadatas=[{"when": 5.0}])
    assert store.get(ids=["n0"])[0].metadata["when"] == 5.0
    store.update(["n1"], metadatas=[{"when": None}])
    assert "when" not in store.get(ids=["n1"])[0].metadata
    later = BASE + timedelta(days=1)
    store.upsert(["note 2"], ids=["n2"], metadatas=[{"when": later}])
    store.refresh(full=True)
    assert store.get(ids=["n0"])[0].metadata["when"] == 5.0
    assert "when" not in store.get(ids=["n1"])[0].metadata
    assert store.get(ids=["n2"])[0].metadata == {"when": later}
    held = store._replica.storage.collection.get(ids=["n0", "n1"], include=["metadatas"])["metadatas"]
    assert not any(times.TIME_PREFIX + "when" in m for m in held)
    assert all(times.TIME_PREFIX + "day" in m for m in held)


def test_a_number_written_by_another_client_wins_over_a_stale_time(store):
    _dated(store, 2)
    store._replica.storage.collection.update(ids=["n0"], metadatas=[{"when": 123.0}])
    store.refresh(full=True)
    assert store.get(ids=["n0"])[0].metadata["when"] == 123.0
    assert _ids(store.get(where={"when": {"$lt": BASE}})) == ["n0"]


def test_recency_boost_reads_datetimes(store):
    now = datetime.now(UTC)
    store.add(
        ["same text", "same text"],
        ids=["old", "new"],
        metadatas=[{"when": now - timedelta(days=300)}, {"when": now - timedelta(hours=1)}],
    )
    hits = store.search("same text", k=2, boosts=[RecencyBoost("when", half_life_days=30)])
    assert [h.id for h in hits] == ["new", "old"]


def test_lists_of_datetimes_and_odd_subclasses_are_refused(store):
    with pytest.raises(InvalidInputError, match="dates and times only as single values"):
        store.add(["x"], metadatas=[{"when": [BASE, BASE]}])
    assert store.count() == 0


# -- ints at 64 bits ----------------------------------------------------------------------------
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70])
def test_ints_beyond_64_bits_are_refused_before_anything_is_written(store, value):
    with pytest.raises(InvalidInputError, match="64-bit"):
        store.add(["x"], ids=["x"], metadatas=[{"k": value}])
    assert store.count() == 0
    store.flush()  # the mirrors still save


def test_ints_compare_exactly_beyond_2_to_the_53(store):
    edge = 2**53
    values = [edge, edge + 1, 2**63 - 1, -(2**63), 2**63 - 2]
    store.add([str(v) for v in values], ids=[f"i{i}" for i in range(5)], metadatas=[{"k": v} for v in values])
    assert _ids(store.get(where={"k": edge + 1})) == ["i1"]
    assert _ids(store.get(where={"k": {"$gt": edge}})) == ["i1", "i2", "i4"]
    assert _ids(store.get(where={"k": {"$gt": 2**63 - 2}})) == ["i2"]
    assert _ids(store.get(where={"k": {"$lte": -(2**63)}})) == ["i3"]
    assert _ids(store.get(where={"k": {"$lt": 9.2e18}})) == ["i0", "i1", "i3"]
    assert _ids(store.get(where={"k": {"$lt": 9.3e18}})) == ["i0", "i1", "i2", "i3", "i4"]
    assert _ids(store.get(where={"k": {"$in": [edge + 1, 2**63 - 1]}})) == ["i1", "i2"]
    assert store.get(ids=["i2"])[0].metadata["k"] == 2**63 - 1
    with pytest.raises(FilterError, match="64-bit"):
        store.get(where={"k": 2**64})


# -- floats Chroma rounds -----------------------------------------------------------------------
def test_float_filters_answer_the_same_on_the_mirror_and_after_a_rebuild(store):
    rng = random.Random(7)
    values = [114289.28571428571] + [rng.uniform(-1e6, 1e6) for _ in range(150)] + [rng.random() * 1e-200]
    store.add(
        [f"f{i}" for i in range(len(values))],
        ids=[f"f{i}" for i in range(len(values))],
        metadatas=[{"x": v} for v in values],
    )
    filters = [{"x": v} for v in values[:60]] + [
        {"x": {op: v}} for v in values[:30] for op in ("$gt", "$gte", "$lt", "$lte")
    ]
    before = [_ids(store.get(where=f)) for f in filters]
    assert all(before[i] == [f"f{i}"] for i in range(60))  # a value written as x equals x
    store.refresh(full=True)
    assert [_ids(store.get(where=f)) for f in filters] == before


# -- bounded filters ----------------------------------------------------------------------------
def test_catastrophic_regex_runs_in_linear_time(store):
    store.add(["a" * 5000 + "!", "aaa"], ids=["long", "short"])
    started = time.perf_counter()
    hits = store.get(where_document={"$regex": "(a+)+$"})
    assert time.perf_counter() - started < 1.0
    assert _ids(hits) == ["short"]
    assert store.delete(where_document={"$regex": "(a+)+!$"}) == 1
    assert _ids(store.get()) == ["short"]


@pytest.mark.parametrize(
    ("pattern", "named"),
    [
        (r"(a)\1", "backreference"),
        ("(?=a)b", "lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?!a)", "negative lookahead"),
        ("[", "not a valid"),
    ],
)
def test_regexes_re2_cannot_run_get_a_filter_error_naming_the_construct(store, pattern, named):
    with pytest.raises(FilterError, match=named):
        store.search("x", where_document={"$regex": pattern})


def test_filters_have_a_depth_limit(store):
    store.add(["x"], ids=["x"], metadatas=[{"a": 1}])
    deep: dict = {"a": 1}
    for _ in range(500):
        deep = {"$and": [deep]}
    with pytest.raises(FilterError, match="MAX_FILTER_DEPTH"):
        store.get(where=deep)
    doc: dict = {"$contains": "x"}
    for _ in range(500):
        doc = {"$not": doc}
    with pytest.raises(FilterError, match="MAX_FILTER_DEPTH"):
        store.search("x", where_document=doc)
    ok: dict = {"a": 1}
    for _ in range(MAX_FILTER_DEPTH - 1):
        ok = {"$or": [ok]}
    assert _ids(store.get(where=ok)) == ["x"]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.add(["bad \ud800 text"]),
        lambda s: s.add(["x"], ids=["id\udfff"]),
        lambda s: s.add(["x"], metadatas=[{"k": "\ud800"}]),
        lambda s: s.add(["x"], metadatas=[{"k\ud800": 1}]),
    ],
)
def test_lone_surrogates_are_refused(store, call):
    with pytest.raises(InvalidInputError, match="not valid Unicode"):
        call(store)
    assert store.count() == 0


def test_deeply_nested_json_objects_get_a_codec_error(store):
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ObjectCodecError, match="nested"):
        store.put_object(deep, id="deep")
    assert store.count() == 0


def test_plain_chroma_reads_what_we_write(store, tmp_path):
    _dated(store, 2)
    store.close()
    client = chromadb.PersistentClient(str(tmp_path))
    got = client.get_collection(store.name).get(ids=["n0"], include=["metadatas"])
    assert got["metadatas"][0]["when"] == pytest.approx(BASE.timestamp(), abs=1e-6)
