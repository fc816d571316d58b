"""Locks: ``ReadWriteLock`` for the threads of one process, ``PathLock`` for the processes of one machine.

``ReadWriteLock`` lets any number of searches run at once (FAISS and NumPy release the GIL)
while a write or a catch-up waits for them and then runs alone; a waiting writer goes first,
so a stream of searches cannot starve it. ``PathLock`` keeps an embedded store's folder to one
process: Chroma's embedded mode does not support two processes on one folder (measured: lost
records, unreadable embeddings). It is an OS file lock (``filelock``), so it is released when
its process exits, SIGKILL included.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from mira_vectorstores.engine.errors import StoreLockedError


class ReadWriteLock:
    """Many readers or one writer; the writer may re-enter and may read while it writes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._depth = 0
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared (a thread must not ask for ``write`` while it reads)."""
        me = threading.get_ident()
        with self._cond:
            inside_write = self._writer == me
            if not inside_write:
                while self._writer is not None or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1
        try:
            yield
        finally:
            if not inside_write:
                with self._cond:
                    self._readers -= 1
                    if not self._readers:
                        self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock alone (re-entrant for the holding thread)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


class PathLock:
    """This process's hold on an embedded store's folder, shared by its stores on that folder."""

    _held: dict[Path, tuple[filelock.BaseFileLock, int]] = {}  # noqa: RUF012 - one table per process
    _guard = threading.Lock()

    def __init__(self, folder: Path) -> None:
        """Take the folder's lock, or raise ``StoreLockedError`` naming the process that holds it."""
        self.folder = folder.resolve()
        self._released = False
        with PathLock._guard:
            held = PathLock._held.get(self.folder)
            if held is not None:
                PathLock._held[self.folder] = (held[0], held[1] + 1)
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            lock = filelock.FileLock(self.folder / "mira.lock", timeout=0, thread_local=False)
            try:
                lock.acquire()
            except filelock.Timeout:
                pid = holder_pid(self.folder)
                msg = (
                    f"the store folder {str(self.folder)!r} is open in another process (pid {pid}); an embedded "
                    "store takes one process. Close it there, or share the data between processes through a "
                    "Chroma server: `chroma run --path DIR --port 8000`, then "
                    "HybridStore.connect('localhost', 8000, name)"
                )
                raise StoreLockedError(msg, pid=pid, path=str(self.folder)) from None
            (self.folder / "mira.pid").write_text(str(os.getpid()))
            PathLock._held[self.folder] = (lock, 1)

    @property
    def holders(self) -> int:
        """How many stores of this process hold the folder now."""
        with PathLock._guard:
            held = PathLock._held.get(self.folder)
            return 0 if held is None else held[1]

    def release(self) -> None:
        """Drop this hold; the file lock goes with the process's last one."""
        if self._released:
            return
        self._released = True
        with PathLock._guard:
            lock, count = PathLock._held[self.folder]
            if count > 1:
                PathLock._held[self.folder] = (lock, count - 1)
                return
            del PathLock._held[self.folder]
            lock.release()


def holder_pid(folder: Path) -> int | None:
    """The pid recorded by the process that last took the folder's lock."""
    try:
        return int((folder / "mira.pid").read_text().strip())
    except (OSError, ValueError):
        return None
