"""engine/clock.py: the ManualClock stands still, wakes waits when moved, never goes back."""

from __future__ import annotations

import asyncio

import pytest

from tasksctl.engine.clock import MANUAL_START_US, ManualClock, RealClock, sleep_until


def test_manual_clock_stands_still_until_moved() -> None:
    clock = ManualClock()
    assert clock.now_us() == MANUAL_START_US
    assert clock.now_us() == MANUAL_START_US
    clock.advance(1.5)
    assert clock.now_us() == MANUAL_START_US + 1_500_000
    clock.advance(us=7)
    assert clock.now_us() == MANUAL_START_US + 1_500_007
    assert clock.time() == pytest.approx((MANUAL_START_US + 1_500_007) / 1e6)
    with pytest.raises(ValueError):
        clock.set(MANUAL_START_US)


async def test_call_at_runs_in_due_order_only_when_reached() -> None:
    clock = ManualClock(start_us=1_000)
    fired: list[str] = []
    clock.call_at(3_000, lambda: fired.append("c"))
    clock.call_at(2_000, lambda: fired.append("b"))
    cancelled = clock.call_at(2_500, lambda: fired.append("x"))
    cancelled.cancel()
    assert clock.next_timer_us() == 2_000
    clock.set(1_999)
    assert fired == []
    clock.set(2_600)
    assert fired == ["b"]
    clock.set(10_000)
    assert fired == ["b", "c"]
    assert clock.next_timer_us() is None


async def test_call_at_a_past_time_runs_on_the_next_loop_iteration() -> None:
    clock = ManualClock(start_us=5_000)
    done = asyncio.Event()
    clock.call_at(4_000, done.set)
    assert not done.is_set()
    await asyncio.wait_for(done.wait(), 5)


async def test_sleep_until_wakes_on_advance_not_before() -> None:
    clock = ManualClock()
    target = clock.now_us() + 60_000_000
    sleeper = asyncio.create_task(clock.sleep_until(target))
    await asyncio.sleep(0)
    assert clock.next_timer_us() == target
    clock.advance(59.999)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(0.001)
    await asyncio.wait_for(sleeper, 5)


async def test_real_clock_matches_system_time_and_waits() -> None:
    clock = RealClock()
    import time

    before = time.time_ns() // 1000
    now = clock.now_us()
    assert before <= now <= time.time_ns() // 1000
    await asyncio.wait_for(sleep_until(clock, clock.now_us() - 1), 5)  # already due: no wait
