"""Tests of ``engine/locks.py``: readers share, a writer is alone and goes first; one process per folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import filelock
import pytest

from mira_vectorstores.engine.locks import PathLock, ReadWriteLock, holder_pid


def test_readers_hold_the_lock_together() -> None:
    lock = ReadWriteLock()
    inside = threading.Barrier(3, timeout=5)

    def read() -> None:
        with lock.read():
            inside.wait()  # breaks (BrokenBarrierError) unless all three readers are inside at once

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    with lock.read():
        inside.wait()
    for thread in threads:
        thread.join(timeout=5)
    assert not inside.broken


def test_a_writer_waits_for_readers_and_then_runs_alone() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    reading = threading.Event()

    def read() -> None:
        with lock.read():
            reading.set()
            time.sleep(0.2)
            events.append("read done")

    reader = threading.Thread(target=read)
    reader.start()
    reading.wait(5)
    with lock.write():
        events.append("write")
    reader.join(timeout=5)
    assert events == ["read done", "write"]


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = ReadWriteLock()
    events: list[str] = []
    first_in, writer_waiting = threading.Event(), threading.Event()

    def first_reader() -> None:
        with lock.read():
            first_in.set()
            writer_waiting.wait(5)
            time.sleep(0.2)  # the writer is queued by now
        events.append("first read done")

    def writer() -> None:
        writer_waiting.set()
        with lock.write():
            events.append("write")

    def late_reader() -> None:
        with lock.read():
            events.append("late read")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    first_in.wait(5)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    writer_waiting.wait(5)
    time.sleep(0.05)
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    for thread in threads:
        thread.join(timeout=5)
    assert events.index("write") < events.index("late read")


def test_the_writer_may_re_enter_and_read() -> None:
    lock = ReadWriteLock()
    with lock.write(), lock.write(), lock.read():
        pass
    with lock.read():  # released completely
        pass


def test_stores_of_one_process_share_a_folder_and_the_last_release_frees_it(tmp_path: Path) -> None:
    first = PathLock(tmp_path)
    second = PathLock(tmp_path)
    assert first.holders == second.holders == 2
    assert holder_pid(tmp_path) is not None
    first.release()
    first.release()  # a second release of one hold changes nothing
    assert second.holders == 1
    other = filelock.FileLock(tmp_path / "mira.lock", timeout=0, thread_local=False)
    with pytest.raises(filelock.Timeout):
        other.acquire()  # the folder stays locked while a store of this process holds it
    second.release()
    other.acquire()  # free now
    other.release()
