"""Invalid input raises a typed error before anything is written, and leaves the store as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mira_vectorstores import (
    ConfigError,
    DimensionMismatchError,
    FilterError,
    HashingEmbedder,
    HybridStore,
    InvalidInputError,
    MiraError,
    RecordNotFoundError,
)


def _snapshot(store: HybridStore, tmp_path: Path) -> tuple:
    raw = store._replica.storage.collection.get(include=["documents", "metadatas", "embeddings"])
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("objects/*/*"))
    return (
        raw["ids"],
        raw["documents"],
        raw["metadatas"],
        np.asarray(raw["embeddings"]).tobytes(),
        [(r.id, r.document, r.metadata) for r in store.get()],
        store._replica.storage.state(),
        files,
    )


BAD_WRITES: list[tuple[str, Callable[[HybridStore], object], type[Exception], str]] = [
    ("vector dim", lambda s: s.add(["x"], vectors=[[1.0, 2.0]]), DimensionMismatchError, "2 dims.*expects 16"),
    ("nan vector", lambda s: s.add(["x"], vectors=[[np.nan] * 16]), InvalidInputError, "NaN"),
    ("inf vector", lambda s: s.upsert(["x"], vectors=[[np.inf] + [0.0] * 15]), InvalidInputError, "NaN or inf"),
    ("dup ids", lambda s: s.add(["x", "y"], ids=["a", "a"]), InvalidInputError, "duplicate ids"),
    ("id count", lambda s: s.add(["x", "y"], ids=["a"]), InvalidInputError, "1 ids for 2"),
    ("meta count", lambda s: s.add(["x"], metadatas=[{}, {}]), InvalidInputError, "2 metadatas for 1"),
    ("vector count", lambda s: s.add(["x", "y"], vectors=[[1.0] * 16]), InvalidInputError, "1 vectors for 2"),
    ("nested meta", lambda s: s.add(["x"], metadatas=[{"a": {"b": 1}}]), InvalidInputError, "json.dumps"),
    ("reserved key", lambda s: s.add(["x"], metadatas=[{"_mira_rev": 1}]), InvalidInputError, "reserved"),
    ("mixed list", lambda s: s.add(["x"], metadatas=[{"a": [1, "b"]}]), InvalidInputError, "one type"),
    ("empty list", lambda s: s.add(["x"], metadatas=[{"a": []}]), InvalidInputError, "empty list"),
    ("nan meta", lambda s: s.add(["x"], metadatas=[{"a": float("nan")}]), InvalidInputError, "finite"),
    ("text type", lambda s: s.add([b"bytes"]), InvalidInputError, r"texts\[0\] must be a str"),
    ("single str", lambda s: s.add("not a list"), InvalidInputError, "single str"),
    ("nothing", lambda s: s.add(), InvalidInputError, "texts, vectors"),
    ("existing id", lambda s: s.add(["again"], ids=["k0"]), InvalidInputError, "already exist"),
    ("update missing", lambda s: s.update(["nope"], texts=["t"]), RecordNotFoundError, "nope"),
    ("bad where delete", lambda s: s.delete(where={"n": {"$bad": 1}}), FilterError, r"where\.n"),
    ("empty delete", lambda s: s.delete(), InvalidInputError, "clear"),
    (
        "batch with one bad",
        lambda s: s.upsert(["ok", "bad"], metadatas=[{"a": 1}, {"a": object()}]),
        InvalidInputError,
        "object",
    ),
    ("bad codec", lambda s: s.put_object(b"x", codec="zip", description="d"), MiraError, "unknown codec"),
    ("object no text", lambda s: s.put_object(b"x"), InvalidInputError, "description"),
]


@pytest.mark.parametrize(("name", "call", "error", "match"), BAD_WRITES, ids=[b[0] for b in BAD_WRITES])
def test_invalid_write_changes_nothing(
    tmp_path: Path, name: str, call: Callable[[HybridStore], object], error: type[Exception], match: str
) -> None:
    store = HybridStore.persistent(tmp_path, "errs", embedder=HashingEmbedder(16))
    store.add([f"keep {i}" for i in range(3)], ids=[f"k{i}" for i in range(3)], metadatas=[{"n": i} for i in range(3)])
    store.put_object(b"payload", id="obj", description="kept object")
    before = _snapshot(store, tmp_path)
    with pytest.raises(error, match=match):
        call(store)
    assert _snapshot(store, tmp_path) == before
    store.close()


def test_errors_are_mira_errors_and_builtins() -> None:
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(InvalidInputError, MiraError)
    assert issubclass(RecordNotFoundError, KeyError)
    assert issubclass(FilterError, InvalidInputError)
    with pytest.raises(ConfigError, match="store name"):
        HybridStore.in_memory("a")
    with pytest.raises(ConfigError, match="store name"):
        HybridStore.in_memory("bad name!")


def test_closed_store_refuses_work() -> None:
    store = HybridStore.in_memory(embedder=HashingEmbedder(16))
    store.close()
    with pytest.raises(InvalidInputError, match="closed"):
        store.search("x")
    with pytest.raises(InvalidInputError, match="closed"):
        store.add(["x"])


def test_store_without_embedder_explains_what_to_pass() -> None:
    store = HybridStore.in_memory(embedder=None)
    with pytest.raises(InvalidInputError, match="vectors="):
        store.add(["text only"])
    store.add(["text and vector"], vectors=[[1.0, 0.0]])
    with pytest.raises(InvalidInputError, match="vector="):
        store.search("text", mode="dense")
    assert store.search("vector", mode="lexical")[0].document == "text and vector"
    store.close()
