"""Tests of ``engine/stamps.py``: the hybrid logical clock orders writes even when the wall clock does not."""

from __future__ import annotations

import pytest

from mira_vectorstores.engine import stamps
from mira_vectorstores.engine.stamps import Clock, stamp_of_time, time_of_stamp


def test_stamps_increase_strictly_even_within_one_millisecond(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stamps.time, "time", lambda: 1_800_000_000.0)
    clock = Clock()
    made = [clock.next() for _ in range(5_000)]  # more than the 1,024 a millisecond holds
    assert made == sorted(set(made))
    assert made[0] == stamp_of_time(1_800_000_000.0)


def test_stamps_never_go_back_when_the_wall_clock_does(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_800_000_000.0]
    monkeypatch.setattr(stamps.time, "time", lambda: now[0])
    clock = Clock()
    before = clock.next()
    now[0] -= 3600  # the wall clock steps back an hour
    assert clock.next() > before


def test_observe_puts_the_next_stamp_after_one_seen_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stamps.time, "time", lambda: 1_800_000_000.0)
    clock = Clock()
    ahead = stamp_of_time(1_800_000_060.0)  # another writer's clock runs a minute ahead
    clock.observe(ahead)
    assert clock.next() == ahead + 1


def test_a_stamp_keeps_its_time_to_the_millisecond_and_stays_exact_as_a_float() -> None:
    assert time_of_stamp(stamp_of_time(1_800_000_000.123)) == pytest.approx(1_800_000_000.123, abs=1e-3)
    year_2200 = stamp_of_time(7_258_118_400.0)
    assert year_2200 < 2**53  # survives a JSON round trip as an exact number
    assert float(year_2200 + 1) != float(year_2200)
