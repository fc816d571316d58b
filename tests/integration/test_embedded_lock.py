"""An embedded store's path belongs to one process at a time; stores within that process share it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import Child

import mira_vectorstores as mira
from mira_vectorstores import HashingEmbedder, HybridStore

pytestmark = pytest.mark.integration

# Opens the path (or reports why not), then obeys "add <id>" and "close" until stdin ends.
HOLDER = r"""
import json, os, sys
from mira_vectorstores import HashingEmbedder, HybridStore

path, name = sys.argv[1], sys.argv[2]
try:
    store = HybridStore.persistent(path, name, embedder=HashingEmbedder(32))
except Exception as exc:
    refusal = {
        "type": type(exc).__name__,
        "mro": [c.__name__ for c in type(exc).__mro__],
        "pid": getattr(exc, "pid", None),
        "message": str(exc),
    }
    print("REFUSED " + json.dumps(refusal), flush=True)
    sys.exit(0)
print("OPEN " + json.dumps({"pid": os.getpid(), "ids": sorted(r.id for r in store.get())}), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command.startswith("add "):
        rid = command[4:]
        store.add([f"written by process {os.getpid()} as {rid}"], ids=[rid])
        print("ADDED " + rid, flush=True)
    elif command == "close":
        store.close()
        print("CLOSED", flush=True)
"""


class Holder(Child):
    """A child process running ``HOLDER`` on a path."""

    def __init__(self, path: Path, name: str, workdir: Path) -> None:
        super().__init__(HOLDER, str(path), name, cwd=workdir)
        self.pid = self.proc.pid

    def expect(self, tag: str) -> dict[str, Any]:
        """The JSON after ``tag`` on the next tagged line (fails on the other outcome)."""
        while not (line := self.line()).startswith(("OPEN ", "REFUSED ")):
            pass
        assert line.startswith(tag + " "), line
        result: dict[str, Any] = json.loads(line[len(tag) + 1 :])
        return result

    def add(self, rid: str) -> None:
        self.send(f"add {rid}")
        assert self.line() == f"ADDED {rid}"

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no close(), no atexit
        self.proc.wait(timeout=30)


@pytest.fixture
def holders(tmp_path: Path) -> Iterator[list[Holder]]:
    made: list[Holder] = []
    yield made
    for holder in made:
        holder.close()


def _start(holders: list[Holder], path: Path, workdir: Path, name: str = "notes") -> Holder:
    holder = Holder(path, name, workdir)
    holders.append(holder)
    return holder


def _open(path: Path, name: str = "notes") -> HybridStore:
    return HybridStore.persistent(path, name, embedder=HashingEmbedder(32))


def _check_refusal(error: BaseException, holder_pid: int) -> None:
    assert isinstance(error, mira.StoreLockedError)
    assert isinstance(error, mira.MiraError)
    assert isinstance(error, RuntimeError)
    assert error.pid == holder_pid
    message = str(error)
    assert str(holder_pid) in message
    assert "chroma run" in message
    assert "HybridStore.connect" in message


def test_a_second_process_is_refused_while_the_first_holds_the_path(tmp_path: Path, holders: list[Holder]) -> None:
    data = tmp_path / "data"
    holder = _start(holders, data, tmp_path)
    holder.expect("OPEN")
    holder.add("held")

    with pytest.raises(mira.StoreLockedError) as refused:
        _open(data)
    _check_refusal(refused.value, holder.pid)
    with pytest.raises(mira.StoreLockedError) as other_name:  # the whole path, not one collection
        _open(data, "another-collection")
    _check_refusal(other_name.value, holder.pid)
    holder.add("after-the-refusal")  # the refused attempt left the holder intact

    holder.send("close")
    assert holder.line() == "CLOSED"  # the holder process lives on, its store closed
    store = _open(data)
    try:
        assert sorted(r.id for r in store.get()) == ["after-the-refusal", "held"]
        # Now this process holds the path, and another one is refused with this pid.
        refusal = _start(holders, data, tmp_path).expect("REFUSED")
        assert refusal["type"] == "StoreLockedError"
        assert {"MiraError", "RuntimeError"} <= set(refusal["mro"])
        assert refusal["pid"] == os.getpid()
        assert str(os.getpid()) in refusal["message"]
        assert "chroma run" in refusal["message"]
        assert "HybridStore.connect" in refusal["message"]
        store.add(["written by the test process"], ids=["parent"])
    finally:
        store.close()
    assert _start(holders, data, tmp_path).expect("OPEN")["ids"] == ["after-the-refusal", "held", "parent"]


def test_a_killed_holder_releases_the_path(tmp_path: Path, holders: list[Holder]) -> None:
    data = tmp_path / "data"
    holder = _start(holders, data, tmp_path)
    holder.expect("OPEN")
    holder.add("before-the-kill")
    with pytest.raises(mira.StoreLockedError) as refused:  # it is held...
        _open(data)
    _check_refusal(refused.value, holder.pid)
    holder.kill()

    store = _open(data)  # ...and free once the holder is gone, without close()
    try:
        assert [r.id for r in store.get()] == ["before-the-kill"]
        store.add(["written after the kill"], ids=["after-the-kill"])
        assert sorted(r.id for r in store.get()) == ["after-the-kill", "before-the-kill"]
    finally:
        store.close()


def test_stores_of_one_process_share_the_path_until_the_last_closes(tmp_path: Path, holders: list[Holder]) -> None:
    data = tmp_path / "data"
    first, second, other = _open(data), _open(data), _open(data, "other-collection")
    try:
        first.add(["written through the first store"], ids=["one"])
        second.refresh()
        assert [r.id for r in second.get()] == ["one"]
        second.add(["written through the second store"], ids=["two"])
        first.refresh()
        assert sorted(r.id for r in first.get()) == ["one", "two"]
        assert other.count() == 0

        first.close()
        refusal = _start(holders, data, tmp_path).expect("REFUSED")
        assert (refusal["type"], refusal["pid"]) == ("StoreLockedError", os.getpid())
        second.close()
        refusal = _start(holders, data, tmp_path).expect("REFUSED")  # "other-collection" still holds the path
        assert (refusal["type"], refusal["pid"]) == ("StoreLockedError", os.getpid())
    finally:
        for store in (first, second, other):
            store.close()
    assert _start(holders, data, tmp_path).expect("OPEN")["ids"] == ["one", "two"]


def test_health_of_embedded_and_in_memory_stores(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with _open(data) as store:
        store.add(["one record", "another record"], ids=["a", "b"])
        health = store.health()
        assert (health.mode, health.reachable, health.records, health.lock_holder, health.error) == (
            "embedded",
            True,
            2,
            os.getpid(),
            None,
        )
        assert health.mirror_dir is not None
        assert Path(health.mirror_dir).resolve().is_relative_to(data.resolve())

    memory = HybridStore.in_memory(embedder=HashingEmbedder(32))
    try:
        memory.add(["kept in memory"], ids=["m"])
        health = memory.health()
        assert (health.mode, health.reachable, health.records, health.lock_holder, health.error) == (
            "memory",
            True,
            1,
            None,
            None,
        )
    finally:
        memory.close()
