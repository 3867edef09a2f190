"""The retry schedule and the stop rule against Google's documented examples."""

from __future__ import annotations

import itertools
import random

import pytest

from tasksctl.engine.backoff import retry_delay, retry_delays, should_give_up


@pytest.mark.parametrize(
    ("min_backoff", "max_backoff", "doublings", "expected"),
    [
        # RetryConfig.max_doublings reference example.
        (10, 300, 3, [10, 20, 40, 80, 160, 240, 300, 300]),
        # queue.yaml "barqueue": max_doublings 0 grows linearly by min_backoff.
        (10, 200, 0, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100,
                      110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 200, 200]),
        # DESIGN.md example.
        (0.1, 1, 2, [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]),
        # Defaults: 0.1 s, 3600 s, 16 doublings.
        (0.1, 3600, 16, [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 204.8,
                         409.6, 819.2, 1638.4, 3276.8, 3600, 3600]),
        # One doubling, then linear steps of 2 * min_backoff.
        (1, 100, 1, [1, 2, 4, 6, 8, 10]),
    ],
)  # fmt: skip
def test_documented_sequences(
    min_backoff: float, max_backoff: float, doublings: int, expected: list[float]
) -> None:
    got = list(retry_delays(len(expected), min_backoff, max_backoff, doublings))
    assert got == pytest.approx(expected)


def test_min_above_max_is_capped() -> None:
    assert retry_delay(0, 5, 2, 3) == 2


def test_huge_doublings_and_retry_counts_do_not_overflow() -> None:
    assert retry_delay(10_000, 0.1, 3600, 10_000) == 3600
    assert retry_delay(10_000, 0.1, 3600, 16) == 3600


def test_negative_retry_count_is_first_retry() -> None:
    assert retry_delay(-3, 0.5, 10, 2) == 0.5


def test_schedule_is_monotonic_and_bounded_for_random_configs() -> None:
    rng = random.Random(20240601)
    for _ in range(500):
        lo = rng.choice([0.0, 0.1, 0.5, 1.0, rng.uniform(0, 30)])
        hi = rng.uniform(lo, 4000)
        doublings = rng.randint(0, 20)
        delays = list(retry_delays(60, lo, hi, doublings))
        assert delays[0] == pytest.approx(min(lo, hi))
        assert all(b >= a for a, b in itertools.pairwise(delays))
        assert all(0 <= d <= hi for d in delays)
        # After the doublings the steps are constant until the cap.
        if lo > 0 and doublings + 3 < 60:
            step = lo * 2**doublings
            for k in range(doublings + 1, 60):
                if delays[k] < hi:
                    assert delays[k] - delays[k - 1] == pytest.approx(step)


T0 = 1_700_000_000.0


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "elapsed", "max_duration", "give_up"),
    [
        # Only max_attempts set (duration 0 = not set): the defaults stop after 100 attempts.
        (99, 100, 1e6, 0, False),
        (100, 100, 0.5, 0, True),
        (1, 1, 0.0, 0, True),  # max_attempts=1 disables retries
        # Only max_retry_duration set (-1 attempts = not set).
        (10_000, -1, 59.9, 60, False),
        (2, -1, 60.0, 60, True),
        # Both set: both must be reached.
        (5, 5, 10.0, 60, False),
        (50, 5, 59.0, 60, False),
        (4, 5, 100.0, 60, False),
        (5, 5, 60.0, 60, True),
        # Neither set: retried forever.
        (1_000_000, -1, 1e9, 0, False),
    ],
)
def test_stop_rule(
    attempts: int, max_attempts: int, elapsed: float, max_duration: float, give_up: bool
) -> None:
    assert should_give_up(attempts, max_attempts, T0, T0 + elapsed, max_duration) is give_up


def test_duration_limit_needs_a_first_attempt_time() -> None:
    assert should_give_up(3, -1, None, T0, 10) is False
    # With only the count limit set, the missing first attempt time does not matter.
    assert should_give_up(3, 3, None, T0, 0) is True
