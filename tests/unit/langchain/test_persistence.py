"""A persistent MiraVectorStore written by one process is read back by another."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from mira_vectorstores.engine import EmbeddingMismatchError, StoreUnavailableError
from mira_vectorstores.langchain import MiraVectorStore

ROOT = Path(__file__).resolve().parents[3]
DOCS = [
    Document(
        id="a", page_content="Cats purr on warm windowsills", metadata={"n": 1, "tags": ["pet", "cat"], "ok": True}
    ),
    Document(id="b", page_content="Dogs bark at the mail carrier", metadata={"n": 2, "score": 0.25, "who": "dog"}),
    Document(id="c", page_content="Birds sing at dawn in spring", metadata={}),
    Document(id="d", page_content="Cats and dogs can be friends", metadata={"n": 4, "years": [2020, 2021]}),
]
QUERY = "cats and dogs"

# Run in a fresh interpreter: open the store and print what LangChain sees, as JSON.
READER = """
import json, sys
from langchain_core.embeddings import DeterministicFakeEmbedding
from mira_vectorstores.langchain import MiraVectorStore

store = MiraVectorStore(DeterministicFakeEmbedding(size=8), path=sys.argv[1], name="kbase")
def dump(pairs):
    return [[d.id, d.page_content, d.metadata, s] for d, s in pairs]
print(json.dumps({
    "docs": [[d.id, d.page_content, d.metadata] for d in store.get_by_ids(["a", "b", "c", "d"])],
    "dense": dump(store.similarity_search_with_score(sys.argv[2], k=4)),
    "hybrid": dump(store.similarity_search_with_score(sys.argv[2], k=4, mode="hybrid")),
    "keyword": [d.id for d in store.keyword_search(sys.argv[2], k=4)],
    "relevance": dump(store.similarity_search_with_relevance_scores(sys.argv[2], k=4)),
}))
store.close()
"""


def _dump(pairs):
    return [[d.id, d.page_content, d.metadata, s] for d, s in pairs]


def test_store_written_here_is_read_back_by_a_new_process(tmp_path):
    store = MiraVectorStore(DeterministicFakeEmbedding(size=8), path=tmp_path, name="kbase")
    store.add_documents(DOCS)
    expected = {
        "docs": [[d.id, d.page_content, d.metadata] for d in store.get_by_ids(["a", "b", "c", "d"])],
        "dense": _dump(store.similarity_search_with_score(QUERY, k=4)),
        "hybrid": _dump(store.similarity_search_with_score(QUERY, k=4, mode="hybrid")),
        "keyword": [d.id for d in store.keyword_search(QUERY, k=4)],
        "relevance": _dump(store.similarity_search_with_relevance_scores(QUERY, k=4)),
    }
    store.close()
    assert expected["docs"] == [[d.id, d.page_content, d.metadata] for d in DOCS]
    assert len(expected["dense"]) == 4
    assert expected["keyword"]

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", READER, str(tmp_path), QUERY], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected


def test_reopening_with_other_embeddings_is_refused(tmp_path):
    MiraVectorStore(DeterministicFakeEmbedding(size=8), path=tmp_path, name="kbase").close()
    with pytest.raises(EmbeddingMismatchError, match=r"DeterministicFakeEmbedding\(size=8\)"):
        MiraVectorStore(DeterministicFakeEmbedding(size=16), path=tmp_path, name="kbase")


def test_embedding_name_is_what_the_store_records(tmp_path, hashing):
    store = MiraVectorStore(hashing, path=tmp_path, name="kbase", embedding_name="team-model-v1")
    store.add_texts(["kept"], ids=["k"])
    store.close()
    with pytest.raises(EmbeddingMismatchError, match="team-model-v1"):
        MiraVectorStore(hashing, path=tmp_path, name="kbase")
    reopened = MiraVectorStore(hashing, path=tmp_path, name="kbase", embedding_name="team-model-v1")
    try:
        assert reopened.get_by_ids(["k"]) == [Document(id="k", page_content="kept")]
    finally:
        reopened.close()


def test_unreachable_server_is_a_typed_error():
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:1\b"):
        MiraVectorStore(DeterministicFakeEmbedding(size=8), host="127.0.0.1", port=1, name="kbase")


@pytest.fixture
def chroma_server(tmp_path):
    """A ``chroma run`` server on a free port, stopped after the test."""
    binary = Path(sys.executable).parent / "chroma"
    if not binary.exists():
        pytest.skip("the chroma CLI is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [str(binary), "run", "--path", str(tmp_path / "data"), "--port", str(port)], stdout=log, stderr=log
    )
    try:
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _connect(port, deadline=60.0):
    start = time.monotonic()
    while True:
        try:
            return MiraVectorStore(DeterministicFakeEmbedding(size=8), host="127.0.0.1", port=port, name="kbase")
        except StoreUnavailableError:
            if time.monotonic() - start > deadline:
                raise
            time.sleep(0.25)


@pytest.mark.integration
def test_client_server_mode_through_langchain(chroma_server):
    writer = _connect(chroma_server)
    writer.add_documents(DOCS)
    expected = _dump(writer.similarity_search_with_score(QUERY, k=4, mode="hybrid"))
    writer.close()
    reader = _connect(chroma_server)  # a second client: mirrors rebuilt from the server
    try:
        assert reader.get_by_ids(["a", "b", "c", "d"]) == DOCS
        assert _dump(reader.similarity_search_with_score(QUERY, k=4, mode="hybrid")) == expected
    finally:
        reader.close()
