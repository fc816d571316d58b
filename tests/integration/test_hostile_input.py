"""Hostile input, one table row per case: every call either raises a ``MiraError`` whose message
names the problem and the fix, or does what the documentation (or this table) says it does.

Each row of ``CASES`` gives a name (``kind-name``), the hostile call (a function of ``Env``), an
optional set-up run before it, and the expectation:

- ``err(ErrorType, *words)``: the call raises ``ErrorType`` and its message contains every word,
  case-insensitively (a tuple of words means "one of these"). Afterwards the store must be exactly
  as it was before the call, and must still close cleanly.
- ``ok(check, because)``: a documented behaviour; ``check(env, result)`` asserts it, ``because``
  says where it is documented (the README, a docstring, or this table when nothing else does).

Every call must return or raise within ``BUDGET_S`` (2 s, measured with ``time.perf_counter``
around the call alone). A call still running after ``HANG_S`` is interrupted by SIGALRM (the
``re`` module checks signals, so a catastrophic regex is interrupted too) and reported.

How "the store is unchanged" is checked, and why this way: closing or flushing a store legitimately
rewrites its mirror snapshot, so the "before" state is taken after an explicit ``store.flush()``
and the "after" state after another ``store.flush()``; a refused call that left the mirrors
changed (dirty) makes that second flush write a new snapshot, which the file hashes catch. The
state compared is:

1. Chroma's contents: every collection of the store's client (the records, and the tombstones
   side collection), each record's id, document, metadata and embedding, sorted by id, read
   through the store's own ``chromadb`` client (a plain ``chromadb.PersistentClient`` on the same
   folder once the store is closed);
2. the sha256 of every file under the mirror folder (``store._replica.mirror_dir``: snapshot,
   manifest, journal) and under the payload folder (``store._replica.folder``, whose ``objects/``
   holds raw objects' payloads), except SQLite's ``*-shm`` files: that is SQLite's shared-memory
   index of the journal's write-ahead log, rewritten by every transaction, reads included; the
   journal itself (``journal.sqlite3`` and its ``-wal``) is compared, so a refused write that
   left a journal entry behind is caught;
3. what the public API shows: ``store.get(include_embeddings=True)`` of every record, and
   ``store.count()``.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import chromadb
import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

from mira_vectorstores import FieldBoost, HashingEmbedder, HybridStore
from mira_vectorstores.engine.errors import (
    ConfigError,
    CorruptedObjectError,
    DimensionMismatchError,
    FilterError,
    InvalidInputError,
    MiraError,
    ObjectCodecError,
    RecordNotFoundError,
    UnsafeDeserializationError,
)
from mira_vectorstores.langchain import MiraVectorStore as LangChainStore
from mira_vectorstores.llama_index import MiraVectorStore as LlamaStore

pytestmark = pytest.mark.integration

BUDGET_S = 2.0
HANG_S = 6.0
DIM = 384  # HashingEmbedder's default dimension
NAME = "hostile"
UNIT = [1.0] + [0.0] * (DIM - 1)
ALL_A = "a" * 41 + "!"  # (a+)+$ needs 2**41 steps on this in a backtracking engine
SEED = [
    ("a", "alpha beta gamma", {"n": 1, "tag": "x", "tags": ["red", "blue"]}),
    ("b", "beta delta epsilon", {"n": 2, "score": 0.5}),
    ("c", ALL_A, {"n": 3}),
]
#: Raw objects: id -> (object, put_object keywords)
OBJECTS = {
    "blob": (b"\x00\x01binary payload", {"description": "binary blob payload"}),
    "pickled": ({"a set": {1, 2}}, {"description": "pickled python set", "codec": "pickle"}),
    "doc": ({"k": [1, 2]}, {}),
}
WRAP = ("wrap", "in a list")  # the fix for a single value where a list is expected
DEPTH = (("depth", "deep", "nest"), ("limit", "at most", "maximum", "max"))
SHA_FIX = ("sha256", ("put_object", "delete", "restore", "re-add", "backup"))
TAMPERED = (("malformed", "sha256", "altered", "changed"), ("put_object", "delete"))
INT64 = (("64-bit", "int64", "64 bit"), ("str", "float"))
SURROGATE = ("surrogate", ("remove", "replace"))


# ----------------------------------------------------------------------------- environment
@dataclass
class Env:
    """A seeded embedded store and the folders around it."""

    store: HybridStore
    path: Path  # the store's folder (Chroma's files and mira/)
    outside: Path  # a folder next to the store, outside it

    @property
    def lc(self) -> LangChainStore:
        return LangChainStore.from_engine(self.store)

    @property
    def li(self) -> LlamaStore:
        return LlamaStore(self.store)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store, written once and closed; each case opens a copy (3x faster than seeding)."""
    path = tmp_path_factory.mktemp("template") / "store"
    with HybridStore.persistent(path, NAME, embedder=HashingEmbedder()) as store:
        store.add([t for _, t, _ in SEED], ids=[i for i, _, _ in SEED], metadatas=[m for _, _, m in SEED])
        for oid, (obj, kwargs) in OBJECTS.items():
            store.put_object(obj, id=oid, **kwargs)
    return path


@pytest.fixture
def env(template: Path, tmp_path: Path) -> Iterator[Env]:
    shutil.copytree(template, tmp_path / "store")
    store = HybridStore.persistent(tmp_path / "store", NAME, embedder=HashingEmbedder())
    (tmp_path / "outside").mkdir()
    yield Env(store, tmp_path / "store", tmp_path / "outside")
    store.close()


# ----------------------------------------------------------------------------- expectations
@dataclass(frozen=True)
class Raises:
    error: type[MiraError]
    words: tuple[str | tuple[str, ...], ...]


@dataclass(frozen=True)
class Behaves:
    check: Callable[[Env, object], None]
    because: str


def err(error: type[MiraError], *words: str | tuple[str, ...]) -> Raises:
    return Raises(error, words)


def ok(check: Callable[[Env, object], None], because: str) -> Behaves:
    return Behaves(check, because)


def case(
    name: str,
    call: Callable[[Env], object],
    expect: Raises | Behaves,
    setup: Callable[[Env], object] | None = None,
    marks: pytest.MarkDecorator | tuple[pytest.MarkDecorator, ...] = (),
) -> object:
    return pytest.param(setup, call, expect, id=name, marks=marks)


# ----------------------------------------------------------------------------- checks of documented behaviour
def ids_of(result: object) -> list[str]:
    items = result if isinstance(result, list) else [result]
    return [getattr(item, "id", None) or getattr(item, "node_id", None) or str(item) for item in items]


def ids_are(*expected: str) -> Callable[[Env, object], None]:
    def check(env: Env, result: object) -> None:
        assert ids_of(result) == list(expected)

    return check


def id_set_is(*expected: str) -> Callable[[Env, object], None]:
    def check(env: Env, result: object) -> None:
        assert set(ids_of(result)) == set(expected)

    return check


def returns(value: object) -> Callable[[Env, object], None]:
    def check(env: Env, result: object) -> None:
        assert result == value

    return check


def zero_scores(env: Env, result: object) -> None:
    hits = result
    assert isinstance(hits, list)
    assert sorted(h.id for h in hits) == sorted(r.id for r in env.store.get())
    assert all(h.score == 0.0 and h.scores.distance == 1.0 for h in hits)


def returns_every_record(env: Env, result: object) -> None:
    assert sorted(ids_of(result)) == sorted(r.id for r in env.store.get())


def stored(record_id: str, document: str | None = None, metadata: dict[str, object] | None = None) -> Callable:
    """The record reads back (through a fresh ``get``) with this document / metadata."""

    def check(env: Env, result: object) -> None:
        (record,) = env.store.get([record_id])
        if document is not None:
            assert record.document == document
        if metadata is not None:
            assert record.metadata == metadata
            for key, value in metadata.items():
                assert type(record.metadata[key]) is type(value), key

    return check


def object_is(data: bytes) -> Callable[[Env, object], None]:
    def check(env: Env, result: object) -> None:
        assert env.store.get_object(str(result)) == data
        assert not list(env.outside.parent.rglob("escape"))

    return check


def stored_everywhere(record_id: str, document: str) -> Callable[[Env, object], None]:
    """The record reads back from the mirrors, and again after they are rebuilt from Chroma."""

    def check(env: Env, result: object) -> None:
        stored(record_id, document)(env, result)
        env.store.refresh(full=True)
        stored(record_id, document)(env, result)

    return check


def victim_survives(env: Env, result: object) -> None:
    assert (env.outside / "victim").read_bytes() == b"do not delete"


def all_of(*checks: Callable[[Env, object], None]) -> Callable[[Env, object], None]:
    def check(env: Env, result: object) -> None:
        for one in checks:
            one(env, result)

    return check


# ----------------------------------------------------------------------------- set-ups
def payload_file(env: Env, oid: str) -> Path:
    sha = env.store.get_object_bytes(oid)[1].sha256
    return env.store._replica.folder / "objects" / sha[:2] / sha


def alter_payload(env: Env) -> None:
    path = payload_file(env, "blob")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate_payload(env: Env) -> None:
    path = payload_file(env, "blob")
    path.write_bytes(path.read_bytes()[:3])


def remove_payload(env: Env) -> None:
    payload_file(env, "blob").unlink()


def plain_collection(env: Env) -> chromadb.Collection:
    return chromadb.PersistentClient(path=str(env.path)).get_collection(NAME)


def tamper(oid: str, **reserved: object) -> Callable[[Env], None]:
    """A plain chromadb client rewrites reserved metadata; the store re-reads everything."""

    def setup(env: Env) -> None:
        plain_collection(env).update(ids=[oid], metadatas=[{f"_mira_{k}": v for k, v in reserved.items()}])
        env.store.refresh(full=True)

    return setup


def tamper_sha_to_victim(absolute: bool = False) -> Callable[[Env], None]:
    """``_mira_sha256`` of "blob" names a file outside the store (by ``../`` or absolutely)."""

    def setup(env: Env) -> None:
        victim = env.outside / "victim"
        victim.write_bytes(b"do not delete")
        objects = env.store._replica.folder / "objects"
        # The payload path is objects/<digest[:2]>/<digest>: digest[:2] is "..", then climb to "/".
        digest = str(victim) if absolute else "../" * (len(objects.parts) + 2) + str(victim).lstrip("/")
        tamper("blob", sha256=digest)(env)

    return setup


def add_dated(env: Env) -> None:
    env.store.add(
        ["old", "new"],
        ids=["old", "new"],
        metadatas=[{"when": datetime(2025, 6, 1, tzinfo=UTC)}, {"when": datetime(2026, 1, 2, tzinfo=UTC)}],
    )


def close_store(env: Env) -> None:
    env.store.close()


# ----------------------------------------------------------------------------- hostile values
def nested(depth: int, leaf: dict[str, object], op: str = "$and") -> dict[str, object]:
    out = leaf
    for _ in range(depth):
        out = {op: out} if op == "$not" else {op: [out]}
    return out


DEEP_AND = nested(600, {"n": 1})
DEEP_OR = nested(600, {"n": 1}, "$or")
DEEP_NOT = nested(601, {"n": 1}, "$not")
DEEP_10K = nested(10_000, {"n": 1})
DEEP_DOC = nested(600, {"$contains": "a"})
WIDE_OR = {"$or": [{"n": i} for i in range(10_000)]}
NAN, INF = float("nan"), float("inf")
TEN_MB = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 130_000)[:10_000_000]
LONG_ID = "x" * 10_000
AWARE = datetime(2026, 1, 2, tzinfo=UTC)
NAIVE = datetime(2026, 1, 2, 3, 4, 5)
PLUS_TWO = datetime(2026, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))


def node(text: str, embedding: list[float]) -> TextNode:
    return TextNode(id_="node", text=text, embedding=embedding)


# ----------------------------------------------------------------------------- the table
CASES = [
    # -- wrong vector dimensions
    case(
        "dims-add-short",
        lambda e: e.store.add(["x"], ids=["n"], vectors=[[1.0] * 3]),
        err(DimensionMismatchError, "3 dims", f"expects {DIM}", "embedder"),
    ),
    case(
        "dims-add-long",
        lambda e: e.store.add(["x"], ids=["n"], vectors=[[1.0] * (DIM + 1)]),
        err(DimensionMismatchError, f"{DIM + 1} dims", f"expects {DIM}"),
    ),
    case(
        "dims-upsert-existing",
        lambda e: e.store.upsert(ids=["a"], vectors=[[1.0] * 5]),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    case(
        "dims-update",
        lambda e: e.store.update(["a"], vectors=[[1.0] * 5]),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    case(
        "dims-search-vector",
        lambda e: e.store.search(vector=[1.0] * 5),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    case(
        "dims-put-object-embedding",
        lambda e: e.store.put_object(b"x", description="d", embedding=[1.0] * 5),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    case(
        "dims-ragged",
        lambda e: e.store.add(["x", "y"], ids=["n", "m"], vectors=[UNIT, UNIT[:-1]]),
        err(InvalidInputError, "equal-length"),
    ),
    case("dims-zero-length", lambda e: e.store.add(["x"], ids=["n"], vectors=[[]]), err(InvalidInputError, "0 dims")),
    case(
        "dims-flat-vector-for-batch",
        lambda e: e.store.add(["x"], ids=["n"], vectors=UNIT),
        err(InvalidInputError, *WRAP),
    ),
    case(
        "dims-vector-of-strings",
        lambda e: e.store.add(["x"], ids=["n"], vectors=[["a"] * DIM]),
        err(InvalidInputError, "number"),
    ),
    case(
        "dims-lc-by-vector",
        lambda e: e.lc.similarity_search_by_vector([1.0] * 5),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    case(
        "dims-li-add-node",
        lambda e: e.li.add([node("x", [1.0] * 5)]),
        err(DimensionMismatchError, "5 dims", f"expects {DIM}"),
    ),
    # -- NaN / inf in vectors, metadata, filters and options
    case(
        "nan-add-vector",
        lambda e: e.store.add(["x"], ids=["n"], vectors=[[NAN] * DIM]),
        err(InvalidInputError, "nan", "finite"),
    ),
    case(
        "nan-inf-in-vector",
        lambda e: e.store.add(["x"], ids=["n"], vectors=[[INF, *UNIT[1:]]]),
        err(InvalidInputError, "inf", "finite"),
    ),
    case("nan-search-vector", lambda e: e.store.search(vector=[NAN] * DIM), err(InvalidInputError, "nan", "finite")),
    case(
        "nan-li-node-embedding", lambda e: e.li.add([node("x", [NAN] * DIM)]), err(InvalidInputError, "nan", "finite")
    ),
    case(
        "nan-metadata",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"v": NAN}]),
        err(InvalidInputError, "nan", "finite"),
    ),
    case(
        "nan-metadata-neg-inf",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"v": -INF}]),
        err(InvalidInputError, "inf", "finite"),
    ),
    case(
        "nan-metadata-in-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"v": [1.0, INF]}]),
        err(InvalidInputError, "inf", "finite"),
    ),
    case(
        "nan-update-metadata",
        lambda e: e.store.update(["a"], metadatas=[{"v": NAN}]),
        err(InvalidInputError, "nan", "finite"),
    ),
    case(
        "nan-object-metadata",
        lambda e: e.store.put_object(b"x", description="d", metadata={"v": NAN}),
        err(InvalidInputError, "nan", "finite"),
    ),
    case("nan-filter-eq", lambda e: e.store.get(where={"n": INF}), err(FilterError, "inf", "finite")),
    case("nan-filter-gt", lambda e: e.store.get(where={"n": {"$gt": NAN}}), err(FilterError, "nan", "finite")),
    case("nan-filter-in", lambda e: e.store.get(where={"n": {"$in": [1, NAN]}}), err(FilterError, "nan", "finite")),
    case(
        "nan-score-threshold",
        lambda e: e.store.search("alpha", score_threshold=NAN),
        err(InvalidInputError, "score_threshold", "finite"),
    ),
    case("nan-alpha", lambda e: e.store.search("alpha", alpha=NAN), err(InvalidInputError, "alpha", "[0, 1]")),
    # -- empty and huge texts (this table documents: stored as given)
    case(
        "text-empty-stored",
        lambda e: e.store.add([""], ids=["e"]),
        ok(stored("e", ""), "table: an empty text is stored"),
    ),
    case(
        "text-whitespace-stored",
        lambda e: e.store.add([" \n\t "], ids=["w"]),
        ok(stored("w", " \n\t "), "table: a blank text is stored"),
    ),
    case(
        "text-empty-with-vector-stored",
        lambda e: e.store.add([""], ids=["e"], vectors=[UNIT]),
        ok(stored("e", ""), "table: an empty text is stored"),
    ),
    case(
        "text-10mb-with-vector-stored",
        lambda e: e.store.add([TEN_MB], ids=["big"], vectors=[UNIT]),
        ok(stored("big", TEN_MB), "brief: a 10 MB text is stored"),
    ),
    case(
        "text-10mb-embedded-stored",
        lambda e: e.store.add([TEN_MB], ids=["big"]),
        ok(stored("big", TEN_MB), "brief: a 10 MB text is stored"),
    ),
    case(
        "text-int-in-list", lambda e: e.store.add(["x", 42], ids=["n", "m"]), err(InvalidInputError, "texts[1]", "str")
    ),
    case(
        "text-none-in-list",
        lambda e: e.store.add(["x", None], ids=["n", "m"]),
        err(InvalidInputError, "texts[1]", "str"),
    ),
    case("text-bytes", lambda e: e.store.add([b"bytes"], ids=["n"]), err(InvalidInputError, "texts[0]", "str")),
    case(
        "text-none-and-no-vectors", lambda e: e.store.add(None, ids=["n"]), err(InvalidInputError, "texts", "vectors")
    ),
    # -- lone surrogates (not encodable as UTF-8)
    case("surrogate-text", lambda e: e.store.add(["bad \ud800 text"], ids=["s"]), err(InvalidInputError, *SURROGATE)),
    case("surrogate-id", lambda e: e.store.add(["x"], ids=["id\ud800"]), err(InvalidInputError, *SURROGATE)),
    case(
        "surrogate-metadata-value",
        lambda e: e.store.add(["x"], ids=["s"], metadatas=[{"k": "\ud800"}]),
        err(InvalidInputError, *SURROGATE),
    ),
    case(
        "surrogate-metadata-key",
        lambda e: e.store.add(["x"], ids=["s"], metadatas=[{"k\ud800": 1}]),
        err(InvalidInputError, *SURROGATE),
    ),
    case(
        "surrogate-metadata-list",
        lambda e: e.store.add(["x"], ids=["s"], metadatas=[{"k": ["ok", "\udfff"]}]),
        err(InvalidInputError, *SURROGATE),
    ),
    case(
        "surrogate-update-text", lambda e: e.store.update(["a"], texts=["\ud800"]), err(InvalidInputError, *SURROGATE)
    ),
    case("surrogate-put-object-text", lambda e: e.store.put_object("\ud800 text"), err(ObjectCodecError, *SURROGATE)),
    case(
        "surrogate-object-description",
        lambda e: e.store.put_object(b"x", description="\ud800"),
        err(InvalidInputError, *SURROGATE),
    ),
    case("surrogate-lc-add-texts", lambda e: e.lc.add_texts(["\ud800"], ids=["s"]), err(InvalidInputError, *SURROGATE)),
    # queries and filter values are never stored: a surrogate in them is just a character that matches nothing
    case(
        "surrogate-query",
        lambda e: e.store.search("alpha \ud800", k=1),
        ok(ids_are("a"), "table: the query's other words still match"),
    ),
    case(
        "surrogate-filter-value",
        lambda e: e.store.get(where={"tag": "\ud800"}),
        ok(ids_are(), "table: matches nothing"),
    ),
    # -- duplicate ids in one batch
    case(
        "dup-add-batch", lambda e: e.store.add(["x", "y"], ids=["d", "d"]), err(InvalidInputError, "duplicate", "once")
    ),
    case(
        "dup-upsert-batch",
        lambda e: e.store.upsert(["x", "y"], ids=["a", "a"]),
        err(InvalidInputError, "duplicate", "once"),
    ),
    case(
        "dup-update-batch",
        lambda e: e.store.update(["a", "a"], metadatas=[{"n": 7}, {"n": 8}]),
        err(InvalidInputError, "duplicate", "once"),
    ),
    case(
        "dup-add-existing", lambda e: e.store.add(["x"], ids=["a"]), err(InvalidInputError, "already exist", "upsert")
    ),
    case(
        "dup-lc-add-texts",
        lambda e: e.lc.add_texts(["x", "y"], ids=["d", "d"]),
        err(InvalidInputError, "duplicate", "once"),
    ),
    case(
        "dup-delete-same-id",
        lambda e: e.store.delete(["a", "a"]),
        ok(returns(1), "delete docstring: returns how many were deleted"),
    ),
    # -- reserved and invalid metadata keys
    case(
        "key-reserved-mira",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"_mira_x": 1}]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-reserved-stamp",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"_mira_stamp": 5}]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-reserved-update",
        lambda e: e.store.update(["blob"], metadatas=[{"_mira_sha256": "0" * 64}]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-reserved-object",
        lambda e: e.store.put_object(b"x", description="d", metadata={"_mira_size": 1}),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-dollar",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"$x": 1}]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-hash",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"#x": 1}]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-int",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{1: "x"}]),
        err(InvalidInputError, "keys", "string"),
    ),
    case(
        "key-none",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{None: "x"}]),
        err(InvalidInputError, "keys", "string"),
    ),
    case(
        "key-empty",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"": "x"}]),
        err(InvalidInputError, "keys", "non-empty"),
    ),
    case(
        "key-tuple",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{("a",): 1}]),
        err(InvalidInputError, "keys", "string"),
    ),
    case(
        "key-lc-mira-object",
        lambda e: e.lc.add_texts(["x"], [{"mira_object": 1}], ids=["n"]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    case(
        "key-lc-reserved",
        lambda e: e.lc.add_texts(["x"], [{"_mira_sha256": "x"}], ids=["n"]),
        err(InvalidInputError, "reserved", "rename"),
    ),
    # -- malformed filters
    case(
        "filter-unknown-op",
        lambda e: e.store.get(where={"n": {"$foo": 1}}),
        err(FilterError, "unknown operator", "valid"),
    ),
    case(
        "filter-unknown-logical",
        lambda e: e.store.get(where={"$xor": [{"n": 1}]}),
        err(FilterError, "unknown logical operator", "$and"),
    ),
    case(
        "filter-two-ops-one-field",
        lambda e: e.store.get(where={"n": {"$gt": 1, "$lt": 3}}),
        err(FilterError, "exactly one operator", "$and"),
    ),
    case("filter-and-not-list", lambda e: e.store.get(where={"$and": {"n": 1}}), err(FilterError, "$and", "list")),
    case("filter-and-empty", lambda e: e.store.get(where={"$and": []}), err(FilterError, "$and", "non-empty list")),
    case("filter-in-scalar", lambda e: e.store.get(where={"n": {"$in": 1}}), err(FilterError, "$in", "list")),
    case("filter-in-empty", lambda e: e.store.get(where={"n": {"$in": []}}), err(FilterError, "$in", "non-empty list")),
    case("filter-gt-string", lambda e: e.store.get(where={"n": {"$gt": "1"}}), err(FilterError, "$gt", "number")),
    case("filter-gt-bool", lambda e: e.store.get(where={"n": {"$gt": True}}), err(FilterError, "$gt", "number")),
    case(
        "filter-eq-dict",
        lambda e: e.store.get(where={"n": {"$eq": {"x": 1}}}),
        err(FilterError, "$eq", "expects a str"),
    ),
    case(
        "filter-exists-str",
        lambda e: e.store.get(where={"n": {"$exists": "yes"}}),
        err(FilterError, "$exists", "true or false"),
    ),
    case("filter-where-list", lambda e: e.store.get(where=[{"n": 1}]), err(FilterError, "where", "dict")),
    case("filter-where-str", lambda e: e.store.get(where="n = 1"), err(FilterError, "where", "dict")),
    case("filter-field-int", lambda e: e.store.get(where={1: 2}), err(FilterError, "field names", "strings")),
    case(
        "filter-doc-unknown-op",
        lambda e: e.store.get(where_document={"$like": "a"}),
        err(FilterError, "unknown operator", "valid"),
    ),
    case(
        "filter-doc-int",
        lambda e: e.store.get(where_document={"$contains": 5}),
        err(FilterError, "$contains", "string"),
    ),
    case(
        "filter-doc-two-ops",
        lambda e: e.store.get(where_document={"$contains": "a", "$regex": "b"}),
        err(FilterError, "exactly one operator"),
    ),
    case(
        "filter-doc-bad-regex",
        lambda e: e.store.get(where_document={"$regex": "("}),
        err(FilterError, "$regex", "regular expression"),
    ),
    case(
        "filter-lc-unknown-op",
        lambda e: e.lc.similarity_search("alpha", filter={"n": {"$foo": 1}}),
        err(FilterError, "unknown operator", "valid"),
    ),
    # -- filters nested deeper than any real one (FilterError naming the limit, not RecursionError)
    case("deep-and-600", lambda e: e.store.get(where=DEEP_AND), err(FilterError, *DEPTH)),
    case("deep-or-600", lambda e: e.store.get(where=DEEP_OR), err(FilterError, *DEPTH)),
    case("deep-not-600", lambda e: e.store.get(where=DEEP_NOT), err(FilterError, *DEPTH)),
    case("deep-and-10000", lambda e: e.store.get(where=DEEP_10K), err(FilterError, *DEPTH)),
    case("deep-document-600", lambda e: e.store.get(where_document=DEEP_DOC), err(FilterError, *DEPTH)),
    case("deep-search-600", lambda e: e.store.search("alpha", where=DEEP_AND), err(FilterError, *DEPTH)),
    case("deep-delete-600", lambda e: e.store.delete(where=DEEP_AND), err(FilterError, *DEPTH)),
    case("deep-lc-filter-600", lambda e: e.lc.similarity_search("alpha", filter=DEEP_OR), err(FilterError, *DEPTH)),
    case(
        "wide-or-10000",
        lambda e: e.store.get(where=WIDE_OR),
        ok(id_set_is("a", "b", "c"), "README: Chroma's $or, any width"),
    ),
    # -- catastrophic regexes: must finish fast (google-re2); the answers are the plain regex answers
    case(
        "regex-nested-plus",
        lambda e: e.store.get(where_document={"$regex": "(a+)+$"}),
        ok(ids_are("a"), "README: $regex on documents"),
    ),
    case(
        "regex-alternation",
        lambda e: e.store.get(where_document={"$regex": "(a|aa)+$"}),
        ok(ids_are("a"), "README: $regex on documents"),
    ),
    case(
        "regex-star-star",
        lambda e: e.store.get(where_document={"$regex": "(a*)*b"}),
        ok(id_set_is("a", "b", "blob"), "README: $regex"),
    ),
    case(
        "regex-anchored",
        lambda e: e.store.get(where_document={"$regex": "^(a+)+$"}),
        ok(ids_are(), "README: $regex on documents"),
    ),
    case(
        "regex-not-regex",
        lambda e: e.store.get(where_document={"$not_regex": "(a+)+$"}),
        ok(id_set_is("b", "c", *OBJECTS), "README: $not_regex"),
    ),
    case(
        "regex-search",
        lambda e: e.store.search("alpha", where_document={"$regex": "(a+)+$"}),
        ok(ids_are("a"), "README: $regex restricts a search"),
    ),
    case(
        "regex-long-document",
        lambda e: e.store.get(where_document={"$regex": "(a+)+$"}),
        ok(ids_are("a"), "README: $regex"),
        setup=lambda e: e.store.add(["a" * 20_000 + "!"], ids=["long"]),
    ),
    case(
        "regex-delete",
        lambda e: e.store.delete(where_document={"$regex": "(a+)+$"}),
        ok(returns(1), "delete docstring: returns how many"),
    ),
    case(
        "regex-lc-keyword",
        lambda e: e.lc.keyword_search("alpha", where_document={"$regex": "(a+)+$"}),
        ok(ids_are("a"), "README: where_document"),
    ),
    # -- regex constructs RE2 cannot run: FilterError naming the construct
    case(
        "regex-backreference",
        lambda e: e.store.get(where_document={"$regex": "(a)\\1"}),
        err(FilterError, ("backreference", "back-reference")),
    ),
    case(
        "regex-named-backreference",
        lambda e: e.store.get(where_document={"$regex": "(?P<x>a)(?P=x)"}),
        err(FilterError, ("backreference", "back-reference")),
    ),
    case(
        "regex-lookahead",
        lambda e: e.store.get(where_document={"$regex": "(?=a)"}),
        err(FilterError, ("lookahead", "lookaround", "look-ahead")),
    ),
    case(
        "regex-negative-lookahead",
        lambda e: e.store.get(where_document={"$not_regex": "a(?!b)"}),
        err(FilterError, ("lookahead", "lookaround", "look-ahead")),
    ),
    case(
        "regex-lookbehind",
        lambda e: e.store.get(where_document={"$regex": "(?<=a)b"}),
        err(FilterError, ("lookbehind", "lookaround", "look-behind")),
    ),
    case(
        "regex-lc-backreference",
        lambda e: e.lc.keyword_search("alpha", where_document={"$regex": "(a)\\1"}),
        err(FilterError, ("backreference", "back-reference")),
    ),
    # -- k
    case("k-zero", lambda e: e.store.search("alpha", k=0), err(InvalidInputError, "k", (">= 1", "positive"))),
    case("k-negative", lambda e: e.store.search("alpha", k=-1), err(InvalidInputError, "k", (">= 1", "positive"))),
    case("k-float", lambda e: e.store.search("alpha", k=2.5), err(InvalidInputError, "k", "int")),
    case("k-float-1e9", lambda e: e.store.search("alpha", k=1e9), err(InvalidInputError, "k", "int")),
    case("k-str", lambda e: e.store.search("alpha", k="3"), err(InvalidInputError, "k", "int")),
    case("k-bool", lambda e: e.store.search("alpha", k=True), err(InvalidInputError, "k", "int")),
    case("k-none", lambda e: e.store.search("alpha", k=None), err(InvalidInputError, "k", "int")),
    case(
        "k-fetch-k-zero", lambda e: e.store.search(vector=UNIT, k=2, fetch_k=0), err(InvalidInputError, "fetch_k", ">=")
    ),
    case(
        "k-huge-hybrid",
        lambda e: e.store.search("alpha", k=10**9),
        ok(returns_every_record, "brief: k beyond the count returns all"),
    ),
    case(
        "k-huge-dense",
        lambda e: e.store.search(vector=UNIT, k=10**9),
        ok(returns_every_record, "brief: k beyond the count returns all"),
    ),
    case(
        "k-huge-mmr",
        lambda e: e.store.search(vector=UNIT, k=10**9, mmr_lambda=0.5),
        ok(returns_every_record, "brief: returns all"),
    ),
    case(
        "k-huge-lexical",
        lambda e: e.store.search("beta", k=10**9, mode="lexical"),
        ok(id_set_is("a", "b"), "brief: all that match"),
    ),
    case(
        "k-lc-zero", lambda e: e.lc.similarity_search("alpha", k=0), err(InvalidInputError, "k", (">= 1", "positive"))
    ),
    case(
        "k-lc-huge",
        lambda e: e.lc.similarity_search("alpha", k=10**9),
        ok(returns_every_record, "brief: k beyond the count returns all"),
    ),
    case(
        "k-li-zero",
        lambda e: e.li.query(VectorStoreQuery(query_embedding=UNIT, similarity_top_k=0)),
        err(InvalidInputError, "k", (">= 1", "positive")),
    ),
    # -- unknown ids
    case(
        "ids-get-unknown",
        lambda e: e.store.get(["nope", "a"]),
        ok(ids_are("a"), "get docstring: unknown ids are skipped"),
    ),
    case(
        "ids-delete-unknown",
        lambda e: e.store.delete(["nope"]),
        ok(returns(0), "delete docstring: unknown ids are ignored"),
    ),
    case(
        "ids-search-unknown",
        lambda e: e.store.search("alpha", ids=["nope"]),
        ok(ids_are(), "search docstring: unknown ids are ignored"),
    ),
    case(
        "ids-update-unknown",
        lambda e: e.store.update(["nope"], metadatas=[{"n": 1}]),
        err(RecordNotFoundError, "nope", "upsert"),
    ),
    case(
        "ids-update-some-unknown",
        lambda e: e.store.update(["a", "nope"], metadatas=[{"n": 9}, {"n": 9}]),
        err(RecordNotFoundError, "nope", "upsert"),
    ),
    case("ids-get-object-unknown", lambda e: e.store.get_object("nope"), err(RecordNotFoundError, "nope", "no object")),
    case(
        "ids-get-object-plain-record", lambda e: e.store.get_object("a"), err(RecordNotFoundError, "'a'", "no object")
    ),
    case(
        "ids-lc-get-by-ids-unknown",
        lambda e: e.lc.get_by_ids(["nope"]),
        ok(ids_are(), "get_by_ids docstring: unknown ids are skipped"),
    ),
    # -- mismatched lengths
    case(
        "len-ids-short",
        lambda e: e.store.add(["x", "y"], ids=["n"]),
        err(InvalidInputError, "1 ids for 2 records", "one id per record"),
    ),
    case(
        "len-ids-long",
        lambda e: e.store.add(["x"], ids=["n", "m"]),
        err(InvalidInputError, "2 ids for 1 records", "one id per record"),
    ),
    case(
        "len-metadatas-short",
        lambda e: e.store.add(["x", "y"], ids=["n", "m"], metadatas=[{}]),
        err(InvalidInputError, "1 metadatas", "line up"),
    ),
    case(
        "len-metadatas-long",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{}, {}]),
        err(InvalidInputError, "2 metadatas", "line up"),
    ),
    case(
        "len-vectors-short",
        lambda e: e.store.add(["x", "y"], ids=["n", "m"], vectors=[UNIT]),
        err(InvalidInputError, "1 vectors", "line up"),
    ),
    case(
        "len-vectors-vs-ids",
        lambda e: e.store.add(vectors=[UNIT, UNIT], ids=["n"]),
        err(InvalidInputError, "1 ids for 2 records", "one id"),
    ),
    case(
        "len-update-texts",
        lambda e: e.store.update(["a", "b"], texts=["x"]),
        err(InvalidInputError, "1 texts", "line up"),
    ),
    case(
        "len-update-metadatas",
        lambda e: e.store.update(["a"], metadatas=[{}, {}]),
        err(InvalidInputError, "2 metadatas", "line up"),
    ),
    case(
        "len-lc-metadatas",
        lambda e: e.lc.add_texts(["x"], [{}, {}], ids=["n"]),
        err(InvalidInputError, "2 metadatas", "line up"),
    ),
    case("len-empty-batch", lambda e: e.store.add([], ids=[]), ok(returns([]), "table: an empty write writes nothing")),
    # -- hostile ids
    case(
        "id-nul",
        lambda e: e.store.add(["x"], ids=["a\x00b"]),
        ok(stored_everywhere("a\x00b", "x"), "table: ids are opaque strings"),
    ),
    case("id-empty", lambda e: e.store.add(["x"], ids=[""]), err(InvalidInputError, "ids[0]", "non-empty")),
    case("id-int", lambda e: e.store.add(["x"], ids=[7]), err(InvalidInputError, "ids[0]", "str")),
    case(
        "id-path-traversal",
        lambda e: e.store.add(["x"], ids=["../../escape"]),
        ok(stored_everywhere("../../escape", "x"), "table: ids are names, not paths"),
    ),
    case(
        "id-path-traversal-object",
        lambda e: e.store.put_object(b"x", id="../../../escape", description="d"),
        ok(object_is(b"x"), "table: ids are names, not paths"),
    ),
    case(
        "id-10000-chars",
        lambda e: e.store.add(["x"], ids=[LONG_ID]),
        ok(stored_everywhere(LONG_ID, "x"), "table: a long id is stored"),
    ),
    # -- a single value where a list is expected
    case("str-add-texts", lambda e: e.store.add(texts="hello world"), err(InvalidInputError, "single str", *WRAP)),
    case(
        "str-upsert-texts",
        lambda e: e.store.upsert("hello world", ids=["n"]),
        err(InvalidInputError, "single str", *WRAP),
    ),
    case("str-add-ids", lambda e: e.store.add(["x"], ids="abc"), err(InvalidInputError, "single str", *WRAP)),
    case("str-get-ids", lambda e: e.store.get(ids="abc"), err(InvalidInputError, "single str", *WRAP)),
    case("str-delete-ids", lambda e: e.store.delete("abc"), err(InvalidInputError, "single str", *WRAP)),
    case(
        "str-update-ids",
        lambda e: e.store.update("abc", metadatas=[{"n": 1}] * 3),
        err(InvalidInputError, "single str", *WRAP),
    ),
    case("str-update-texts", lambda e: e.store.update(["a"], texts="new"), err(InvalidInputError, "single str", *WRAP)),
    case("str-search-ids", lambda e: e.store.search("alpha", ids="abc"), err(InvalidInputError, *WRAP)),
    case("str-lc-add-texts", lambda e: e.lc.add_texts("hello"), err(InvalidInputError, *WRAP)),
    case("str-lc-get-by-ids", lambda e: e.lc.get_by_ids("abc"), err(InvalidInputError, *WRAP)),
    case("str-lc-delete", lambda e: e.lc.delete("abc"), err(InvalidInputError, *WRAP)),
    case("str-li-get-nodes", lambda e: e.li.get_nodes(node_ids="abc"), err(InvalidInputError, *WRAP)),
    case("str-li-delete-nodes", lambda e: e.li.delete_nodes(node_ids="abc"), err(InvalidInputError, *WRAP)),
    case(
        "dict-add-metadatas",
        lambda e: e.store.add(["x"], ids=["n"], metadatas={"n": 1}),
        err(InvalidInputError, "single dict", *WRAP),
    ),
    case(
        "dict-add-metadatas-2",
        lambda e: e.store.add(["x", "y"], ids=["n", "m"], metadatas={"n": 1, "k": 2}),
        err(InvalidInputError, "single dict", *WRAP),
    ),
    case(
        "dict-update-metadatas",
        lambda e: e.store.update(["a"], metadatas={"n": 5}),
        err(InvalidInputError, "single dict", *WRAP),
    ),
    case(
        "dict-lc-add-texts",
        lambda e: e.lc.add_texts(["x"], {"n": 1}, ids=["n"]),
        err(InvalidInputError, "single dict", *WRAP),
    ),
    # -- integers beyond 64 bits (refused at write time; the store then still closes)
    case(
        "int-2-pow-70",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"big": 2**70}]),
        err(InvalidInputError, *INT64),
    ),
    case(
        "int-2-pow-63",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"big": 2**63}]),
        err(InvalidInputError, *INT64),
    ),
    case(
        "int-below-min",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"big": -(2**63) - 1}]),
        err(InvalidInputError, *INT64),
    ),
    case(
        "int-in-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"big": [1, 2**70]}]),
        err(InvalidInputError, *INT64),
    ),
    case("int-update", lambda e: e.store.update(["a"], metadatas=[{"n": 2**70}]), err(InvalidInputError, *INT64)),
    case(
        "int-object-metadata",
        lambda e: e.store.put_object(b"x", description="d", metadata={"big": 2**70}),
        err(InvalidInputError, *INT64),
    ),
    case(
        "int-lc-add-texts", lambda e: e.lc.add_texts(["x"], [{"big": 2**70}], ids=["n"]), err(InvalidInputError, *INT64)
    ),
    case(
        "int-filter",
        lambda e: e.store.get(where={"n": {"$gt": 2**70}}),
        err(FilterError, ("64-bit", "int64", "64 bit")),
    ),
    case(
        "int-edges-stored",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"hi": 2**63 - 1, "lo": -(2**63)}]),
        ok(stored("n", metadata={"hi": 2**63 - 1, "lo": -(2**63)}), "types.py: int64 is held exactly"),
    ),
    # -- nested, empty and mixed metadata values
    case(
        "meta-nested-dict",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"d": {"x": 1}}]),
        err(InvalidInputError, "dict", "json.dumps"),
    ),
    case(
        "meta-empty-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"l": []}]),
        err(InvalidInputError, "empty list", "drop the key"),
    ),
    case(
        "meta-mixed-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"l": [1, "a"]}]),
        err(InvalidInputError, "one type"),
    ),
    case(
        "meta-int-float-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"l": [1, 1.5]}]),
        err(InvalidInputError, "one type"),
    ),
    case(
        "meta-bool-int-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"l": [True, 1]}]),
        err(InvalidInputError, "one type"),
    ),
    case(
        "meta-nested-list",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"l": [[1]]}]),
        err(InvalidInputError, "one type"),
    ),
    case(
        "meta-set",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"s": {1, 2}}]),
        err(InvalidInputError, "set", "json.dumps"),
    ),
    case(
        "meta-bytes",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"b": b"x"}]),
        err(InvalidInputError, "bytes", "json.dumps"),
    ),
    case(
        "meta-not-a-dict",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=["n=1"]),
        err(InvalidInputError, "metadatas[0]", "dict"),
    ),
    # -- datetime metadata (documented in engine/times.py)
    case(
        "datetime-aware-stored",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"when": AWARE}]),
        ok(stored("n", metadata={"when": AWARE}), "times.py: returned as given"),
    ),
    case(
        "datetime-offset-stored",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"when": PLUS_TWO}]),
        ok(stored("n", metadata={"when": PLUS_TWO}), "times.py: offset kept"),
    ),
    case(
        "datetime-naive-stored",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"when": NAIVE}]),
        ok(stored("n", metadata={"when": NAIVE}), "README: a naive one comes back naive"),
    ),
    case(
        "datetime-date-stored",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"day": date(2026, 1, 2)}]),
        ok(stored("n", metadata={"day": date(2026, 1, 2)}), "README: a date comes back a date"),
    ),
    case(
        "datetime-list-refused",
        lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"when": [AWARE, AWARE]}]),
        err(InvalidInputError, "list", "single values"),
    ),
    case(
        "datetime-naive-is-utc",
        lambda e: e.store.get(where={"when": {"$gte": datetime(2026, 1, 2, 3, tzinfo=UTC)}}),
        ok(ids_are("n"), "times.py: naive is UTC"),
        setup=lambda e: e.store.add(["x"], ids=["n"], metadatas=[{"when": NAIVE}]),
    ),
    case(
        "datetime-range-filter",
        lambda e: e.store.get(where={"when": {"$gte": datetime(2026, 1, 1, tzinfo=UTC)}}),
        ok(ids_are("new"), "times.py: filters compare instants"),
        setup=add_dated,
    ),
    case(
        "datetime-range-and",
        lambda e: e.store.get(
            where={"$and": [{"when": {"$gt": datetime(2025, 1, 1, tzinfo=UTC)}}, {"when": {"$lt": AWARE}}]}
        ),
        ok(ids_are("old"), "times.py"),
        setup=add_dated,
    ),
    # -- raw objects: pickles, codecs, payloads altered on disk
    case(
        "obj-pickle-refused",
        lambda e: e.store.get_object("pickled"),
        err(UnsafeDeserializationError, "pickled", "allow_pickle=True"),
    ),
    case(
        "obj-pickle-lc",
        lambda e: e.lc.get_object("pickled"),
        err(UnsafeDeserializationError, "pickled", "allow_pickle=True"),
    ),
    case(
        "obj-pickle-li",
        lambda e: e.li.get_object("pickled"),
        err(UnsafeDeserializationError, "pickled", "allow_pickle=True"),
    ),
    case(
        "obj-unknown-codec",
        lambda e: e.store.put_object(b"x", description="d", codec="yaml"),
        err(ObjectCodecError, "unknown codec", "valid"),
    ),
    case(
        "obj-no-safe-codec",
        lambda e: e.store.put_object(object(), description="d"),
        err(ObjectCodecError, "no safe codec", "codec='pickle'"),
    ),
    case(
        "obj-json-nan",
        lambda e: e.store.put_object({"x": NAN}, codec="json"),
        err(ObjectCodecError, "json", "codec='pickle'"),
    ),
    case(
        "obj-json-tuple",
        lambda e: e.store.put_object({"x": (1, 2)}, codec="json"),
        err(ObjectCodecError, "json", "codec='pickle'"),
    ),
    case(
        "obj-numpy-needs-description",
        lambda e: e.store.put_object(np.zeros(3)),
        err(InvalidInputError, "description=", "embedding="),
    ),
    case(
        "obj-numpy-object-dtype",
        lambda e: e.store.put_object(np.array([object()]), description="d"),
        err(ObjectCodecError, "numpy", "codec='pickle'"),
    ),
    case(
        "obj-empty-id",
        lambda e: e.store.put_object(b"x", id="", description="d"),
        err(InvalidInputError, "ids[0]", "non-empty"),
    ),
    case(
        "obj-payload-altered",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, "'blob'", *SHA_FIX),
        setup=alter_payload,
    ),
    case(
        "obj-payload-truncated",
        lambda e: e.store.get_object_bytes("blob"),
        err(CorruptedObjectError, "'blob'", *SHA_FIX),
        setup=truncate_payload,
    ),
    case(
        "obj-payload-missing",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, "missing", ("put_object", "delete", "restore")),
        setup=remove_payload,
    ),
    case(
        "obj-payload-altered-lc",
        lambda e: e.lc.get_object("blob"),
        err(CorruptedObjectError, "'blob'", *SHA_FIX),
        setup=alter_payload,
    ),
    case(
        "obj-payload-altered-li",
        lambda e: e.li.get_object("blob"),
        err(CorruptedObjectError, "'blob'", *SHA_FIX),
        setup=alter_payload,
    ),
    # -- reserved metadata tampered with by a plain chromadb client, then refresh(full=True)
    case(
        "tamper-sha-traversal-delete",
        lambda e: e.store.delete(["blob"]),
        ok(victim_survives, "a payload path never leaves the store"),
        setup=tamper_sha_to_victim(),
    ),
    case(
        "tamper-sha-traversal-upsert",
        lambda e: e.store.upsert(["plain now"], ids=["blob"]),
        ok(victim_survives, "a payload path never leaves the store"),
        setup=tamper_sha_to_victim(),
    ),
    case(
        "tamper-sha-traversal-clear",
        lambda e: e.store.clear(),
        ok(victim_survives, "a payload path never leaves the store"),
        setup=tamper_sha_to_victim(),
    ),
    case(
        "tamper-sha-absolute-delete",
        lambda e: e.store.delete(["blob"]),
        ok(victim_survives, "a payload path never leaves the store"),
        setup=tamper_sha_to_victim(absolute=True),
    ),
    case(
        "tamper-sha-traversal-get",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, *TAMPERED),
        setup=tamper_sha_to_victim(),
    ),
    case(
        "tamper-sha-not-hex",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, *TAMPERED),
        setup=tamper("blob", sha256="zz"),
    ),
    case(
        "tamper-size-huge",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, *TAMPERED),
        setup=tamper("blob", size=2**62),
    ),
    case(
        "tamper-size-not-int",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, *TAMPERED),
        setup=tamper("blob", size="abc"),
    ),
    case(
        "tamper-size-negative",
        lambda e: e.store.get_object("blob"),
        err(CorruptedObjectError, *TAMPERED),
        setup=tamper("blob", size=-1),
    ),
    case(
        "tamper-codec-pickle",
        lambda e: e.store.get_object("doc"),
        err(UnsafeDeserializationError, "pickled", "allow_pickle=True"),
        setup=tamper("doc", codec="pickle"),
    ),
    case(
        "tamper-codec-unknown",
        lambda e: e.store.get_object("doc"),
        err(ObjectCodecError, "unknown codec", "'evil'"),
        setup=tamper("doc", codec="evil"),
    ),
    # -- empty and blank queries
    case("query-empty", lambda e: e.store.search(""), err(InvalidInputError, "query", "empty")),
    case(
        "query-blank",
        lambda e: e.store.search("  \n\t"),
        err(InvalidInputError, "query", ("empty", "blank", "whitespace")),
    ),
    case("query-empty-lexical", lambda e: e.store.search("", mode="lexical"), err(InvalidInputError, "query", "empty")),
    case("query-empty-hybrid", lambda e: e.store.search("", mode="hybrid"), err(InvalidInputError, "query", "empty")),
    case(
        "query-blank-hybrid",
        lambda e: e.store.search("   ", mode="hybrid"),
        err(InvalidInputError, "query", ("empty", "blank", "whitespace")),
    ),
    case("query-not-str", lambda e: e.store.search(123), err(InvalidInputError, "query", "str")),
    case("query-nothing", lambda e: e.store.search(), err(InvalidInputError, "query", "vector=")),
    case(
        "query-zero-vector",
        lambda e: e.store.search(vector=[0.0] * DIM, k=100),
        ok(zero_scores, "an all-zero query is at cosine 0 (distance 1) from every record"),
    ),
    case("query-lc-empty", lambda e: e.lc.similarity_search(""), err(InvalidInputError, "query", "empty")),
    case(
        "query-lc-blank-keyword",
        lambda e: e.lc.keyword_search("   "),
        err(InvalidInputError, "query", ("empty", "blank", "whitespace")),
    ),
    case(
        "query-li-empty-text",
        lambda e: e.li.query(VectorStoreQuery(query_str="", mode=VectorStoreQueryMode.TEXT_SEARCH)),
        err(InvalidInputError, "query", "empty"),
    ),
    # -- boosts, modes, fusion, alpha and other options
    case(
        "boost-single-rule",
        lambda e: e.store.search("alpha", boosts=FieldBoost("tag", "x", 2.0)),
        err(ConfigError, "boosts", "list"),
    ),
    case(
        "boost-single-dict",
        lambda e: e.store.search("alpha", boosts={"type": "field", "field": "tag", "equals": "x", "factor": 2.0}),
        err(ConfigError, "boosts", "list"),
    ),
    case("boost-str", lambda e: e.store.search("alpha", boosts="recency"), err(ConfigError, "boosts", "list")),
    case(
        "boost-none-in-list",
        lambda e: e.store.search("alpha", boosts=[None]),
        err(ConfigError, "boost rule", "FieldBoost"),
    ),
    case(
        "boost-unknown-type",
        lambda e: e.store.search("alpha", boosts=[{"type": "magic"}]),
        err(ConfigError, "magic", "field"),
    ),
    case(
        "boost-single-rule-on-open",
        lambda e: HybridStore.persistent(
            e.outside / "other", embedder=HashingEmbedder(), boosts=FieldBoost("tag", "x", 2.0)
        ),
        err(ConfigError, "boosts", "list"),
    ),
    case(
        "boost-lc-single-rule",
        lambda e: e.lc.hybrid_search("alpha", boosts=FieldBoost("tag", "x", 2.0)),
        err(ConfigError, "boosts", "list"),
    ),
    case("mode-unknown", lambda e: e.store.search("alpha", mode="semantic"), err(ConfigError, "mode", "'dense'")),
    case("mode-empty-str", lambda e: e.store.search("alpha", mode=""), err(ConfigError, "mode", "'dense'")),
    case("mode-int", lambda e: e.store.search("alpha", mode=1), err(ConfigError, "mode", "'dense'")),
    case("fusion-unknown", lambda e: e.store.search("alpha", fusion="borda"), err(ConfigError, "fusion", "'rrf'")),
    case("fusion-empty-str", lambda e: e.store.search("alpha", fusion=""), err(ConfigError, "fusion", "'rrf'")),
    case(
        "mode-lc-search-type",
        lambda e: e.lc.search("alpha", search_type="fuzzy"),
        err(ConfigError, "search_type", "similarity"),
    ),
    case(
        "mode-lc-unknown-option", lambda e: e.lc.similarity_search("alpha", bogus=1), err(ConfigError, "bogus", "valid")
    ),
    case(
        "mode-li-unknown-option",
        lambda e: e.li.query(VectorStoreQuery(query_embedding=UNIT), bogus=1),
        err(ConfigError, "bogus", "accepts"),
    ),
    case("alpha-negative", lambda e: e.store.search("alpha", alpha=-0.1), err(InvalidInputError, "alpha", "[0, 1]")),
    case("alpha-above-one", lambda e: e.store.search("alpha", alpha=1.5), err(InvalidInputError, "alpha", "[0, 1]")),
    case("alpha-str", lambda e: e.store.search("alpha", alpha="0.5"), err(InvalidInputError, "alpha", "[0, 1]")),
    case(
        "alpha-lc-hybrid", lambda e: e.lc.hybrid_search("alpha", alpha=2.0), err(InvalidInputError, "alpha", "[0, 1]")
    ),
    case(
        "mmr-lambda-above-one",
        lambda e: e.store.search(vector=UNIT, mmr_lambda=2.0),
        err(InvalidInputError, "mmr_lambda", "[0, 1]"),
    ),
    case(
        "duplicates-threshold", lambda e: e.store.find_duplicates(2.0), err(InvalidInputError, "threshold", "[-1, 1]")
    ),
    # -- limit and offset
    case("limit-negative", lambda e: e.store.get(limit=-1), err(InvalidInputError, "limit", ">= 0")),
    case("offset-negative", lambda e: e.store.get(offset=-1), err(InvalidInputError, "offset", ">= 0")),
    case("limit-float", lambda e: e.store.get(limit=1.5), err(InvalidInputError, "limit", "int")),
    case("offset-str", lambda e: e.store.get(offset="1"), err(InvalidInputError, "offset", "int")),
    case("limit-zero", lambda e: e.store.get(limit=0), ok(ids_are(), "get docstring: at most limit records")),
    case(
        "limit-huge",
        lambda e: e.store.get(limit=10**9),
        ok(returns_every_record, "get docstring: at most limit records"),
    ),
    case("offset-huge", lambda e: e.store.get(offset=10**9), ok(ids_are(), "get docstring: skip this many first")),
    # -- a closed store (MiraError naming the fix; close() again is a no-op)
    case("closed-search", lambda e: e.store.search("alpha"), err(MiraError, "closed", "open a new"), setup=close_store),
    case(
        "closed-add", lambda e: e.store.add(["x"], ids=["n"]), err(MiraError, "closed", "open a new"), setup=close_store
    ),
    case("closed-get", lambda e: e.store.get(["a"]), err(MiraError, "closed", "open a new"), setup=close_store),
    case("closed-count", lambda e: e.store.count(), err(MiraError, "closed", "open a new"), setup=close_store),
    case("closed-delete", lambda e: e.store.delete(["a"]), err(MiraError, "closed", "open a new"), setup=close_store),
    case(
        "closed-put-object",
        lambda e: e.store.put_object(b"x", description="d"),
        err(MiraError, "closed", "open a new"),
        setup=close_store,
    ),
    case(
        "closed-get-object",
        lambda e: e.store.get_object("blob"),
        err(MiraError, "closed", "open a new"),
        setup=close_store,
    ),
    case("closed-flush", lambda e: e.store.flush(), err(MiraError, "closed", "open a new"), setup=close_store),
    case(
        "closed-refresh",
        lambda e: e.store.refresh(full=True),
        err(MiraError, "closed", "open a new"),
        setup=close_store,
    ),
    case(
        "closed-lc-search",
        lambda e: e.lc.similarity_search("alpha"),
        err(MiraError, "closed", "open a new"),
        setup=close_store,
    ),
    case("closed-li-get-nodes", lambda e: e.li.get_nodes(), err(MiraError, "closed", "open a new"), setup=close_store),
    case(
        "closed-close-again",
        lambda e: e.store.close(),
        ok(returns(None), "close docstring: releases the store"),
        setup=close_store,
    ),
    # -- other refused calls
    case("delete-nothing", lambda e: e.store.delete(), err(InvalidInputError, "ids or a filter", "clear()")),
    case(
        "delete-empty-filter", lambda e: e.store.delete(where={}), err(InvalidInputError, "ids or a filter", "clear()")
    ),
]


# ----------------------------------------------------------------------------- state snapshots
def _files(root: Path | None) -> dict[str, str]:
    if root is None or not root.exists():
        return {}
    return {
        str(f): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file() and not f.name.endswith("-shm")
    }


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _chroma(env: Env) -> dict[str, list[tuple[object, ...]]]:
    client = chromadb.PersistentClient(path=str(env.path)) if env.store._closed else env.store._replica.storage.client
    out = {}
    for collection in sorted(client.list_collections(), key=lambda c: c.name):
        got = collection.get(include=["documents", "metadatas", "embeddings"])
        rows = zip(got["ids"], got["documents"], got["metadatas"], _jsonable(got["embeddings"]), strict=True)
        out[collection.name] = sorted(rows, key=lambda row: row[0])
    return out


def _api(env: Env) -> tuple[int, list[tuple[object, ...]]]:
    records = env.store.get(include_embeddings=True)
    rows = [(r.id, r.document, r.metadata, _jsonable(r.embedding), r.object) for r in records]
    return env.store.count(), sorted(rows, key=lambda row: row[0])


def state(env: Env) -> dict[str, object]:
    """Chroma's contents, the mirror and payload files, and what the public API shows."""
    replica = env.store._replica
    if not env.store._closed:
        env.store.flush()
    snapshot: dict[str, object] = {
        "chroma": _chroma(env),
        "files": {**_files(replica.mirror_dir), **_files(replica.folder)},
    }
    if not env.store._closed:
        snapshot["api"] = _api(env)
    return snapshot


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    out = []
    for part in before:
        old, new = before[part], after[part]
        if old == new:
            continue
        if part == "files":
            changed = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))  # type: ignore[attr-defined]
            out.append(f"files changed: {changed}")
        elif part == "chroma":
            for name in sorted({*old, *new}):  # type: ignore[misc]
                a, b = dict((r[0], r) for r in old.get(name, [])), dict((r[0], r) for r in new.get(name, []))  # type: ignore[attr-defined]
                changed = sorted(i for i in {*a, *b} if a.get(i) != b.get(i))
                if changed:
                    out.append(f"chroma collection {name!r} changed for ids {changed[:10]}")
        else:
            out.append(f"public API view changed: count/records {old!r:.300} -> {new!r:.300}")
    return out


# ----------------------------------------------------------------------------- running one call
class Hung(BaseException):
    """Raised by SIGALRM in a call still running after HANG_S (BaseException: no ``except Exception`` eats it)."""


def _alarm(signum: int, frame: object) -> None:
    raise Hung


def timed(call: Callable[[Env], object], env: Env) -> tuple[object, BaseException | None, float]:
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    start = time.perf_counter()
    try:
        return call(env), None, time.perf_counter() - start
    except Exception as exc:
        return None, exc, time.perf_counter() - start
    except Hung as exc:
        return None, exc, time.perf_counter() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _has(message: str, word: str | tuple[str, ...]) -> bool:
    options = (word,) if isinstance(word, str) else word
    return any(option.lower() in message.lower() for option in options)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {str(exc)[:400]}"


@pytest.mark.parametrize(("setup", "call", "expect"), CASES)
def test_hostile_input(
    env: Env, setup: Callable[[Env], object] | None, call: Callable[[Env], object], expect: Raises | Behaves
) -> None:
    if setup is not None:
        setup(env)
    before = state(env) if isinstance(expect, Raises) else None
    result, error, elapsed = timed(call, env)
    problems = []
    if isinstance(error, Hung):
        problems.append(f"still running after {HANG_S} s (interrupted)")
    elif elapsed >= BUDGET_S:
        problems.append(f"took {elapsed:.2f} s (budget {BUDGET_S} s)")
    if isinstance(expect, Raises):
        if error is None:
            problems.append(f"expected {expect.error.__name__}, but it returned {result!r:.300}")
        elif not isinstance(error, expect.error):
            problems.append(f"expected {expect.error.__name__}, got {describe(error)}")
        else:
            missing = [w for w in expect.words if not _has(str(error), w)]
            if missing:
                problems.append(f"message lacks {missing}: {describe(error)}")
        assert before is not None
        try:
            problems += differences(before, state(env))
        except Exception as exc:
            problems.append(f"could not read the store's state after the call: {describe(exc)}")
        try:
            env.store.close()
        except Exception as exc:
            problems.append(f"close() after the refused call failed: {describe(exc)}")
    elif error is not None:
        problems.append(f"documented behaviour ({expect.because}), but it raised {describe(error)}")
    else:
        try:
            expect.check(env, result)
        except AssertionError as exc:
            problems.append(f"documented behaviour ({expect.because}) not met: {str(exc)[:400]}")
        except Exception as exc:
            problems.append(f"checking the documented behaviour ({expect.because}) raised {describe(exc)}")
    assert not problems, "\n".join(problems)


def test_table_has_at_least_100_cases() -> None:
    assert len(CASES) >= 100
