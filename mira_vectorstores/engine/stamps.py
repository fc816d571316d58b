"""Write stamps: a hybrid logical clock whose int64 values order the writes of every process.

A stamp is ``milliseconds since the epoch << 10`` plus a counter, so it sorts by wall time,
stays unique within a writer (up to 1,024 writes per millisecond, then it runs ahead of the
wall clock) and never goes backwards even when the wall clock does. Values stay below 2**53
until the year 2248, so they survive any JSON round trip as exact numbers. Every record a store
writes carries its stamp, and every delete leaves a stamped tombstone: a reader asks Chroma only
for stamps after the highest one it has seen (``mirrors/catch_up.py``).
"""

from __future__ import annotations

import threading
import time

COUNTER_BITS = 10


def stamp_of_time(seconds: float) -> int:
    """The smallest stamp of a wall-clock time (seconds since the epoch)."""
    return int(seconds * 1000) << COUNTER_BITS


def time_of_stamp(stamp: int) -> float:
    """The wall-clock time (seconds since the epoch) a stamp was taken at."""
    return (stamp >> COUNTER_BITS) / 1000.0


class Clock:
    """A hybrid logical clock: ``next()`` is above every stamp it made or observed."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def observe(self, stamp: int) -> None:
        """Move past a stamp seen elsewhere, so our next write sorts after it."""
        with self._lock:
            self._last = max(self._last, stamp)

    def next(self) -> int:
        """A new stamp, above the wall clock's and every earlier one."""
        with self._lock:
            self._last = max(stamp_of_time(time.time()), self._last + 1)
            return self._last
