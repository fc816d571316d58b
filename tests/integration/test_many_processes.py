"""Several processes on one Chroma server: catch-up bounds, id writes, convergence, a killed server."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from processes import Child, ChromaServer

from mira_vectorstores import HashingEmbedder, HybridStore, RecordNotFoundError, StoreConfig, StoreUnavailableError

pytestmark = pytest.mark.integration

T = TypeVar("T")

#: How long another process may take to reflect a write (the promise is ~1 s; generous for CI).
BOUND = 5.0
#: Catches up only when ``refresh()`` is called.
MANUAL = StoreConfig(refresh_interval=None)
RecordView = list[Any]  # [document, metadata, object sha256 or None]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One server for the tests that do not kill it (each uses its own collection)."""
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-shared"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A server this test alone uses, and may kill."""
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-own"))
    srv.start()
    yield srv
    srv.stop()


class ChildError(Exception):
    """An exception raised in a peer process, by name."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__(f"{reply['error']}: {reply['message']}")
        self.name: str = reply["error"]
        self.mro: list[str] = reply["mro"]
        self.message: str = reply["message"]


# A store in another process, driven by JSON commands on stdin; replies are "@@ <json>" lines.
PEER = r"""
import dataclasses, json, os, sys
from mira_vectorstores import HashingEmbedder, HybridStore, StoreConfig

port, name, interval = int(sys.argv[1]), sys.argv[2], sys.argv[3]
config = None if interval == "default" else StoreConfig(refresh_interval=None)


def plain(value):
    return json.loads(json.dumps(value))


def finds_itself(store, rid, text):
    hits = store.search(text, k=10, mode="dense")
    return bool(hits) and hits[0].score > 0.9999 and rid in [h.id for h in hits if h.score >= hits[0].score - 1e-5]


def view(store):
    records = {r.id: [r.document, r.metadata, None if r.object is None else r.object.sha256] for r in store.get()}
    lexical = sorted(h.id for h in store.search("shared", k=100_000, mode="lexical"))
    dense = {rid: finds_itself(store, rid, doc) for rid, (doc, _, _) in records.items()}
    return plain({"records": records, "count": store.count(), "lexical": lexical, "dense": dense})


def reply(value):
    sys.stdout.write("@@ " + json.dumps(value, default=repr) + "\n")
    sys.stdout.flush()


def failure(exc):
    return {"error": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__], "message": str(exc)}


try:
    store = HybridStore.connect("127.0.0.1", port, name, embedder=HashingEmbedder(32), config=config)
except Exception as exc:
    reply(failure(exc))
    sys.exit(1)
reply({"ok": os.getpid()})
for line in sys.stdin:
    cmd = json.loads(line)
    op, args, kwargs = cmd["op"], cmd["args"], cmd["kwargs"]
    try:
        if op == "view":
            result = view(store)
        elif op == "health":
            result = dataclasses.asdict(store.health())
        elif op == "put_object":
            result = store.put_object(bytes.fromhex(kwargs.pop("payload_hex")), **kwargs)
        elif op == "get_object":
            result = store.get_object(*args).hex()
        else:
            result = getattr(store, op)(*args, **kwargs)
        reply({"ok": result})
    except Exception as exc:
        reply(failure(exc))
store.close()
"""


class Peer(Child):
    """A ``HybridStore.connect`` store in another process."""

    def __init__(self, port: int, name: str, interval: str, cwd: Path) -> None:
        super().__init__(PEER, str(port), name, interval, cwd=cwd)
        self.pid: int = self._reply()

    def _reply(self) -> Any:
        while not (line := self.line()).startswith("@@ "):
            pass  # anything else a library printed
        answer = json.loads(line[3:])
        if "error" in answer:
            raise ChildError(answer)
        return answer["ok"]

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        self.send(json.dumps({"op": op, "args": list(args), "kwargs": kwargs}))
        return self._reply()


PeerFactory = Callable[..., Peer]
StoreFactory = Callable[..., HybridStore]


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[PeerFactory]:
    """Start peers: ``peers(port, name, interval="default" | "none")``; all closed at teardown."""
    made: list[Peer] = []

    def make(port: int, name: str, interval: str = "default") -> Peer:
        peer = Peer(port, name, interval, tmp_path)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


@pytest.fixture
def stores() -> Iterator[StoreFactory]:
    """Open stores in this process: ``stores(port, name, config=None)``; all closed at teardown."""
    made: list[HybridStore] = []

    def make(port: int, name: str, config: StoreConfig | None = None) -> HybridStore:
        store = HybridStore.connect("127.0.0.1", port, name, embedder=HashingEmbedder(32), config=config)
        made.append(store)
        return store

    yield make
    for store in made:
        with contextlib.suppress(Exception):
            store.close()


# -- what a process sees -------------------------------------------------------------------------------
def _plain(value: T) -> T:
    result: T = json.loads(json.dumps(value))
    return result


def _finds_itself(store: HybridStore, rid: str, text: str) -> bool:
    """A dense search for a record's text ranks it first (tied first: 32-d hashing can collide)."""
    hits = store.search(text, k=10, mode="dense")
    return bool(hits) and hits[0].score > 0.9999 and rid in [h.id for h in hits if h.score >= hits[0].score - 1e-5]


def _view(store: HybridStore) -> dict[str, Any]:
    """Records (document, metadata, object digest), count, lexical and dense search, as JSON values.

    Every document in these tests holds the word "shared" and is unique, so a lexical search for
    "shared" lists every live record and a dense search for a record's own text finds it.
    """
    records = {r.id: [r.document, r.metadata, None if r.object is None else r.object.sha256] for r in store.get()}
    lexical = sorted(h.id for h in store.search("shared", k=100_000, mode="lexical"))
    dense = {rid: _finds_itself(store, rid, doc) for rid, (doc, _, _) in records.items()}
    return _plain({"records": records, "count": store.count(), "lexical": lexical, "dense": dense})


def _expected_view(records: dict[str, RecordView]) -> dict[str, Any]:
    return _plain(
        {"records": records, "count": len(records), "lexical": sorted(records), "dense": dict.fromkeys(records, True)}
    )


def _eventually(probe: Callable[[], T], want: T, timeout: float = BOUND) -> T:
    """Probe until it returns ``want`` or ``timeout`` passes; returns the last value (assert on it)."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


# -- 1. one writer, several readers ---------------------------------------------------------------------
def test_writes_of_one_process_reach_the_others(server: ChromaServer, peers: PeerFactory, stores: StoreFactory) -> None:
    name = "one-writer"
    watcher = stores(server.port, name)  # default config: catches up in the background
    manual = stores(server.port, name, MANUAL)  # catches up when asked
    assert watcher.count() == manual.count() == 0
    writer = peers(server.port, name)

    payload = bytes(range(256)) * 40
    writer.call(
        "add",
        [f"shared note uniqa{i} about topic {i}" for i in range(12)],
        ids=[f"a{i}" for i in range(12)],
        metadatas=[{"group": i % 3, "n": i} for i in range(12)],
    )
    writer.call(
        "upsert",
        ["shared note uniqa0 rewritten about owls", "shared note uniqa12 new about lynx"],
        ids=["a0", "a12"],
        metadatas=[{"group": 0, "n": 0, "v": 2}, {"group": 1, "n": 12}],
    )
    writer.call("update", ["a1"], metadatas=[{"n": 100, "flag": True}])
    writer.call("update", ["a4"], texts=["shared note uniqa4 retold about herons"])
    assert writer.call("delete", ["a3", "a6", "never-written"]) == 2
    assert writer.call("delete", where={"group": 2}) == 4  # a2 a5 a8 a11
    oid = writer.call(
        "put_object",
        payload_hex=payload.hex(),
        id="obj1",
        description="shared raw object uniqobj1",
        metadata={"group": 1, "kind": "blob"},
    )
    assert oid == "obj1"

    expected: dict[str, RecordView] = {
        f"a{i}": [f"shared note uniqa{i} about topic {i}", {"group": i % 3, "n": i}, None] for i in range(12)
    }
    expected["a0"] = ["shared note uniqa0 rewritten about owls", {"group": 0, "n": 0, "v": 2}, None]
    expected["a12"] = ["shared note uniqa12 new about lynx", {"group": 1, "n": 12}, None]
    expected["a1"][1] = {"group": 1, "n": 100, "flag": True}
    expected["a4"][0] = "shared note uniqa4 retold about herons"
    for gone in ("a3", "a6", "a2", "a5", "a8", "a11"):
        del expected[gone]
    expected["obj1"] = ["shared raw object uniqobj1", {"group": 1, "kind": "blob"}, hashlib.sha256(payload).hexdigest()]
    want = _expected_view(expected)

    assert writer.call("view") == want  # the writer sees its own writes at once
    assert _eventually(lambda: _view(watcher), want) == want  # within the bound, with no refresh()
    assert watcher.get_object("obj1") == payload
    manual.refresh()
    assert _view(manual) == want  # exactly, right after refresh()
    assert manual.get_object("obj1") == payload
    fresh = peers(server.port, name, "none")
    assert fresh.call("view") == want
    assert fresh.call("get_object", "obj1") == payload.hex()


def test_a_cached_answer_never_outlives_another_processs_write(
    server: ChromaServer, peers: PeerFactory, stores: StoreFactory
) -> None:
    """The query-result cache (on by default) is emptied by the catch-up that brings another
    process's write: the repeated search was served from the cache until then, and shows the
    write within the bound after it.
    """
    name = "cached-reader"
    reader = stores(server.port, name)  # default config: cache on, background catch-up
    reader.add(["shared cached note uniqc1"], ids=["c1"])
    first = reader.search("shared cached", k=10, mode="lexical")
    assert [h.id for h in first] == ["c1"]
    assert reader.search("shared cached", k=10, mode="lexical") == first
    assert reader._cache.hits == 1  # the repeat was the cached answer
    writer = peers(server.port, name)
    writer.call("add", ["shared cached note uniqc2"], ids=["c2"])
    writer.call("delete", ["c1"])

    def ids() -> list[str]:
        return sorted(h.id for h in reader.search("shared cached", k=10, mode="lexical"))

    assert _eventually(ids, ["c2"]) == ["c2"]


# -- 2. three writers at once ---------------------------------------------------------------------------
def test_three_interleaved_writers_converge(server: ChromaServer, peers: PeerFactory, stores: StoreFactory) -> None:
    name = "three-writers"
    rounds = 16
    seed = stores(server.port, name)
    seed.add(
        ["shared common record", "shared last record"],
        ids=["common", "last"],
        metadatas=[{"base": True}, {"writer": -1, "i": -1}],
    )
    writers = [peers(server.port, name) for _ in range(3)]

    def drive(k: int) -> None:
        writer = writers[k]
        for i in range(rounds):
            rid = f"w{k}_{i}"
            writer.call("add", [f"shared writer {k} item {i} uniq{rid}"], ids=[rid], metadatas=[{"writer": k, "i": i}])
            writer.call("update", ["common"], metadatas=[{f"w{k}": i}])
            writer.call(
                "upsert",
                [f"shared last record from writer {k} step {i}"],
                ids=["last"],
                metadatas=[{"writer": k, "i": i}],
            )
            if i % 4 == 3:
                assert writer.call("delete", [f"w{k}_{i - 2}"]) == 1

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(drive, range(3)))  # re-raises a writer's failure

    own: dict[str, RecordView] = {
        f"w{k}_{i}": [f"shared writer {k} item {i} uniqw{k}_{i}", {"writer": k, "i": i}, None]
        for k in range(3)
        for i in range(rounds)
        if not (i % 4 == 1 and i + 2 < rounds)
    }
    fresh = peers(server.port, name, "none")
    final = fresh.call("view")
    assert final == _expected_view(final["records"])  # count, lexical and dense agree with the records
    records = dict(final["records"])
    common, last = records.pop("common"), records.pop("last")
    assert records == _plain(own)  # every acknowledged write of every writer, nothing else
    final_step = rounds - 1
    last_writes = [
        [f"shared last record from writer {k} step {final_step}", {"writer": k, "i": final_step}, None]
        for k in range(3)
    ]
    assert last in _plain(last_writes)  # whichever writer was last, whole

    for writer in writers:  # each writer converges on the same state: within the bound, and on refresh()
        assert _eventually(lambda w=writer: w.call("view"), final) == final
        writer.call("refresh")
        assert writer.call("view") == final
    assert _eventually(lambda: _view(seed), final) == final

    # Updates of different keys of one record by different processes all survive.
    merged = {"base": True, **{f"w{k}": final_step for k in range(3)}}
    assert common == _plain(["shared common record", merged, None])


# -- 3. a process's own later write does not hide an earlier write of another ---------------------------
def test_own_later_write_never_hides_an_earlier_write_of_another(
    server: ChromaServer, peers: PeerFactory, stores: StoreFactory
) -> None:
    name = "later-own-write"
    manual = stores(server.port, name, MANUAL)
    auto = stores(server.port, name)
    other = peers(server.port, name)
    expected: dict[str, RecordView] = {}
    for r in range(3):
        other.call("add", [f"shared from other round {r}"], ids=[f"o{r}"], metadatas=[{"round": r, "by": "other"}])
        expected[f"o{r}"] = [f"shared from other round {r}", {"round": r, "by": "other"}, None]
        # Right after the other process's write returned, this process writes too.
        manual.add([f"shared from manual round {r}"], ids=[f"m{r}"], metadatas=[{"round": r, "by": "manual"}])
        auto.upsert([f"shared from auto round {r}"], ids=[f"u{r}"], metadatas=[{"round": r, "by": "auto"}])
        expected[f"m{r}"] = [f"shared from manual round {r}", {"round": r, "by": "manual"}, None]
        expected[f"u{r}"] = [f"shared from auto round {r}", {"round": r, "by": "auto"}, None]

        # Each store sees its own write at once.
        assert [(x.id, x.document) for x in manual.get([f"m{r}"])] == [(f"m{r}", f"shared from manual round {r}")]
        assert [h.id for h in manual.search(f"shared from manual round {r}", k=1, mode="dense")] == [f"m{r}"]
        assert [(x.id, x.document) for x in auto.get([f"u{r}"])] == [(f"u{r}", f"shared from auto round {r}")]
        assert f"u{r}" in {h.id for h in auto.search("shared", k=1000, mode="lexical")}

        want = _expected_view(expected)
        manual.refresh()
        assert _view(manual) == want
        assert _eventually(lambda: _view(auto), want) == want
        assert _eventually(lambda: other.call("view"), want) == want


# -- 4. id-addressed writes act on Chroma, not on the caller's mirror ------------------------------------
def test_writes_by_id_reach_records_the_caller_has_not_seen(
    server: ChromaServer, peers: PeerFactory, stores: StoreFactory
) -> None:
    name = "unseen-ids"
    late = stores(server.port, name, MANUAL)  # opened before the records exist; never catches up alone
    writer = peers(server.port, name)
    writer.call(
        "add",
        [f"shared unseen record uniqx{i}" for i in range(6)],
        ids=[f"x{i}" for i in range(6)],
        metadatas=[{"i": i, "keep": True} for i in range(6)],
    )

    assert late.delete(["x0", "x1", "never-written"]) == 2
    late.update(["x2"], metadatas=[{"i": 42, "keep": None}])  # merged: "keep" removed
    late.update(["x3"], texts=["shared unseen record uniqx3 rewritten by late"])
    with pytest.raises(RecordNotFoundError):
        late.update(["never-written"], metadatas=[{"i": 0}])
    # Its own writes are visible at once, even on records it had not caught up with.
    assert [(x.id, x.document, x.metadata) for x in late.get(["x0", "x1", "x2", "x3"])] == [
        ("x2", "shared unseen record uniqx2", {"i": 42}),
        ("x3", "shared unseen record uniqx3 rewritten by late", {"i": 3, "keep": True}),
    ]

    expected: dict[str, RecordView] = {
        "x2": ["shared unseen record uniqx2", {"i": 42}, None],
        "x3": ["shared unseen record uniqx3 rewritten by late", {"i": 3, "keep": True}, None],
        "x4": ["shared unseen record uniqx4", {"i": 4, "keep": True}, None],
        "x5": ["shared unseen record uniqx5", {"i": 5, "keep": True}, None],
    }
    want = _expected_view(expected)
    late.refresh()
    assert _view(late) == want
    assert _eventually(lambda: writer.call("view"), want) == want

    # A delete by filter reaches the other process too.
    assert late.delete(where={"i": {"$in": [4, 5]}}) == 2
    del expected["x4"], expected["x5"]
    want = _expected_view(expected)
    assert _view(late) == want
    assert _eventually(lambda: writer.call("view"), want) == want
    assert peers(server.port, name, "none").call("view") == want


# -- 5. the server is SIGKILLed while a process writes ---------------------------------------------------
BATCH_WRITER = r"""
import json, sys
from mira_vectorstores import HashingEmbedder, HybridStore, StoreUnavailableError

port, name, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = HybridStore.connect("127.0.0.1", port, name, embedder=HashingEmbedder(32))
print("READY", flush=True)
batch = 0
while True:
    try:
        store.add(
            [f"shared batch {batch} item {j} uniqb{batch}x{j}" for j in range(size)],
            ids=[f"b{batch}_{j}" for j in range(size)],
            metadatas=[{"batch": batch, "j": j} for j in range(size)],
        )
    except Exception as exc:
        failure = {
            "batch": batch,
            "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
            "unavailable": isinstance(exc, StoreUnavailableError),
            "message": str(exc)[:500],
        }
        print("FAILED " + json.dumps(failure), flush=True)
        break
    print(f"ACK {batch}", flush=True)
    batch += 1
sys.stdin.readline()  # the server is back
store.refresh()
print("STATE " + json.dumps(sorted(r.id for r in store.get())), flush=True)
store.add(["shared written after the restart"], ids=["after"], metadatas=[{"batch": -1, "j": 0}])
print("ACK after", flush=True)
sys.stdin.readline()
store.close()
"""


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kill_delay", [0.0, 0.02])  # where the kill lands in the next add(): not an assertion
def test_acknowledged_writes_survive_a_killed_server(
    own_server: ChromaServer, peers: PeerFactory, stores: StoreFactory, tmp_path: Path, kill_delay: float
) -> None:
    name = "killed-mid-write"
    size = 100
    watcher = stores(own_server.port, name)
    writer = Child(BATCH_WRITER, str(own_server.port), name, str(size), cwd=tmp_path)
    try:
        assert writer.line() == "READY"
        acked: list[int] = []
        while len(acked) < 8:
            line = writer.line()
            assert line.startswith("ACK "), line
            acked.append(int(line[4:]))
        time.sleep(kill_delay)
        own_server.kill()  # most likely while batch acked[-1] + 1 is being read or written
        while (line := writer.line()).startswith("ACK "):
            acked.append(int(line[4:]))
        assert line.startswith("FAILED "), line
        failure = json.loads(line[len("FAILED ") :])
        assert failure["unavailable"], f"a write to a dead server raised {failure['type']}: {failure['message']}"
        in_flight = failure["batch"]
        assert in_flight == acked[-1] + 1
        assert acked == list(range(len(acked)))

        own_server.start()
        writer.send("")
        line = writer.line()
        assert line.startswith("STATE "), line
        writer_ids = json.loads(line[len("STATE ") :])
        assert writer.line() == "ACK after"  # the same store object writes again
        writer.send("")
    finally:
        writer.close()

    final = peers(own_server.port, name, "none").call("view")["records"]

    def batch(b: int) -> dict[str, RecordView]:
        return {
            f"b{b}_{j}": [f"shared batch {b} item {j} uniqb{b}x{j}", {"batch": b, "j": j}, None] for j in range(size)
        }

    acknowledged = {rid: rec for b in acked for rid, rec in batch(b).items()}
    missing = sorted(set(acknowledged) - set(final))
    assert missing == [], f"acknowledged writes lost after the server was killed: {missing[:10]}"
    assert {rid: final[rid] for rid in acknowledged} == _plain(acknowledged)
    present = sorted(set(batch(in_flight)) & set(final))
    assert len(present) in (0, size), f"batch {in_flight}, in flight at the kill, is partly stored: {present}"
    expected_ids = {*acknowledged, *(batch(in_flight) if present else {}), "after"}
    assert sorted(final) == sorted(expected_ids)
    if present:
        assert {rid: final[rid] for rid in present} == _plain(batch(in_flight))
    assert final["after"] == ["shared written after the restart", {"batch": -1, "j": 0}, None]

    # The writer, after refresh(), holds what Chroma holds, the in-flight batch included when stored.
    assert writer_ids == sorted(expected_ids - {"after"})
    # So does a process that was open the whole time, after refresh().
    watcher.refresh()
    assert _view(watcher)["records"] == final
    assert _view(watcher) == _expected_view(final)


# -- 6. health() and errors while the server is down -----------------------------------------------------
@pytest.mark.timeout(240)
def test_health_and_typed_errors_while_the_server_is_down(
    own_server: ChromaServer, peers: PeerFactory, stores: StoreFactory
) -> None:
    name = "health-check"
    port = own_server.port
    store = stores(port, name)
    store.add(["shared first", "shared second"], ids=["h1", "h2"], metadatas=[{"n": 1}, {"n": 2}])
    before = time.time()
    store.refresh()
    up = store.health()
    assert type(up).__name__ == "StoreHealth"
    assert dataclasses.is_dataclass(up)
    with pytest.raises(dataclasses.FrozenInstanceError):
        up.reachable = False  # type: ignore[misc]
    assert (up.mode, up.reachable, up.records, up.error, up.lock_holder) == ("server", True, 2, None, None)
    assert up.last_catch_up is not None
    assert before - 1 <= up.last_catch_up <= time.time() + 1
    assert up.lag_seconds is None or up.lag_seconds >= 0
    assert up.changes_behind in (None, 0)
    assert up.mirror_dir is None or isinstance(up.mirror_dir, str)

    own_server.kill()
    started = time.monotonic()
    down = store.health()  # never raises
    assert time.monotonic() - started < 15
    assert down.mode == "server"
    assert down.reachable is False
    assert isinstance(down.error, str)
    assert down.error
    assert isinstance(down.records, int)

    def unavailable(call: Callable[[], object]) -> None:
        with pytest.raises(StoreUnavailableError):
            call()

    unavailable(lambda: store.add(["shared lost 1", "shared lost 2"], ids=["d1", "d2"]))
    unavailable(store.refresh)
    unavailable(lambda: store.refresh(full=True))
    unavailable(lambda: store.update(["h1"], metadatas=[{"n": 10}]))
    unavailable(lambda: store.delete(["h2"]))
    unavailable(lambda: store.put_object(b"payload", id="o1", description="shared object"))
    unavailable(lambda: HybridStore.connect("127.0.0.1", port, name, embedder=HashingEmbedder(32)))
    # Reads answer from the mirror or raise the typed error: nothing else (no httpx error).
    for read in (lambda: store.search("shared", k=2), store.count, store.get):
        with contextlib.suppress(StoreUnavailableError):
            read()
    time.sleep(1.5)  # not an assertion: lets the background catch-up meet the dead server

    own_server.start()
    store.add(["shared back again"], ids=["h3"], metadatas=[{"n": 3}])  # the same object works again
    back = store.health()
    assert (back.reachable, back.records) == (True, 3)
    # The error of the outage clears (at the latest with the next background catch-up).
    assert _eventually(lambda: store.health().error, None) is None

    other = peers(port, name)
    other.call("add", ["shared from a process started after the restart"], ids=["h4"], metadatas=[{"n": 4}])
    expected: dict[str, RecordView] = {
        "h1": ["shared first", {"n": 1}, None],
        "h2": ["shared second", {"n": 2}, None],
        "h3": ["shared back again", {"n": 3}, None],
        "h4": ["shared from a process started after the restart", {"n": 4}, None],
    }
    want = _expected_view(expected)
    # The background catch-up survived the outage: the other process's write arrives unasked.
    assert _eventually(lambda: _view(store), want) == want
    assert other.call("view") == want
