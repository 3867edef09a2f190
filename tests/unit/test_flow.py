"""Flow control rules: token bucket, derived burst, 429/503 slowdown, concurrency cap."""

from __future__ import annotations

import asyncio
import itertools
import math
import random

import pytest

from tasksctl.engine.flow import (
    ConcurrencyLimit,
    QueueFlow,
    Slowdown,
    TokenBucket,
    derive_max_burst_size,
)


@pytest.mark.parametrize(
    ("rate", "burst"),
    [(500, 100), (1, 10), (10, 100), (5, 50), (0.5, 5), (0.3, 3), (0.05, 1), (0.01, 1), (0, 1),
     (math.inf, 1), (math.nan, 1), (12.34, 100), (2.01, 21)],
)  # fmt: skip
def test_derived_burst(rate: float, burst: int) -> None:
    assert derive_max_burst_size(rate) == burst


def test_derived_burst_is_monotonic() -> None:
    rates = [i / 100 for i in range(1, 50_001, 7)]
    bursts = [derive_max_burst_size(r) for r in rates]
    assert all(b >= a for a, b in itertools.pairwise(bursts))


def drain(bucket: TokenBucket, now: float) -> int:
    taken = 0
    while bucket.try_take(now):
        taken += 1
    return taken


def test_bucket_starts_full_and_refills_continuously() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=100.0)
    assert drain(bucket, 100.0) == 5
    assert bucket.time_until_token(100.0) == pytest.approx(0.1)
    assert not bucket.try_take(100.05)
    assert bucket.try_take(100.1)
    # Never more than the capacity, however long the idle spell.
    assert drain(bucket, 10_000.0) == 5


def test_fractional_rate() -> None:
    bucket = TokenBucket(rate=0.5, burst=derive_max_burst_size(0.5), now=0.0)
    assert drain(bucket, 0.0) == 5
    assert bucket.time_until_token(0.0) == pytest.approx(2.0)
    assert not bucket.try_take(1.999)
    assert bucket.try_take(2.0)
    assert bucket.time_until_token(3.0) == pytest.approx(1.0)


def test_empty_bucket_and_zero_rate() -> None:
    bucket = TokenBucket(rate=0, burst=3, now=0.0, full=False)
    assert bucket.time_until_token(50.0) == math.inf
    assert not bucket.try_take(1e9)


@pytest.mark.parametrize("rate", [0.5, 1, 10, 100, 500])
def test_simulated_rate_is_exact(rate: float) -> None:
    """A dispatcher that sleeps exactly time_until_token() gets burst + rate * T dispatches."""
    burst = derive_max_burst_size(rate)
    bucket = TokenBucket(rate, burst, now=0.0)
    now, horizon, sent = 0.0, 60.0, 0
    while now <= horizon:
        if bucket.try_take(now):
            sent += 1
        else:
            now += bucket.time_until_token(now)
    assert sent == pytest.approx(burst + rate * horizon, abs=1)


def test_set_rate_keeps_earned_tokens_and_applies_at_once() -> None:
    bucket = TokenBucket(rate=1, burst=10, now=0.0)
    drain(bucket, 0.0)
    # 3 s at 1/s earned 3 tokens before the change; the new rate counts only from now on.
    bucket.set_rate(100, 100, now=3.0)
    assert bucket.tokens(3.0) == pytest.approx(3.0)
    assert bucket.tokens(3.5) == pytest.approx(53.0)
    # Lowering the capacity caps the tokens held.
    bucket.set_rate(1, 4, now=3.5)
    assert bucket.tokens(3.5) == pytest.approx(4.0)
    assert drain(bucket, 3.5) == 4
    assert bucket.time_until_token(3.5) == pytest.approx(1.0)


def test_slowdown_halves_once_per_round_trip_and_floors() -> None:
    slow = Slowdown(500)
    # 50 concurrent requests started at t=0 all answer 503 around t=0.1: one halving.
    changes = [slow.on_response(503, started_at=0.0, now=0.1 + i / 1000) for i in range(50)]
    assert changes.count(True) == 1
    assert slow.effective_rate == 250
    # A request sent after the decrease counts again.
    assert slow.on_response(429, started_at=0.2, now=0.3)
    assert slow.effective_rate == 125
    t = 1.0
    for _ in range(20):
        slow.on_response(503, started_at=t, now=t + 0.01)
        t += 0.1
    assert slow.effective_rate == 1.0  # floor: 1/s
    assert slow.throttled


def test_slowdown_floor_is_the_configured_rate_when_lower() -> None:
    slow = Slowdown(0.5)
    assert not slow.on_response(503, 0.0, 1.0)
    assert slow.effective_rate == 0.5
    assert not slow.throttled


def test_other_5xx_slow_mildly_and_4xx_do_not() -> None:
    slow = Slowdown(100)
    assert slow.on_response(500, 0.0, 0.1)
    assert slow.effective_rate == 75
    for status in (400, 404, 302, 410, None):
        assert not slow.on_response(status, 1.0, 1.1)
    assert slow.effective_rate == 75


def test_app_engine_ignores_429_but_not_503() -> None:
    slow = Slowdown(100)
    assert not slow.on_response(429, 0.0, 0.1, app_engine=True)
    assert slow.effective_rate == 100
    assert slow.on_response(503, 0.0, 0.1, app_engine=True)
    assert slow.effective_rate == 50


def test_recovery_doubles_per_second_of_success() -> None:
    slow = Slowdown(400)
    for t in range(5):  # 400 -> 12.5
        slow.on_response(503, started_at=float(t), now=t + 0.5)
    assert slow.effective_rate == 12.5
    changed_at = 4.5
    assert slow.on_response(200, started_at=4.6, now=changed_at + 1.0)
    assert slow.effective_rate == pytest.approx(25)
    slow.on_response(204, started_at=5.6, now=changed_at + 2.5)
    assert slow.effective_rate == pytest.approx(25 * 2**1.5)
    slow.on_response(200, started_at=7.0, now=changed_at + 10)
    assert slow.effective_rate == 400
    assert not slow.throttled
    assert not slow.on_response(200, started_at=20.0, now=21.0)


def test_new_configured_rate_applies_at_once() -> None:
    slow = Slowdown(100)
    slow.set_configured_rate(300)
    assert slow.effective_rate == 300
    slow.on_response(503, 0.0, 0.1)
    assert slow.effective_rate == 150
    slow.set_configured_rate(500)  # throttled: stays throttled, recovers toward 500
    assert slow.effective_rate == 150
    slow.set_configured_rate(20)  # capped by a lower configured rate
    assert slow.effective_rate == 20
    assert not slow.throttled


def test_queue_flow_keeps_bucket_in_step_with_slowdown() -> None:
    flow = QueueFlow(rate=500, max_concurrent=10, now=0.0)
    assert flow.max_burst_size == 100
    assert flow.bucket.burst == 100
    for t in range(8):  # 500 -> 1.953125/s
        flow.on_response(503, started_at=float(t), now=t + 0.5)
    assert flow.effective_rate == pytest.approx(500 / 2**8)
    assert flow.bucket.rate == flow.effective_rate
    assert flow.bucket.burst == derive_max_burst_size(flow.effective_rate) == 20
    assert flow.max_burst_size == 100  # reported value follows the configured rate
    flow.configure(rate=50, max_concurrent=3, now=10.0)
    assert flow.slots.limit == 3
    assert flow.bucket.rate == flow.effective_rate
    flow.on_response(200, started_at=10.0, now=30.0)
    assert flow.effective_rate == 50
    assert flow.bucket.rate == 50 and flow.bucket.burst == 100
    drain(flow.bucket, 30.0)
    assert flow.delay_until_ready(30.0) == pytest.approx(1 / 50)


@pytest.mark.parametrize("cap", [1, 5, 40])
def test_concurrency_cap_is_never_exceeded_and_fully_used(cap: int) -> None:
    async def scenario() -> tuple[int, int, int, int]:
        gate = ConcurrencyLimit(cap)
        rng = random.Random(cap)
        worst = 0
        done = 0

        async def worker() -> None:
            nonlocal worst, done
            await gate.acquire()
            try:
                worst = max(worst, gate.in_flight)
                await asyncio.sleep(rng.uniform(0, 0.003))
            finally:
                gate.release()
                done += 1

        await asyncio.gather(*(worker() for _ in range(200)))
        return worst, gate.peak, done, gate.in_flight

    worst, peak, done, in_flight = asyncio.run(scenario())
    assert worst == peak == cap
    assert done == 200
    assert in_flight == 0


def test_raised_cap_admits_waiters_at_once() -> None:
    async def scenario() -> int:
        gate = ConcurrencyLimit(1)
        await gate.acquire()
        waiters = [asyncio.create_task(gate.acquire()) for _ in range(4)]
        await asyncio.sleep(0)
        assert gate.in_flight == 1
        gate.set_limit(4)
        await asyncio.sleep(0)
        admitted = sum(w.done() for w in waiters)
        assert gate.in_flight == 4
        gate.release()
        await asyncio.gather(*waiters)
        return admitted

    assert asyncio.run(scenario()) == 3


def test_lowered_cap_admits_nothing_until_in_flight_drops() -> None:
    async def scenario() -> list[str]:
        gate = ConcurrencyLimit(3)
        for _ in range(3):
            assert gate.try_acquire()
        assert gate.peak == 3
        gate.set_limit(1)
        log: list[str] = []

        async def waiter() -> None:
            await gate.acquire()
            log.append(f"admitted with {gate.in_flight} in flight")

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        gate.release()
        gate.release()
        await asyncio.sleep(0)
        log.append(f"still waiting: {not task.done()}")
        gate.release()
        await task
        assert not gate.try_acquire()
        gate.set_limit(2)
        assert gate.try_acquire()
        return log

    assert asyncio.run(scenario()) == ["still waiting: True", "admitted with 1 in flight"]


def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    async def scenario() -> int:
        gate = ConcurrencyLimit(1)
        await gate.acquire()
        waiter = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        gate.release()  # would hand the slot to the cancelled waiter
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert gate.try_acquire()
        gate.release()
        return gate.in_flight

    assert asyncio.run(scenario()) == 0


def test_release_without_acquire_is_a_bug() -> None:
    with pytest.raises(RuntimeError):
        ConcurrencyLimit(1).release()
