"""A real Chroma server (``chroma run``): client mode, objects on the server, two clients."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from processes import ChromaServer, free_port

from mira_vectorstores import HashingEmbedder, HybridStore, StoreUnavailableError
from mira_vectorstores.engine.mirrors import catch_up

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    srv = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    srv.start()
    yield srv.port
    srv.stop()


def test_store_on_a_server_writes_searches_and_keeps_objects(server: int) -> None:
    store = HybridStore.connect("127.0.0.1", server, "shared", embedder=HashingEmbedder(32))
    store.add(["servers share collections", "lexical search on words"], ids=["a", "b"], metadatas=[{"n": 1}, {"n": 2}])
    assert [h.id for h in store.search("share collections", k=1)] == ["a"]
    assert [h.id for h in store.search("words", k=2, where={"n": 2})] == ["b"]
    payload = np.random.default_rng(0).bytes(9_000_000)  # several chunks on the server
    oid = store.put_object(payload, description="a large binary")
    assert store.get_object(oid) == payload

    other = HybridStore.connect("127.0.0.1", server, "shared", embedder=HashingEmbedder(32))
    assert other.count() == 3
    assert other.get_object(oid) == payload
    other.upsert(["a third record from the other client"], ids=["c"])
    store.refresh()
    assert store.get(["c"])[0].document == "a third record from the other client"
    store.delete([oid])
    other.refresh()
    assert other.count() == 3 - 1 + 1
    assert other.get([oid]) == []
    other.close()
    store.close()


def test_unreachable_server_is_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(StoreUnavailableError, match=f"127.0.0.1:{port}"):
        HybridStore.connect("127.0.0.1", port, "nothing", embedder=HashingEmbedder(8))


def test_cli_reaches_a_server_with_headers(
    server: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mira_vectorstores.cli import main

    monkeypatch.setenv("MIRA_VS_EMBEDDER", "hashing")
    remote = ["--host", "127.0.0.1", "--port", str(server), "--header", "X-Chroma-Token=secret"]
    assert main([*remote, "stats", "--name", "cli"]) == 1  # reading a store that does not exist
    assert f"store 'cli' does not exist in the server 127.0.0.1:{server}" in capsys.readouterr().err
    (tmp_path / "note.txt").write_text("a note kept on the server")
    assert main([*remote, "ingest", str(tmp_path / "note.txt"), "--name", "cli"]) == 0
    capsys.readouterr()
    assert main(["stats", "--name", "cli", "--json", *remote]) == 0  # shared options after the command too
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "server"
    assert report["records"] == 1
    assert report["health"]["reachable"] is True
    assert main([*remote[:4], "--header", "no-equals-sign", "stats"]) == 2
    assert "--header takes NAME=VALUE" in capsys.readouterr().err


def test_a_restarted_server_store_loads_its_cache_and_catches_up_by_the_change(
    server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = HybridStore.connect("127.0.0.1", server, "cached", embedder=HashingEmbedder(16), mirror_dir=cache)
    first.add([f"cached record {i}" for i in range(2_000)], ids=[f"c{i}" for i in range(2_000)])
    first.close()
    other = HybridStore.connect("127.0.0.1", server, "cached", embedder=HashingEmbedder(16))
    other.upsert(["written while the first was away"], ids=["late"])
    other.delete(["c7"])
    other.close()

    def no_full_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the restart read every record instead of loading its cache")

    monkeypatch.setattr(catch_up, "rebuild", no_full_read)
    monkeypatch.setattr(catch_up, "reconcile", no_full_read)
    again = HybridStore.connect("127.0.0.1", server, "cached", embedder=HashingEmbedder(16), mirror_dir=cache)
    assert again.count() == 2_000
    assert [r.document for r in again.get(["late"])] == ["written while the first was away"]
    assert again.get(["c7"]) == []
    assert again.health().mirror_dir == str(cache)
    again.close()


def test_a_collection_written_by_langchain_chroma_on_a_server_opens_in_place(server: int) -> None:
    """langchain-chroma writes on the server; ours opens it by host, by a caller's HttpClient and
    through LlamaIndex's from_params, searches, writes, and langchain-chroma reads our write back.
    """
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

    from mira_vectorstores.langchain import MiraVectorStore as LangChainStore
    from mira_vectorstores.llama_index import MiraVectorStore as LlamaStore

    embeddings = DeterministicFakeEmbedding(size=24)
    theirs = Chroma(collection_name="lc-on-server", embedding_function=embeddings, host="127.0.0.1", port=server)
    theirs.add_texts(
        ["zebras graze on the savanna", "owls hunt at night", "salmon swim upstream"],
        metadatas=[{"kind": "mammal"}, {"kind": "bird"}, {"kind": "fish"}],
        ids=["z", "o", "s"],
    )

    ours = LangChainStore(collection_name="lc-on-server", embedding_function=embeddings, host="127.0.0.1", port=server)
    try:
        assert ours.engine.space == "l2"
        [(best, distance)] = ours.similarity_search_with_score("owls hunt at night", k=1)
        assert (best.id, distance) == ("o", 0.0)
        assert [d.id for d in ours.hybrid_search("salmon", k=1)] == ["s"]
        assert [d.id for d in ours.similarity_search("zebras", k=3, filter={"kind": "mammal"})] == ["z"]
        ours.add_texts(["wolves howl at the moon"], metadatas=[{"kind": "mammal"}], ids=["w"])
    finally:
        ours.close()

    got = theirs.get(ids=["w"])
    assert got["documents"] == ["wolves howl at the moon"]
    assert got["metadatas"][0]["kind"] == "mammal"
    assert theirs.similarity_search("wolves howl at the moon", k=1)[0].id == "w"

    client = chromadb.HttpClient(host="127.0.0.1", port=server)
    by_client = LangChainStore(collection_name="lc-on-server", embedding_function=embeddings, client=client)
    try:
        assert sorted(by_client.get()["ids"]) == ["o", "s", "w", "z"]
    finally:
        by_client.close()
    assert client.heartbeat()  # the caller's client is left open

    llama = LlamaStore.from_params(collection_name="lc-on-server", host="127.0.0.1", port=server)
    try:
        result = llama.query(
            VectorStoreQuery(query_str="owls", mode=VectorStoreQueryMode.TEXT_SEARCH, similarity_top_k=1)
        )
        assert result.ids == ["o"]
    finally:
        llama.client.close()


def test_an_embedded_export_imports_into_a_server_store_and_a_backup_restores_there(
    server: int, tmp_path: Path
) -> None:
    with HybridStore("local", path=tmp_path / "local", embedder=HashingEmbedder(32)) as local:
        local.add(["cats purr", "dogs bark", "owls hoot"], ids=["c", "d", "o"], metadatas=[{"n": 1}, {"n": 2}, None])
        local.put_object(b"\x00payload", id="p", description="a payload")
        local.export(tmp_path / "local.parquet")
        local.backup(tmp_path / "bk")
        expected = [(h.id, round(h.score, 6)) for h in local.search("cats and owls", k=4)]
    with HybridStore.connect("127.0.0.1", server, "imported", embedder=HashingEmbedder(32)) as remote:
        remote.import_(tmp_path / "local.parquet")
        assert [(h.id, round(h.score, 6)) for h in remote.search("cats and owls", k=4)] == expected
        assert remote.get_object_bytes("p")[0] == b"\x00payload"
    restored = HybridStore.restore(
        tmp_path / "bk", "restored", path=None, host="127.0.0.1", port=server, embedder=HashingEmbedder(32)
    )
    with restored:
        assert restored.stats().mode == "server"
        assert [(h.id, round(h.score, 6)) for h in restored.search("cats and owls", k=4)] == expected
