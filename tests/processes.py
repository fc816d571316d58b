"""Other processes for the tests: ``chroma run`` servers that can be killed and restarted, and
``python -c`` children driven line by line over stdin / stdout.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest


# -- a real Chroma server that can be killed and restarted on the same path and port ----------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _heartbeat(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/api/v2/heartbeat")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class ChromaServer:
    """``chroma run`` on 127.0.0.1: start, SIGKILL, start again on the same data and port."""

    def __init__(self, root: Path) -> None:
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        if not Path(chroma).exists():
            pytest.skip("the chroma command is not installed")
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.command = [chroma, "run", "--path", str(root / "data"), "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self) -> None:
        log_path = self.root / f"server-{self.starts}.log"
        self.starts += 1
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chroma exited with {self.proc.returncode}: {log_path.read_text()[-2000:]}")
            if _heartbeat(self.port):
                return
            time.sleep(0.2)
        self.proc.kill()
        pytest.fail(f"chroma did not answer within 60 s: {log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no shutdown, no flush
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


# -- child processes ----------------------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class Child:
    """A ``python -c`` child; a thread reads its stdout lines into a queue."""

    def __init__(self, code: str, *args: str, cwd: Path) -> None:
        self.err_path = cwd / f"child-{uuid.uuid4().hex[:8]}.err"
        with self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=cwd,
                env=_child_env(),
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def stderr_tail(self) -> str:
        return self.err_path.read_text()[-3000:]

    def line(self, timeout: float = 60.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"child {self.proc.pid} printed nothing for {timeout} s; stderr:\n{self.stderr_tail()}")
        if line is None:
            self.proc.wait(timeout=30)
            pytest.fail(f"child exited with {self.proc.returncode}; stderr:\n{self.stderr_tail()}")
        return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


# -- what a writer killed mid-write acknowledged --------------------------------------------------
State = tuple[str, str | None] | None  # (version, tag), or None: absent


@dataclass
class Acknowledged:
    """What each record may be after the calls a killed writer logged: the acknowledged state,
    or one a call in flight at a kill left (it may have landed, or not).

    The log has a line ``B <op> ...`` before each call and ``A`` after it returned; ops are
    ``U <version> <ids>`` (upsert), ``D <ids>`` (delete) and ``M <tag> <ids>`` (a metadata tag).
    """

    allowed: dict[str, set[State]] = field(default_factory=dict)

    def apply(self, op: list[str], *, acknowledged: bool) -> None:
        kind, rest = op[0], op[1:]
        targets = rest if kind == "D" else rest[1:]
        for record_id in targets:
            before = self.allowed.get(record_id, {None})
            if kind == "U":
                after: set[State] = {(rest[0], None)}
            elif kind == "D":
                after = {None}
            else:  # "M": a tag on whatever version is there
                after = {None if state is None else (state[0], rest[0]) for state in before}
            self.allowed[record_id] = after if acknowledged else before | after

    def read(self, log: Path) -> None:
        pending = None
        for line in log.read_text().splitlines():
            if line.startswith("B "):
                if pending is not None:  # never acknowledged: its writer was killed
                    self.apply(pending, acknowledged=False)
                pending = line[2:].split()
            elif line == "A" and pending is not None:
                self.apply(pending, acknowledged=True)
                pending = None
        if pending is not None:
            self.apply(pending, acknowledged=False)
