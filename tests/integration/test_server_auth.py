"""Token auth in front of a Chroma server: the headers of ``ServerConfig`` reach it on every request.

chromadb 1.5's ``chroma run`` has no authentication of its own (it takes ``--path``, ``--host``,
``--port`` or a config file; Chroma's docs for 1.x put token auth in a proxy such as Envoy), so
the test puts a small token-checking reverse proxy in front of a real server.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from processes import ChromaServer

from mira_vectorstores import HashingEmbedder, HybridStore, ServerConfig, StorageError, StoreUnavailableError

pytestmark = pytest.mark.integration
TOKEN = "s3cret-token"


def _proxy(upstream_port: int) -> ThreadingHTTPServer:
    """Forwards requests carrying ``X-Chroma-Token: TOKEN`` to the server; refuses others with 401."""

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.headers.get("X-Chroma-Token") != TOKEN:
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                body = b'{"error": "Unauthorized", "message": "missing or wrong X-Chroma-Token"}'
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "x-chroma-token")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
            self.send_response(reply.status)
            for key, value in reply.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def guarded_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-auth"))
    server.start()
    proxy = _proxy(server.port)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield int(proxy.server_address[1])
    proxy.shutdown()
    server.stop()


def test_a_store_with_the_token_works_through_the_guard(guarded_port: int) -> None:
    auth = ServerConfig(headers={"X-Chroma-Token": TOKEN})
    store = HybridStore.connect("127.0.0.1", guarded_port, "guarded", embedder=HashingEmbedder(16), server=auth)
    store.add(["tokens open doors"], ids=["t"])
    other = HybridStore.connect("127.0.0.1", guarded_port, "guarded", embedder=HashingEmbedder(16), server=auth)
    assert [r.id for r in other.get()] == ["t"]
    assert other.health().reachable
    other.close()
    store.close()


def test_a_store_without_the_token_is_refused_with_a_typed_error(guarded_port: int) -> None:
    with pytest.raises(StorageError) as refused:
        HybridStore.connect("127.0.0.1", guarded_port, "guarded", embedder=HashingEmbedder(16))
    assert not isinstance(refused.value, StoreUnavailableError)  # reachable, but not allowed in
